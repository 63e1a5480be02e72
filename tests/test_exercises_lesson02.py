"""Lesson 02 checks: ✅ for a right answer, ❌ naming the typical mistake, ⏳ for an unsolved stub."""

import warnings

import numpy as np
import pytest
from exercise_helpers import failure_hint, run, stub_of

from nnlib import Maxout, Module
from nnlib.exercises import (
    check_leaky_relu,
    check_leaky_relu_prime,
    check_maxout_backward,
    check_my_elu,
    check_my_sigmoid,
    check_sigmoid_prime,
    check_softmax,
    check_softmax_backward,
    check_tanh_prime,
)
from nnlib.exercises.lesson02 import plug_in_losses
from nnlib.layers.activation import ActivationCache


def sigmoid(net):
    return 1 / (1 + np.exp(-net))


def sigmoid_prime(net):
    a = sigmoid(net)
    return a * (1 - a)


def tanh_prime(net):
    return 1 - np.tanh(net) ** 2


def leaky_relu(x, slope=0.1):
    return np.where(x > 0, x, slope * x)


def leaky_relu_prime(x, slope=0.1):
    return np.where(x > 0, 1.0, slope)


def softmax(x):
    e = np.exp(x - x.max(axis=-1, keepdims=True))
    return e / e.sum(axis=-1, keepdims=True)


def naive_softmax(x):
    return np.exp(x) / np.exp(x).sum(axis=-1, keepdims=True)


def hint_of(out: str) -> str:
    lines = out.splitlines()
    assert len(lines) == 2 and lines[1].startswith("   Hint: "), f"expected a verdict line and a hint line: {out!r}"
    return lines[1]


def elementwise_layer(forward, backward, name="MyLayer"):
    """A learner-style Module: forward(x, **settings) → y cached with x; backward(x, y, g, **settings) → dL/dx."""
    class Layer(Module):
        def __init__(self, **settings):
            self.settings = settings

        def forward(self, x):
            y = forward(x, **self.settings)
            self.cache = ActivationCache(x, y)
            return y

        def backward(self, grad_out):
            x, y = self.cache
            return backward(x, y, grad_out, **self.settings)

    Layer.__name__ = name
    return Layer


def elu(x, alpha=1.0):
    return np.where(x > 0, x, alpha * (np.exp(np.minimum(x, 0)) - 1))


def elu_backward(x, y, g, alpha=1.0):
    return g * np.where(x > 0, 1.0, y + alpha)


MySigmoid = elementwise_layer(sigmoid, lambda x, y, g: g * y * (1 - y), "MySigmoid")
MyELU = elementwise_layer(elu, elu_backward, "MyELU")


def maxout_layer(delta_of, add=True):
    """A Maxout subclass whose backward routes grad_out to the pieces by ``delta_of(winner_mask, grad_out)``."""
    class MyMaxout(Maxout):
        def backward(self, grad_out):
            x, winner = self.cache
            delta = delta_of(np.arange(self.pieces)[:, None, None] == winner, grad_out)
            for param, grad in ((self.weight, x.T @ delta), (self.bias, delta.sum(axis=1))):
                param.grad[...] = param.grad + grad if add else grad
            return (delta @ self.weight.data.transpose(0, 2, 1)).sum(axis=0)

    return MyMaxout


MyMaxout = maxout_layer(lambda won, g: won * g)


def softmax_backward(s, grad_s):
    return s * (grad_s - (grad_s * s).sum(axis=-1, keepdims=True))


def softmax_backward_with_the_jacobian(s, grad_s):
    return np.stack([(np.diag(row) - np.outer(row, row)) @ g for row, g in zip(s, grad_s, strict=True)])


@pytest.mark.parametrize(("check", "fn", "exercise"), [
    (check_sigmoid_prime, sigmoid_prime, "2.1"), (check_my_sigmoid, MySigmoid, "2.2"),
    (check_tanh_prime, tanh_prime, "2.3"), (check_leaky_relu, leaky_relu, "2.4"),
    (check_leaky_relu_prime, leaky_relu_prime, "2.5"), (check_my_elu, MyELU, "2.6"),
    (check_maxout_backward, MyMaxout, "2.7"), (check_softmax, softmax, "2.8"),
    (check_softmax_backward, softmax_backward, "2.9"),
])
def test_right_answer_passes_and_stub_waits(check, fn, exercise, capsys):
    out = run(check, fn, capsys)
    assert out.startswith(f"✅ correct — Exercise {exercise}") and "correct" in out and out.count("\n") == 1
    out = run(check, stub_of(fn), capsys)
    assert out.startswith(f"⏳ to do — Exercise {exercise}") and "not implemented" in out and out.count("\n") == 1


@pytest.mark.parametrize(("fn", "hint"), [
    (sigmoid, "σ(net) itself"),
    (lambda net: net * (1 - net), "not to net"),
    (lambda net: sigmoid(net) * (sigmoid(net) - 1), "sign error"),
    (lambda net: np.exp(-net) / (1 + np.exp(-net)), "is squared"),
    (lambda net: sigmoid(net) * (1 - sigmoid(net)) ** 2, "compute a = sigmoid(net) first"),
])
def test_sigmoid_prime_mistakes_get_specific_hints(fn, hint, capsys):
    out = run(check_sigmoid_prime, fn, capsys)
    assert out.startswith("❌ not yet — Exercise 2.1") and hint in hint_of(out)


@pytest.mark.parametrize(("fn", "hint"), [
    (lambda net: 1 - net**2, "square tanh(net), not net"),
    (lambda net: 1 + np.tanh(net) ** 2, "sign error"),
    (np.tanh, "tanh itself"),
    (lambda net: (1 - np.tanh(net)) ** 2, "square tanh first"),
    (lambda net: 1 / np.cosh(net), "t = np.tanh(net)"),
])
def test_tanh_prime_mistakes_get_specific_hints(fn, hint, capsys):
    out = run(check_tanh_prime, fn, capsys)
    assert out.startswith("❌ not yet — Exercise 2.3") and hint in hint_of(out)


def test_tanh_prime_written_with_cosh_passes(capsys):
    assert run(check_tanh_prime, lambda net: 1 / np.cosh(net) ** 2, capsys).startswith("✅")


@pytest.mark.parametrize(("fn", "hint"), [
    (lambda x, slope=0.1: np.maximum(0, x), "that is ReLU"),
    (lambda x, slope=0.1: np.where(x > 0, slope * x, x), "positive inputs pass unchanged"),
    (lambda x, slope=0.1: np.where(x > 0, x, 0.01 * x), "do not hard-code 0.01"),
    (lambda x, slope=0.1: np.maximum(0.1 * x, x), "where 0.1 is wrong"),
    (lambda x, slope=0.1: np.where(x > 0, x, -slope * x), "return np.where(x > 0, x, slope * x)"),
])
def test_leaky_relu_mistakes_get_specific_hints(fn, hint, capsys):
    out = run(check_leaky_relu, fn, capsys)
    assert out.startswith("❌ not yet — Exercise 2.4") and hint in hint_of(out)


def test_leaky_relu_written_as_the_notes_max_passes(capsys):
    assert run(check_leaky_relu, lambda x, slope=0.1: np.maximum(slope * x, x), capsys).startswith("✅")


@pytest.mark.parametrize(("fn", "hint"), [
    (lambda x, slope=0.1: (x > 0).astype(float), "that is ReLU's derivative"),
    (leaky_relu, "that is leaky ReLU itself"),
    (lambda x, slope=0.1: np.where(x >= 0, 1.0, slope), "test x > 0, not x >= 0"),
    (lambda x, slope=0.1: np.where(x > 0, 1.0, 0.01), "do not hard-code 0.01"),
    (lambda x, slope=0.1: np.where(x > 0, 1.0, 0.1), "where 0.1 is wrong"),
    (lambda x, slope=0.1: np.where(x > 0, 1.0, slope * x), "return np.where(x > 0, 1.0, slope)"),
])
def test_leaky_relu_prime_mistakes_get_specific_hints(fn, hint, capsys):
    out = run(check_leaky_relu_prime, fn, capsys)
    assert out.startswith("❌ not yet — Exercise 2.5") and hint in hint_of(out)


def test_leaky_relu_prime_scalar_answer_is_a_shape_error(capsys):
    out = run(check_leaky_relu_prime, lambda x, slope=0.1: 1.0, capsys)
    assert out.startswith("❌ not yet — Exercise 2.5") and "expected shape" in out


@pytest.mark.parametrize(("fn", "hint"), [
    (naive_softmax, "Subtract each row's max first"),
    (lambda x: naive_softmax(x - x.min(axis=-1, keepdims=True)), "subtract the max, not the min"),
    (lambda x: softmax(x.T).T, "normalised the columns"),
    (lambda x: np.exp(x - x.max(axis=-1, keepdims=True)), "divide by the row sums"),
    (lambda x: naive_softmax(x - x.max(axis=0, keepdims=True)), "not of each column"),
    (lambda x: np.exp(x - x.max()) / np.exp(x - x.max()).sum(), "m = x.max(axis=-1, keepdims=True)"),
])
def test_softmax_mistakes_get_specific_hints(fn, hint, capsys):
    out = run(check_softmax, fn, capsys)
    assert out.startswith("❌ not yet — Exercise 2.8") and hint in hint_of(out)


def test_naive_softmax_reports_the_overflow_without_warnings(capsys):
    with warnings.catch_warnings():
        warnings.simplefilter("error")  # any RuntimeWarning (overflow, invalid) would fail here
        out = run(check_softmax, naive_softmax, capsys)
    assert "non-finite" in out and "max" in hint_of(out)


def test_softmax_check_restores_numpy_error_state(capsys):
    before = np.geterr()
    run(check_softmax, naive_softmax, capsys)
    assert np.geterr() == before


def test_softmax_that_mutates_its_input_still_passes(capsys):
    def in_place(x):
        x -= x.max(axis=-1, keepdims=True)
        np.exp(x, out=x)
        x /= x.sum(axis=-1, keepdims=True)
        return x

    assert [run(check_softmax, in_place, capsys)[0] for _ in range(2)] == ["✅", "✅"]


@pytest.mark.parametrize(("forward", "backward", "hint"), [
    (sigmoid, lambda x, y, g: g * x * (1 - x), "evaluated on the OUTPUT"),
    (sigmoid, lambda x, y, g: g * sigmoid(y) * (1 - sigmoid(y)), "already a = σ(net)"),
    (sigmoid, lambda x, y, g: y * (1 - y), "multiply by grad_out"),
    (sigmoid, lambda x, y, g: g, "a(1 − a) is missing"),
    (sigmoid, lambda x, y, g: g * y, "(1 − a) is missing"),
    (lambda x: 1 / (1 + np.exp(x)), lambda x, y, g: g * y * (1 - y), "sign is flipped"),
    (lambda x: x, lambda x, y, g: g, "not net itself"),
    (sigmoid, lambda x, y, g: g * y * (1 - y) / 2, "backward: x, y = self.cache"),
])
def test_my_sigmoid_mistakes_get_specific_hints(forward, backward, hint, capsys):
    assert hint in failure_hint(check_my_sigmoid, elementwise_layer(forward, backward), capsys, "2.2")


@pytest.mark.parametrize(("forward", "backward", "hint"), [
    (elu, lambda x, y, g, alpha: g * (y + alpha), "only for x ≤ 0"),
    (elu, lambda x, y, g, alpha: g * np.where(x > 0, 1.0, np.exp(x)), "the factor α is missing (it shows"),
    (elu, lambda x, y, g, alpha: g * np.where(x > 0, 1.0, alpha * np.exp(y)), "not the output y"),
    (elu, lambda x, y, g, alpha: g * np.where(x >= 0, 1.0, y + alpha), "test x > 0, not x >= 0"),
    (elu, lambda x, y, g, alpha: np.where(x > 0, 1.0, y + alpha), "multiply by grad_out"),
    (lambda x, alpha: np.where(x > 0, x, np.exp(x) - 1), elu_backward, "α(e^x − 1): the factor α is missing"),
    (lambda x, alpha: np.where(x > 0, x, alpha * np.exp(x)), elu_backward, "subtract 1"),
    (elu, lambda x, y, g, alpha: g * np.where(x > 0, 1.0, alpha), "np.where(x > 0, 1.0, y + alpha)"),
])
def test_my_elu_mistakes_get_specific_hints(forward, backward, hint, capsys):
    assert hint in failure_hint(check_my_elu, elementwise_layer(forward, backward), capsys, "2.6")


class AttributeCache(Module):
    """Right on single calls, but keeps its output in self.out: a second use of the instance overwrites it."""

    def forward(self, x):
        self.out = sigmoid(x)
        return self.out

    def backward(self, grad_out):
        return grad_out * self.out * (1 - self.out)


def test_a_cache_kept_outside_self_cache_is_named(capsys):
    out = run(check_my_sigmoid, AttributeCache, capsys)
    assert out.startswith("❌ not yet — Exercise 2.2: MySigmoid: plug-in with one instance used twice")
    assert "self.cache" in out.partition("Hint: ")[2]


def right_unless(condition, scale=1.01):
    """MySigmoid whose backward is off by ``scale`` when ``condition(x)`` holds (to reach a later check)."""
    return elementwise_layer(sigmoid, lambda x, y, g: g * y * (1 - y) * (scale if condition(x) else 1.0))


@pytest.mark.parametrize(("cls", "stage"), [
    (right_unless(lambda x: x.flat[0] != 0), "gradcheck: x of shape (5,): relative error"),
    (right_unless(lambda x: x.shape == (64, 8)), "plug-in (a 2-8-8-2 MLP on make_moons"),
])
def test_each_check_of_a_build_is_named(cls, stage, capsys):
    out = run(check_my_sigmoid, cls, capsys)
    assert out.startswith(f"❌ not yet — Exercise 2.2: MySigmoid: {stage}") and out.count("\n") == 2


@pytest.mark.parametrize(("check", "fn"), [
    (check_my_sigmoid, lambda: np.zeros(3)), (check_my_sigmoid, object), (check_my_elu, sigmoid),
    (check_my_sigmoid, lambda *a: (_ for _ in ()).throw(ValueError("wrong"))), (check_maxout_backward, MySigmoid),
    (check_maxout_backward, sigmoid),
])
def test_a_wrong_kind_of_answer_is_feedback_not_a_crash(check, fn, capsys):
    out = run(check, fn, capsys)
    assert out.startswith("❌ not yet — Exercise 2.") and "raised" in out


@pytest.mark.parametrize(("delta_of", "add", "hint"), [
    (lambda won, g: g / won.shape[0] + 0 * won, True, "not split among the pieces"),
    (lambda won, g: g + 0 * won, True, "only the winning piece gets the gradient"),
    (lambda won, g: won * g, False, "accumulate with +="),
    (lambda won, g: ~won * g, True, "delta = (np.arange(self.pieces)"),
])
def test_maxout_backward_mistakes_get_specific_hints(delta_of, add, hint, capsys):
    assert hint in failure_hint(check_maxout_backward, maxout_layer(delta_of, add), capsys, "2.7")


def test_plug_in_trains(capsys):
    """The plug-in model learns: its loss goes down over the steps (so a trajectory mismatch means something)."""
    losses = plug_in_losses(lambda n_in, n_out, seed: [Maxout(n_in, n_out, 2, rng=seed, dtype=np.float64)])
    assert np.all(np.diff(losses) < 0)


def test_softmax_backward_with_the_full_jacobian_is_accepted(capsys):
    out = run(check_softmax_backward, softmax_backward_with_the_jacobian, capsys)
    assert out.startswith("✅ correct — Exercise 2.9")


@pytest.mark.parametrize(("fn", "hint"), [
    (lambda s, g: s * ((g * s).sum(axis=-1, keepdims=True) - g), "sign is flipped"),
    (lambda s, g: s * g, "the sum is missing"),
    (lambda s, g: s * (1 - s) * g, "only the Jacobian's diagonal"),
    (lambda s, g: g - (g * s).sum(axis=-1, keepdims=True), "multiply by s_j"),
    (lambda s, g: s * (g - (g * s).sum(axis=0, keepdims=True)), "not each column"),
    (lambda s, g: s * (g - (g * s).sum()), "return s * (grad_s"),
])
def test_softmax_backward_mistakes_get_specific_hints(fn, hint, capsys):
    assert hint in failure_hint(check_softmax_backward, fn, capsys, "2.9")


def test_softmax_backward_matches_torch(torch):
    s = softmax(np.random.default_rng(0).normal(size=(3, 5)))
    g = np.random.default_rng(1).normal(size=(3, 5))
    x = torch.tensor(np.log(s), requires_grad=True)
    torch.softmax(x, dim=-1).backward(torch.tensor(g))
    assert np.allclose(softmax_backward(s, g), x.grad.numpy())
