"""Lesson 03 checks: ✅ for a right answer, ❌ naming the typical mistake, ⏳ for an unsolved stub."""

from typing import NamedTuple

import numpy as np
import pytest
from exercise_helpers import failure_hint, run, solution_code, todo

from nnlib import Module, Parameter
from nnlib.exercises import (
    check_dE_dw1,
    check_dE_dw5,
    check_linear_backward,
    check_linear_forward,
    check_mlp_backprop,
    check_output_delta,
    check_squared_error_grad,
    check_update_all,
)
from nnlib.exercises.lesson03 import PARAMETERS, SLIDES, SLIDES_INPUTS, SLIDES_TARGETS
from nnlib.functional import sigmoid


def dE_dw5(out_h1, out_o1, target_o1):
    return -(target_o1 - out_o1) * out_o1 * (1 - out_o1) * out_h1


def output_delta(out, target):
    return (target - out) * out * (1 - out)


def dE_dw1(i1, out_h1, deltas_o, w5, w7):
    return -(deltas_o[0] * w5 + deltas_o[1] * w7) * out_h1 * (1 - out_h1) * i1


def step(params, eta, inputs, targets, *, sign=1.0, use_eta=True, new_output_weights=False, biases="sum"):
    """An independent step written with the lesson's batch matrix form (W[i, j] from input i to neuron j)."""
    p, lr = params, sign * (eta if use_eta else 1.0)
    W1, W2 = np.array([[p["w1"], p["w3"]], [p["w2"], p["w4"]]]), np.array([[p["w5"], p["w7"]], [p["w6"], p["w8"]]])
    x, t = np.array(inputs), np.array(targets)
    a_h = sigmoid(x @ W1 + p["b1"])
    a_o = sigmoid(a_h @ W2 + p["b2"])
    delta_o = (t - a_o) * a_o * (1 - a_o)
    W2_new = W2 + lr * np.outer(a_h, delta_o)
    delta_h = (delta_o @ (W2_new if new_output_weights else W2).T) * a_h * (1 - a_h)
    W1_new = W1 + lr * np.outer(x, delta_h)
    new = dict(zip(["w1", "w3", "w2", "w4"], W1_new.ravel().tolist(), strict=True))
    new |= dict(zip(["w5", "w7", "w6", "w8"], W2_new.ravel().tolist(), strict=True))
    take = {"sum": np.sum, "first neuron": lambda d: d[0], "none": lambda d: 0.0}[biases]
    return new | {"b1": p["b1"] + lr * take(delta_h), "b2": p["b2"] + lr * take(delta_o)}


def update_all(params, eta, inputs=SLIDES_INPUTS, targets=SLIDES_TARGETS):
    return step(params, eta, inputs, targets)


def squared_error_grad(out, target):
    return out - target


class Cache(NamedTuple):
    x: np.ndarray


def linear_class(mistake: str = "") -> type:
    """A learner's Linear layer: right, or with one typical ``mistake`` (see the table of hints below)."""
    class MyLinear(Module):
        def __init__(self, in_features, out_features):
            self.in_features, self.out_features = in_features, out_features
            self.weight = Parameter(np.zeros((in_features, out_features)), "weight")
            self.bias = Parameter(np.zeros(out_features), "bias")

        def forward(self, x):
            if mistake == "forward stub":
                raise NotImplementedError
            if mistake == "no cache":
                self.x = x
            else:
                self.cache = Cache(x)
            W = self.weight.data.T if mistake == "W transposed" else self.weight.data
            return x @ W if mistake == "no bias" else x @ W + self.bias.data

        def backward(self, grad_out):
            if mistake == "backward stub":
                raise NotImplementedError
            x = self.cache.x
            if mistake != "no reshape":
                x, grad_out = x.reshape(-1, self.in_features), grad_out.reshape(-1, self.out_features)
            dW = {"dW transposed": lambda: (grad_out.T @ x), "dW sign": lambda: -(x.T @ grad_out)}.get(
                mistake, lambda: x.T @ grad_out)()
            db = {"db mean": grad_out.mean(axis=0), "db first": grad_out[0]}.get(mistake, grad_out.sum(axis=0))
            if mistake == "assign":
                self.weight.grad, self.bias.grad = dW, db
            else:
                self.weight.grad += dW
                self.bias.grad += db
            dx = grad_out @ (self.weight.data if mistake == "dx no transpose" else self.weight.data.T)
            if mistake == "grad_out in place":
                grad_out[...] = 0
            return dx.reshape(self.cache.x.shape[:-1] + (self.in_features,))

    return MyLinear


def mlp_backprop(X, T, weights, biases):
    """The batch matrix form for any depth, written with explicit δ lists (the notes' sign, δ = −∂E/∂net)."""
    A = [X]
    for W, b in zip(weights, biases, strict=True):
        A.append(sigmoid(A[-1] @ W + b))
    deltas = [(T - A[-1]) * A[-1] * (1 - A[-1])]
    for W, a in zip(weights[:0:-1], A[-2:0:-1], strict=True):
        deltas.insert(0, (deltas[0] @ W.T) * a * (1 - a))
    return [-a.T @ d for a, d in zip(A, deltas, strict=False)], [-d.sum(axis=0) for d in deltas]


@pytest.mark.parametrize(("check", "fn", "exercise"), [
    (check_dE_dw5, dE_dw5, "3.1"), (check_output_delta, output_delta, "3.2"), (check_dE_dw1, dE_dw1, "3.3"),
    (check_update_all, update_all, "3.4"), (check_squared_error_grad, squared_error_grad, "3.5"),
    (check_linear_forward, linear_class(), "3.6"), (check_linear_backward, linear_class(), "3.7"),
    (check_mlp_backprop, mlp_backprop, "3.8"),
])
def test_right_answer_passes_and_stub_waits(check, fn, exercise, capsys):
    out = run(check, fn, capsys)
    assert out.startswith(f"✅ correct — Exercise {exercise}") and "correct" in out and out.count("\n") == 1
    out = run(check, todo, capsys)
    assert out.startswith(f"⏳ to do — Exercise {exercise}") and "not implemented" in out


def test_update_all_matches_the_published_new_weights():
    new = update_all(dict(SLIDES), 0.5)
    published = {"w1": 0.149780716, "w2": 0.19956143, "w3": 0.24975114, "w4": 0.29950229,
                 "w5": 0.35891648, "w6": 0.408666186, "w7": 0.511301270, "w8": 0.561370121}
    for name, value in published.items():
        assert abs(new[name] - value) < 5e-9, name


@pytest.mark.parametrize(("fn", "hint"), [
    (lambda h, o, t: (t - o) * o * (1 - o) * h, "sign is flipped"),
    (lambda h, o, t: -(t - o) * h, "sigmoid's derivative, is missing"),
    (lambda h, o, t: -(t - o) * sigmoid(o) * (1 - sigmoid(o)) * h, "out_o1 is already σ(net_o1)"),
    (lambda h, o, t: -(t - o) * o * (1 - o), "out_h1 (what w5 multiplies) is missing"),
    (lambda h, o, t: -(t - o) * o * (1 - o) * h * 0.5, "multiply the three factors"),
])
def test_dE_dw5_mistakes_get_specific_hints(fn, hint, capsys):
    assert hint in failure_hint(check_dE_dw5, fn, capsys, "3.1")


@pytest.mark.parametrize(("fn", "hint"), [
    (lambda a, t: (a - t) * a * (1 - a), "that is ∂E/∂net = −δ"),
    (lambda a, t: t - a, "multiply by the sigmoid's derivative"),
    (lambda a, t: (t - a) * (1 - a), "the factor a is missing"),
    (lambda a, t: (t - a) * a, "the factor (1 − a) is missing"),
    (lambda a, t: np.sum((t - a) * a * (1 - a), axis=-1), "the result has out's shape"),
])
def test_output_delta_mistakes_get_specific_hints(fn, hint, capsys):
    assert hint in failure_hint(check_output_delta, fn, capsys, "3.2")


def test_output_delta_checks_a_batch_and_reports_its_shape(capsys):
    out = run(check_output_delta, lambda a, t: ((t - a) * a * (1 - a)).ravel(), capsys)
    assert out.startswith("❌ not yet — Exercise 3.2") and "expected shape (4, 3), got shape (12,)" in out


@pytest.mark.parametrize(("fn", "hint"), [
    (lambda i1, h, d, w5, w7: -(d[0] * w5) * h * (1 - h) * i1, "out_h1 feeds BOTH outputs"),
    (lambda i1, h, d, w5, w7: -(d[1] * w7) * h * (1 - h) * i1, "out_h1 feeds BOTH outputs"),
    (lambda i1, h, d, w5, w7: (d[0] * w5 + d[1] * w7) * h * (1 - h) * i1, "sign is flipped"),
    (lambda i1, h, d, w5, w7: -(d[0] * w5 + d[1] * w7) * i1, "out_h1·(1 − out_h1) is missing"),
    (lambda i1, h, d, w5, w7: -(d[0] * w5 + d[1] * w7) * h * (1 - h) * h, "not out_h1"),
    (lambda i1, h, d, w5, w7: -(d[0] * w7 + d[1] * w5) * h * (1 - h) * i1, "−(deltas_o[0] * w5"),
])
def test_dE_dw1_mistakes_get_specific_hints(fn, hint, capsys):
    assert hint in failure_hint(check_dE_dw1, fn, capsys, "3.3")


@pytest.mark.parametrize(("switches", "hint"), [
    ({"sign": -1.0}, "the step goes uphill"),
    ({"new_output_weights": True}, "OLD w5 … w8"),
    ({"use_eta": False}, "learning rate eta"),
    ({"biases": "none"}, "update the biases too"),
    ({"biases": "first neuron"}, "SUM of both neurons' contributions"),
])
def test_update_all_mistakes_get_specific_hints(switches, hint, capsys):
    def wrong(params, eta, inputs, targets):
        return step(params, eta, inputs, targets, **switches)

    assert hint in failure_hint(check_update_all, wrong, capsys, "3.4")


def test_update_all_names_the_wrong_parameter(capsys):
    def wrong_w6(params, eta, inputs, targets):
        return step(params, eta, inputs, targets) | {"w6": params["w6"]}

    out = run(check_update_all, wrong_w6, capsys)
    assert out.startswith("❌ not yet — Exercise 3.4") and "new w6" in out
    assert "forward pass with the old parameters" in out.partition("Hint: ")[2]


@pytest.mark.parametrize(("result", "message"), [
    ({}, "got a dict with the keys []"),
    ([0.0] * 10, "got list"),
    ({name: 0.0 for name in PARAMETERS if name != "b2"}, "keys w1, w2, w3, w4, b1, w5, w6, w7, w8, b2"),
])
def test_update_all_wrong_return_type_is_reported(result, message, capsys):
    out = run(check_update_all, lambda *args: result, capsys)
    assert out.startswith("❌ not yet — Exercise 3.4") and "raised ValueError" in out and message in out


def test_update_all_forgotten_return_is_named(capsys):
    out = run(check_update_all, lambda *args: None, capsys)
    assert out.startswith("❌ not yet — Exercise 3.4") and "forget to `return`" in out


def test_update_all_that_mutates_its_params_still_passes(capsys):
    def in_place(params, eta, inputs, targets):
        params.update(step(params, eta, inputs, targets))
        return params

    # twice: the check's own cases must not be altered by a learner's in-place update
    assert [run(check_update_all, in_place, capsys)[0] for _ in range(2)] == ["✅", "✅"]


def test_a_learner_exception_is_feedback_not_a_crash(capsys):
    out = run(check_dE_dw1, lambda i1, h, d, w5, w7: d["o1"], capsys)
    assert out.startswith("❌ not yet — Exercise 3.3") and "raised" in out


@pytest.mark.parametrize(("fn", "hint"), [
    (lambda a, t: t - a, "the sign is flipped"),
    (lambda a, t: -2 * (t - a), "cancels the 2"),
    (lambda a, t: (a - t) / a.shape[0], "not a mean"),
    (lambda a, t: 0.5 * (t - a) ** 2, "that is the error itself"),
    (lambda a, t: np.sum(a - t, axis=-1), "the result has out's shape"),
])
def test_squared_error_grad_mistakes_get_specific_hints(fn, hint, capsys):
    assert hint in failure_hint(check_squared_error_grad, fn, capsys, "3.5")


@pytest.mark.parametrize(("mistake", "hint"), [
    ("no bias", "the bias is missing"),
    ("W transposed", "no transpose"),
    ("no cache", "self.cache = MyLinearCache(x)"),
])
def test_linear_forward_mistakes_get_specific_hints(mistake, hint, capsys):
    assert hint in failure_hint(check_linear_forward, linear_class(mistake), capsys, "3.6")


@pytest.mark.parametrize(("mistake", "hint"), [
    ("assign", "accumulate with +=, never assign with ="),
    ("dW transposed", "δᵀ x is its transpose"),
    ("dW sign", "the minus belongs to the update step"),
    ("db mean", "SUM of δ over the batch, not the mean"),
    ("db first", "over EVERY example of the batch"),
    ("dx no transpose", "the transpose is missing: dL/dx = δ Wᵀ"),
    ("no reshape", "flatten them first"),
    ("grad_out in place", "never modify the incoming gradient"),
])
def test_linear_backward_mistakes_get_specific_hints(mistake, hint, capsys):
    assert hint in failure_hint(check_linear_backward, linear_class(mistake), capsys, "3.7")


@pytest.mark.parametrize(("mistake", "waiting"), [("forward stub", ["3.6", "3.7"]), ("backward stub", ["3.7"])])
def test_the_lesson_stubs_of_my_linear_wait(mistake, waiting, capsys):
    for check, exercise in [(check_linear_forward, "3.6"), (check_linear_backward, "3.7")]:
        out = run(check, linear_class(mistake), capsys)
        expected = f"⏳ to do — Exercise {exercise}" if exercise in waiting else f"✅ correct — Exercise {exercise}"
        assert out.startswith(expected), out


def raises_value_error(*args):
    """A wrong answer whatever the exercise."""
    raise ValueError("wrong")


@pytest.mark.parametrize("check", [check_linear_forward, check_linear_backward])
@pytest.mark.parametrize(("wrong", "message"), [
    (raises_value_error, "raised ValueError"),
    (dict, "raised TypeError"),
    (lambda n_in, n_out: object(), "not an nnlib Module"),
    (lambda n_in, n_out: linear_class()(n_out, n_in), "is Parameter('weight', shape="),
])
def test_my_linear_checks_report_a_wrong_kind_of_answer(check, wrong, message, capsys):
    out = run(check, wrong, capsys)
    assert out.startswith("❌ not yet — Exercise 3.") and message in out and out.count("\n") == 2


@pytest.mark.parametrize(("loss_grad", "start", "message"), [
    (lambda out, target: target - out, "❌ not yet —", "make Exercise 3.5 pass first"),
    (todo, "⏳ to do —", "squared_error_grad (Exercise 3.5) is not implemented yet"),
])
def test_the_plug_in_step_uses_the_learners_loss_gradient(loss_grad, start, message, capsys):
    out = run(lambda layer_class: check_linear_backward(layer_class, loss_grad), linear_class(), capsys)
    assert out.startswith(f"{start} Exercise 3.7") and message in out


def test_the_solutions_layer_and_loss_gradient_train_the_222_network_to_the_published_weights(capsys):
    """The issue's promise: a learner who solves the build exercises has trained the 2-2-2 network with their layer."""
    names = ("MyLinearCache", "MyLinear", "squared_error_grad", "mlp_backprop")
    imports = {"np": np, "NamedTuple": NamedTuple, "Module": Module, "Parameter": Parameter, "sigmoid": sigmoid}
    code = solution_code("03_backpropagation_by_hand", names, imports)
    check_linear_forward(code["MyLinear"])
    check_linear_backward(code["MyLinear"], code["squared_error_grad"])
    check_mlp_backprop(code["mlp_backprop"])
    forward, backward, challenge = capsys.readouterr().out.splitlines()
    assert forward.startswith("✅ correct — Exercise 3.6") and challenge.startswith("✅ correct — Exercise 3.8")
    assert backward.startswith("✅ correct — Exercise 3.7") and "reproduces the published w1⁺ … w8⁺" in backward


@pytest.mark.parametrize(("switches", "hint"), [
    ({"sign": -1.0}, "δ-rule changes per unit of ε"),
    ({"hidden_slope": False}, "sigmoid slope is missing"),
    ({"reverse": True}, "the lists are reversed"),
])
def test_mlp_backprop_mistakes_get_specific_hints(switches, hint, capsys):
    def wrong(X, T, weights, biases):
        grads_W, grads_b = mlp_backprop(X, T, weights, biases)
        if switches.get("sign"):
            return [-g for g in grads_W], [-g for g in grads_b]
        if switches.get("reverse"):
            return grads_W[::-1], grads_b[::-1]
        A = [X]
        for W, b in zip(weights, biases, strict=True):
            A.append(sigmoid(A[-1] @ W + b))
        g, grads_W, grads_b = -(T - A[-1]) * A[-1] * (1 - A[-1]), [], []
        for k in range(len(weights) - 1, -1, -1):
            grads_W.insert(0, A[k].T @ g)
            grads_b.insert(0, g.sum(axis=0))
            g = g @ weights[k].T
        return grads_W, grads_b

    assert hint in failure_hint(check_mlp_backprop, wrong, capsys, "3.8")


def test_mlp_backprop_matches_torch_autograd(torch):
    X, T = np.random.default_rng(0).normal(size=(5, 3)), np.random.default_rng(1).uniform(size=(5, 2))
    weights = [np.random.default_rng(k).normal(size=shape) for k, shape in enumerate([(3, 4), (4, 2)])]
    biases = [np.random.default_rng(9 + k).normal(size=n) for k, n in enumerate([4, 2])]
    tw = [torch.tensor(w, requires_grad=True) for w in weights]
    tb = [torch.tensor(b, requires_grad=True) for b in biases]
    a = torch.tensor(X)
    for W, b in zip(tw, tb, strict=True):
        a = torch.sigmoid(a @ W + b)
    (0.5 * ((torch.tensor(T) - a) ** 2).sum()).backward()
    grads_W, grads_b = mlp_backprop(X, T, weights, biases)
    for ours, theirs in zip(grads_W + grads_b, tw + tb, strict=True):
        np.testing.assert_allclose(ours, theirs.grad.numpy(), rtol=1e-10)
