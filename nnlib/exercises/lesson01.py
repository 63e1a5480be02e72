"""Checks for lesson 01, the neuron and the perceptron. Reference values come from :class:`nnlib.Perceptron`.

When a learner's answer is wrong, each check also tries the typical mistakes (bias forgotten, the update's
sign flipped, ...) and, if one of them reproduces the learner's output exactly, names it in the hint.
"""

from __future__ import annotations

from collections.abc import Callable

import numpy as np

from ..perceptron import Perceptron
from ._core import Case, check_with_diagnosis

# The four rows of a two-input truth table, as the lesson writes them.
TABLE = np.array([[0, 0], [0, 1], [1, 0], [1, 1]], dtype=np.float64)


def _perceptron(w, b) -> Perceptron:
    """An nnlib Perceptron holding the given weights (F,) and bias, in float64."""
    w = np.asarray(w, dtype=np.float64)
    if w.ndim != 1:
        raise ValueError(f"the weights w must be a 1-D array (one weight per input), got shape {w.shape}")
    p = Perceptron(len(w))
    p.w, p.b = w.copy(), float(b)
    return p


# --- Exercise 1.1: the perceptron's forward pass ------------------------------------------------------------

def _predict_cases() -> list[Case]:
    rng = np.random.default_rng(1)
    X3, w3 = rng.normal(size=(5, 3)), rng.normal(size=3)
    args = [
        (TABLE, np.array([1.0, 1.0]), -1.5),
        (np.array([[1.0, 1.0], [2.0, -1.0], [-1.0, 0.5], [0.0, 0.0]]), np.array([0.5, -1.0]), 0.5),  # net 0 first
        (X3, w3, 0.3),
    ]
    return [Case(a, _perceptron(a[1], a[2]).predict(a[0])) for a in args]


def check_perceptron_predict(fn: Callable) -> None:
    """Exercise 1.1: ``fn(X, w, b)`` with X (N, F), w (F,), b a float must return ``step(X @ w + b)`` (N,) of 0/1."""
    def step(z):
        return (z > 0).astype(np.int64)

    mistakes = [
        (lambda X, w, b: X @ w + b, "return the step of the net input (1 where net > 0, else 0), not net itself."),
        (lambda X, w, b: step(X @ w), "the bias is missing: net = X @ w + b."),
        (lambda X, w, b: (X @ w + b >= 0).astype(np.int64),
         "step(0) must be 0: the neuron fires only when net > 0 (use >, not >=)."),
    ]
    check_with_diagnosis("Exercise 1.1: perceptron_predict", fn, _predict_cases(), mistakes,
           "compute net = X @ w + b for every row (shape (N,)), then return 1 where net > 0 and 0 elsewhere.")


# --- Exercise 1.2: an AND gate by hand ---------------------------------------------------------------------

def check_and_gate(fn: Callable) -> None:
    """Exercise 1.2: ``fn()`` returns ``(w, b)``, w of shape (2,), for which the perceptron computes x1 AND x2."""
    def output(row):
        w, b = fn()
        if np.shape(w) != (2,):
            raise ValueError(f"w must hold two weights, shape (2,), got shape {np.shape(w)}")
        return _perceptron(w, b).predict(TABLE[row:row + 1])[0]

    output.__name__ = getattr(fn, "__name__", "your function")
    target = np.logical_and(TABLE[:, 0], TABLE[:, 1]).astype(np.int64)
    cases = [Case((row,), target[row], label=f"x = ({x1:.0f}, {x2:.0f})") for row, (x1, x2) in enumerate(TABLE)]
    mistakes = [
        (lambda row: int(TABLE[row].any()),
         "that is OR: one active input is already enough. Lower b so that only x1 = x2 = 1 gets net > 0."),
        (lambda row: 0, "the neuron never fires: for (1, 1) you need w1 + w2 + b > 0 (remember step(0) = 0)."),
        (lambda row: 1, "the neuron always fires: with both inputs 0, net = b, so b must be ≤ 0."),
    ]
    check_with_diagnosis("Exercise 1.2: AND gate by hand", output, cases, mistakes,
           "you need b ≤ 0, w1 + b ≤ 0 and w2 + b ≤ 0, but w1 + w2 + b > 0. Try equal positive weights.")


# --- Exercise 1.3: Rosenblatt's learning rule -------------------------------------------------------------

def _update_reference(x, t, w, b, lr):
    p = _perceptron(w, b)
    p.lr = lr
    p.update(x, t)
    return p.w, p.b


def _update_cases() -> list[Case]:
    args = [
        (np.array([1.0, 1.0]), 1, np.array([0.0, 0.0]), 0.0, 1.0),      # net = 0 -> y = 0: a false negative
        (np.array([1.0, 0.0]), 0, np.array([1.0, 1.0]), 1.0, 0.5),      # a false positive, lr 0.5
        (np.array([0.0, 1.0]), 1, np.array([0.5, -1.0]), 0.2, 1.0),     # a false negative
        (np.array([1.0, 1.0]), 1, np.array([1.0, 1.0]), -1.5, 1.0),     # already right: nothing changes
        (np.array([0.3, -1.2, 2.0]), 0, np.array([0.4, 0.1, 0.2]), -0.1, 0.1),
    ]
    return [Case(a, _update_reference(*a)) for a in args]


def check_perceptron_update(fn: Callable) -> None:
    """Exercise 1.3: ``fn(x, t, w, b, lr)`` returns the new ``(w, b)`` after one application of the rule."""
    def rule(x, t, w, b, lr, *, sign=1, use_bias=True, use_lr=True, fires=lambda net: net > 0, error=None):
        y = int(fires(x @ w + b))
        e = (t - y) if error is None else error(t, y)
        eta = lr if use_lr else 1.0
        return w + sign * eta * e * x, b + sign * eta * e * use_bias

    mistakes = [
        (lambda *a: rule(*a, sign=-1), "the update goes the wrong way: it is w + η (t − y) x (target minus output)."),
        (lambda *a: rule(*a, use_bias=False), "the bias must learn too: b ← b + η (t − y)."),
        (lambda *a: rule(*a, use_lr=False), "multiply the change by the learning rate lr (η)."),
        (lambda *a: rule(*a, error=lambda t, y: t),
         "use the error t − y, not the target t: an example that is already right must change nothing."),
        (lambda *a: rule(*a, fires=lambda net: net >= 0), "the prediction y uses step(0) = 0: y = 1 only if net > 0."),
    ]
    check_with_diagnosis("Exercise 1.3: perceptron_update", fn, _update_cases(), mistakes,
           "compute y = 1 if x @ w + b > 0 else 0, then return (w + lr * (t - y) * x, b + lr * (t - y)).")
