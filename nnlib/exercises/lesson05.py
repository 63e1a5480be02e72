"""Checks for lesson 05, regularization and dropout. Reference values come from :class:`nnlib.L2Penalty` and
:class:`nnlib.Dropout` (with a fixed keep-mask).

When a learner's answer is wrong, each check also tries the typical mistakes (the ½ of the L2 penalty forgotten,
the L1 gradient instead of the L2 one, dropout without its 1/(1 − p) rescaling, the mask inverted, ...) and, if one
of them reproduces the learner's output exactly, names it in the hint.
"""

from __future__ import annotations

from collections.abc import Callable

import numpy as np

from ..layers import Dropout, Linear
from ..regularization import L2Penalty
from ._core import Case, check_with_diagnosis

# --- Exercise 5.1: the L2 gradient term -------------------------------------------------------------------


def _l2_reference(data_grad, w, lam) -> np.ndarray:
    """data_grad + ∂R/∂w for R = λ/2 Σ w², as ``L2Penalty.backward`` adds it to a layer's weight gradient."""
    shape = np.shape(w)
    w2 = np.reshape(w, (shape[0], -1) if len(shape) else (1, 1))
    layer = Linear(*w2.shape, bias=False, dtype=np.float64)
    layer.weight.data[...] = w2
    layer.weight.grad[...] = np.reshape(data_grad, w2.shape)
    L2Penalty(lam).backward(layer)
    return layer.weight.grad.reshape(shape).copy()


def _l2_cases() -> list[Case]:
    rng = np.random.default_rng(5)
    args = [
        (np.zeros(4), np.array([-2.0, -0.5, 0.0, 3.0]), 0.1),           # the penalty's gradient alone
        (np.array([0.3, -0.2, 0.1]), np.array([1.5, 0.25, -4.0]), 0.01),
        (rng.normal(size=(3, 2)), rng.normal(scale=2.0, size=(3, 2)), 0.5),   # a layer's weight matrix
        (np.array([0.4, -0.7]), np.array([2.0, -3.0]), 0.0),            # λ = 0: no regularization
    ]
    return [Case(a, _l2_reference(*a)) for a in args]


def check_l2_gradient(fn: Callable) -> None:
    """Exercise 5.1: ``fn(data_grad, w, lam)`` returns ∂(E + λ/2 Σ w²)/∂w = data_grad + λ w (w's shape)."""
    mistakes = [
        (lambda g, w, lam: g + 2 * lam * w,
         "that is 2λw: R = λ/2 Σ w² has the ½ so that its derivative is λ/2 · 2w = λw."),
        (lambda g, w, lam: g + lam * np.sign(w), "λ sign(w) is the gradient of the L1 penalty λ Σ |w|; L2 gives λw."),
        (lambda g, w, lam: g - lam * w,
         "sign error: ∂R/∂w = +λw (R grows with |w|); the update w − η(… + λw) then pulls w towards 0."),
        (lambda g, w, lam: g + lam * w**2, "λw² is not the derivative: d(λ/2 · w²)/dw = λw."),
        (lambda g, w, lam: lam * w, "return the total gradient: the data gradient data_grad plus the penalty's λw."),
    ]
    check_with_diagnosis("Exercise 5.1: l2_gradient", fn, _l2_cases(), mistakes,
                         "return data_grad + lam * w (elementwise, same shape as w).")


# --- Exercises 5.2 and 5.3: inverted dropout, forward and backward ------------------------------------------

def _dropout_args(seed: int) -> list[tuple[np.ndarray, np.ndarray, float]]:
    """(array, keep-mask of 0.0/1.0, p) triples; p = 0.5 alone could not tell 1/p from 1/(1 − p)."""
    rng = np.random.default_rng(seed)
    shapes_and_p = [((6,), 0.2), ((3, 4), 0.5), ((2, 3, 2), 0.75)]
    triples = []
    for shape, p in shapes_and_p:
        keep = (rng.random(shape) >= p).astype(np.float64)
        keep.flat[0], keep.flat[-1] = 1.0, 0.0          # at least one kept and one dropped unit
        triples.append((rng.normal(size=shape), keep, p))
    return triples


def _fixed_dropout(keep_mask, p) -> Dropout:
    layer = Dropout(p)
    layer.fix_mask(keep_mask)
    return layer


def check_dropout_forward(fn: Callable) -> None:
    """Exercise 5.2: ``fn(x, keep_mask, p)`` returns inverted dropout's training output m ⊙ x / (1 − p)."""
    cases = [Case((x, m, p), _fixed_dropout(m, p)(x)) for x, m, p in _dropout_args(6)]
    mistakes = [
        (lambda x, m, p: x * m, "rescale the kept units by 1 / (1 − p), so that the expected output equals x."),
        (lambda x, m, p: x * m / p, "divide by the keep probability 1 − p, not by the drop probability p."),
        (lambda x, m, p: x * m * (1 - p),
         "multiplying by (1 − p) shrinks the output twice; inverted dropout divides by (1 − p)."),
        (lambda x, m, p: x * (1 - m) / (1 - p),
         "the mask is inverted: keep_mask is 1 for the units that are KEPT, so multiply by keep_mask itself."),
        (lambda x, m, p: x / (1 - p), "apply the mask: the dropped units (keep_mask = 0) must output 0."),
    ]
    check_with_diagnosis("Exercise 5.2: dropout_forward", fn, cases, mistakes,
                         "return x * keep_mask / (1 - p).")


def _dropout_backward_reference(grad_out, keep_mask, p) -> np.ndarray:
    layer = _fixed_dropout(keep_mask, p)
    layer(np.zeros_like(grad_out))   # a training forward caches the mask that backward routes through
    return layer.backward(grad_out)


def check_dropout_backward(fn: Callable) -> None:
    """Exercise 5.3: ``fn(grad_out, keep_mask, p)`` returns ∂L/∂x = m ⊙ ∂L/∂y / (1 − p)."""
    cases = [Case((g, m, p), _dropout_backward_reference(g, m, p)) for g, m, p in _dropout_args(7)]
    mistakes = [
        (lambda g, m, p: g,
         "the gradient does not pass unchanged: y = m ⊙ x / (1 − p), so ∂y/∂x = m / (1 − p), elementwise."),
        (lambda g, m, p: g * m, "the forward scaled by 1 / (1 − p), so the backward must too: ∂y/∂x = m / (1 − p)."),
        (lambda g, m, p: g / (1 - p),
         "a dropped unit did not influence the loss, so its gradient is 0: multiply by keep_mask."),
        (lambda g, m, p: g * m / p, "divide by the keep probability 1 − p, not by the drop probability p."),
        (lambda g, m, p: g * (1 - m) / (1 - p), "the mask is inverted: the gradient flows through the KEPT units."),
    ]
    check_with_diagnosis("Exercise 5.3: dropout_backward", fn, cases, mistakes,
                         "return grad_out * keep_mask / (1 - p): the same scaling as the forward pass.")
