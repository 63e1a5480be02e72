r"""Multi-head attention, sinusoidal positional encoding, and the transformer encoder and decoder layers.

Multi-head attention projects queries, keys and values with learned matrices, splits the E features into h heads
of E/h, runs :func:`~nnlib.functional.scaled_dot_product_attention` in every head at once, and mixes the heads'
outputs with one more projection:

.. math::
    \text{head}_j = \operatorname{softmax}\Big(\frac{(X_q W_q)_j (X_k W_k)_j^\top}{\sqrt{E/h}}\Big)(X_v W_v)_j,
    \qquad \text{output} = [\text{head}_1, \dots, \text{head}_h]\, W_o

The code below is that equation on whole arrays. The faster road (:mod:`nnlib.kernels.attention`: cache-sized
tiles, heads shared among cores), taken while :func:`nnlib.fast_kernels_enabled` is true, computes the same numbers.
"""

from __future__ import annotations

from typing import NamedTuple

import numpy as np

from .. import functional as F
from .._checks import (
    InputError,
    as_array,
    as_rng,
    check_array,
    check_bool,
    check_features,
    check_fits_in_memory,
    check_float_dtype,
    check_grad,
    check_positive_int,
    check_real,
)
from ..kernels import attention as attention_kernels
from ..kernels import fast_kernels_enabled
from ..module import Module
from .activation import ReLU
from .dropout import Dropout
from .linear import Linear
from .normalization import LayerNorm

__all__ = ["MultiHeadAttention", "PositionalEncoding", "TransformerEncoderLayer", "TransformerDecoderLayer",
           "AttentionCache", "PositionalEncodingCache", "TransformerEncoderLayerCache", "TransformerDecoderLayerCache",
           "check_head_sizes"]


def check_head_sizes(who: str, d_model, nhead, names=("d_model", "nhead"), **sizes) -> tuple[int, int]:
    """Check the sizes of an attention model's constructor; return ``(d_model, nhead)`` as ints.

    ``d_model`` and ``nhead`` must be positive integers with ``nhead`` dividing ``d_model`` (each head gets
    d_model / nhead features); every keyword in ``sizes`` (``dim_feedforward=64``, ...) must be a positive integer.
    Errors name ``who`` and the caller's own argument names: ``names`` gives those of the first two.

    Examples::

        >>> check_head_sizes("MultiHeadAttention", 8, 2, names=("embed_dim", "num_heads"))
        (8, 2)
        >>> check_head_sizes("TransformerModel", 6, 4)
        Traceback (most recent call last):
        ...
        nnlib._checks.InputError: TransformerModel: nhead (4) must divide d_model (6)
    """
    width_name, heads_name = names
    d_model, nhead = check_positive_int(d_model, who, width_name), check_positive_int(nhead, who, heads_name)
    for name, value in sizes.items():
        check_positive_int(value, who, name)
    if d_model % nhead:
        raise InputError(f"{who}: {heads_name} ({nhead}) must divide {width_name} ({d_model})")
    return d_model, nhead


def _check_sequence(x, who, name: str, width: int, dtype, batch: int | None = None) -> np.ndarray:
    """A query, key, value or encoder input: finite, ``dtype``, shape (N, T, width) with N, T ≥ 1 (N = ``batch``)."""
    x = check_array(x, who, name=name, dtype=dtype, finite=True)
    if x.ndim != 3 or x.shape[2] != width or 0 in x.shape or (batch is not None and len(x) != batch):
        raise InputError(f"{who}: {name} must have shape ({'N' if batch is None else batch}, T, {width}) with T ≥ 1, "
                         f"got {x.shape}")
    return x


class AttentionCache(NamedTuple):
    """What :class:`MultiHeadAttention` keeps for backward: the heads' Q, K, V and A of the lesson's equations."""

    q: np.ndarray        #: the queries X_q W_q split into heads, (N, h, T_q, E/h)
    k: np.ndarray        #: the keys X_k W_k split into heads, (N, h, T_k, E/h)
    v: np.ndarray        #: the values X_v W_v split into heads, (N, h, T_k, E/h)
    weights: np.ndarray  #: the attention weights A = softmax(Q Kᵀ / √(E/h)), (N, h, T_q, T_k)
    self_attention: bool  #: key = value = query, so backward returns dL/dquery + dL/dkey + dL/dvalue
    #: the fast road's self-attention input X (N, T, E), projected by one product X [W_q W_k W_v]; None when the
    #: three projections ran as layers (their own caches keep their inputs)
    fused_input: np.ndarray | None = None


class MultiHeadAttention(Module):
    r"""PyTorch's ``nn.MultiheadAttention(embed_dim, num_heads, batch_first=True)``, without attention dropout.

    Args:
        embed_dim: E, the features of queries, keys, values and output; num_heads: h, which must divide E.
        bias: biases in the four projections. rng, dtype: initialisation and parameter dtype.

    Sub-layers ``q_proj``, ``k_proj``, ``v_proj``, ``out_proj`` are :class:`Linear` (E → E); PyTorch stacks the
    first three, transposed, in ``in_proj_weight`` (3E, E).

    ``forward(query, key=None, value=None, key_padding_mask=None, causal=False)``:
        query (N, T_q, E); key and value (N, T_k, E), both omitted for self-attention (key = value = query).
        key_padding_mask (N, T_k) bool, True marks padding keys to ignore (PyTorch's convention for this
        argument); causal: query i attends to keys j ≤ i only. Returns (N, T_q, E); ``weights`` then holds the
        attention weights (N, h, T_q, T_k).
    ``backward(grad_out)`` → dL/dquery for self-attention, else (dL/dquery, dL/dkey, dL/dvalue).

    Backward, with G = dL/d(merged heads) split into heads and S = Q Kᵀ / √(E/h) the scaled scores
    (:func:`~nnlib.functional.scaled_dot_product_attention_backward`):

    .. math::
        \frac{\partial L}{\partial V} = A^\top G, \qquad
        \frac{\partial L}{\partial S} = A \odot \big(G V^\top - \operatorname{rowsum}(G V^\top \odot A)\big),
        \qquad \frac{\partial L}{\partial Q} = \frac{\partial L}{\partial S} \frac{K}{\sqrt{E/h}}, \qquad
        \frac{\partial L}{\partial K} = \Big(\frac{\partial L}{\partial S}\Big)^\top \frac{Q}{\sqrt{E/h}}

    then each projection's backward, and for self-attention the three input gradients add up (the fast road does
    the three projections of self-attention as one product, X [W_q W_k W_v], and their backward as two).
    Cache: :class:`AttentionCache`.
    """

    def __init__(self, embed_dim: int, num_heads: int, bias: bool = True, *, rng=None, dtype=np.float32):
        self.embed_dim, self.num_heads = check_head_sizes("MultiHeadAttention", embed_dim, num_heads,
                                                          names=("embed_dim", "num_heads"))
        dtype = check_float_dtype(dtype, "MultiHeadAttention")
        rng = as_rng(rng, "MultiHeadAttention")
        self.q_proj, self.k_proj, self.v_proj, self.out_proj = (
            Linear(embed_dim, embed_dim, bias, rng=rng, dtype=dtype) for _ in range(4))
        self.weights: np.ndarray | None = None  # the attention weights of the latest forward, for display

    @property
    def dtype(self) -> np.dtype:
        return self.q_proj.weight.dtype

    def extra_repr(self) -> str:
        return f"embed_dim={self.embed_dim}, num_heads={self.num_heads}, dtype={self.dtype}"

    def __repr__(self) -> str:  # the four projections are implied by the arguments
        return f"MultiHeadAttention({self.extra_repr()})"

    def _inputs(self, query, key, value) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
        """Checked (query, key, value); key and value are the query itself for self-attention."""
        if (key is None) != (value is None):
            raise InputError(f"{self}: give both key and value (cross-attention) or neither (self-attention)")
        query = _check_sequence(query, self, "query", self.embed_dim, self.dtype)
        if key is None:
            return query, query, query
        key, value = (_check_sequence(a, self, name, self.embed_dim, self.dtype, len(query))
                      for a, name in ((key, "key"), (value, "value")))
        if value.shape[1] != key.shape[1]:
            raise InputError(f"{self}: key and value must have the same length, got {key.shape} and {value.shape}")
        return query, key, value

    def _mask(self, key_padding_mask, causal: bool, n: int, t_q: int, t_k: int) -> np.ndarray | None:
        """Boolean (N or 1, 1, T_q, T_k), True where attending is allowed; None when everything is."""
        allowed = None
        if key_padding_mask is not None:
            padding = as_array(key_padding_mask, self, "key_padding_mask", "a boolean array")
            if padding.dtype != bool or padding.shape != (n, t_k):
                raise InputError(f"{self}: key_padding_mask must be a boolean array of shape ({n}, {t_k}) "
                                 f"(True = padding), got dtype {padding.dtype} and shape {padding.shape}")
            if padding.all(axis=1).any():
                raise InputError(f"{self}: key_padding_mask marks every key of sample "
                                 f"{int(np.argmax(padding.all(axis=1)))} as padding: nothing to attend to")
            allowed = ~padding[:, None, None, :]
        if causal:
            lower = F.causal_mask(t_q, t_k)[None, None]
            allowed = lower if allowed is None else allowed & lower
        if allowed is not None and not allowed.any(axis=-1).all():
            sample, _, query = np.argwhere(~allowed.any(axis=-1))[0]
            raise InputError(f"{self}: key_padding_mask and causal leave query {query} of sample {sample} nothing to "
                             f"attend to (keys 0…{query} are all padding); unmask one of them or drop causal")
        return allowed

    def forward(self, query, key=None, value=None, key_padding_mask=None, causal: bool = False):
        """query (N, T_q, E), key and value (N, T_k, E) or None → (N, T_q, E): the equations of the module's doc."""
        self_attention = key is None
        query, key, value = self._inputs(query, key, value)
        mask = self._mask(key_padding_mask, check_bool(causal, self, "causal"), len(query), query.shape[1],
                          key.shape[1])
        fast = fast_kernels_enabled()
        fused_input = query if self_attention and fast and self._projections_fuse() else None
        if fused_input is not None:
            q, k, v = (F.split_heads(part, self.num_heads) for part in self._project_together(query))
        else:
            q = F.split_heads(self.q_proj(query), self.num_heads)       # Q = X_q W_q, (N, h, T_q, E/h)
            k = F.split_heads(self.k_proj(key), self.num_heads)         # K = X_k W_k, (N, h, T_k, E/h)
            v = F.split_heads(self.v_proj(value), self.num_heads)       # V = X_v W_v, (N, h, T_k, E/h)
        attend = attention_kernels.attention_forward if fast else F.scaled_dot_product_attention
        heads, weights = attend(q, k, v, mask)                          # head_j = softmax(Q Kᵀ / √(E/h)) V
        self.cache = AttentionCache(q, k, v, weights, self_attention, fused_input)
        self.weights = weights
        return self.out_proj(F.merge_heads(heads))                      # [head_1, …, head_h] W_o

    def backward(self, grad_out):
        """dL/d(output) (N, T_q, E) → dL/dquery (self-attention) or (dL/dquery, dL/dkey, dL/dvalue)."""
        q, k, v, weights, self_attention, fused_input = self.cache
        grad_out = check_grad(grad_out, (len(q), q.shape[2], self.embed_dim), self, dtype=self.dtype)
        grad_heads = F.split_heads(self.out_proj.backward(grad_out), self.num_heads)   # G, (N, h, T_q, E/h)
        if fused_input is not None:
            grad_qkv = self._heads_backward_together(grad_heads, q, k, v, weights)
            return self._project_together_backward(fused_input, grad_qkv)
        attend_backward = (attention_kernels.attention_backward if fast_kernels_enabled()
                           else F.scaled_dot_product_attention_backward)
        grad_q, grad_k, grad_v = attend_backward(grad_heads, q, k, v, weights)
        grad_query = self.q_proj.backward(F.merge_heads(grad_q))
        grad_key = self.k_proj.backward(F.merge_heads(grad_k))
        grad_value = self.v_proj.backward(F.merge_heads(grad_v))
        return grad_query + grad_key + grad_value if self_attention else (grad_query, grad_key, grad_value)

    # --- the fast road of self-attention: the three input projections as one product ------------------------------
    # As PyTorch's in_proj_weight does: Q, K and V = X [W_q W_k W_v] in one (N·T, E) × (E, 3E) product, and in
    # backward dL/dX = [dQ dK dV] [W_q W_k W_v]ᵀ and [dL/dW_q …] = Xᵀ [dQ dK dV], two products instead of six, with
    # no sum of three input gradients and three Linear calls (checks, caches) fewer. The parameters stay the three
    # Linears' own; stacking their weights costs 3E² copies per call against the N·T·E-sized passes it saves.
    # Measured on forward + backward, E=64, 4 heads, float32, one thread: callgrind 82.4 M instructions against 85.8 M
    # at N=32, T=64 (−4 %) and 365.8 M against 373.1 M at N=16, T=256 (−2 %); in wall-clock time, interleaved medians
    # on a loaded shared 2-core machine, within noise (new/old 0.98–1.03): the products are the same flops, so only
    # the passes and Python calls around them are saved, while the attention kernel is 60–80 % of the time (cProfile).

    def _projections(self) -> tuple[Linear, Linear, Linear]:
        return self.q_proj, self.k_proj, self.v_proj

    def _projections_fuse(self) -> bool:
        """Whether the three projections are plain Linears (a subclass may compute something else)."""
        return all(type(projection) is Linear for projection in self._projections())

    def _stacked_weight(self) -> np.ndarray:
        """[W_q W_k W_v], (E, 3E)."""
        return np.concatenate([projection.weight.data for projection in self._projections()], axis=1)

    def _project_together(self, x: np.ndarray) -> list[np.ndarray]:
        """X (N, T, E) → [X W_q + b_q, X W_k + b_k, X W_v + b_v], three (N, T, E) views of one (N, T, 3E) array."""
        projected = x @ self._stacked_weight()
        biases = [projection.bias for projection in self._projections()]
        if any(bias is not None for bias in biases):
            projected += np.concatenate([np.zeros(self.embed_dim, self.dtype) if bias is None else bias.data
                                         for bias in biases])
        return np.split(projected, 3, axis=-1)

    def _heads_backward_together(self, grad_heads, q, k, v, weights) -> np.ndarray:
        """G (N, h, T, E/h) and the cache's Q, K, V, A → [dL/dQ dL/dK dL/dV] (N, T, 3E), in one array."""
        if not fast_kernels_enabled():
            grads = F.scaled_dot_product_attention_backward(grad_heads, q, k, v, weights)
            return np.concatenate([F.merge_heads(grad) for grad in grads], axis=-1)
        n, _, t, _ = q.shape
        grad_qkv = np.empty((n, t, 3 * self.embed_dim), dtype=self.dtype)     # the kernel writes into its thirds
        attention_kernels.attention_backward(grad_heads, q, k, v, weights, out=tuple(
            F.split_heads(part, self.num_heads) for part in np.split(grad_qkv, 3, axis=-1)))
        return grad_qkv

    def _project_together_backward(self, x: np.ndarray, grad_qkv: np.ndarray) -> np.ndarray:
        """X (N, T, E) and [dQ dK dV] (N, T, 3E) → dL/dX; dL/dW = Xᵀ dQ … and dL/db = Σ dQ … added to the .grad of
        every projection parameter whose requires_grad is true."""
        e = self.embed_dim
        grad_rows, x_rows = grad_qkv.reshape(-1, 3 * e), x.reshape(-1, e)
        projections = self._projections()
        trainable = [projection.weight.requires_grad for projection in projections]
        if all(trainable):
            weight_grads = np.split(x_rows.T @ grad_rows, 3, axis=1)
        else:  # only the trainable thirds
            weight_grads = [x_rows.T @ grad_rows[:, j * e:(j + 1) * e] if trainable[j] else None for j in range(3)]
        has_bias = [projection.bias is not None and projection.bias.requires_grad for projection in projections]
        bias_grads = np.split(grad_rows.sum(axis=0), 3) if any(has_bias) else [None] * 3
        for projection, weight_grad, bias_grad, learns_bias in zip(projections, weight_grads, bias_grads, has_bias,
                                                                   strict=True):
            if weight_grad is not None:
                projection.weight.grad += weight_grad
            if learns_bias:
                projection.bias.grad += bias_grad
        return grad_qkv @ self._stacked_weight().T


class PositionalEncodingCache(NamedTuple):
    """What :class:`PositionalEncoding` keeps for backward: only the shape, to check the incoming gradient."""

    shape: tuple  #: the input's shape (N, T, d_model)


class PositionalEncoding(Module):
    """Add the sinusoidal positional encoding (:func:`~nnlib.functional.sinusoidal_positions`) to a sequence.

    Shapes: x (N, T, d_model) with T ≤ max_len → x + PE[:T] (same shape); backward passes the gradient through
    (dL/dx = dL/dy, since PE does not depend on x). No parameters: the encoding is fixed, not learned.
    Cache: :class:`PositionalEncodingCache`.
    """

    def __init__(self, d_model: int, max_len: int = 1000, *, dtype=np.float32):
        self.d_model = check_positive_int(d_model, "PositionalEncoding", "d_model")
        self.max_len = check_positive_int(max_len, "PositionalEncoding", "max_len")
        check_fits_in_memory((max_len, d_model), "PositionalEncoding", "the table of positions")
        self.dtype = check_float_dtype(dtype, "PositionalEncoding")
        self.encoding = F.sinusoidal_positions(max_len, d_model, self.dtype)

    def extra_repr(self) -> str:
        return f"d_model={self.d_model}, max_len={self.max_len}"

    def forward(self, x):
        x = check_features(x, self, self.d_model, self.dtype)
        if x.ndim != 3 or x.shape[1] > self.max_len:
            raise InputError(f"{self}: input must have shape (N, T, {self.d_model}) with T ≤ {self.max_len}, "
                             f"got {x.shape}")
        self.cache = PositionalEncodingCache(x.shape)
        return x + self.encoding[:x.shape[1]]

    def backward(self, grad_out):
        return check_grad(grad_out, self.cache.shape, self, dtype=self.dtype)


class TransformerEncoderLayerCache(NamedTuple):
    """What :class:`TransformerEncoderLayer` itself keeps for backward (its sub-layers keep their own caches)."""

    shape: tuple  #: the output's shape (N, T, d_model), to check the incoming gradient


class _FeedForward:
    """What both transformer layers share: the position-wise feed-forward block
    ``linear2(dropout(relu(linear1(x))))``, the checks of their options, their repr."""

    def _check_options(self, who: str, d_model, nhead, dim_feedforward, dropout, layer_norm_eps, dtype) -> float:
        """Check the constructor's arguments; return the dropout probability."""
        p = check_real(dropout, who, "dropout", lambda v: 0 <= v < 1, "a probability in [0, 1)")
        check_head_sizes(who, d_model=d_model, nhead=nhead, dim_feedforward=dim_feedforward)
        check_real(layer_norm_eps, who, "layer_norm_eps", lambda v: v > 0, "a number > 0")
        check_float_dtype(dtype, who)
        return p

    def _init_feed_forward(self, d_model: int, dim_feedforward: int, p: float, rng, dtype) -> None:
        """The block's layers linear1, activation, dropout, linear2, created (and drawn from ``rng``) in this order."""
        self.linear1 = Linear(d_model, dim_feedforward, rng=rng, dtype=dtype)
        self.activation = ReLU()
        self.dropout = Dropout(p, rng=rng)
        self.linear2 = Linear(dim_feedforward, d_model, rng=rng, dtype=dtype)

    def __repr__(self) -> str:
        return (f"{type(self).__name__}(d_model={self.linear1.in_features}, nhead={self.self_attn.num_heads}, "
                f"dim_feedforward={self.linear1.out_features}, dropout={self.dropout.p}, "
                f"norm_first={self.norm_first})")

    def _feed_forward(self, x):
        return self.linear2(self.dropout(self.activation(self.linear1(x))))

    def _feed_forward_backward(self, grad):
        return self.linear1.backward(self.activation.backward(self.dropout.backward(self.linear2.backward(grad))))


class TransformerEncoderLayer(_FeedForward, Module):
    """PyTorch's ``nn.TransformerEncoderLayer(batch_first=True)``: self-attention and a feed-forward block, each
    with a residual connection, dropout and layer normalization (after the residual sum, or before the block with
    ``norm_first=True``). ReLU activation; no dropout inside the attention weights.

    Post-norm (the original transformer):  ``x = norm1(x + dropout1(attn(x)));  x = norm2(x + dropout2(ff(x)))``
    Pre-norm (``norm_first=True``):        ``x = x + dropout1(attn(norm1(x)));  x = x + dropout2(ff(norm2(x)))``
    with ``ff(x) = linear2(dropout(relu(linear1(x))))``.

    Shapes: x (N, T, d_model) → same. ``forward(x, key_padding_mask=None, causal=False)`` as in
    :class:`MultiHeadAttention`. Cache: :class:`TransformerEncoderLayerCache`.
    """

    def __init__(self, d_model: int, nhead: int, dim_feedforward: int = 2048, dropout: float = 0.1,
                 norm_first: bool = False, layer_norm_eps: float = 1e-5, *, rng=None, dtype=np.float32):
        rng = as_rng(rng, "TransformerEncoderLayer")
        p = self._check_options("TransformerEncoderLayer", d_model, nhead, dim_feedforward, dropout, layer_norm_eps,
                                dtype)
        self.norm_first = bool(norm_first)
        self.self_attn = MultiHeadAttention(d_model, nhead, rng=rng, dtype=dtype)
        self._init_feed_forward(d_model, dim_feedforward, p, rng, dtype)
        self.norm1 = LayerNorm(d_model, layer_norm_eps, dtype=dtype)
        self.norm2 = LayerNorm(d_model, layer_norm_eps, dtype=dtype)
        self.dropout1, self.dropout2 = Dropout(p, rng=rng), Dropout(p, rng=rng)

    def _attention_block(self, x, key_padding_mask, causal):
        return self.dropout1(self.self_attn(x, key_padding_mask=key_padding_mask, causal=causal))

    def forward(self, x, key_padding_mask=None, causal: bool = False):
        x = _check_sequence(x, self, "input", self.self_attn.embed_dim, self.self_attn.dtype)
        if self.norm_first:
            x = x + self._attention_block(self.norm1(x), key_padding_mask, causal)
            y = x + self.dropout2(self._feed_forward(self.norm2(x)))
        else:
            x = self.norm1(x + self._attention_block(x, key_padding_mask, causal))
            y = self.norm2(x + self.dropout2(self._feed_forward(x)))
        self.cache = TransformerEncoderLayerCache(y.shape)
        return y

    def backward(self, grad_out):
        """dL/d(output) (N, T, d_model) → dL/dx: each residual sum passes the gradient both ways and adds."""
        grad_out = check_grad(grad_out, self.cache.shape, self, dtype=self.self_attn.dtype)
        if self.norm_first:
            grad = grad_out + self.norm2.backward(self._feed_forward_backward(self.dropout2.backward(grad_out)))
            return grad + self.norm1.backward(self.self_attn.backward(self.dropout1.backward(grad)))
        grad = self.norm2.backward(grad_out)
        grad = grad + self._feed_forward_backward(self.dropout2.backward(grad))
        grad = self.norm1.backward(grad)
        return grad + self.self_attn.backward(self.dropout1.backward(grad))


class TransformerDecoderLayerCache(NamedTuple):
    """What :class:`TransformerDecoderLayer` itself keeps for backward (its sub-layers keep their own caches)."""

    shape: tuple         #: the output's shape (N, T, d_model), to check the incoming gradient
    memory_shape: tuple  #: the encoder output's shape (N, S, d_model), the shape of dL/dmemory


class TransformerDecoderLayer(_FeedForward, Module):
    r"""PyTorch's ``nn.TransformerDecoderLayer(batch_first=True)``: masked self-attention over the target, cross-
    attention from the target to the encoder's output (the *memory*), and a feed-forward block, each with a residual
    connection, dropout and layer normalization (after the residual sum, or before the block with ``norm_first``).

    Post-norm (the original transformer)::

        x = norm1(x + dropout1(self_attn(x, causal)))
        x = norm2(x + dropout2(cross_attn(x, memory, memory)))
        x = norm3(x + dropout3(ff(x)))

    Pre-norm (``norm_first=True``)::

        x = x + dropout1(self_attn(norm1(x), causal))
        x = x + dropout2(cross_attn(norm2(x), memory, memory))
        x = x + dropout3(ff(norm3(x)))

    with ``ff(x) = linear2(dropout(relu(linear1(x))))``. In the cross-attention the queries come from the target
    and the keys and values from the memory, so row i of its weights says which source positions step i reads:

    .. math::
        \text{cross}(X, M) = \operatorname{softmax}\Big(\frac{(X W_q)(M W_k)^\top}{\sqrt{d_k}}\Big)(M W_v)\, W_o,
        \qquad \frac{\partial L}{\partial M} = \frac{\partial L}{\partial K}W_k^\top
        + \frac{\partial L}{\partial V}W_v^\top

    (the memory feeds both keys and values, so its gradient is the sum of both paths; it is summed again over
    every decoder layer that reads the same memory).

    ``forward(x, memory, tgt_key_padding_mask=None, memory_key_padding_mask=None, causal=True)``:
        x (N, T, d_model), the target so far; memory (N, S, d_model). ``causal=True`` (the default, unlike
        PyTorch, whose ``tgt_is_causal`` is only a hint beside ``tgt_mask``) lets step i attend to steps j ≤ i
        only. Masks as in :class:`MultiHeadAttention` (True = padding). Returns (N, T, d_model).
    ``backward(grad_out)`` → ``(dL/dx, dL/dmemory)``. Cache: :class:`TransformerDecoderLayerCache`.

    Examples::

        >>> import numpy as np, nnlib
        >>> layer = nnlib.TransformerDecoderLayer(8, 2, 16, dropout=0.0, rng=0)
        >>> x, memory = np.ones((3, 4, 8), np.float32), np.ones((3, 6, 8), np.float32)
        >>> layer(x, memory).shape
        (3, 4, 8)
        >>> [g.shape for g in layer.backward(np.ones((3, 4, 8), np.float32))]
        [(3, 4, 8), (3, 6, 8)]
    """

    def __init__(self, d_model: int, nhead: int, dim_feedforward: int = 2048, dropout: float = 0.1,
                 norm_first: bool = False, layer_norm_eps: float = 1e-5, *, rng=None, dtype=np.float32):
        rng = as_rng(rng, "TransformerDecoderLayer")
        p = self._check_options("TransformerDecoderLayer", d_model, nhead, dim_feedforward, dropout, layer_norm_eps,
                                dtype)
        self.norm_first = bool(norm_first)
        self.self_attn = MultiHeadAttention(d_model, nhead, rng=rng, dtype=dtype)
        self.multihead_attn = MultiHeadAttention(d_model, nhead, rng=rng, dtype=dtype)  # PyTorch's name
        self._init_feed_forward(d_model, dim_feedforward, p, rng, dtype)
        self.norm1, self.norm2, self.norm3 = (LayerNorm(d_model, layer_norm_eps, dtype=dtype) for _ in range(3))
        self.dropout1, self.dropout2, self.dropout3 = (Dropout(p, rng=rng) for _ in range(3))

    @property
    def cross_attn(self) -> MultiHeadAttention:
        """The cross-attention sub-layer (PyTorch calls it ``multihead_attn``); ``cross_attn.weights`` is
        (N, h, T, S): how much each target step reads from each source position."""
        return self.multihead_attn

    def _self_block(self, x, padding, causal):
        return self.dropout1(self.self_attn(x, key_padding_mask=padding, causal=causal))

    def _cross_block(self, x, memory, padding):
        return self.dropout2(self.multihead_attn(x, memory, memory, key_padding_mask=padding))

    def _cross_backward(self, grad):
        """dL/d(cross block) → (dL/d(its query), dL/dmemory): the memory is both the keys and the values."""
        grad_query, grad_key, grad_value = self.multihead_attn.backward(self.dropout2.backward(grad))
        return grad_query, grad_key + grad_value

    def forward(self, x, memory, tgt_key_padding_mask=None, memory_key_padding_mask=None, causal: bool = True):
        """x (N, T, d_model), memory (N, S, d_model) → (N, T, d_model): the equations of the class doc."""
        d_model, dtype = self.self_attn.embed_dim, self.self_attn.dtype
        x = _check_sequence(x, self, "input", d_model, dtype)
        memory = _check_sequence(memory, self, "memory", d_model, dtype, len(x))
        if self.norm_first:
            x = x + self._self_block(self.norm1(x), tgt_key_padding_mask, causal)
            x = x + self._cross_block(self.norm2(x), memory, memory_key_padding_mask)
            y = x + self.dropout3(self._feed_forward(self.norm3(x)))
        else:
            x = self.norm1(x + self._self_block(x, tgt_key_padding_mask, causal))
            x = self.norm2(x + self._cross_block(x, memory, memory_key_padding_mask))
            y = self.norm3(x + self.dropout3(self._feed_forward(x)))
        self.cache = TransformerDecoderLayerCache(y.shape, memory.shape)
        return y

    def backward(self, grad_out):
        """dL/d(output) (N, T, d_model) → (dL/dx, dL/dmemory); each residual sum passes the gradient both ways."""
        grad_out = check_grad(grad_out, self.cache.shape, self, dtype=self.self_attn.dtype)
        if self.norm_first:
            grad = grad_out + self.norm3.backward(self._feed_forward_backward(self.dropout3.backward(grad_out)))
            grad_query, grad_memory = self._cross_backward(grad)
            grad = grad + self.norm2.backward(grad_query)
            return grad + self.norm1.backward(self.self_attn.backward(self.dropout1.backward(grad))), grad_memory
        grad = self.norm3.backward(grad_out)
        grad = self.norm2.backward(grad + self._feed_forward_backward(self.dropout3.backward(grad)))
        grad_query, grad_memory = self._cross_backward(grad)
        grad = self.norm1.backward(grad + grad_query)
        return grad + self.self_attn.backward(self.dropout1.backward(grad)), grad_memory
