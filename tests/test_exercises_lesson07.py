"""Lesson 07 checks: ✅ for a right answer, ❌ naming the typical mistake, ⏳ for an unsolved stub."""

import numpy as np
import pytest
from exercise_helpers import failure_hint, run, stub_of

from nnlib import RNN, Linear, MSELoss, SequenceModel, clip_grad_value
from nnlib.exercises import (
    check_bptt_step,
    check_clip_grad_norm,
    check_rnn_layer,
    check_rnn_step,
    check_temperature_softmax,
    check_truncated_bptt,
)
from nnlib.exercises.lesson07 import RNN_MISTAKES, rnn_bptt, rnn_case_inputs, truncated_reference
from nnlib.functional import sigmoid
from nnlib.layers.recurrent import RNNCache


def rnn_step(x_t, h_prev, W_ih, W_hh, b):
    return np.tanh(x_t @ W_ih + h_prev @ W_hh + b)


def rnn_step_per_example(x_t, h_prev, W_ih, W_hh, b):
    """The same step written with explicit sums, one example and one unit at a time."""
    h_t = np.empty((x_t.shape[0], W_hh.shape[1]))
    for n in range(x_t.shape[0]):
        for j in range(W_hh.shape[1]):
            h_t[n, j] = np.tanh(sum(x_t[n, i] * W_ih[i, j] for i in range(W_ih.shape[0]))
                                + sum(h_prev[n, k] * W_hh[k, j] for k in range(W_hh.shape[0])) + b[j])
    return h_t


def bptt_step(dh_t, h_t, h_prev, W_hh):
    delta_t = dh_t * (1 - h_t**2)
    return delta_t, delta_t @ W_hh.T, h_prev.T @ delta_t


def bptt_step_einsum(dh_t, h_t, h_prev, W_hh):
    delta_t = dh_t * (1 - h_t**2)
    return delta_t, np.einsum("nj,kj->nk", delta_t, W_hh), np.einsum("nk,nj->kj", h_prev, delta_t)


def make_rnn(mistake=""):
    """A learner's MyRNN, written independently of the check, with one deliberate ``mistake`` (a name of
    RNN_MISTAKES), or right."""
    class MyRNN(RNN):
        def forward(self, x, h0=None):
            start = np.zeros((x.shape[0], self.hidden_size))
            h = start if h0 is None or mistake == "h0 ignored" else h0
            b = self.bias_ih.data + (0 if mistake == "no bias_hh" else self.bias_hh.data)
            hs = [h]
            for t in range(x.shape[1]):
                hs.append(np.tanh(x[:, t] @ self.weight_ih.data + hs[-1] @ self.weight_hh.data + b))
            self.cache = RNNCache(x, np.stack(hs))
            output = {"time-major output": np.stack(hs[1:]), "output with h0": np.stack(hs, axis=1)}
            return output.get(mistake, np.stack(hs[1:], axis=1)), hs[-1]

        def backward(self, grad_output, grad_h_n=None):
            x, hs = self.cache
            dh = np.zeros_like(hs[0]) if grad_h_n is None or mistake == "grad_h_n ignored" else grad_h_n
            dx = np.zeros_like(x)
            params = [self.weight_ih, self.weight_hh, self.bias_ih, self.bias_hh]
            if mistake == "overwrite the grads":
                for p in params:
                    p.grad = np.zeros_like(p.grad)
            for t in range(x.shape[1] - 1, -1, -1):
                if mistake != "no output gradient":
                    dh = dh + grad_output[:, t]
                slope = {"no tanh'": 1, "tanh' of h_t again": 1 - np.tanh(hs[t + 1]) ** 2,
                         "tanh' of h_prev": 1 - hs[t] ** 2}.get(mistake, 1 - hs[t + 1] ** 2)
                delta = dh * slope
                shares = [x[:, t].T @ delta, hs[t + (mistake == "dW_hh with h_t")].T @ delta, delta.sum(0),
                          delta.sum(0) * (mistake != "no bias_hh grad")]
                for p, share in zip(params, shares, strict=True):
                    if mistake == "= per step":
                        p.grad = share
                    else:
                        p.grad += share
                dx[:, t] = delta @ self.weight_ih.data.T
                dh = {"no way back": 0 * dh, "no W_hh on the way back": delta,
                      "no W_hh transpose": delta @ self.weight_hh.data}.get(mistake, delta @ self.weight_hh.data.T)
            return dx, dh

    return MyRNN


def clip_by_global_norm(params, max_norm):
    total = np.sqrt(sum(np.sum(p.grad**2) for p in params))
    if total > max_norm:
        for p in params:
            p.grad *= max_norm / total
    return total


def temperature_softmax(logits, temperature):
    z = logits / temperature
    e = np.exp(z - z.max(axis=-1, keepdims=True))
    return e / e.sum(axis=-1, keepdims=True)


def truncated_bptt(model, loss_fn, optimizer, x, y, window, *, carry=True, zero=True, step_each=True, tail=True):
    """Truncated BPTT written independently of the check; the switches make the typical mistakes."""
    losses, state = [], None
    stop = x.shape[1] if tail else x.shape[1] // window * window
    for start in range(0, stop, window):
        if zero:
            model.zero_grad()
        chunk = slice(start, start + window)
        losses.append(float(loss_fn(model(x[:, chunk], state if carry else None), y[:, chunk])))
        model.backward(loss_fn.backward())
        if step_each:
            optimizer.step()
        state = model.state
    if not step_each:
        optimizer.step()
    return losses


@pytest.mark.parametrize(("check", "fn", "exercise"), [
    (check_rnn_step, rnn_step, "7.1"), (check_rnn_step, rnn_step_per_example, "7.1"),
    (check_bptt_step, bptt_step, "7.2"), (check_bptt_step, bptt_step_einsum, "7.2"),
    (check_rnn_layer, make_rnn(), "7.3"), (check_clip_grad_norm, clip_by_global_norm, "7.4"),
    (check_temperature_softmax, temperature_softmax, "7.5"), (check_truncated_bptt, truncated_bptt, "7.6"),
])
def test_right_answer_passes_and_stub_waits(check, fn, exercise, capsys):
    out = run(check, fn, capsys)
    assert out.startswith(f"✅ correct — Exercise {exercise}") and "correct" in out and out.count("\n") == 1
    out = run(check, stub_of(fn), capsys)
    assert out.startswith(f"⏳ to do — Exercise {exercise}") and "not implemented" in out and out.count("\n") == 1


@pytest.mark.parametrize(("fn", "hint"), [
    (lambda x, h, W_ih, W_hh, b: np.tanh(x @ W_ih + b), "recurrent term h_prev @ W_hh is missing"),
    (lambda x, h, W_ih, W_hh, b: sigmoid(x @ W_ih + h @ W_hh + b), "not the sigmoid"),
    (lambda x, h, W_ih, W_hh, b: x @ W_ih + h @ W_hh + b, "apply the activation"),
    (lambda x, h, W_ih, W_hh, b: np.tanh(x @ W_ih + h @ W_hh.T + b), "W_hh is transposed"),
    (lambda x, h, W_ih, W_hh, b: np.tanh(x @ W_ih + (W_hh @ h.T).T + b), "W_hh is transposed"),
    (lambda x, h, W_ih, W_hh, b: np.tanh(x @ W_ih + h @ W_hh), "bias b is missing"),
    (lambda x, h, W_ih, W_hh, b: np.maximum(x @ W_ih + h @ W_hh + b, 0), "h_t = np.tanh(x_t @ W_ih"),
    (lambda x, h, W_ih, W_hh, b: np.tanh(x @ W_ih + h @ W_hh + b)[:, None], "h_t = np.tanh(x_t @ W_ih"),
])
def test_rnn_step_mistakes_get_specific_hints(fn, hint, capsys):
    assert hint in failure_hint(check_rnn_step, fn, capsys, "7.1")


def test_rnn_step_wrong_shape_is_named(capsys):
    out = run(check_rnn_step, lambda x, h, W_ih, W_hh, b: np.tanh(x @ W_ih + h @ W_hh + b)[:, None], capsys)
    assert "expected shape (2, 4), got shape (2, 1, 4)" in out


def test_rnn_step_column_vector_layout_raises_and_is_reported(capsys):
    out = run(check_rnn_step, lambda x, h, W_ih, W_hh, b: np.tanh(W_ih @ x + W_hh @ h + b), capsys)
    assert out.startswith("❌ not yet — Exercise 7.1") and "raised ValueError" in out


def with_delta(rule):
    """A bptt_step whose δ_t is computed by ``rule(dh_t, h_t, h_prev)``; the rest is right."""
    def fn(dh_t, h_t, h_prev, W_hh):
        delta_t = rule(dh_t, h_t, h_prev)
        return delta_t, delta_t @ W_hh.T, h_prev.T @ delta_t
    return fn


@pytest.mark.parametrize(("fn", "hint"), [
    (with_delta(lambda dh, h, hp: dh), "tanh's derivative is missing"),
    (with_delta(lambda dh, h, hp: dh * (1 - hp**2)), "not 1 − h_prev²"),
    (with_delta(lambda dh, h, hp: dh * (1 - np.tanh(h) ** 2)), "not 1 − tanh(h_t)²"),
    (lambda dh, h, hp, W: (dh * (1 - h**2), dh * (1 - h**2) @ W, hp.T @ (dh * (1 - h**2))), "W_hh's transpose"),
    (lambda dh, h, hp, W: (dh * (1 - h**2), dh * (1 - h**2) @ W.T, (dh * (1 - h**2)).T @ hp), "reversed"),
    (lambda dh, h, hp, W: (dh * (1 - h**2), dh * (1 - h**2) @ W.T, h.T @ (dh * (1 - h**2))), "not h_t.T @ delta_t"),
    (with_delta(lambda dh, h, hp: -dh * (1 - h**2)), "delta_t = dh_t * (1 - h_t**2)"),
    (lambda dh, h, hp, W: (dh * (1 - h**2), dh * (1 - h**2) @ W.T), "delta_t = dh_t * (1 - h_t**2)"),
])
def test_bptt_step_mistakes_get_specific_hints(fn, hint, capsys):
    assert hint in failure_hint(check_bptt_step, fn, capsys, "7.2")


def test_bptt_step_that_mutates_its_inputs_still_passes(capsys):
    def in_place(dh_t, h_t, h_prev, W_hh):
        dh_t *= 1 - h_t**2
        return dh_t, dh_t @ W_hh.T, h_prev.T @ dh_t

    # twice: the check's own cases must not be altered by a learner's in-place update
    assert [run(check_bptt_step, in_place, capsys)[0] for _ in range(2)] == ["✅", "✅"]


def test_the_check_reference_without_mistakes_is_nnlib():
    inputs = rnn_case_inputs(1)
    layer = RNN(2, 5, rng=1, dtype=np.float64)
    for name, value in inputs["prefill"].items():
        getattr(layer, name).grad[...] = value
    output, h_n = layer(inputs["x"], inputs["h0"])
    dx, dh0 = layer.backward(inputs["grad_output"], inputs["grad_h_n"])
    mine = rnn_bptt(layer, inputs)
    for name, value in {"output": output, "h_n": h_n, "dx": dx, "dh0": dh0,
                        "weight_hh.grad": layer.weight_hh.grad}.items():
        assert np.allclose(mine[name], value, rtol=1e-12, atol=1e-12), name


@pytest.mark.parametrize(("mistake", "hint"), [(m, hint) for m, hint in RNN_MISTAKES])
def test_rnn_layer_mistakes_get_specific_hints(mistake, hint, capsys):
    assert hint in failure_hint(check_rnn_layer, make_rnn(mistake), capsys, "7.3")


@pytest.mark.parametrize(("learner", "says", "hint"), [
    (RNN, "uses nnlib's own forward and backward", "write forward, backward in MyRNN yourself"),
    (lambda x: np.tanh(x), "expected a class derived from nnlib.RNN, got a function", "pass the class itself"),
    (Linear, "got the class Linear", "pass the class itself"),
])
def test_rnn_layer_of_the_wrong_kind_is_named(learner, says, hint, capsys):
    out = run(check_rnn_layer, learner, capsys)
    assert out.startswith("❌ not yet — Exercise 7.3") and says in out and hint in out.partition("Hint: ")[2]


def test_rnn_layer_that_raises_is_feedback_with_a_hint(capsys):
    class Broken(make_rnn()):
        def backward(self, grad_output, grad_h_n=None):
            raise ValueError("shapes (2,4) and (3,4) not aligned")

    hint = failure_hint(check_rnn_layer, Broken, capsys, "7.3")
    assert "walks t = T … 1" in hint


def test_rnn_layer_that_writes_into_grad_output_is_named(capsys):
    class InPlace(make_rnn()):
        def backward(self, grad_output, grad_h_n=None):
            grad_output[:, -1] += 0.0
            grad_output *= 1.0
            grad_output[0, 0, 0] += 1.0
            return super().backward(grad_output, grad_h_n)

    assert "never write into an incoming gradient" in failure_hint(check_rnn_layer, InPlace, capsys, "7.3")


def test_rnn_layer_matches_torch(torch):
    """The reference the check compares with, nnlib.RNN, is PyTorch's nn.RNN on one case."""
    inputs = rnn_case_inputs(0)
    layer = make_rnn()(3, 4, rng=0, dtype=np.float64)
    output, h_n = layer(inputs["x"])
    twin = torch.nn.RNN(3, 4, batch_first=True, dtype=torch.float64)
    with torch.no_grad():
        twin.weight_ih_l0.copy_(torch.tensor(layer.weight_ih.data.T))
        twin.weight_hh_l0.copy_(torch.tensor(layer.weight_hh.data.T))
        twin.bias_ih_l0.copy_(torch.tensor(layer.bias_ih.data))
        twin.bias_hh_l0.copy_(torch.tensor(layer.bias_hh.data))
    expected, _ = twin(torch.tensor(inputs["x"]))
    assert np.allclose(output, expected.detach().numpy(), atol=1e-12)


def clip_with(**switches):
    """A clipping function written independently, with one typical mistake."""
    def clip(params, max_norm):
        norms = [np.linalg.norm(p.grad) for p in params]
        total = float(np.sqrt(np.sum(np.square(norms))))
        if switches.get("by_value"):
            clip_grad_value(params, max_norm)
            return total
        for p, norm in zip(params, norms, strict=True):
            scale = max_norm / (norm if switches.get("per_parameter") else total)
            if switches.get("per_parameter") and norm <= max_norm:
                continue
            if total > max_norm or switches.get("always"):
                if switches.get("copy"):
                    _ = p.grad * scale
                else:
                    p.grad *= scale
        return min(total, max_norm) if switches.get("norm_after") else total
    return clip


@pytest.mark.parametrize(("switches", "hint"), [
    ({"per_parameter": True}, "one norm for ALL parameters together"),
    ({"by_value": True}, "that is clipping by value"),
    ({"always": True}, "clip only when the norm exceeds max_norm"),
    ({"copy": True}, "scale them in place"),
    ({"norm_after": True}, "return the norm BEFORE clipping"),
])
def test_clip_mistakes_get_specific_hints(switches, hint, capsys):
    assert hint in failure_hint(check_clip_grad_norm, clip_with(**switches), capsys, "7.4")


def test_clip_with_the_epsilon_of_nnlib_or_torch_passes(capsys):
    def like_torch(params, max_norm):
        total = np.sqrt(sum(np.sum(p.grad**2) for p in params))
        for p in params:
            p.grad *= min(1.0, max_norm / (total + 1e-6))
        return total

    assert run(check_clip_grad_norm, like_torch, capsys).startswith("✅ correct — Exercise 7.4")


@pytest.mark.parametrize(("fn", "hint"), [
    (lambda z, t: temperature_softmax(z * t, 1.0), "DIVIDE the logits by the temperature"),
    (lambda z, t: temperature_softmax(z, 1.0), "the temperature is missing"),
    (lambda z, t: np.exp(z / t) / np.exp(z / t).sum(axis=-1, keepdims=True), "subtract the maximum first"),
    (lambda z, t: np.exp(z / t - np.max(z / t)) / np.exp(z / t - np.max(z / t)).sum(), "over the LAST axis"),
    (lambda z, t: np.exp(z / t - np.max(z / t, axis=-1, keepdims=True)), "normalise: divide by the sum"),
    (lambda z, t: temperature_softmax(z, t) + 1e-3, "e = np.exp(z - z.max"),
])
def test_temperature_mistakes_get_specific_hints(fn, hint, capsys):
    assert hint in failure_hint(check_temperature_softmax, fn, capsys, "7.5")


@pytest.mark.parametrize(("switches", "hint"), [
    ({"carry": False}, "carry the state over"),
    ({"zero": False}, "call model.zero_grad()"),
    ({"step_each": False}, "one optimizer step per window"),
    ({"tail": False}, "the last window may be shorter"),
])
def test_truncated_bptt_mistakes_get_specific_hints(switches, hint, capsys):
    def wrong(*args):
        return truncated_bptt(*args, **switches)

    assert hint in failure_hint(check_truncated_bptt, wrong, capsys, "7.6")


def test_truncated_bptt_with_one_window_is_full_bptt():
    """The reference with a window as long as the sequence takes one ordinary BPTT step."""
    x, y = np.random.default_rng(0).normal(size=(2, 6, 1)), np.zeros((2, 6, 1))
    model = SequenceModel(RNN(1, 3, rng=0, dtype=np.float64), Linear(3, 1, rng=1, dtype=np.float64))
    losses = truncated_reference(model, MSELoss(), type("NoStep", (), {"step": lambda self: None})(), x, y, 6)
    assert len(losses) == 1 and np.isclose(losses[0], np.mean(model(x) ** 2))


def raises_value_error(*args, **kwargs):
    raise ValueError("a wrong answer whatever the exercise")


@pytest.mark.parametrize("check", [check_rnn_step, check_bptt_step, check_rnn_layer, check_clip_grad_norm,
                                   check_temperature_softmax, check_truncated_bptt])
def test_a_function_that_raises_is_a_failure_not_a_crash(check, capsys):
    assert run(check, raises_value_error, capsys).startswith("❌ not yet — Exercise 7.")
