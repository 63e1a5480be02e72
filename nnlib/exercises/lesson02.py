"""Checks for lesson 02, activation functions. Reference values come from :mod:`nnlib.functional`.

When a learner's answer is wrong, each check also tries the typical mistakes (the function instead of its
derivative, a sign error, the wrong axis, a softmax that overflows, ...) and, if one of them reproduces the
learner's output exactly, names it in the hint.
"""

from __future__ import annotations

from collections.abc import Callable

import numpy as np

from .. import functional as F
from ._core import Case, check_with_diagnosis

# Pre-activations (the notes' net) on both sides of 0, 0 itself, and a 2-D batch: shapes must be kept.
_NETS = [
    np.array([-4.0, -1.5, -0.5, 0.0, 0.5, 1.5, 4.0]),
    np.array(0.0),
    np.random.default_rng(2).normal(scale=3.0, size=(3, 4)),
]


def _elementwise_cases(reference: Callable) -> list[Case]:
    return [Case((net,), reference(net)) for net in _NETS]


# --- Exercise 2.1: the derivative of the sigmoid -----------------------------------------------------------

def check_sigmoid_prime(fn: Callable) -> None:
    """Exercise 2.1: ``fn(net)`` must return σ'(net) = a(1 − a) with a = σ(net), elementwise (same shape)."""
    mistakes = [
        (F.sigmoid, "that is σ(net) itself; its derivative is a * (1 - a) with a = sigmoid(net)."),
        (lambda net: net * (1 - net),
         "you computed net * (1 - net): apply the formula to a = sigmoid(net), not to net."),
        (lambda net: F.sigmoid(net) * (F.sigmoid(net) - 1),
         "sign error: a * (a - 1) = -a(1 - a). σ is increasing, so its derivative must be positive."),
        (lambda net: 1 - F.sigmoid(net),
         "that is e^(-net) / (1 + e^(-net)) = 1 - a: the denominator of the derivative is squared, giving a(1 - a)."),
    ]
    check_with_diagnosis("Exercise 2.1: sigmoid_prime", fn, _elementwise_cases(F.sigmoid_prime), mistakes,
                         "compute a = sigmoid(net) first, then return a * (1 - a).")


# --- Exercise 2.2: the derivative of tanh -------------------------------------------------------------------

def check_tanh_prime(fn: Callable) -> None:
    """Exercise 2.2: ``fn(net)`` must return tanh'(net) = 1 − tanh²(net), elementwise (same shape)."""
    mistakes = [
        (lambda net: 1 - net**2, "you computed 1 - net²: square tanh(net), not net: 1 - np.tanh(net) ** 2."),
        (lambda net: 1 + np.tanh(net) ** 2,
         "sign error: 1 + tanh² is larger than 1, but tanh' is at most 1. It is 1 - tanh²."),
        (np.tanh, "that is tanh itself; its derivative is 1 - tanh(net) ** 2."),
        (lambda net: (1 - np.tanh(net)) ** 2, "(1 - tanh)² is not 1 - tanh²: square tanh first, then subtract from 1."),
    ]
    check_with_diagnosis("Exercise 2.2: tanh_prime", fn, _elementwise_cases(F.tanh_prime), mistakes,
                         "t = np.tanh(net); return 1 - t ** 2.")


# --- Exercises 2.3 and 2.4: leaky ReLU and its derivative -----------------------------------------------------

_LEAKY_X = np.array([-3.0, -1.0, -0.25, 0.0, 0.25, 1.0, 3.0])


def _leaky_cases(reference: Callable) -> list[Case]:
    """The default slope (called without it), then explicit slopes; x = 0 is in every case."""
    batch = np.random.default_rng(3).normal(scale=2.0, size=(2, 5))
    args = [(_LEAKY_X,), (_LEAKY_X, 0.3), (np.column_stack([batch, np.zeros(2)]), 0.2)]
    return [Case(a, reference(*a)) for a in args]


def _leaky(x, slope=0.1):
    return F.leaky_relu(x, negative_slope=slope)


def _leaky_prime(x, slope=0.1):
    return F.leaky_relu_prime(x, negative_slope=slope)


def check_leaky_relu(fn: Callable) -> None:
    """Exercise 2.3: ``fn(x, slope=0.1)`` must return x where x > 0 and slope·x elsewhere (same shape)."""
    mistakes = [
        (lambda x, slope=0.1: F.relu(x),
         "that is ReLU, max(0, x): negative inputs must leak through as slope * x, not become 0."),
        (lambda x, slope=0.1: np.where(x > 0, slope * x, x),
         "the slope multiplies the negative inputs; positive inputs pass unchanged."),
        (lambda x, slope=0.1: _leaky(x, 0.01),
         "use the `slope` argument (default 0.1, the notes' max(0.1x, x)); do not hard-code 0.01."),
        (lambda x, slope=0.1: _leaky(x, 0.1),
         "use the `slope` argument: the check also calls leaky_relu(x, 0.3), where 0.1 is wrong."),
    ]
    check_with_diagnosis("Exercise 2.3: leaky_relu", fn, _leaky_cases(_leaky), mistakes,
                         "return np.where(x > 0, x, slope * x).")


def check_leaky_relu_prime(fn: Callable) -> None:
    """Exercise 2.4: ``fn(x, slope=0.1)`` must return 1 where x > 0 and slope elsewhere, x = 0 included."""
    mistakes = [
        (lambda x, slope=0.1: F.relu_prime(x),
         "that is ReLU's derivative: for x < 0 leaky ReLU's slope is `slope`, not 0 (that 0 is what kills units)."),
        (_leaky, "that is leaky ReLU itself; its derivative is 1 for x > 0 and slope for x < 0."),
        (lambda x, slope=0.1: np.where(x >= 0, 1.0, slope),
         "at x = 0 nnlib (like PyTorch) uses the left piece's slope: test x > 0, not x >= 0."),
        (lambda x, slope=0.1: _leaky_prime(x, 0.01),
         "use the `slope` argument (default 0.1); do not hard-code 0.01."),
        (lambda x, slope=0.1: _leaky_prime(x, 0.1),
         "use the `slope` argument: the check also calls leaky_relu_prime(x, 0.3), where 0.1 is wrong."),
    ]
    check_with_diagnosis("Exercise 2.4: leaky_relu_prime", fn, _leaky_cases(_leaky_prime), mistakes,
                         "return np.where(x > 0, 1.0, slope) (an array of x's shape).")


# --- Exercise 2.5: a numerically stable softmax ----------------------------------------------------------------

_SOFTMAX_INPUTS = [
    np.array([[1.0, 2.0, 3.0], [0.5, 0.5, -1.0]]),
    np.array([[1000.0, 1001.0, 999.0], [-1000.0, -1001.0, -1002.0]]),   # e^1000 overflows, e^-1000 underflows
    np.array([[-1000.0, 0.0, 1000.0], [2.0, -3.0, 0.0], [1.0, 1.0, 1.0]]),  # a row spanning 2000
]


def _naive_softmax(x):
    e = np.exp(x)
    return e / e.sum(axis=-1, keepdims=True)


def check_softmax(fn: Callable) -> None:
    """Exercise 2.5: ``fn(x)`` with x (N, C) must return the softmax of every row, finite even for |x| ~ 1000."""
    mistakes = [
        (_naive_softmax, "e^1000 overflows to inf (and e^-1000 underflows to 0), giving inf/inf or 0/0 = nan. "
                         "Subtract each row's max first: softmax(x) = softmax(x - max(x))."),
        (lambda x: _naive_softmax(x - x.min(axis=-1, keepdims=True)),
         "subtract the max, not the min: after x - min the largest exponent is max - min, which still overflows "
         "for a row like [-1000, 0, 1000]; after x - max every exponent is ≤ 0."),
        (lambda x: F.softmax(x, axis=0), "you normalised the columns: each ROW must sum to 1 (axis=-1)."),
        (lambda x: np.exp(x - x.max(axis=-1, keepdims=True)),
         "the outputs must sum to 1: divide by the row sums, e.sum(axis=-1, keepdims=True)."),
        (lambda x: _naive_softmax(x - x.max(axis=0, keepdims=True)),
         "take the max of each row (axis=-1, keepdims=True), not of each column."),
    ]
    cases = [Case((x,), F.softmax(x, axis=-1)) for x in _SOFTMAX_INPUTS]
    # A naive softmax overflows on purpose: silence NumPy's warnings, the check reports the nan itself.
    with np.errstate(over="ignore", under="ignore", invalid="ignore", divide="ignore"):
        check_with_diagnosis("Exercise 2.5: softmax", fn, cases, mistakes,
                             "m = x.max(axis=-1, keepdims=True); e = np.exp(x - m); "
                             "return e / e.sum(axis=-1, keepdims=True).")
