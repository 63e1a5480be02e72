"""Checks for lesson 01, the neuron and the perceptron. Reference values come from :class:`nnlib.Perceptron`.

The build exercise (1.4, the training loop) is checked in stages by :func:`report_stages`, which lesson 02's layer
builds share: against nnlib's reference, then plugged into nnlib, each failure naming the check that failed.

When a learner's answer is wrong, each check also tries the typical mistakes (bias forgotten, the update's
sign flipped, ...) and, if one of them reproduces the learner's output exactly, names it in the hint.
"""

from __future__ import annotations

from collections.abc import Callable

import numpy as np

from ..perceptron import Perceptron
from ._core import FAILED, NOT_DONE, PASSED, Case, check_with_diagnosis, evaluate, report

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


# --- Machinery shared by the build exercises (lesson 02 uses it too) -----------------------------------------

Stage = Callable[[], tuple[str, str]]


def diagnose(function: Callable, cases: list[Case], mistakes: list[tuple[Callable, str]], hint: str,
             **options) -> tuple[str, str]:
    """:func:`evaluate` plus :func:`check_with_diagnosis`'s hint, returned as ``(status, message)`` instead of printed.

    Args:
        mistakes: ``(wrong_function, explanation)`` pairs; the first whose results the learner's match gives the
            hint, ``hint`` is the fallback.
        options: ``rtol`` / ``atol`` for :func:`evaluate`.
    """
    status, message = evaluate(function, cases, **options)
    if status != FAILED:
        return status, message
    for wrong, why in mistakes:
        wrong_cases = [Case(case.args, wrong(*case.args), case.label, case.kwargs) for case in cases]
        if evaluate(function, wrong_cases, **options)[0] == PASSED:
            hint = why
            break
    return status, f"{message}\n   Hint: {hint}"


def report_stages(title: str, stages: list[tuple[str, Stage]], summary: str) -> None:
    """Run a build exercise's checks in order and report once: the first stage that fails or waits, else ✅.

    Args:
        stages: ``(what, stage)`` pairs; ``stage()`` returns ``(status, message)`` (see :func:`diagnose`) and
            ``what`` names the check in a failure ("compared with nnlib.Sigmoid", "gradcheck", ...).
        summary: the ✅ line's message, naming every check that passed.
    """
    for what, stage in stages:
        status, message = stage()
        if status == NOT_DONE:
            report(title, status, message)
            return
        if status == FAILED:
            report(title, status, f"{what}: {message}")
            return
    report(title, PASSED, summary)


def named(function: Callable, like: Callable) -> Callable:
    """``function`` renamed after the learner's ``like``, so that verdicts name the learner's code."""
    function.__name__ = getattr(like, "__name__", type(like).__name__)
    return function


# --- Exercise 1.4: the perceptron learning loop (build) ---------------------------------------------------

GATES = {"AND": np.array([0, 0, 0, 1]), "OR": np.array([0, 1, 1, 1]), "XOR": np.array([0, 1, 1, 0])}


def train_reference(X, targets, lr, max_epochs):
    """nnlib's :meth:`Perceptron.fit` from zero weights → ``(w (F,), b, mistakes per epoch)``."""
    p = Perceptron(X.shape[1], lr=lr)
    mistakes = p.fit(X, targets, epochs=max_epochs)
    return p.w, p.b, mistakes


def train_variant(X, targets, lr, max_epochs, *, stop="after", online=True, count="mistakes", use_bias=True,
                  use_lr=True, fires=np.greater):
    """A perceptron training loop whose switches reproduce the typical mistakes (defaults: the right loop).

    Args:
        stop: "after" an epoch without mistakes (right), "before" recording that epoch, or "never".
        online: update after each example (right) or once per epoch with the summed changes.
        count: "mistakes" (right) or "examples" (every example counted).
        fires: the step's comparison with 0 (``np.greater``: step(0) = 0).
    """
    w, b, mistakes, eta = np.zeros(X.shape[1]), 0.0, [], lr if use_lr else 1.0
    for _ in range(max_epochs):
        change_w, change_b, n = np.zeros_like(w), 0.0, 0
        for x, t in zip(X, targets, strict=True):
            error = t - int(fires(x @ w + b, 0))
            n += 1 if count == "examples" else int(error != 0)
            if online:
                w, b = w + eta * error * x, b + eta * error * use_bias
            else:
                change_w, change_b = change_w + eta * error * x, change_b + eta * error * use_bias
        w, b = w + change_w, b + change_b
        if stop == "before" and n == 0:
            break
        mistakes.append(n)
        if stop == "after" and n == 0:
            break
    return w, b, mistakes


def _training_sets() -> list[tuple[str, np.ndarray, np.ndarray, float, int]]:
    """(label, X, targets, lr, max_epochs): three separable sets of several shapes, then a non-separable one."""
    rng = np.random.default_rng(14)
    sets = []
    for n, f, lr in [(8, 2, 1.0), (20, 3, 0.5), (30, 5, 0.1)]:
        X = rng.normal(size=(n, f))
        targets = (X @ rng.normal(size=f) + 0.3 > 0).astype(np.int64)
        sets.append((f"{n} separable points in {f}-D, lr={lr}", X, targets, lr, 100))
    X, targets = rng.normal(size=(12, 2)), np.array([0, 1] * 6)
    sets.append(("12 points with mixed labels (not separable), lr=1.0, max_epochs=7", X, targets, 1.0, 7))
    return sets


TRAINING_MISTAKES = [
    ({"stop": "never"}, "stop after the first epoch without a mistake: once every example is right, more sweeps "
                        "change nothing (mistakes would end with a run of 0s)."),
    ({"stop": "before"}, "append the epoch's count before stopping: `mistakes` must end with the 0 of the epoch "
                         "that had no mistake."),
    ({"online": False}, "update after EACH example, inside the inner loop (Rosenblatt's rule is online), not once "
                        "per epoch with the summed changes."),
    ({"count": "examples"}, "count only the examples where t ≠ y (the updates), not every example."),
    ({"use_bias": False}, "the bias must learn too: b ← b + η (t − y)."),
    ({"use_lr": False}, "multiply every change by the learning rate lr (η)."),
    ({"fires": np.greater_equal}, "the prediction uses step(0) = 0: y = 1 only if x @ w + b > 0."),
]


def check_train_perceptron(fn: Callable) -> None:
    """Exercise 1.4: ``fn(X, targets, lr, max_epochs)`` returns ``(w, b, mistakes)``, trained from w = 0, b = 0.

    Three checks: (1) against nnlib.Perceptron.fit on four data sets of several shapes (weights, bias, mistakes
    per epoch); (2) plug-in: the learned weights, loaded into an nnlib Perceptron, compute AND and OR, and the
    weights after each epoch follow nnlib's; (3) on XOR the loop runs every epoch and still makes mistakes.
    """
    def train(X, targets, lr, max_epochs):
        w, b, mistakes = fn(X, targets, lr, max_epochs)
        return np.asarray(w, dtype=np.float64), float(b), np.asarray(mistakes, dtype=np.int64)

    def gate(name):
        w, b, _ = fn(TABLE, GATES[name], 1.0, 20)
        return _perceptron(w, b).predict(TABLE)

    def xor_run(max_epochs):
        mistakes = list(fn(TABLE, GATES["XOR"], 1.0, max_epochs)[2])
        return len(mistakes), int(mistakes[-1] > 0)

    reference = [Case((X, t, lr, epochs), train_reference(X, t, lr, epochs), f"{label} → (w, b, mistakes)")
                 for label, X, t, lr, epochs in _training_sets()]
    mistakes = [(lambda *a, s=switches: train_variant(*a, **s), why) for switches, why in TRAINING_MISTAKES]
    gates = [Case((name,), GATES[name], f"{name} truth table, lr=1.0: outputs of nnlib.Perceptron with your "
                                        f"weights") for name in ("AND", "OR")]
    trajectory = [Case((TABLE, GATES["AND"], 0.5, k), train_reference(TABLE, GATES["AND"], 0.5, k)[:2],
                       f"AND, lr=0.5, after epoch {k}") for k in (1, 2, 3, 4)]
    xor = [Case((50,), (50, 1), "XOR, max_epochs=50: (epochs run, last epoch still has mistakes)")]
    stages = [
        ("compared with nnlib.Perceptron.fit", lambda: diagnose(named(train, fn), reference, mistakes,
            "start from w = np.zeros(F), b = 0.0; for each epoch, apply the rule to every example in order, "
            "count the updates, append the count, and stop after an epoch with none.")),
        ("plug-in into nnlib.Perceptron", lambda: diagnose(named(gate, fn), gates, [],
            "return the trained (w, b, mistakes): w of shape (2,) for the 2-input truth table.")),
        ("trajectory", lambda: diagnose(named(lambda *a: train(*a)[:2], fn), trajectory, [],
            "the weights after k epochs (max_epochs=k) must be nnlib's: visit the examples in the given order.")),
        ("non-convergence on XOR", lambda: diagnose(named(xor_run, fn), xor, [],
            "XOR is not linearly separable: the loop must run all max_epochs sweeps and its last one still has "
            "mistakes; never stop on a condition other than an epoch without mistakes.")),
    ]
    report_stages("Exercise 1.4: train_perceptron", stages,
                 "train_perceptron is correct: it matches nnlib.Perceptron.fit on 4 data sets (weights, bias, "
                 "mistakes per epoch); plugged into nnlib.Perceptron its weights compute AND and OR, epoch by "
                 "epoch as nnlib's; on XOR it reports non-convergence.")


# --- Exercise 1.5 (challenge): XOR with a hand-wired two-layer perceptron ------------------------------------

def check_xor_mlp(fn: Callable) -> None:
    """Exercise 1.5: ``fn(X)`` with X (N, 2) of 0/1 rows returns x1 XOR x2 (N,) through two layers of step units."""
    def step(z):
        return (z > 0).astype(np.int64)

    rng = np.random.default_rng(15)
    inputs = [("the truth table", TABLE), ("its rows shuffled", TABLE[rng.permutation(4)]),
              ("8 rows, each twice", np.repeat(TABLE, 2, axis=0)[rng.permutation(8)])]
    cases = [Case((X,), np.logical_xor(X[:, 0], X[:, 1]).astype(np.int64), label) for label, X in inputs]
    mistakes = [
        (lambda X: step(X.sum(axis=1) - 0.5), "that is OR: the output must also veto (1, 1) — AND the OR unit with "
                                              "a NAND unit."),
        (lambda X: step(X.sum(axis=1) - 1.5), "that is AND: XOR = (x1 OR x2) AND (x1 NAND x2); the hidden layer "
                                              "computes OR and NAND, the output unit ANDs them."),
        (lambda X: step(1.5 - X.sum(axis=1)), "that is NAND: the output unit must AND the hidden OR and NAND."),
        (lambda X: 1 - np.logical_xor(X[:, 0], X[:, 1]), "that is XNOR, the opposite: flip the output unit's signs "
                                                         "(or use the hidden units OR and NAND and an AND output)."),
        (lambda X: np.zeros(len(X), np.int64), "the output never fires: with step(0) = 0 a unit needs net > 0 — "
                                               "give each unit a bias halfway between its cases (−0.5, 1.5, −1.5)."),
    ]
    check_with_diagnosis("Exercise 1.5 (challenge): xor_mlp", fn, cases, mistakes,
                         "hidden = step(X @ W1 + b1) with W1 = [[1, -1], [1, -1]], b1 = [-0.5, 1.5] (OR, NAND); "
                         "then return step(hidden @ w2 + b2) with w2 = [1, 1], b2 = -1.5 (AND).")
