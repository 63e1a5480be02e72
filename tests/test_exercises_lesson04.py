"""Lesson 04 checks: ✅ for a right answer, ❌ naming the typical mistake, ⏳ for an unsolved stub."""

import numpy as np
import pytest
from exercise_helpers import run, todo

from nnlib.exercises import check_critical_learning_rate, check_minibatch_step, check_momentum_update


def minibatch_step(w, X, y, lr):
    return w - lr * 2 * X.T @ (X @ w - y) / len(y)


def momentum_update(w, velocity, grad, lr, mu):
    velocity = mu * velocity + grad
    return w - lr * velocity, velocity


def critical_learning_rate(A):
    return 2 / np.linalg.eigvalsh(A).max()


def hint_of(out):
    return out.partition("Hint: ")[2]


@pytest.mark.parametrize(("check", "fn"), [
    (check_minibatch_step, minibatch_step), (check_momentum_update, momentum_update),
    (check_critical_learning_rate, critical_learning_rate),
])
def test_right_answer_passes_and_stub_waits(check, fn, capsys):
    out = run(check, fn, capsys)
    assert out.startswith("✅ Exercise 4.") and "correct" in out
    out = run(check, todo, capsys)
    assert out.startswith("⏳ Exercise 4.") and "not implemented" in out


def test_minibatch_step_accepts_the_sum_form_and_in_place_updates(capsys):
    def in_place(w, X, y, lr):
        w -= lr * (2 / len(y)) * np.sum((X @ w - y)[:, None] * X, axis=0)
        return w

    assert [run(check_minibatch_step, in_place, capsys)[0] for _ in range(2)] == ["✅", "✅"]


@pytest.mark.parametrize(("fn", "hint"), [
    (lambda w, X, y, lr: w + lr * 2 * X.T @ (X @ w - y) / len(y), "goes uphill"),
    (lambda w, X, y, lr: w - lr * 2 * X.T @ (y - X @ w) / len(y), "goes uphill"),
    (lambda w, X, y, lr: w - lr * 2 * X.T @ (X @ w - y), "SUM of squared errors"),
    (lambda w, X, y, lr: w - lr * X.T @ (X @ w - y) / len(y), "factor 2 is missing"),
    (lambda w, X, y, lr: w - 2 * X.T @ (X @ w - y) / len(y), "learning rate lr"),
    (lambda w, X, y, lr: w - lr * X.T @ (X @ w - y), "½ Σ"),
    (lambda w, X, y, lr: w - lr * 2 * X.T @ (X @ w - y) / X.shape[1], "residual = X_batch @ w - y_batch"),
])
def test_minibatch_step_mistakes_get_specific_hints(fn, hint, capsys):
    out = run(check_minibatch_step, fn, capsys)
    assert out.startswith("❌ Exercise 4.1") and "expected" in out and hint in hint_of(out)


@pytest.mark.parametrize(("fn", "hint"), [
    (lambda w, v, g, lr, mu: (w - lr * (mu * v + lr * g), mu * v + lr * g), "applied twice"),
    (lambda w, v, g, lr, mu: (w - lr * v, mu * v + g), "OLD velocity"),
    (lambda w, v, g, lr, mu: (w + lr * (mu * v + g), mu * v + g), "sign"),
    (lambda w, v, g, lr, mu: (w - lr * (mu * v + g), v), "return the NEW velocity"),
    (lambda w, v, g, lr, mu: (w - lr * g, mu * v + g), "plain SGD"),
    (lambda w, v, g, lr, mu: (w + mu * v - lr * g, mu * v - lr * g), "other convention"),
    (lambda w, v, g, lr, mu: (w - lr * (v + g), v + g), "velocity = mu * velocity + grad"),
])
def test_momentum_mistakes_get_specific_hints(fn, hint, capsys):
    out = run(check_momentum_update, fn, capsys)
    assert out.startswith("❌ Exercise 4.3") and hint in hint_of(out)


def test_momentum_update_that_forgets_the_velocity_is_told_to_return_the_pair(capsys):
    out = run(check_momentum_update, lambda w, v, g, lr, mu: w - lr * (mu * v + g), capsys)
    assert out.startswith("❌ Exercise 4.3") and "must return the pair (new_w, new_velocity)" in out


def test_momentum_update_that_mutates_its_inputs_still_passes(capsys):
    def in_place(w, velocity, grad, lr, mu):
        velocity *= mu
        velocity += grad
        w -= lr * velocity
        return w, velocity

    assert [run(check_momentum_update, in_place, capsys)[0] for _ in range(2)] == ["✅", "✅"]


@pytest.mark.parametrize(("fn", "hint"), [
    (lambda A: 1 / np.linalg.eigvalsh(A).max(), "twice that"),
    (lambda A: 2 / np.linalg.eigvalsh(A).min(), "LARGEST curvature"),
    (lambda A: 2 / np.diag(A).max(), "diagonal entries"),
    (lambda A: 2 / np.trace(A), "trace"),
    (lambda A: np.linalg.eigvalsh(A).max() / 2, "upside down"),
    (lambda A: 2 / np.abs(A).sum(), "|1 − η λ| < 1"),
])
def test_critical_learning_rate_mistakes_get_specific_hints(fn, hint, capsys):
    out = run(check_critical_learning_rate, fn, capsys)
    assert out.startswith("❌ Exercise 4.2") and hint in hint_of(out)
