"""Lesson 02 checks: ✅ for a right answer, ❌ naming the typical mistake, ⏳ for an unsolved stub."""

import warnings

import numpy as np
import pytest
from exercise_helpers import run, todo

from nnlib.exercises import (
    check_leaky_relu,
    check_leaky_relu_prime,
    check_sigmoid_prime,
    check_softmax,
    check_tanh_prime,
)


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


@pytest.mark.parametrize(("check", "fn", "number"), [
    (check_sigmoid_prime, sigmoid_prime, 1), (check_tanh_prime, tanh_prime, 2), (check_leaky_relu, leaky_relu, 3),
    (check_leaky_relu_prime, leaky_relu_prime, 4), (check_softmax, softmax, 5),
])
def test_right_answer_passes_and_stub_waits(check, fn, number, capsys):
    out = run(check, fn, capsys)
    assert out.startswith(f"✅ Exercise 2.{number}") and "correct" in out and out.count("\n") == 1
    out = run(check, todo, capsys)
    assert out.startswith(f"⏳ Exercise 2.{number}") and "not implemented" in out and out.count("\n") == 1


@pytest.mark.parametrize(("fn", "hint"), [
    (sigmoid, "σ(net) itself"),
    (lambda net: net * (1 - net), "not to net"),
    (lambda net: sigmoid(net) * (sigmoid(net) - 1), "sign error"),
    (lambda net: np.exp(-net) / (1 + np.exp(-net)), "is squared"),
    (lambda net: sigmoid(net) * (1 - sigmoid(net)) ** 2, "compute a = sigmoid(net) first"),
])
def test_sigmoid_prime_mistakes_get_specific_hints(fn, hint, capsys):
    out = run(check_sigmoid_prime, fn, capsys)
    assert out.startswith("❌ Exercise 2.1") and hint in hint_of(out)


@pytest.mark.parametrize(("fn", "hint"), [
    (lambda net: 1 - net**2, "square tanh(net), not net"),
    (lambda net: 1 + np.tanh(net) ** 2, "sign error"),
    (np.tanh, "tanh itself"),
    (lambda net: (1 - np.tanh(net)) ** 2, "square tanh first"),
    (lambda net: 1 / np.cosh(net), "t = np.tanh(net)"),
])
def test_tanh_prime_mistakes_get_specific_hints(fn, hint, capsys):
    out = run(check_tanh_prime, fn, capsys)
    assert out.startswith("❌ Exercise 2.2") and hint in hint_of(out)


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
    assert out.startswith("❌ Exercise 2.3") and hint in hint_of(out)


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
    assert out.startswith("❌ Exercise 2.4") and hint in hint_of(out)


def test_leaky_relu_prime_scalar_answer_is_a_shape_error(capsys):
    out = run(check_leaky_relu_prime, lambda x, slope=0.1: 1.0, capsys)
    assert out.startswith("❌ Exercise 2.4") and "expected shape" in out


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
    assert out.startswith("❌ Exercise 2.5") and hint in hint_of(out)


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
