"""Lesson 08 checks: ✅ for a right answer, ❌ naming the typical mistake, ⏳ for an unsolved stub."""

import numpy as np
import pytest
from exercise_helpers import failure_hint, run, stub_of

from nnlib import GRU, LSTM, Linear
from nnlib.exercises import (
    check_gru_num_parameters,
    check_gru_step,
    check_gru_step_backward,
    check_lstm_cell,
    check_lstm_cell_update,
    check_open_forget_gate,
)
from nnlib.exercises.lesson08 import GRU_MISTAKES, LSTM_MISTAKES
from nnlib.functional import sigmoid


def lstm_cell_update(c_prev, i, f, g):
    return f * c_prev + i * g


def gru_num_parameters(input_size, hidden_size):
    return 3 * (input_size * hidden_size + hidden_size**2 + 2 * hidden_size)


def gru_step(x, h_prev, layer):
    x_r, x_z, x_n = np.split(x @ layer.weight_ih.data + layer.bias_ih.data, 3, axis=1)
    h_r, h_z, h_n = np.split(h_prev @ layer.weight_hh.data + layer.bias_hh.data, 3, axis=1)
    r, z = sigmoid(x_r + h_r), sigmoid(x_z + h_z)
    n = np.tanh(x_n + r * h_n)
    return (1 - z) * n + z * h_prev


def gru_step_with_the_layer(x, h_prev, layer):
    return layer(x[:, None, :], h_prev)[1]


def open_forget_gate(layer, b):
    H = layer.hidden_size
    layer.bias_ih.data[H:2 * H] = b
    layer.bias_hh.data[H:2 * H] = 0.0


def open_forget_gate_keeping_bias_hh(layer, b):
    f = slice(layer.hidden_size, 2 * layer.hidden_size)
    layer.bias_ih.data[f] = b - layer.bias_hh.data[f]


def make_lstm(mistake=""):
    """A learner's MyLSTM, written independently of the check, with one deliberate ``mistake`` (a name of
    LSTM_MISTAKES), or right."""
    class MyLSTM(LSTM):
        def step(self, x_t, h_prev, c_prev):
            bias = self.bias_ih.data + (0 if mistake == "no bias_hh" else self.bias_hh.data)
            z = x_t @ self.weight_ih.data + h_prev @ self.weight_hh.data + bias
            order = "ifog" if mistake == "order i, f, o, g" else "ifgo"
            pre = dict(zip(order, np.split(z, 4, axis=1), strict=True))
            i, f, o = sigmoid(pre["i"]), sigmoid(pre["f"]), sigmoid(pre["o"])
            g = sigmoid(pre["g"]) if mistake == "sigmoid candidate" else np.tanh(pre["g"])
            c = f * c_prev + i * g
            return o * (c if mistake == "h without tanh" else np.tanh(c)), c, (i, f, g, o)

        def step_backward(self, grad_h, grad_c, c_prev, gates, tanh_c):
            i, f, g, o = np.split(gates, 4, axis=1)
            through_h = grad_h * o * (1 if mistake == "no tanh' on the h path" else 1 - tanh_c**2)
            total = through_h if mistake == "incoming grad_c ignored" else grad_c + through_h
            d_sig = (lambda s: sigmoid(s) * (1 - sigmoid(s))) if mistake == "σ' of the gate value" else \
                (lambda s: s * (1 - s))
            d_tanh_g = g * (1 - g) if mistake == "σ' for the candidate" else 1 - g * g
            c = f * c_prev + i * g
            d_o = grad_h * (c if mistake == "o with c" else tanh_c) * d_sig(o)
            delta = np.hstack([total * g * d_sig(i), total * c_prev * d_sig(f), total * i * d_tanh_g, d_o])
            dc_prev = {"dc_prev without f": total, "dc_prev without the h path": grad_c * f}.get(mistake, total * f)
            return delta, delta @ self.weight_hh.data.T, dc_prev

    return MyLSTM


def make_gru(mistake=""):
    """A learner's MyGRU (step_backward only), independent of the check, with one deliberate ``mistake``."""
    class MyGRU(GRU):
        def step_backward(self, grad_h, h_prev, gates, h_n):
            r, z, n = np.split(gates, 3, axis=1)
            d_n = grad_h * (1 - z) * (1 if mistake == "no tanh'" else 1 - n * n)
            d_z = grad_h * (n - h_prev if mistake == "z sign" else h_prev - n) * z * (1 - z)
            d_r = d_n * (h_prev if mistake == "r with h_prev" else h_n) * r * (1 - r)
            d_ih = np.hstack([d_r, d_z, d_n])
            d_hh = d_ih if mistake == "no r on the hidden side" else np.hstack([d_r, d_z, d_n * r])
            direct = 0 if mistake == "no direct path" else grad_h * z
            return d_ih, d_hh, direct + d_hh @ self.weight_hh.data.T

    return MyGRU


@pytest.mark.parametrize(("check", "fn", "exercise"), [
    (check_lstm_cell_update, lstm_cell_update, "8.1"), (check_open_forget_gate, open_forget_gate, "8.2"),
    (check_open_forget_gate, open_forget_gate_keeping_bias_hh, "8.2"),
    (check_gru_num_parameters, gru_num_parameters, "8.3"), (check_gru_step, gru_step, "8.4"),
    (check_gru_step, gru_step_with_the_layer, "8.4"), (check_lstm_cell, make_lstm(), "8.5"),
    (check_gru_step_backward, make_gru(), "8.6"),
])
def test_right_answer_passes_and_stub_waits(check, fn, exercise, capsys):
    out = run(check, fn, capsys)
    assert out.startswith(f"✅ correct — Exercise {exercise}") and "correct" in out and out.count("\n") == 1
    out = run(check, stub_of(fn), capsys)
    assert out.startswith(f"⏳ to do — Exercise {exercise}") and "not implemented" in out and out.count("\n") == 1


@pytest.mark.parametrize(("fn", "hint"), [
    (lambda c, i, f, g: i * c + f * g, "gates are swapped"),
    (lambda c, i, f, g: c + i * g, "forget gate is missing"),
    (lambda c, i, f, g: f * c + g, "input gate is missing"),
    (lambda c, i, f, g: f * c * i * g, "ADDED, not multiplied"),
    (lambda c, i, f, g: np.tanh(f * c + i * g), "no tanh here"),
    (lambda c, i, f, g: f * c + (1 - f) * g, "coupled (GRU-style)"),
    (lambda c, i, f, g: f * c - i * g, "return f * c_prev + i * g"),
])
def test_lstm_cell_update_mistakes_get_specific_hints(fn, hint, capsys):
    out = run(check_lstm_cell_update, fn, capsys)
    assert out.startswith("❌ not yet — Exercise 8.1") and "expected" in out and hint in out.partition("Hint: ")[2]


@pytest.mark.parametrize(("fn", "hint"), [
    (lambda i, h: 3 * (i * h + h * h + h), "two bias"),
    (lambda i, h: 4 * (i * h + h * h + 2 * h), "LSTM's count"),
    (lambda i, h: 3 * (i * h + h * h), "biases are missing"),
    (lambda i, h: i * h + h * h + 2 * h, "vanilla RNN's count"),
    (lambda i, h: i * h + h * h + 6 * h, "counted for each of the three blocks"),
    (lambda i, h: 3 * (i * h + i * i + 2 * i), "swapped"),
    (lambda i, h: 2 * (i * h + h * h + 2 * h), "count the shapes"),
])
def test_gru_num_parameters_mistakes_get_specific_hints(fn, hint, capsys):
    out = run(check_gru_num_parameters, fn, capsys)
    assert out.startswith("❌ not yet — Exercise 8.3") and "expected" in out and hint in out.partition("Hint: ")[2]


def gru_step_variant(x, h_prev, layer, *, gate_order="rzn", reset_before_product=False, keep="z",
                     use_bias_hh=True, output="h"):
    """A learner's GRU step written independently of the check, with one deliberate mistake."""
    w_ih = dict(zip(gate_order, np.split(layer.weight_ih.data, 3, axis=1), strict=True))
    w_hh = dict(zip(gate_order, np.split(layer.weight_hh.data, 3, axis=1), strict=True))
    b_ih = dict(zip(gate_order, np.split(layer.bias_ih.data, 3), strict=True))
    b_hh = dict(zip(gate_order, np.split(layer.bias_hh.data * use_bias_hh, 3), strict=True))
    r = sigmoid(x @ w_ih["r"] + b_ih["r"] + h_prev @ w_hh["r"] + b_hh["r"])
    z = sigmoid(x @ w_ih["z"] + b_ih["z"] + h_prev @ w_hh["z"] + b_hh["z"])
    hidden = (r * h_prev) @ w_hh["n"] + b_hh["n"] if reset_before_product else r * (h_prev @ w_hh["n"] + b_hh["n"])
    n = np.tanh(x @ w_ih["n"] + b_ih["n"] + hidden)
    if output == "n":
        return n
    return (1 - z) * n + z * h_prev if keep == "z" else z * n + (1 - z) * h_prev


@pytest.mark.parametrize(("options", "hint"), [
    ({"keep": "1 - z"}, "z and 1 − z are swapped"),
    ({"gate_order": "zrn"}, "wrong order"),
    ({"reset_before_product": True}, "AFTER the product"),
    ({"use_bias_hh": False}, "bias_hh is missing"),
    ({"output": "n"}, "returned the candidate n"),
    ({"gate_order": "nzr"}, "split x @ W_ih + b_ih"),
])
def test_gru_step_mistakes_get_specific_hints(options, hint, capsys):
    out = run(check_gru_step, lambda x, h, layer: gru_step_variant(x, h, layer, **options), capsys)
    assert out.startswith("❌ not yet — Exercise 8.4") and "expected" in out and hint in out.partition("Hint: ")[2]


def test_gru_step_variant_without_mistakes_is_right(capsys):
    assert run(check_gru_step, gru_step_variant, capsys).startswith("✅ correct — Exercise 8.4")


def test_gru_step_that_mutates_the_layer_still_passes(capsys):
    def in_place(x, h_prev, layer):
        layer.bias_ih.data += 0.0 * layer.bias_ih.data  # touches the learner's copy only
        layer.weight_hh.data *= 1.0
        return gru_step(x, h_prev, layer)

    # twice: the check's own cases must not be altered by a learner's in-place update
    assert [run(check_gru_step, in_place, capsys)[0] for _ in range(2)] == ["✅", "✅"]


def test_a_gru_step_with_the_wrong_shape_is_reported(capsys):
    out = run(check_gru_step, lambda x, h, layer: gru_step(x, h, layer)[0], capsys)
    assert out.startswith("❌ not yet — Exercise 8.4") and "shape" in out


@pytest.mark.parametrize(("open_gate", "hint"), [
    (lambda layer, b: layer.bias_ih.data.__setitem__(slice(0, layer.hidden_size), b)
     or layer.bias_hh.data.__setitem__(slice(0, layer.hidden_size), 0), "INPUT gate's block"),
    (lambda layer, b: [p.data.__setitem__(slice(2 * layer.hidden_size, 3 * layer.hidden_size), v)
                       for p, v in ((layer.bias_ih, b), (layer.bias_hh, 0))], "candidate g's block"),
    (lambda layer, b: [p.data.__setitem__(slice(3 * layer.hidden_size, None), v)
                       for p, v in ((layer.bias_ih, b), (layer.bias_hh, 0))], "OUTPUT gate's block"),
    (lambda layer, b: layer.bias_ih.data.__setitem__(slice(layer.hidden_size, 2 * layer.hidden_size), b),
     "setting bias_ih alone"),
    (lambda layer, b: [p.data.__setitem__(slice(layer.hidden_size, 2 * layer.hidden_size), b)
                       for p in (layer.bias_ih, layer.bias_hh)], "with b in both it gets 2b"),
    (lambda layer, b: [p.data.fill(v) for p, v in ((layer.bias_ih, b), (layer.bias_hh, 0))],
     "the other gates keep their biases"),
    (lambda layer, b: [p.data.__setitem__(slice(layer.hidden_size, 2 * layer.hidden_size), v)
                       for p, v in ((layer.bias_ih, b / 3), (layer.bias_hh, 0))], "layer.bias_ih.data[H:2 * H] = b"),
])
def test_open_forget_gate_mistakes_get_specific_hints(open_gate, hint, capsys):
    assert hint in failure_hint(check_open_forget_gate, open_gate, capsys, "8.2")


@pytest.mark.parametrize(("mistake", "hint"), LSTM_MISTAKES)
def test_lstm_cell_mistakes_get_specific_hints(mistake, hint, capsys):
    assert hint in failure_hint(check_lstm_cell, make_lstm(mistake), capsys, "8.5")


@pytest.mark.parametrize(("mistake", "hint"), GRU_MISTAKES)
def test_gru_step_backward_mistakes_get_specific_hints(mistake, hint, capsys):
    assert hint in failure_hint(check_gru_step_backward, make_gru(mistake), capsys, "8.6")


@pytest.mark.parametrize(("check", "learner", "says"), [
    (check_lstm_cell, LSTM, "uses nnlib's own step and step_backward"),
    (check_lstm_cell, GRU, "got the class GRU"),
    (check_lstm_cell, lambda x: x, "got a function"),
    (check_gru_step_backward, GRU, "uses nnlib's own step_backward"),
    (check_gru_step_backward, Linear, "got the class Linear"),
])
def test_a_class_of_the_wrong_kind_is_named(check, learner, says, capsys):
    out = run(check, learner, capsys)
    assert out.startswith("❌ not yet — Exercise 8.") and says in out and out.count("\n") == 2


@pytest.mark.parametrize(("step_output", "says"), [
    (lambda h, c, gates: np.hstack(gates), "not (h, c, (i, f, g, o))"),
    (lambda h, c, gates: (h, c, np.hstack(gates)), "not (h, c, (i, f, g, o))"),
])
def test_an_lstm_step_with_the_wrong_structure_is_named(step_output, says, capsys):
    class Packed(make_lstm()):
        def step(self, x_t, h_prev, c_prev):
            return step_output(*super().step(x_t, h_prev, c_prev))

    assert "return three things" in failure_hint(check_lstm_cell, Packed, capsys, "8.5")


def test_an_lstm_step_that_keeps_state_on_self_fails(capsys):
    class Stateful(make_lstm()):
        calls = 0

        def step(self, x_t, h_prev, c_prev):
            type(self).calls += 1
            h, c, gates = super().step(x_t, h_prev, c_prev)
            return (h, c, gates) if type(self).calls <= 8 else (h * 1.01, c, gates)

    assert failure_hint(check_lstm_cell, Stateful, capsys, "8.5")


def test_the_lstm_reference_is_torch(torch):
    """nnlib.LSTM.step, the check's reference, is PyTorch's LSTMCell (gates i, f, g, o)."""
    layer = LSTM(3, 4, rng=0, dtype=np.float64)
    rng = np.random.default_rng(0)
    x, h, c = rng.normal(size=(2, 3)), rng.normal(size=(2, 4)), rng.normal(size=(2, 4))
    cell = torch.nn.LSTMCell(3, 4, dtype=torch.float64)
    with torch.no_grad():
        for name in ("weight_ih", "weight_hh"):
            getattr(cell, name).copy_(torch.tensor(getattr(layer, name).data.T))
        for name in ("bias_ih", "bias_hh"):
            getattr(cell, name).copy_(torch.tensor(getattr(layer, name).data))
    h_t, c_t = cell(torch.tensor(x), (torch.tensor(h), torch.tensor(c)))
    mine_h, mine_c, _ = layer.step(x, h, c)
    assert np.allclose(mine_h, h_t.detach().numpy(), atol=1e-12) and np.allclose(mine_c, c_t.detach().numpy(),
                                                                                  atol=1e-12)


def raises_value_error(*args, **kwargs):
    raise ValueError("a wrong answer whatever the exercise")


@pytest.mark.parametrize("check", [check_lstm_cell_update, check_open_forget_gate, check_gru_num_parameters,
                                   check_gru_step, check_lstm_cell, check_gru_step_backward])
def test_a_function_that_raises_is_a_failure_not_a_crash(check, capsys):
    assert run(check, raises_value_error, capsys).startswith("❌ not yet — Exercise 8.")
