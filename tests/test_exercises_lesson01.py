"""Lesson 01 checks: ✅ for a right answer, ❌ naming the typical mistake, ⏳ for an unsolved stub."""

import numpy as np
import pytest
from exercise_helpers import run, todo

from nnlib.exercises import check_and_gate, check_perceptron_predict, check_perceptron_update


def predict(X, w, b):
    return (X @ w + b > 0).astype(int)


def update(x, t, w, b, lr):
    error = t - int(x @ w + b > 0)
    return w + lr * error * x, b + lr * error


def and_gate():
    return np.array([1.0, 1.0]), -1.5


@pytest.mark.parametrize(("check", "fn"), [
    (check_perceptron_predict, predict), (check_and_gate, and_gate), (check_perceptron_update, update),
])
def test_right_answer_passes_and_stub_waits(check, fn, capsys):
    out = run(check, fn, capsys)
    assert out.startswith("✅ Exercise 1.") and "correct" in out
    out = run(check, todo, capsys)
    assert out.startswith("⏳ Exercise 1.") and "not implemented" in out


@pytest.mark.parametrize(("fn", "hint"), [
    (lambda X, w, b: X @ w + b, "not net itself"),
    (lambda X, w, b: (X @ w > 0).astype(int), "bias is missing"),
    (lambda X, w, b: (X @ w + b >= 0).astype(int), "step(0) must be 0"),
    (lambda X, w, b: (X @ w - b > 0).astype(int), "compute net = X @ w + b"),
    (lambda X, w, b: X.sum(), "compute net = X @ w + b"),
])
def test_predict_mistakes_get_specific_hints(fn, hint, capsys):
    out = run(check_perceptron_predict, fn, capsys)
    assert out.startswith("❌ Exercise 1.1") and "expected" in out and hint in out.partition("Hint: ")[2]


@pytest.mark.parametrize(("w", "b", "hint"), [
    ([1.0, 1.0], -0.5, "that is OR"),
    ([1.0, 1.0], -2.0, "never fires"),
    ([1.0, 1.0], 0.5, "always fires"),
    ([1.0, -1.0], 0.0, "you need b ≤ 0"),
])
def test_and_gate_mistakes_get_specific_hints(w, b, hint, capsys):
    out = run(check_and_gate, lambda: (np.array(w), b), capsys)
    assert out.startswith("❌ Exercise 1.2") and hint in out.partition("Hint: ")[2]


def test_and_gate_wrong_shape_is_reported(capsys):
    out = run(check_and_gate, lambda: (np.ones(3), -1.0), capsys)
    assert out.startswith("❌ Exercise 1.2") and "raised ValueError" in out and "shape (2,)" in out


def step(z):
    return int(z > 0)


@pytest.mark.parametrize(("fn", "hint"), [
    (lambda x, t, w, b, lr: (w - lr * (t - step(x @ w + b)) * x, b - lr * (t - step(x @ w + b))), "wrong way"),
    (lambda x, t, w, b, lr: (w + lr * (t - step(x @ w + b)) * x, b), "bias must learn"),
    (lambda x, t, w, b, lr: (w + (t - step(x @ w + b)) * x, b + (t - step(x @ w + b))), "learning rate"),
    (lambda x, t, w, b, lr: (w + lr * t * x, b + lr * t), "not the target t"),
    (lambda x, t, w, b, lr: (w + lr * (t - int(x @ w + b >= 0)) * x, b + lr * (t - int(x @ w + b >= 0))),
     "step(0) = 0"),
    (lambda x, t, w, b, lr: w + lr * (t - step(x @ w + b)) * x, "compute y = 1 if"),
])
def test_update_mistakes_get_specific_hints(fn, hint, capsys):
    out = run(check_perceptron_update, fn, capsys)
    assert out.startswith("❌ Exercise 1.3") and hint in out.partition("Hint: ")[2]


def test_update_that_mutates_its_inputs_still_passes(capsys):
    def in_place(x, t, w, b, lr):
        error = t - step(x @ w + b)
        w += lr * error * x
        return w, b + lr * error

    # twice: the check's own cases must not be altered by a learner's in-place update
    assert [run(check_perceptron_update, in_place, capsys)[0] for _ in range(2)] == ["✅", "✅"]
