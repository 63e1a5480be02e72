"""Checks for lesson 10, attention and transformers. Reference values come from nnlib: the weights of
:func:`nnlib.functional.scaled_dot_product_attention` and its backward, :func:`nnlib.functional.causal_mask`,
:func:`nnlib.functional.split_heads` / ``merge_heads`` (what :class:`nnlib.MultiHeadAttention` uses), and
:class:`nnlib.TransformerEncoderLayer` for the learner's transformer block.

When a learner's answer is wrong, each check also tries the typical mistakes (no √d_k scaling, a softmax over the
wrong axis, ``k.T`` on a batch of heads, the upper triangle for a causal mask, a reshape without its transpose, a
softmax backward without its row sum, a missing residual gradient, ...) and, if one of them reproduces the learner's
output exactly, names it in the hint.

The build exercises (attention forward and backward, the pre-norm block) are checked three ways, each reported on
its own: against nnlib on random float64 inputs of several shapes; against finite differences (``gradcheck``); and
plugged into the lesson's reversal transformer (:func:`reversal_run`), which must train exactly as nnlib's.
"""

from __future__ import annotations

import copy
from collections.abc import Callable

import numpy as np

from .. import functional as F
from ..gradcheck import gradcheck, numerical_gradient, relative_error
from ..layers.attention import AttentionCache, MultiHeadAttention, TransformerEncoderLayer
from ..losses import CrossEntropyLoss
from ..models import TransformerModel
from ..module import Module, no_grad
from ..optim import Adam
from ._core import FAILED, PASSED, Case, check_with_diagnosis, compare, evaluate, report
from .lesson03 import Verdict, call_learner, failure, matching_mistake, run_check, same


def _shape(*arrays) -> str:
    return ", ".join(f"{name} of shape {a.shape}" for name, a in zip("qk", arrays, strict=False))


# --- Exercise 10.1: attention weights for a few tokens ----------------------------------------------------

def _weights(q, k) -> np.ndarray:
    """nnlib's attention weights softmax(q kᵀ / √d_k), (T_q, T_k)."""
    return F.scaled_dot_product_attention(q, k, k)[1]


def _weights_cases() -> list[Case]:
    rng = np.random.default_rng(10)
    three = np.array([[1.0, 0.0, 1.0, 0.0], [0.0, 2.0, 0.0, 2.0], [1.0, 1.0, 1.0, 1.0]])    # the lesson's 3 tokens
    args = [
        (three, three),
        (rng.normal(size=(2, 3)), rng.normal(size=(4, 3))),          # 2 queries, 4 keys: catches a wrong axis
        (rng.normal(size=(4, 9)), rng.normal(size=(4, 9))),          # d_k = 9: √d_k = 3 differs from d_k
        (rng.normal(size=(5, 16)), rng.normal(size=(3, 16))),
    ]
    return [Case(a, _weights(*a), label=_shape(*a)) for a in args]


def check_attention_weights(fn: Callable) -> None:
    """Exercise 10.1: ``fn(q, k)`` with q (T_q, d_k), k (T_k, d_k) returns softmax(q kᵀ / √d_k) over the keys."""
    def scores(q, k):
        return q @ k.T

    mistakes = [
        (lambda q, k: F.softmax(scores(q, k)),
         "the scaling is missing: divide the scores q kᵀ by √d_k before the softmax."),
        (lambda q, k: F.softmax(scores(q, k) / q.shape[-1]),
         "you divided by d_k; divide by √d_k (np.sqrt(d_k)): that is what brings the scores' variance back to 1."),
        (lambda q, k: F.softmax(scores(q, k) / np.sqrt(q.shape[-1]), axis=0),
         "the softmax runs over the wrong axis (down the columns): each ROW — one query — must sum to 1 over the "
         "keys, so use axis=-1."),
        (lambda q, k: scores(q, k) / np.sqrt(q.shape[-1]),
         "these are the scaled scores; the weights are their softmax over the keys (rows of positive numbers that "
         "sum to 1)."),
        (lambda q, k: _weights(q, k).T,
         "your result is transposed: row i is query i and column j is key j, so the shape is (T_q, T_k) — "
         "compute q @ k.T, not k @ q.T."),
        (lambda q, k: F.softmax((scores(q, k) / np.sqrt(q.shape[-1])).ravel()).reshape(len(q), len(k)),
         "the softmax must normalise each query's row separately, not the whole matrix at once."),
    ]
    check_with_diagnosis("Exercise 10.1: attention_weights", fn, _weights_cases(), mistakes,
                         "compute the scores q @ k.T / np.sqrt(d_k) with d_k = q.shape[-1], then a softmax along "
                         "the last axis (subtract each row's max, exponentiate, divide by the row sum).")


# --- Exercise 10.2: scaled scores for a batch of heads ---------------------------------------------------

def reference_scores(q, k) -> np.ndarray:
    """q kᵀ / √d_k over the last two axes (the quantity whose softmax nnlib's attention returns as its weights)."""
    return q @ np.swapaxes(k, -1, -2) / np.sqrt(q.shape[-1])


def _scores_cases() -> list[Case]:
    rng = np.random.default_rng(102)
    shapes = [((3, 4), (5, 4)), ((2, 3, 9), (2, 5, 9)), ((2, 3, 4, 16), (2, 3, 6, 16))]   # 2-D, (N, T, d), heads
    args = [(rng.normal(size=sq), rng.normal(size=sk)) for sq, sk in shapes]
    return [Case(a, reference_scores(*a), label=_shape(*a)) for a in args]


def check_scaled_scores(fn: Callable) -> None:
    """Exercise 10.2: ``fn(q, k)`` with q (..., T_q, d_k), k (..., T_k, d_k) returns q kᵀ / √d_k (..., T_q, T_k)."""
    def raw(q, k):
        return q @ np.swapaxes(k, -1, -2)

    mistakes = [
        (raw, "the scaling is missing: divide by √d_k."),
        (lambda q, k: raw(q, k) / q.shape[-1], "divide by √d_k, not by d_k: the scores' variance is d_k, so their "
         "standard deviation is √d_k."),
        (lambda q, k: raw(q, k) / np.sqrt(k.shape[-2]),
         "you divided by the square root of the number of keys T_k (k.shape[-2]); d_k is the length of each "
         "query and key vector, the LAST axis: q.shape[-1]."),
        (lambda q, k: raw(q, k) / np.sqrt(q.shape[0]),
         "q.shape[0] is the first axis (a batch or the number of queries); d_k is the last axis, q.shape[-1]."),
    ]
    check_with_diagnosis("Exercise 10.2: scaled_scores", fn, _scores_cases(), mistakes,
                         "q @ np.swapaxes(k, -1, -2) / np.sqrt(q.shape[-1]); k.T would reverse ALL the axes of a "
                         "batch of heads, swapaxes(k, -1, -2) transposes each (T_k, d_k) matrix.")


def _run_check(title: str, body: Callable[[], str]) -> None:
    """lesson 03's ``run_check``, keeping the verdict on one line: a learner's exception may print an array."""
    def one_line_body() -> str:
        try:
            return body()
        except Verdict as verdict:
            message, hint_line, hint = verdict.message.partition("\n   Hint: ")
            message = " ".join(message.split())
            message = message if len(message) <= 400 else message[:399] + "…"
            raise Verdict(verdict.status, message + hint_line + " ".join(hint.split())) from None

    run_check(title, one_line_body)


# --- Shared by the build exercises: the tiny reversal transformer, trained a few steps ----------------------

REVERSAL = {"vocab": 10, "d_model": 16, "nhead": 2, "dim_feedforward": 32, "length": 6, "batch": 32, "steps": 5}


def reversal_run(plug: Callable[[TransformerModel], None] | None = None, norm_first: bool = True
                 ) -> tuple[list[float], dict]:
    """Train the lesson's reversal transformer (1 block, pre-norm unless ``norm_first`` is False, float64) for
    ``REVERSAL["steps"]`` Adam steps on one batch.

    ``plug(model)`` may replace a piece of the model by the learner's before training. Returns the loss before
    each step and the final ``state_dict``: with the same seeds, a right piece gives nnlib's numbers.
    """
    r = REVERSAL
    model = TransformerModel(r["vocab"], r["vocab"], d_model=r["d_model"], nhead=r["nhead"], num_layers=1,
                             dim_feedforward=r["dim_feedforward"], norm_first=norm_first, rng=0,
                             dtype=np.float64)
    if plug is not None:
        plug(model)
    digits = np.random.default_rng(10).integers(0, r["vocab"], (r["batch"], r["length"]))
    targets = digits[:, ::-1].copy()
    loss, optimizer, losses = CrossEntropyLoss(), Adam(model.parameters(), lr=1e-2), []
    for _ in range(r["steps"]):
        model.zero_grad()
        losses.append(loss(model(digits), targets))
        model.backward(loss.backward())
        optimizer.step()
    return losses, model.state_dict()


def _check_reversal(plug: Callable[[TransformerModel], None], what: str, hint: str, norm_first: bool = True) -> str:
    """Plug-in test: train with the learner's piece and with nnlib's; a Verdict unless the losses and weights agree."""
    losses, state = call_learner(f"training the reversal transformer with {what}", reversal_run, plug, norm_first,
                                 hint=hint)
    expected_losses, expected_state = reversal_run(norm_first=norm_first)
    for step, (e, g) in enumerate(zip(expected_losses, losses, strict=True)):
        if not same(e, g):
            raise failure(f"the reversal transformer with {what}: the loss before step {step + 1} is {g:.6f}, with "
                          f"nnlib's {e:.6f}", hint)
    wrong = [name for name, value in expected_state.items() if not same(value, state.get(name))]
    if wrong:
        raise failure(f"the reversal transformer with {what}: after {len(losses)} steps {wrong[0]} differs from "
                      "nnlib's", hint)
    return f"trains the reversal transformer exactly as nnlib's ({len(losses)} Adam steps, losses {losses[0]:.3f} → " \
           f"{losses[-1]:.3f})"


def _diagnose(fn: Callable, cases: list[Case], mistakes: list[tuple[Callable, str]], fallback: str) -> str:
    """The explanation of the first mistake that reproduces ``fn`` on every case, else ``fallback``.

    A mistake that cannot run on some case (a transpose that needs T_q = T_k) is skipped.
    """
    for wrong, why in mistakes:
        try:
            with np.errstate(all="ignore"):
                wrong_cases = [Case(c.args, wrong(*c.args), c.label) for c in cases]
        except (ValueError, IndexError):
            continue
        with np.errstate(all="ignore"):
            if evaluate(fn, wrong_cases)[0] == PASSED:
                return why
    return fallback


def _check_against_nnlib(fn: Callable, cases: list[Case], diagnosable: list[Case], mistakes, fallback: str,
                         arg_names: tuple[str, ...]) -> None:
    """Part (1) of a build check: a Verdict unless ``fn`` gives nnlib's results on every case and leaves its
    arguments (named ``arg_names``) unchanged — a layer keeps them in its cache for backward."""
    with np.errstate(all="ignore"):
        status, message = evaluate(fn, cases)
    if status == FAILED and "raised" not in message:
        raise failure(message, _diagnose(fn, diagnosable, mistakes, fallback))
    if status != PASSED:
        raise Verdict(status, message if status != FAILED else f"{message}\n   Hint: {fallback}")
    name, args = getattr(fn, "__name__", "your function"), copy.deepcopy(cases[1].args)
    call_learner(f"{name}({cases[1].label})", fn, *args, hint=fallback)
    changed = [what for what, before, after in zip(arg_names, cases[1].args, args, strict=True)
               if isinstance(before, np.ndarray) and not np.array_equal(before, after)]
    if changed:
        raise failure(f"{name} changed its argument {changed[0]} in place", f"build new arrays ({changed[0]} / x, not "
                      f"{changed[0]} /= x): the attention layer keeps {changed[0]} in its cache for backward.")


# --- Exercises 10.3 and 10.4: scaled dot-product attention, forward and backward ----------------------------

def _swap(a: np.ndarray) -> np.ndarray:
    return np.swapaxes(a, -1, -2)


def _attention_args() -> list[tuple[tuple, str]]:
    """((q, k, v, mask), label): first self-attention shapes (T_q = T_k, where every typical mistake can run), then
    cross-attention shapes. Masks: none, causal, and random (every query keeps at least its own key)."""
    rng = np.random.default_rng(103)

    def qkv(lead, t_q, t_k, d_k, d_v):
        return (rng.normal(size=(*lead, t_q, d_k)), rng.normal(size=(*lead, t_k, d_k)),
                rng.normal(size=(*lead, t_k, d_v)))

    random_mask = (rng.random((2, 1, 5, 5)) < 0.5) | np.eye(5, dtype=bool)
    return [
        ((*qkv((), 4, 4, 9, 3), None), "q, k (4, 9), v (4, 3), no mask"),
        ((*qkv((2, 3), 5, 5, 4, 6), F.causal_mask(5)), "q, k (2, 3, 5, 4), v (2, 3, 5, 6), causal mask (5, 5)"),
        ((*qkv((2, 3), 5, 5, 8, 8), random_mask), "q, k, v (2, 3, 5, 8), random mask (2, 1, 5, 5)"),
        ((*qkv((), 3, 6, 4, 2), None), "q (3, 4), k (6, 4), v (6, 2), no mask"),
        ((*qkv((2,), 3, 5, 16, 4), F.causal_mask(3, 5)), "q (2, 3, 16), k (2, 5, 16), v (2, 5, 4), mask (3, 5)"),
    ]


SQUARE_CASES = 3  # the first cases of _attention_args have T_q = T_k


def _attention(q, k, v, mask, *, scale=True, use_mask=True, invert=False, fill=-np.inf, after=False, axis=-1):
    """Scaled dot-product attention with switches that reproduce the typical mistakes of Exercise 10.3."""
    scores = q @ _swap(k) / (np.sqrt(q.shape[-1]) if scale else 1.0)
    if mask is not None and use_mask and not after:
        scores = np.where(~mask if invert else mask, scores, fill)
    e = np.exp(scores - scores.max(axis=axis, keepdims=True))
    weights = e / e.sum(axis=axis, keepdims=True)
    if mask is not None and after:
        weights = weights * mask
    return weights @ v, weights


ATTENTION_FORWARD_HINT = ("scores = q @ np.swapaxes(k, -1, -2) / np.sqrt(d_k); where the mask is False set them to "
                          "-np.inf (np.where(mask, scores, -np.inf)); softmax along the last axis; return "
                          "(weights @ v, weights).")


def _forward_cases() -> list[Case]:
    return [Case(args, F.scaled_dot_product_attention(*args), label) for args, label in _attention_args()]


FORWARD_MISTAKES = [
    (lambda *a: _attention(*a, scale=False), "the scaling is missing: the scores are q kᵀ / √d_k."),
    (lambda *a: _attention(*a, use_mask=False), "the mask is ignored: where it is False the score must become "
     "-np.inf before the softmax, so that the weight is exactly e^−∞ = 0."),
    (lambda *a: _attention(*a, invert=True), "the mask is inverted: True means MAY attend (nnlib's and PyTorch's "
     "scaled_dot_product_attention), so keep the scores where the mask is True: np.where(mask, scores, -np.inf)."),
    (lambda *a: _attention(*a, fill=0.0), "a blocked score set to 0 still gets the weight e⁰ > 0: set it to -np.inf."),
    (lambda *a: _attention(*a, after=True), "the mask was applied after the softmax: the remaining weights no longer "
     "sum to 1. Block the SCORES (-np.inf), then the softmax renormalises what is allowed."),
    (lambda *a: _attention(*a, axis=-2), "the softmax runs over the queries (axis -2); each query's row of weights "
     "must sum to 1 over the keys: axis=-1."),
]


def _check_attention_forward(fn: Callable) -> str:
    name = getattr(fn, "__name__", "your function")
    cases = _forward_cases()
    _check_against_nnlib(fn, cases, cases[:SQUARE_CASES], FORWARD_MISTAKES, ATTENTION_FORWARD_HINT,
                         ("q", "k", "v", "mask"))

    def plug(model):
        model.layers[0].self_attn = PluggedAttention(model.layers[0].self_attn, fn,
                                                     F.scaled_dot_product_attention_backward)

    trains = _check_reversal(plug, name, ATTENTION_FORWARD_HINT)
    return f"{name} matches nnlib on {len(cases)} cases (batches of heads, causal and random masks) and {trains}."


def check_attention_forward(fn: Callable) -> None:
    """Exercise 10.3: ``fn(q, k, v, mask=None)`` returns ``(softmax(q kᵀ/√d_k) v, weights)``, blocked (mask False)
    scores getting weight 0 — checked against ``functional.scaled_dot_product_attention`` on 5 cases, then plugged
    into the reversal transformer (with nnlib's backward), which must train exactly as nnlib's."""
    _run_check("Exercise 10.3: attention_forward", lambda: _check_attention_forward(fn))


def _attention_grads(g, q, k, v, a, *, divide=np.sqrt, rowsum=-1, dv="AT", dk="dS^T Q", dq="dS K", masked=True):
    """dQ, dK, dV of attention with switches that reproduce the typical mistakes of Exercise 10.4."""
    d = q.shape[-1]
    if not masked:  # the weights recomputed from q and k, without the mask
        a = _attention(q, k, v, None)[1]
    grad_v = {"AT": _swap(a) @ g, "A": a @ g}[dv]
    grad_a = g @ _swap(v)
    grad_s = a * (grad_a - np.sum(grad_a * a, axis=rowsum, keepdims=True)) if rowsum else a * grad_a
    grad_s = grad_s / divide(d)
    grad_q = {"dS K": grad_s @ k, "dS Q": grad_s @ q}[dq]
    grad_k = {"dS^T Q": _swap(grad_s) @ q, "dS Q": grad_s @ q, "dS^T K": _swap(grad_s) @ k}[dk]
    return grad_q, grad_k, grad_v


def _backward_cases() -> list[Case]:
    rng = np.random.default_rng(104)
    cases = []
    for (q, k, v, mask), label in _attention_args():
        out, weights = F.scaled_dot_product_attention(q, k, v, mask)
        g = rng.normal(size=out.shape)
        cases.append(Case((g, q, k, v, weights), F.scaled_dot_product_attention_backward(g, q, k, v, weights),
                          label.replace("mask", "weights from a mask")))
    return cases


ATTENTION_BACKWARD_HINT = ("dV = Aᵀ G; dA = G Vᵀ; dS = A ⊙ (dA − rowsum(dA ⊙ A)) / √d_k; dQ = dS K; dK = dSᵀ Q — "
                           "with np.swapaxes(·, -1, -2) for every transpose.")

BACKWARD_MISTAKES = [
    (lambda *a: _attention_grads(*a, divide=lambda d: 1.0), "the 1/√d_k is missing: S = Q Kᵀ / √d_k, so "
     "dQ = dS K / √d_k and dK = dSᵀ Q / √d_k."),
    (lambda *a: _attention_grads(*a, divide=lambda d: d), "divide dS by √d_k, not by d_k."),
    (lambda *a: _attention_grads(*a, divide=lambda d: 1 / np.sqrt(d)), "you multiplied by √d_k: the scores were "
     "DIVIDED by √d_k, so their gradient is divided too."),
    (lambda *a: _attention_grads(*a, rowsum=None), "the softmax's backward lacks its row sum: dS = A ⊙ (dA − "
     "rowsum(dA ⊙ A)). A ⊙ dA alone forgets that raising one weight lowers all the others of its row."),
    (lambda *a: _attention_grads(*a, rowsum=-2), "the row sum runs over the wrong axis: sum dA ⊙ A over the keys, "
     "axis=-1 with keepdims=True (each query's softmax is separate)."),
    (lambda *a: _attention_grads(*a, dv="A"), "dV = Aᵀ G: transpose the weights, np.swapaxes(weights, -1, -2) @ "
     "grad_out. Value j collects from every query i that attended to it."),
    (lambda *a: _attention_grads(*a, dk="dS Q"), "dK = dSᵀ Q / √d_k: transpose dS — key j collects from every "
     "query i, so it needs column j of dS."),
    (lambda *a: _attention_grads(*a, dk="dS^T K"), "dK multiplies dSᵀ by the QUERIES: ∂S_ij/∂K_j = Q_i / √d_k."),
    (lambda *a: _attention_grads(*a, dq="dS Q"), "dQ multiplies dS by the KEYS: ∂S_ij/∂Q_i = K_j / √d_k."),
    (lambda *a: _attention_grads(*a, masked=False), "you recomputed the weights without the mask: use the weights "
     "the forward returned, where blocked entries are exactly 0 — so they get no gradient."),
]


def _check_numerically(fn: Callable, name: str) -> None:
    """Part (2): the learner's gradients against centred differences of L = Σ G ⊙ attention(q, k, v, mask)."""
    rng = np.random.default_rng(105)
    q, k, v, g = (rng.normal(size=shape) for shape in [(2, 3, 4), (2, 3, 4), (2, 3, 5), (2, 3, 5)])
    mask = F.causal_mask(3)
    weights = F.scaled_dot_product_attention(q, k, v, mask)[1]
    grads = call_learner(name, fn, g, q.copy(), k.copy(), v.copy(), weights, hint=ATTENTION_BACKWARD_HINT)

    def loss():
        return np.sum(g * F.scaled_dot_product_attention(q, k, v, mask)[0])

    for what, array, grad in zip(("dq", "dk", "dv"), (q, k, v), grads, strict=True):
        error = relative_error(grad, numerical_gradient(loss, array))
        if not error < 1e-7:
            raise failure(f"{name}: {what} differs from finite differences (relative error {error:.1e})",
                          ATTENTION_BACKWARD_HINT)


def _check_attention_backward(fn: Callable, forward: Callable | None) -> str:
    name = getattr(fn, "__name__", "your function")
    cases = _backward_cases()
    _check_against_nnlib(fn, cases, cases[:SQUARE_CASES], BACKWARD_MISTAKES, ATTENTION_BACKWARD_HINT,
                         ("grad_out", "q", "k", "v", "weights"))
    _check_numerically(fn, name)
    with np.errstate(all="ignore"):
        with_forward = forward is not None and evaluate(forward, _forward_cases())[0] == PASSED
    chosen = forward if with_forward else F.scaled_dot_product_attention

    def plug(model):
        model.layers[0].self_attn = PluggedAttention(model.layers[0].self_attn, chosen, fn)

    what = f"{name} and your {getattr(forward, '__name__', 'forward')}" if with_forward else name
    trains = _check_reversal(plug, what, ATTENTION_BACKWARD_HINT)
    return (f"{name} matches nnlib on {len(cases)} cases (masks included) and finite differences; the model with "
            f"{what} {trains}.")


def check_attention_backward(fn: Callable, forward: Callable | None = None) -> None:
    """Exercise 10.4: ``fn(grad_out, q, k, v, weights)`` returns ``(dq, dk, dv)``, checked three ways: against
    ``functional.scaled_dot_product_attention_backward`` on 5 cases (masks included), against finite differences,
    and plugged into the reversal transformer (with ``forward``, the learner's Exercise 10.3, when it is right;
    otherwise nnlib's), which must train exactly as nnlib's."""
    _run_check("Exercise 10.4: attention_backward", lambda: _check_attention_backward(fn, forward))


class PluggedAttention(MultiHeadAttention):
    """Self-attention whose scaled dot-product attention is the learner's: a copy of ``like`` (same weights) that
    calls ``forward(q, k, v, mask)`` → (heads, weights) and ``backward(G, q, k, v, weights)`` → (dq, dk, dv) where
    nnlib's :class:`MultiHeadAttention` calls :mod:`nnlib.functional`'s. Supports what a TransformerModel uses:
    self-attention, optionally causal, no padding mask."""

    def __init__(self, like: MultiHeadAttention, forward: Callable, backward: Callable):
        super().__init__(like.embed_dim, like.num_heads, dtype=like.dtype)
        self.load_state_dict(like.state_dict())
        self.attention_forward, self.attention_backward = forward, backward

    def forward(self, query, key=None, value=None, key_padding_mask=None, causal: bool = False):
        if key is not None or value is not None or key_padding_mask is not None:
            raise ValueError("PluggedAttention runs self-attention without a padding mask only")
        q, k, v = (F.split_heads(proj(query), self.num_heads) for proj in (self.q_proj, self.k_proj, self.v_proj))
        heads, weights = self.attention_forward(q, k, v, F.causal_mask(query.shape[1]) if causal else None)
        self.cache = AttentionCache(q, k, v, weights, True)
        return self.out_proj(F.merge_heads(heads))

    def backward(self, grad_out):
        q, k, v, weights = self.cache[:4]
        grad_heads = F.split_heads(self.out_proj.backward(grad_out), self.num_heads)
        grads = self.attention_backward(grad_heads, q, k, v, weights)
        return sum(proj.backward(F.merge_heads(grad))
                   for proj, grad in zip((self.q_proj, self.k_proj, self.v_proj), grads, strict=True))


# --- Exercise 10.5: the causal mask -----------------------------------------------------------------------

LENGTHS = [4, 1, 2, 7]


def check_causal_mask(fn: Callable) -> None:
    """Exercise 10.5: ``fn(T)`` returns the boolean (T, T) mask, True where query i may attend to key j ≤ i."""
    title = "Exercise 10.5: causal_mask"
    cases = [Case((t,), F.causal_mask(t), label=f"T={t}") for t in LENGTHS]
    if evaluate(fn, cases)[0] == PASSED:  # the right pattern: is it boolean too?
        name = getattr(fn, "__name__", "your function")
        for case in cases:
            got = np.asarray(fn(*case.args))
            if got.dtype != bool:
                report(title, FAILED, f"{name}({case.describe()}) has the right pattern but dtype {got.dtype}: a "
                       "mask must be boolean (True = may attend).\n   Hint: build it with dtype=bool, e.g. "
                       "np.tril(np.ones((T, T), dtype=bool)); a float mask is a different thing (PyTorch ADDS "
                       "float masks to the scores: 0 or −inf).")
                return

    def ones(t):
        return np.ones((t, t), dtype=bool)

    mistakes = [
        (lambda t: np.triu(ones(t), 1),
         "that is the INVERSE mask, True where attending is forbidden (the convention of PyTorch's "
         "nn.MultiheadAttention attn_mask). Here True means 'may attend': the diagonal and below."),
        (lambda t: np.triu(ones(t)),
         "that is the upper triangle: query i would see the keys j ≥ i, the future. Keep j ≤ i: the lower triangle."),
        (lambda t: np.tril(ones(t), -1),
         "the diagonal is missing: a token may attend to itself (j = i); without it the first query sees nothing."),
        (ones, "every entry is True: that is no mask at all. Query i may attend to the keys j ≤ i only."),
    ]
    check_with_diagnosis(title, fn, cases, mistakes,
                         "np.tril(np.ones((T, T), dtype=bool)): True on and below the diagonal.")


# --- Exercise 10.6: splitting the heads ---------------------------------------------------------------------

def _split(x, h) -> np.ndarray:
    """nnlib's reference: functional.split_heads, (N, T, E) → (N, h, T, E/h)."""
    return F.split_heads(x, h)


def _split_cases() -> list[Case]:
    rng = np.random.default_rng(104)
    shapes = [((1, 4, 6), 3), ((3, 5, 12), 4), ((2, 2, 6), 2)]
    args = [(np.arange(48.0).reshape(2, 3, 8), 2)]                   # readable: x[n, t, e] = 24n + 8t + e
    args += [(rng.normal(size=shape), h) for shape, h in shapes]
    return [Case(a, _split(*a), label=f"x of shape {a[0].shape}, h={a[1]}") for a in args]


def check_split_heads(fn: Callable) -> None:
    """Exercise 10.6: ``fn(x, h)`` turns x (N, T, E) into (N, h, T, E/h): head j gets features j·E/h … (j+1)·E/h − 1."""
    def blocks(x, h):
        n, t, e = x.shape
        return x.reshape(n, t, h, e // h)

    mistakes = [
        (lambda x, h: x.reshape(x.shape[0], h, x.shape[1], -1),
         "the shape is right but the numbers are scrambled: reshape only regroups the memory in order, so "
         "reshape(N, h, T, E/h) cuts each sample's T·E numbers into h blocks of consecutive TIME steps. Reshape to "
         "(N, T, h, E/h) first — each token's E features split into h groups — then move the head axis forward."),
        (blocks, "that is (N, T, h, E/h): the features are split, but the head axis must come before the time axis "
         "— add .transpose(0, 2, 1, 3)."),
        (lambda x, h: x.reshape(x.shape[0], x.shape[1], -1, h).transpose(0, 3, 1, 2),
         "your heads interleave the features (head j gets features j, j + h, j + 2h, …); each head must get a "
         "contiguous block of E/h features: reshape to (N, T, h, E/h), then transpose."),
        (lambda x, h: blocks(x, h).transpose(0, 2, 3, 1),
         "the last two axes are swapped: the result must be (N, h, T, E/h) — transpose(0, 2, 1, 3)."),
    ]
    check_with_diagnosis("Exercise 10.6: split_heads", fn, _split_cases(), mistakes,
                         "x.reshape(N, T, h, E // h).transpose(0, 2, 1, 3).")


# --- Exercise 10.7: merging the heads -----------------------------------------------------------------------

def _merge_cases() -> list[Case]:
    rng = np.random.default_rng(107)
    args = [(np.arange(48.0).reshape(2, 2, 3, 4),)]                  # readable: two heads of 4 features
    args += [(rng.normal(size=shape),) for shape in [(1, 3, 4, 2), (3, 4, 5, 3), (2, 1, 6, 5)]]
    return [Case(a, F.merge_heads(*a), label=f"x of shape {a[0].shape}") for a in args]


def check_merge_heads(fn: Callable) -> None:
    """Exercise 10.7: ``fn(x)`` turns the heads' outputs x (N, h, T, d) back into (N, T, h·d), the inverse of
    ``split_heads``: token t's features are head 0's d features, then head 1's, …"""
    def flat(x):
        n, h, t, d = x.shape
        return n, t, h * d

    mistakes = [
        (lambda x: x.reshape(flat(x)), "the shape is right but the numbers are scrambled: reshape reads the memory in "
         "order, head after head, so it cuts head 0's T·d numbers into tokens. Move the head axis back next to the "
         "features first — transpose(0, 2, 1, 3) — then reshape."),
        (lambda x: x.transpose(0, 2, 3, 1).reshape(flat(x)), "your features interleave the heads (feature i of head "
         "j lands at i·h + j); each head's d features must stay together: transpose(0, 2, 1, 3), then reshape."),
        (lambda x: x.transpose(0, 2, 1, 3), "that is (N, T, h, d): the heads are in place, now reshape to "
         "(N, T, h·d)."),
    ]
    check_with_diagnosis("Exercise 10.7: merge_heads", fn, _merge_cases(), mistakes,
                         "n, h, t, d = x.shape; x.transpose(0, 2, 1, 3).reshape(n, t, h * d) — the inverse of "
                         "split_heads, undone in the reverse order.")


# --- Exercises 10.8 and 10.9: the pre-norm transformer block; 10.10 (challenge): post-norm backward --------

BLOCK_CASES = [((2, 5, 8), 2, 16, False), ((3, 4, 12), 3, 8, False), ((1, 6, 8), 2, 16, True)]  # x, h, ff, causal
BLOCK_HINT = {True: "forward: x = x + self_attn(norm1(x), causal=causal); return x + linear2(activation(linear1("
                    "norm2(x)))). backward: grad = grad_out + norm2.backward(linear1.backward(activation.backward("
                    "linear2.backward(grad_out)))); return grad + norm1.backward(self_attn.backward(grad)).",
              False: "backward, from the output down: grad = norm2.backward(grad_out); grad = grad + the feed-forward "
                     "branch's backward of grad; grad = norm1.backward(grad); return grad + self_attn.backward(grad)."}


def _block_pair(block_class, x_shape, nhead, ff, norm_first, seed):
    """(learner block, nnlib TransformerEncoderLayer without dropout) with the same float64 weights, and an input."""
    d_model = x_shape[-1]
    reference = TransformerEncoderLayer(d_model, nhead, ff, dropout=0.0, norm_first=norm_first, rng=seed,
                                        dtype=np.float64)
    name = getattr(block_class, "__name__", "your class")
    call = f"{name}({d_model}, {nhead}, {ff}, {seed}, np.float64)"
    block = call_learner(call, block_class, d_model, nhead, ff, seed, np.float64,
                         hint="pass the class itself; keep its __init__(d_model, nhead, dim_feedforward, rng, dtype) "
                              "as given.")
    if not isinstance(block, Module):
        raise failure(f"{call} is a {type(block).__name__}, not an nnlib Module",
                      "keep `class ...(Module):` and its __init__ as given.")
    call_learner(f"{call}.load_state_dict(TransformerEncoderLayer's weights)", block.load_state_dict,
                 reference.state_dict(), hint="keep the sub-layers' names of the given __init__ (norm1, self_attn, "
                                              "linear1, linear2, norm2): nnlib's weights are copied in by name.")
    return block, reference, np.random.default_rng(seed).normal(size=x_shape)


def _block_forward_variants(ref, x, causal: bool) -> list[tuple[np.ndarray, str]]:
    """What the typical wrong forwards of a pre-norm block return, computed from nnlib's sub-layers."""
    with no_grad():
        def attn(z, c=causal):
            return ref.self_attn(z, causal=c)

        def ff(z, relu=True):
            hidden = ref.linear1(z)
            return ref.linear2(np.maximum(hidden, 0) if relu else hidden)

        h = x + attn(ref.norm1(x))
        post = ref.norm1(x + attn(x))
        return [
            (ref.norm2(post + ff(post)), "that is the post-norm block (LayerNorm after each residual sum). Pre-norm "
             "normalises each sub-layer's INPUT: x + MHA(LN₁(x)), then x + FF(LN₂(x))."),
            (ff(ref.norm2(attn(ref.norm1(x)))), "the residual connections are missing: add each sub-layer's output "
             "to its input, x + MHA(LN₁(x)) and x + FF(LN₂(x))."),
            (h + ff(ref.norm2(h), relu=False), "the feed-forward network has a ReLU between its two Linear layers."),
            (h + ff(h), "the feed-forward sub-layer reads the normalised input LN₂(x) (norm2), not x itself."),
            (x + attn(x) + ff(ref.norm2(x + attn(x))), "the attention reads the normalised input LN₁(x) (norm1)."),
            (x + attn(ref.norm1(x), False) + ff(ref.norm2(x + attn(ref.norm1(x), False))),
             "the mask is lost: pass causal on to the attention, self.self_attn(..., causal=causal)."),
        ]


def _run_forward(block, x, causal, name):
    return call_learner(f"{name}.forward (x of shape {x.shape}, causal={causal})", lambda: block(x.copy(),
                        causal=causal), hint=BLOCK_HINT[True])


def _check_block_forward(block_class) -> str:
    name = getattr(block_class, "__name__", "your class")
    for seed, (x_shape, nhead, ff, causal) in enumerate(BLOCK_CASES):
        block, reference, x = _block_pair(block_class, x_shape, nhead, ff, True, seed)
        got = _run_forward(block, x, causal, name)
        with no_grad():
            expected = reference(x, causal=causal)
        problem = compare(expected, got, 1e-9, 1e-12)
        if problem:
            raise failure(f"{name}.forward on x of shape {x_shape} (causal={causal}): {problem}",
                          matching_mistake(got, _block_forward_variants(reference, x, causal)) or BLOCK_HINT[True])
    return (f"{name}.forward matches nnlib's TransformerEncoderLayer(norm_first=True) on {len(BLOCK_CASES)} shapes "
            "(a causal one included).")


def check_block_forward(block_class) -> None:
    """Exercise 10.8: ``block_class(d_model, nhead, dim_feedforward, rng, dtype)`` is a Module whose forward is the
    pre-norm block, compared with nnlib's ``TransformerEncoderLayer(norm_first=True, dropout=0)`` holding the same
    weights, on 3 float64 shapes (one causal)."""
    _run_check("Exercise 10.8: PreNormBlock.forward", lambda: _check_block_forward(block_class))


def _prenorm_backward(ref, x, g, causal, *, ff_residual=True, attn_residual=True, attn_gets_total=True, relu=True):
    """dL/dx of nnlib's pre-norm block by its sub-layers' backward, with switches for the typical mistakes."""
    ref.clear_caches()
    ref(x, causal=causal)
    grad_hidden = ref.linear2.backward(ref.dropout2.backward(g))
    grad_hidden = ref.activation.backward(ref.dropout.backward(grad_hidden)) if relu else grad_hidden
    grad_ff = ref.norm2.backward(ref.linear1.backward(grad_hidden))
    grad = g + grad_ff if ff_residual else grad_ff
    grad_attn = ref.norm1.backward(ref.self_attn.backward(ref.dropout1.backward(grad if attn_gets_total else g)))
    result = grad + grad_attn if attn_residual else grad_attn
    ref.clear_caches()
    return result


def _block_backward_variants(ref, x, g, causal) -> list[tuple[np.ndarray, str]]:
    def variant(**switches):
        return _prenorm_backward(ref, x, g, causal, **switches)

    return [
        (variant(ff_residual=False), "the second residual x + FF(LN₂(x)) passes the gradient straight through too: "
         "grad = grad_out + (the feed-forward branch's gradient)."),
        (variant(attn_residual=False), "the first residual x + MHA(LN₁(x)) passes the gradient straight through too: "
         "return grad + (the attention branch's gradient)."),
        (variant(ff_residual=False, attn_residual=False), "both residual connections pass the gradient straight "
         "through: each adds its branch's gradient to the gradient that arrived."),
        (variant(attn_gets_total=False), "the attention branch must receive the gradient of the FIRST residual's "
         "output — grad_out plus the feed-forward branch's gradient — not grad_out alone."),
        (variant(relu=False), "the ReLU between linear1 and linear2 has a backward too: activation.backward."),
    ]


def _run_backward(block, x, g, causal, name, norm_first):
    block.zero_grad()
    _run_forward(block, x, causal, name)
    sent = g.copy()
    dx = call_learner(f"{name}.backward (x of shape {x.shape})", block.backward, sent, hint=BLOCK_HINT[norm_first])
    if not same(g, sent, 0, 0):
        raise failure(f"{name}.backward changed grad_out in place", "never modify the incoming gradient: "
                      "grad = grad_out + ... builds a new array, grad += ... would not.")
    return dx


def _check_block_values(block_class, name, norm_first) -> None:
    for seed, (x_shape, nhead, ff, causal) in enumerate(BLOCK_CASES):
        block, reference, x = _block_pair(block_class, x_shape, nhead, ff, norm_first, seed)
        g = np.random.default_rng(100 + seed).normal(size=x_shape)
        dx = _run_backward(block, x, g, causal, name, norm_first)
        reference(x, causal=causal)
        expected = reference.backward(g)
        problem = compare(expected, dx, 1e-9, 1e-12)
        if problem:
            variants = _block_backward_variants(reference, x, g, causal) if norm_first else []
            raise failure(f"{name}.backward on x of shape {x_shape}: the returned dL/dx: {problem}",
                          matching_mistake(dx, variants) or BLOCK_HINT[norm_first])
        grads = dict(block.named_parameters())
        for param_name, param in reference.named_parameters():
            problem = compare(param.grad, grads[param_name].grad, 1e-9, 1e-12)
            if problem:
                raise failure(f"{name}.backward on x of shape {x_shape}: {param_name}.grad: {problem}",
                              BLOCK_HINT[norm_first])


def _check_block_gradcheck(block_class, name, norm_first) -> None:
    block, _, x = _block_pair(block_class, (2, 3, 4), 2, 8, norm_first, seed=7)
    errors = call_learner(f"gradcheck({name})", lambda: gradcheck(block, x, tol=None), hint=BLOCK_HINT[norm_first])
    limits = {param: 1e-5 if param.endswith("k_proj.bias") else 1e-6 for param in errors}  # b_K: 0 in theory
    worst = max(errors, key=lambda param: errors[param] / limits[param])
    if not errors[worst] <= limits[worst]:
        raise failure(f"gradcheck({name}): relative error {errors[worst]:.1e} for {worst} (limit {limits[worst]:g})",
                      BLOCK_HINT[norm_first])


def _plug_block(block_class) -> Callable[[TransformerModel], None]:
    """Replace the model's encoder block by the learner's ``block_class``, holding the same weights."""
    def plug(model):
        block = block_class(REVERSAL["d_model"], REVERSAL["nhead"], REVERSAL["dim_feedforward"], 0, np.float64)
        block.load_state_dict(model.layers[0].state_dict())
        model.layers[0] = block

    return plug


def _check_block_backward(block_class, norm_first: bool) -> str:
    name = getattr(block_class, "__name__", "your class")
    _check_block_values(block_class, name, norm_first)
    _check_block_gradcheck(block_class, name, norm_first)
    trains = _check_reversal(_plug_block(block_class), f"your {name}", BLOCK_HINT[norm_first], norm_first)
    kind = "pre" if norm_first else "post"
    return (f"{name}.backward matches nnlib's {kind}-norm TransformerEncoderLayer on {len(BLOCK_CASES)} shapes "
            f"(dL/dx and every parameter's gradient) and passes gradcheck; a model built on it {trains}.")


def check_block_backward(block_class) -> None:
    """Exercise 10.9: ``block_class``'s backward (the pre-norm block of Exercise 10.8), checked three ways: against
    nnlib's ``TransformerEncoderLayer(norm_first=True)`` on 3 shapes (dL/dx and every parameter's gradient),
    ``nnlib.gradcheck``, and plugged into the reversal transformer, which must train exactly as nnlib's."""
    _run_check("Exercise 10.9: PreNormBlock.backward", lambda: _check_block_backward(block_class, norm_first=True))


def check_post_norm_backward(block_class) -> None:
    """Exercise 10.10 (challenge): the post-norm block's backward, checked as in Exercise 10.9 against nnlib's
    ``TransformerEncoderLayer(norm_first=False)``, with a post-norm reversal transformer for the plug-in."""
    _run_check("Exercise 10.10 (challenge): PostNormBlock.backward",
              lambda: _check_block_backward(block_class, norm_first=False))
