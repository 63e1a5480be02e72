r"""Fast kernel of scaled dot-product attention (:class:`nnlib.layers.MultiHeadAttention`).

The reference computes every head's scores ``Q Kᵀ`` for the whole batch at once, (N, h, T_q, T_k), then the
softmax over that array and the weighted sum, each step one more pass over N·h·T_q·T_k numbers. Once those
arrays outgrow the cache (T ≈ 256 with E/h = 16), every pass goes to main memory, and the time per doubling of T
grows beyond the quadratic ×4. This kernel does the same arithmetic in *tiles*: a few (sample, head) pairs and a
block of query rows whose scores fit in :data:`TILE_BYTES`, so that the scores, their softmax, the weighted sum
and, in backward, dL/dA and dL/dS of one tile are made and used while they stay in cache:

.. math::
    S = Q K^\top / \sqrt{d_k},\quad A = \operatorname{softmax}(S),\quad \text{out} = A V
    \qquad\text{(rows } i \in \text{block)}

    \frac{\partial L}{\partial V} \mathrel{+}= A^\top G,\quad
    \frac{\partial L}{\partial S} = A \odot \big(G V^\top - \operatorname{rowsum}(G V^\top \odot A)\big),\quad
    \frac{\partial L}{\partial Q} = \frac{1}{\sqrt{d_k}}\frac{\partial L}{\partial S} K,\quad
    \frac{\partial L}{\partial K} \mathrel{+}= \frac{\partial L}{\partial S}^\top \frac{Q}{\sqrt{d_k}}

The (sample, head) pairs are independent, so groups of them run on several cores
(:func:`nnlib.kernels.parallel.run_split`); the row blocks of one pair stay in one thread, because they all add
into the same dL/dK and dL/dV. Measured on the whole layer (d=64, 4 heads, forward + backward, one thread,
interleaved medians on a shared 2-core machine): N=16, T=256 takes 35 ms against 58 ms on the reference, and from
T=256 to T=512 (N=8) the time grows ×2.8–3.3 against ×3.3–5.8 on the reference (the spread is the machine's load).

The forward scales the scores as the reference does (not Q, which would be T_k/d_k times fewer multiplications):
with the same rounding, gradient checks through a whole transformer see the same finite-difference noise.

Two smaller tricks, measured on (128, 64, 64) float32 scores at one thread: the rows of A are summed by a
matrix-vector product with a vector of ones (0.06 ms against 0.22 ms for ``sum(axis=-1)``), and each tile is
computed in place in its slice of the weights, which saves a copy; together 8 % fewer instructions for the
forward + backward of N=32, T=64, h=4 (callgrind: 44.0 M against 47.8 M).

The kernel reads Q, K, V and dL/d(heads) in place, as split_heads' (N, h, T, d) views of (N, T, E) arrays, and
writes its outputs in that layout too, so that merge_heads needs no copy: about 11 copies of (N, T, E) fewer per
forward + backward, 3.5 % off the whole layer at N=32, T=64 (7.93 against 8.23 ms, one thread, interleaved medians),
for 3–5 % more at N=16, T=256 (strided dL/dK sums), still well within that case's target.

The full weights A (N, h, T_q, T_k) are still written once: the layer returns them (``layer.weights``) and its
cache keeps them, exactly as on the reference road.
"""

from __future__ import annotations

from typing import NamedTuple

import numpy as np

from .parallel import even_slices, run_split, worker_count

__all__ = ["TILE_BYTES", "Tiling", "tiling", "attention_forward", "attention_backward"]

TILE_BYTES = 128 * 1024
"""Bytes of scores per tile: with dL/dA beside them in backward, a tile's working set stays within L2."""


class Tiling(NamedTuple):
    """How the work is cut: ``groups`` of (samples, heads), one task each, and ``rows``, the query-row blocks."""

    groups: list[tuple[slice, slice]]
    rows: list[slice]


def tiling(n: int, h: int, t_q: int, t_k: int, itemsize: int) -> Tiling:
    """Row blocks of as many rows as fit :data:`TILE_BYTES` (all of them for short sequences), and groups of as many
    (sample, head) pairs as then still fit, but at least as many groups as there are workers when N·h allows."""
    row_budget = max(1, TILE_BYTES // (t_k * itemsize))
    rows = even_slices(t_q, -(-t_q // row_budget))
    pairs_per_group = max(1, row_budget // t_q)
    heads = even_slices(h, -(-h // pairs_per_group))
    samples_per_group = max(1, pairs_per_group // h)
    samples = even_slices(n, max(-(-n // samples_per_group), -(-worker_count() // len(heads))))
    return Tiling([(s, j) for s in samples for j in heads], rows)


def _heads_layout(n: int, t: int, h: int, d: int, dtype) -> np.ndarray:
    """An empty (N, h, T, d) array stored as (N, T, h, d): merge_heads then reshapes it without a copy."""
    return np.empty((n, t, h, d), dtype=dtype).transpose(0, 2, 1, 3)


def attention_forward(q: np.ndarray, k: np.ndarray, v: np.ndarray,
                      allowed: np.ndarray | None) -> tuple[np.ndarray, np.ndarray]:
    """What :func:`nnlib.functional.scaled_dot_product_attention` returns, tile by tile.

    q (N, h, T_q, d_k), k (N, h, T_k, d_k), v (N, h, T_k, d_v), any strides (split_heads' views are read in place);
    ``allowed`` boolean (N or 1, 1, T_q or 1, T_k), True where a query may attend to a key, or None. Every row must
    allow some key (the layer's mask checks ensure it).
    Returns (output (N, h, T_q, d_v), weights A (N, h, T_q, T_k)).
    """
    n, h, t_q, d_k = q.shape
    t_k = k.shape[2]
    scale = q.dtype.type(1 / np.sqrt(d_k))
    weights = np.empty((n, h, t_q, t_k), dtype=q.dtype)
    out = _heads_layout(n, t_q, h, v.shape[-1], q.dtype)
    blocked = None if allowed is None else ~allowed                # (N or 1, 1, T_q or 1, T_k): not copied h times
    tiles = tiling(n, h, t_q, t_k, q.dtype.itemsize)
    ones = np.ones(t_k, dtype=q.dtype)

    def run_group(group: tuple[slice, slice]) -> None:
        samples, heads = group
        keys_t, values = k[samples, heads].swapaxes(-1, -2), v[samples, heads]
        for rows in tiles.rows:
            a = weights[samples, heads, rows]                                     # computed in place, (P, R, T_k)
            np.matmul(q[samples, heads, rows], keys_t, out=a)
            a *= scale                                                            # S = Q Kᵀ / √d_k
            if blocked is not None:
                np.copyto(a, -np.inf, where=blocked[samples if len(blocked) > 1 else slice(None), :,
                                                    rows if blocked.shape[2] > 1 else slice(None)])
            a -= a.max(axis=-1, keepdims=True)
            np.exp(a, out=a)
            a /= (a @ ones)[..., None]                                            # A = softmax(S)
            np.matmul(a, values, out=out[samples, heads, rows])                  # A V

    run_split(run_group, tiles.groups)
    return out, weights


def attention_backward(grad_out: np.ndarray, q: np.ndarray, k: np.ndarray, v: np.ndarray, weights: np.ndarray,
                       out: tuple[np.ndarray, np.ndarray, np.ndarray] | None = None,
                       ) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """What :func:`nnlib.functional.scaled_dot_product_attention_backward` returns, tile by tile.

    grad_out G (N, h, T_q, d_v), q, k, v and weights A as in :func:`attention_forward` → (dL/dq, dL/dk, dL/dv),
    shaped like q, k and v (stored as (N, T, h, d), like split_heads' views). Masked entries have A = 0, so they
    receive no gradient, as on the reference road. ``out``: three arrays shaped like q, k and v (any strides) to
    write the gradients into instead, e.g. split_heads' views of the three thirds of one (N, T, 3E) array, which
    the layer's fused projection backward then reads without a copy.
    """
    n, h, t_q, d_k = q.shape
    t_k = k.shape[2]
    scale = q.dtype.type(1 / np.sqrt(d_k))
    q_scaled = q * scale
    grad_q, grad_k, grad_v = out or (_heads_layout(n, a.shape[2], h, a.shape[3], q.dtype) for a in (q, k, v))
    tiles = tiling(n, h, t_q, t_k, q.dtype.itemsize)

    def run_group(group: tuple[slice, slice]) -> None:
        samples, heads = group
        keys, values_t = k[samples, heads], v[samples, heads].swapaxes(-1, -2)
        grad_k[samples, heads] = 0
        grad_v[samples, heads] = 0
        for rows in tiles.rows:
            a, g = weights[samples, heads, rows], grad_out[samples, heads, rows]  # A (…, R, T_k), G (…, R, d_v)
            grad_v[samples, heads] += a.swapaxes(-1, -2) @ g                     # dV += Aᵀ G
            grad_s = np.matmul(g, values_t)                                       # dA = G Vᵀ
            grad_s -= np.einsum("...rk,...rk->...r", grad_s, a)[..., None]        # dA - rowsum(dA ⊙ A)
            grad_s *= a                                                           # dS
            np.matmul(grad_s, keys, out=grad_q[samples, heads, rows])            # dS K (scaled below)
            grad_k[samples, heads] += grad_s.swapaxes(-1, -2) @ q_scaled[samples, heads, rows]  # dK += dSᵀ Q/√d_k

    run_split(run_group, tiles.groups)
    grad_q *= scale
    return grad_q, grad_k, grad_v
