"""Checks for lesson 07, recurrent networks and backpropagation through time (BPTT).

Reference values come from :class:`nnlib.RNN` itself (float64, a one-step sequence with the learner's weights set),
never from the formulas under test. The layout is nnlib's: row vectors times (in, out) matrices,
``h_t = tanh(x_t @ W_ih + h_prev @ W_hh + b)``, and δ_t = ∂L/∂net_t (nnlib's sign; the notes' δ is its negative).

When a learner's answer is wrong, each check also tries the typical mistakes (the recurrent term forgotten, the
sigmoid instead of tanh, W_hh transposed, tanh' taken at the wrong step, the outer product reversed, ...) and, if one
of them reproduces the learner's output exactly, names it in the hint.
"""

from __future__ import annotations

from collections.abc import Callable

import numpy as np

from ..functional import sigmoid
from ..layers import RNN
from ._core import Case, check_with_diagnosis


def _rnn(W_ih, W_hh, b=None) -> RNN:
    """A float64 nnlib RNN holding the given weights; ``b`` goes to bias_ih (bias_hh = 0)."""
    layer = RNN(W_ih.shape[0], W_hh.shape[0], dtype=np.float64)
    layer.weight_ih.data[...], layer.weight_hh.data[...] = W_ih, W_hh
    layer.bias_ih.data[...] = 0.0 if b is None else b
    layer.bias_hh.data[...] = 0.0
    return layer


# --- Exercise 7.1: one step of the recurrence ------------------------------------------------------------------

def _step_cases() -> list[Case]:
    rng = np.random.default_rng(7)
    cases = []
    for n, i, h, first_step in [(2, 3, 4, False), (1, 2, 2, False), (5, 1, 3, False), (3, 4, 3, True)]:
        x_t, W_ih, W_hh, b = (rng.normal(size=s) for s in [(n, i), (i, h), (h, h), (h,)])
        h_prev = np.zeros((n, h)) if first_step else rng.uniform(-1, 1, (n, h))
        _, h_t = _rnn(W_ih, W_hh, b)(x_t[:, None, :], h_prev)
        label = f"x_t {x_t.shape}, h_prev {h_prev.shape}" + (" (zeros: the first step)" if first_step else "")
        cases.append(Case((x_t, h_prev, W_ih, W_hh, b), h_t, label))
    return cases


def check_rnn_step(fn: Callable) -> None:
    """Exercise 7.1: ``fn(x_t, h_prev, W_ih, W_hh, b)`` returns h_t = tanh(x_t W_ih + h_prev W_hh + b) (N, H)."""
    def step(x, h, W_ih, W_hh, b, *, act=np.tanh, recurrent=True, transpose=False, bias=True):
        net = x @ W_ih + (h @ (W_hh.T if transpose else W_hh) if recurrent else 0) + (b if bias else 0)
        return act(net)

    mistakes = [
        (lambda *a: step(*a, recurrent=False),
         "the recurrent term h_prev @ W_hh is missing: without it the network has no memory of earlier steps."),
        (lambda *a: step(*a, act=sigmoid), "the vanilla RNN squashes with tanh (outputs in (−1, 1)), not the sigmoid."),
        (lambda *a: step(*a, act=lambda z: z), "apply the activation: h_t = tanh(net_t), not net_t itself."),
        (lambda *a: step(*a, transpose=True),
         "W_hh is transposed: nnlib multiplies row vectors by (in, out) matrices, h_prev @ W_hh — not h_prev @ W_hh.T "
         "(the column-vector formula W_hh h_prev written with nnlib's matrices)."),
        (lambda *a: step(*a, bias=False), "the bias b is missing: net_t = x_t @ W_ih + h_prev @ W_hh + b."),
    ]
    check_with_diagnosis("Exercise 7.1: rnn_step", fn, _step_cases(), mistakes,
                         "h_t = np.tanh(x_t @ W_ih + h_prev @ W_hh + b): (N, I) @ (I, H) + (N, H) @ (H, H) + (H,) "
                         "gives (N, H).")


# --- Exercise 7.2: one step of BPTT -----------------------------------------------------------------------------

def _bptt_cases() -> list[Case]:
    """Each case: nnlib's forward one step from h_prev, then its backward from dh_t.

    With W_ih = identity (I = H), nnlib's dL/dx equals δ_t = dL/d net_t, so all three answers come from nnlib.
    """
    rng = np.random.default_rng(8)
    cases = []
    for n, h in [(3, 4), (1, 2), (4, 3)]:
        W_hh, h_prev = rng.normal(0, 0.8, (h, h)), rng.uniform(-1, 1, (n, h))
        layer = _rnn(np.eye(h), W_hh, rng.normal(0, 0.5, h))
        _, h_t = layer(rng.normal(0, 0.5, (n, 1, h)), h_prev)
        dh_t = rng.normal(size=(n, h))
        delta, dh_prev = layer.backward(None, dh_t)
        label = f"dh_t {dh_t.shape}, W_hh {W_hh.shape}"
        cases.append(Case((dh_t, h_t, h_prev, W_hh), (delta[:, 0], dh_prev, layer.weight_hh.grad.copy()), label))
    return cases


def check_bptt_step(fn: Callable) -> None:
    """Exercise 7.2: ``fn(dh_t, h_t, h_prev, W_hh)`` returns ``(delta_t, dh_prev, dW_hh)``.

    δ_t = dh_t ⊙ (1 − h_t²) (N, H); dh_prev = δ_t W_hhᵀ (N, H); dW_hh = h_prevᵀ δ_t (H, H).
    """
    def step(dh, h, h_prev, W, *, slope=None, transpose=True, outer=None):
        delta = dh * (1 - h**2 if slope is None else slope(h, h_prev))
        dW = h_prev.T @ delta if outer is None else outer(h, h_prev, delta)
        return delta, delta @ (W.T if transpose else W), dW

    mistakes = [
        (lambda *a: step(*a, slope=lambda h, h_prev: 1.0),
         "tanh's derivative is missing: δ_t = dh_t ⊙ (1 − h_t²) before going back through W_hh."),
        (lambda *a: step(*a, slope=lambda h, h_prev: 1 - h_prev**2),
         "tanh' belongs to the step that produced h_t: use 1 − h_t², not 1 − h_prev²."),
        (lambda *a: step(*a, slope=lambda h, h_prev: 1 - np.tanh(h) ** 2),
         "h_t is already tanh(net_t): its derivative is 1 − h_t², not 1 − tanh(h_t)²."),
        (lambda *a: step(*a, transpose=False),
         "going back through net_t = h_prev @ W_hh + … multiplies by W_hh's transpose: dh_prev = delta_t @ W_hh.T."),
        (lambda *a: step(*a, outer=lambda h, h_prev, d: d.T @ h_prev),
         "the outer product is reversed: dW_hh has W_hh's layout (from unit, to unit), so it is h_prev.T @ delta_t, "
         "not delta_t.T @ h_prev."),
        (lambda *a: step(*a, outer=lambda h, h_prev, d: h.T @ d),
         "W_hh multiplies h_prev in the forward step, so dW_hh = h_prev.T @ delta_t (not h_t.T @ delta_t)."),
    ]
    check_with_diagnosis("Exercise 7.2: bptt_step", fn, _bptt_cases(), mistakes,
                         "delta_t = dh_t * (1 - h_t**2); dh_prev = delta_t @ W_hh.T; dW_hh = h_prev.T @ delta_t; "
                         "return the three as a tuple.")
