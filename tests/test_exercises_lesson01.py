"""Lesson 01 checks: ✅ for a right answer, ❌ naming the typical mistake, ⏳ for an unsolved stub."""

import numpy as np
import pytest
from exercise_helpers import failure_hint, run, todo

from nnlib import Perceptron
from nnlib.exercises import (
    check_and_gate,
    check_perceptron_predict,
    check_perceptron_update,
    check_train_perceptron,
    check_xor_mlp,
)
from nnlib.exercises.lesson01 import GATES, TABLE, TRAINING_MISTAKES, train_variant


def predict(X, w, b):
    return (X @ w + b > 0).astype(int)


def update(x, t, w, b, lr):
    error = t - int(x @ w + b > 0)
    return w + lr * error * x, b + lr * error


def and_gate():
    return np.array([1.0, 1.0]), -1.5


def train_perceptron(X, targets, lr=1.0, max_epochs=100):
    w, b, mistakes = np.zeros(X.shape[1]), 0.0, []
    while len(mistakes) < max_epochs and (not mistakes or mistakes[-1]):
        wrong = 0
        for x, t in zip(X, targets, strict=True):
            error = t - int(x @ w + b > 0)
            w, b, wrong = w + lr * error * x, b + lr * error, wrong + abs(error)
        mistakes.append(wrong)
    return w, b, mistakes


def xor_mlp(X):
    hidden = (X @ np.array([[1.0, -1.0], [1.0, -1.0]]) + np.array([-0.5, 1.5]) > 0).astype(float)
    return (hidden @ np.array([1.0, 1.0]) - 1.5 > 0).astype(int)


@pytest.mark.parametrize(("check", "fn", "exercise"), [
    (check_perceptron_predict, predict, "1.1"), (check_and_gate, and_gate, "1.2"),
    (check_perceptron_update, update, "1.3"), (check_train_perceptron, train_perceptron, "1.4"),
    (check_xor_mlp, xor_mlp, "1.5"),
])
def test_right_answer_passes_and_stub_waits(check, fn, exercise, capsys):
    out = run(check, fn, capsys)
    assert out.startswith(f"✅ correct — Exercise {exercise}") and "correct" in out and out.count("\n") == 1
    out = run(check, todo, capsys)
    assert out.startswith(f"⏳ to do — Exercise {exercise}") and "not implemented" in out and out.count("\n") == 1


@pytest.mark.parametrize(("fn", "hint"), [
    (lambda X, w, b: X @ w + b, "not net itself"),
    (lambda X, w, b: (X @ w > 0).astype(int), "bias is missing"),
    (lambda X, w, b: (X @ w + b >= 0).astype(int), "step(0) must be 0"),
    (lambda X, w, b: (X @ w - b > 0).astype(int), "compute net = X @ w + b"),
    (lambda X, w, b: X.sum(), "compute net = X @ w + b"),
])
def test_predict_mistakes_get_specific_hints(fn, hint, capsys):
    out = run(check_perceptron_predict, fn, capsys)
    assert out.startswith("❌ not yet — Exercise 1.1") and "expected" in out and hint in out.partition("Hint: ")[2]


@pytest.mark.parametrize(("w", "b", "hint"), [
    ([1.0, 1.0], -0.5, "that is OR"),
    ([1.0, 1.0], -2.0, "never fires"),
    ([1.0, 1.0], 0.5, "always fires"),
    ([1.0, -1.0], 0.0, "you need b ≤ 0"),
])
def test_and_gate_mistakes_get_specific_hints(w, b, hint, capsys):
    out = run(check_and_gate, lambda: (np.array(w), b), capsys)
    assert out.startswith("❌ not yet — Exercise 1.2") and hint in out.partition("Hint: ")[2]


def test_and_gate_wrong_shape_is_reported(capsys):
    out = run(check_and_gate, lambda: (np.ones(3), -1.0), capsys)
    assert out.startswith("❌ not yet — Exercise 1.2") and "raised ValueError" in out and "shape (2,)" in out


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
    assert out.startswith("❌ not yet — Exercise 1.3") and hint in out.partition("Hint: ")[2]


def test_update_that_mutates_its_inputs_still_passes(capsys):
    def in_place(x, t, w, b, lr):
        error = t - step(x @ w + b)
        w += lr * error * x
        return w, b + lr * error

    # twice: the check's own cases must not be altered by a learner's in-place update
    assert [run(check_perceptron_update, in_place, capsys)[0] for _ in range(2)] == ["✅", "✅"]


def test_train_perceptron_reference_loop_is_nnlibs():
    """The mistake switches start from a loop that is exactly nnlib's Perceptron.fit."""
    for targets in GATES.values():
        p = Perceptron(2, lr=0.5)
        mistakes = p.fit(TABLE, targets, epochs=30)
        w, b, own = train_variant(TABLE, targets, 0.5, 30)
        assert own == mistakes and np.allclose(w, p.w) and b == p.b


@pytest.mark.parametrize(("switches", "hint"), [(switches, why[:40]) for switches, why in TRAINING_MISTAKES])
def test_train_perceptron_mistakes_get_specific_hints(switches, hint, capsys):
    def wrong(X, targets, lr, max_epochs):
        return train_variant(X, targets, lr, max_epochs, **switches)

    assert failure_hint(check_train_perceptron, wrong, capsys, "1.4").startswith(hint)


def train_then(change):
    """train_perceptron, with its result passed through ``change(X, targets, w, b, mistakes)``."""
    def train(X, targets, lr, max_epochs):
        return change(X, targets, *train_perceptron(X, targets, lr, max_epochs))
    return train


@pytest.mark.parametrize(("fn", "stage", "hint"), [
    (train_then(lambda X, t, w, b, m: (w, b, sum(m))), "compared with nnlib.Perceptron.fit", "start from w = "),
    (lambda X, t, lr, max_epochs: (np.zeros(X.shape[1]), 0.0, [0]), "compared with nnlib", "start from w = "),
    (train_then(lambda X, t, w, b, m: (w, b, m) if len(X) > 4 else (w[:1], b, m)), "plug-in", "w of shape (2,)"),
    (train_then(lambda X, t, w, b, m: (w, b, m) if len(X) > 4 or m[-1] == 0 or len(m) < 10 else (w, b, m[:9])),
     "non-convergence on XOR", "XOR is not linearly separable"),
])
def test_train_perceptron_names_the_failing_check(fn, stage, hint, capsys):
    out = run(check_train_perceptron, fn, capsys)
    assert out.startswith(f"❌ not yet — Exercise 1.4: train_perceptron: {stage}") and out.count("\n") == 2
    assert hint in out.partition("Hint: ")[2]


@pytest.mark.parametrize("fn", [lambda *args: (_ for _ in ()).throw(ValueError("wrong")), Perceptron, len])
def test_train_perceptron_wrong_kind_is_feedback_not_a_crash(fn, capsys):
    out = run(check_train_perceptron, fn, capsys)
    assert out.startswith("❌ not yet — Exercise 1.4") and "raised" in out


def step_units(X, W1, b1, w2, b2):
    return ((X @ np.array(W1) + b1 > 0) @ np.array(w2) + b2 > 0).astype(int)


@pytest.mark.parametrize(("fn", "hint"), [
    (lambda X: step_units(X, [[1, 1], [1, 1]], [-0.5, -0.5], [1, 1], -0.5), "that is OR"),
    (lambda X: step_units(X, [[1, 1], [1, 1]], [-0.5, -1.5], [0, 1], -0.5), "that is AND"),
    (lambda X: step_units(X, [[1, 1], [1, 1]], [-0.5, -1.5], [0, -1], 0.5), "that is NAND"),
    (lambda X: 1 - xor_mlp(X), "that is XNOR"),
    (lambda X: step_units(X, [[1, -1], [1, -1]], [-0.5, 1.5], [1, 1], -2), "never fires"),
    (lambda X: (X @ np.array([[1.0, -1.0], [1.0, -1.0]]) + np.array([-0.5, 1.5]) > 0).astype(int), "hidden = step"),
])
def test_xor_mlp_mistakes_get_specific_hints(fn, hint, capsys):
    assert hint in failure_hint(check_xor_mlp, fn, capsys, "1.5")


def test_xor_mlp_that_hardcodes_the_truth_table_order_fails(capsys):
    out = run(check_xor_mlp, lambda X: np.array([0, 1, 1, 0]), capsys)
    assert out.startswith("❌ not yet — Exercise 1.5") and "shuffled" in out
