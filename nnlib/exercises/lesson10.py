"""Checks for lesson 10, attention and transformers. Reference values come from nnlib: the weights of
:func:`nnlib.functional.scaled_dot_product_attention`, :func:`nnlib.functional.causal_mask`, and
:func:`nnlib.functional.split_heads` (what :class:`nnlib.MultiHeadAttention` uses).

When a learner's answer is wrong, each check also tries the typical mistakes (no √d_k scaling, a softmax over the
wrong axis, ``k.T`` on a batch of heads, the upper triangle for a causal mask, a reshape without its transpose, ...)
and, if one of them reproduces the learner's output exactly, names it in the hint.
"""

from __future__ import annotations

from collections.abc import Callable

import numpy as np

from .. import functional as F
from ._core import FAILED, PASSED, Case, check_with_diagnosis, evaluate, report


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

def _scores(q, k) -> np.ndarray:
    """q kᵀ / √d_k over the last two axes (the quantity whose softmax nnlib's attention returns as its weights)."""
    return q @ np.swapaxes(k, -1, -2) / np.sqrt(q.shape[-1])


def _scores_cases() -> list[Case]:
    rng = np.random.default_rng(102)
    shapes = [((3, 4), (5, 4)), ((2, 3, 9), (2, 5, 9)), ((2, 3, 4, 16), (2, 3, 6, 16))]   # 2-D, (N, T, d), heads
    args = [(rng.normal(size=sq), rng.normal(size=sk)) for sq, sk in shapes]
    return [Case(a, _scores(*a), label=_shape(*a)) for a in args]


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


# --- Exercise 10.3: the causal mask -----------------------------------------------------------------------

LENGTHS = [4, 1, 2, 7]


def check_causal_mask(fn: Callable) -> None:
    """Exercise 10.3: ``fn(T)`` returns the boolean (T, T) mask, True where query i may attend to key j ≤ i."""
    title = "Exercise 10.3: causal_mask"
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


# --- Exercise 10.4: splitting the heads ---------------------------------------------------------------------

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
    """Exercise 10.4: ``fn(x, h)`` turns x (N, T, E) into (N, h, T, E/h): head j gets features j·E/h … (j+1)·E/h − 1."""
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
    check_with_diagnosis("Exercise 10.4: split_heads", fn, _split_cases(), mistakes,
                         "x.reshape(N, T, h, E // h).transpose(0, 2, 1, 3).")
