"""Lesson 08 checks: ✅ for a right answer, ❌ naming the typical mistake, ⏳ for an unsolved stub."""

import numpy as np
import pytest
from exercise_helpers import run, todo

from nnlib.exercises import check_gru_num_parameters, check_gru_step, check_lstm_cell_update
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


@pytest.mark.parametrize(("check", "fn"), [
    (check_lstm_cell_update, lstm_cell_update), (check_gru_num_parameters, gru_num_parameters),
    (check_gru_step, gru_step), (check_gru_step, gru_step_with_the_layer),
])
def test_right_answer_passes_and_stub_waits(check, fn, capsys):
    out = run(check, fn, capsys)
    assert out.startswith("✅ Exercise 8.") and "correct" in out
    out = run(check, todo, capsys)
    assert out.startswith("⏳ Exercise 8.") and "not implemented" in out


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
    assert out.startswith("❌ Exercise 8.1") and "expected" in out and hint in out.partition("Hint: ")[2]


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
    assert out.startswith("❌ Exercise 8.2") and "expected" in out and hint in out.partition("Hint: ")[2]


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
    assert out.startswith("❌ Exercise 8.3") and "expected" in out and hint in out.partition("Hint: ")[2]


def test_gru_step_variant_without_mistakes_is_right(capsys):
    assert run(check_gru_step, gru_step_variant, capsys).startswith("✅ Exercise 8.3")


def test_gru_step_that_mutates_the_layer_still_passes(capsys):
    def in_place(x, h_prev, layer):
        layer.bias_ih.data += 0.0 * layer.bias_ih.data  # touches the learner's copy only
        layer.weight_hh.data *= 1.0
        return gru_step(x, h_prev, layer)

    # twice: the check's own cases must not be altered by a learner's in-place update
    assert [run(check_gru_step, in_place, capsys)[0] for _ in range(2)] == ["✅", "✅"]


def test_a_gru_step_with_the_wrong_shape_is_reported(capsys):
    out = run(check_gru_step, lambda x, h, layer: gru_step(x, h, layer)[0], capsys)
    assert out.startswith("❌ Exercise 8.3") and "shape" in out
