r"""Multi-head attention, sinusoidal positional encoding, and the transformer encoder layer.

Multi-head attention projects queries, keys and values with learned matrices, splits the E features into h heads
of E/h, runs :func:`~nnlib.functional.scaled_dot_product_attention` in every head at once, and mixes the heads'
outputs with one more projection:

.. math::
    \text{head}_j = \operatorname{softmax}\Big(\frac{(X_q W_q)_j (X_k W_k)_j^\top}{\sqrt{E/h}}\Big)(X_v W_v)_j,
    \qquad \text{output} = [\text{head}_1, \dots, \text{head}_h]\, W_o
"""

from __future__ import annotations

import numpy as np

from .. import functional as F
from .._checks import (
    InputError,
    as_array,
    as_rng,
    check_array,
    check_features,
    check_float_dtype,
    check_grad,
    check_positive_int,
    check_real,
)
from ..module import Module
from .activation import ReLU
from .dropout import Dropout
from .linear import Linear
from .normalization import LayerNorm

__all__ = ["MultiHeadAttention", "PositionalEncoding", "TransformerEncoderLayer"]


def _check_sizes(who: str, d_model, nhead, names=("d_model", "nhead"), **sizes) -> tuple[int, int]:
    """Positive-integer sizes, and nhead dividing d_model, under the names the caller's constructor uses
    (``names`` for the first two); returns (d_model, nhead) as ints."""
    width_name, heads_name = names
    d_model, nhead = check_positive_int(d_model, who, width_name), check_positive_int(nhead, who, heads_name)
    for name, value in sizes.items():
        check_positive_int(value, who, name)
    if d_model % nhead:
        raise InputError(f"{who}: {heads_name} ({nhead}) must divide {width_name} ({d_model})")
    return d_model, nhead


class MultiHeadAttention(Module):
    """PyTorch's ``nn.MultiheadAttention(embed_dim, num_heads, batch_first=True)``, without attention dropout.

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
    """

    def __init__(self, embed_dim: int, num_heads: int, bias: bool = True, *, rng=None, dtype=np.float32):
        self.embed_dim, self.num_heads = _check_sizes("MultiHeadAttention", embed_dim, num_heads,
                                                      names=("embed_dim", "num_heads"))
        dtype = check_float_dtype(dtype, "MultiHeadAttention")
        rng = as_rng(rng, "MultiHeadAttention")
        self.q_proj, self.k_proj, self.v_proj, self.out_proj = (
            Linear(embed_dim, embed_dim, bias, rng=rng, dtype=dtype) for _ in range(4))
        self.weights: np.ndarray | None = None

    @property
    def dtype(self) -> np.dtype:
        return self.q_proj.weight.dtype

    def extra_repr(self) -> str:
        return f"embed_dim={self.embed_dim}, num_heads={self.num_heads}, dtype={self.dtype}"

    def __repr__(self) -> str:  # the four projections are implied by the arguments
        return f"MultiHeadAttention({self.extra_repr()})"

    def _check(self, x, name: str, batch: int | None = None, who=None) -> np.ndarray:
        """A query, key or value (N, T, E), N, T ≥ 1; ``who`` names the complaining module (default: self)."""
        who = self if who is None else who
        x = check_array(x, who, name=name, dtype=self.dtype, finite=True)
        if x.ndim != 3 or x.shape[2] != self.embed_dim or 0 in x.shape or (batch is not None and len(x) != batch):
            want = f"({'N' if batch is None else batch}, T, {self.embed_dim})"
            raise InputError(f"{who}: {name} must have shape {want} with T ≥ 1, got {x.shape}")
        return x

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
        return allowed

    def forward(self, query, key=None, value=None, key_padding_mask=None, causal: bool = False):
        if (key is None) != (value is None):
            raise InputError(f"{self}: give both key and value (cross-attention) or neither (self-attention)")
        query = self._check(query, "query")
        self_attention = key is None
        key = query if self_attention else self._check(key, "key", len(query))
        value = query if self_attention else self._check(value, "value", len(query))
        if value.shape[1] != key.shape[1]:
            raise InputError(f"{self}: key and value must have the same length, got {key.shape} and {value.shape}")
        heads = [F.split_heads(proj(x), self.num_heads) for proj, x in
                 ((self.q_proj, query), (self.k_proj, key), (self.v_proj, value))]
        mask = self._mask(key_padding_mask, causal, len(query), query.shape[1], key.shape[1])
        attended, self.weights = F.scaled_dot_product_attention(*heads, mask)
        self._cache = (heads, self.weights, self_attention)
        return self.out_proj(F.merge_heads(attended))

    def backward(self, grad_out):
        heads, weights, self_attention = self._saved()
        n, _, t_q, _ = heads[0].shape
        grad_out = check_grad(grad_out, (n, t_q, self.embed_dim), self, dtype=self.dtype)
        grad_attended = F.split_heads(self.out_proj.backward(grad_out), self.num_heads)
        grads = F.scaled_dot_product_attention_backward(grad_attended, *heads, weights)
        grad_q, grad_k, grad_v = (proj.backward(F.merge_heads(g)) for proj, g in
                                  zip((self.q_proj, self.k_proj, self.v_proj), grads, strict=True))
        return grad_q + grad_k + grad_v if self_attention else (grad_q, grad_k, grad_v)


class PositionalEncoding(Module):
    """Add the sinusoidal positional encoding (:func:`~nnlib.functional.sinusoidal_positions`) to a sequence.

    Shapes: x (N, T, d_model) with T ≤ max_len → x + PE[:T] (same shape); backward passes the gradient through.
    No parameters: the encoding is fixed, not learned.
    """

    def __init__(self, d_model: int, max_len: int = 1000, *, dtype=np.float32):
        self.d_model = check_positive_int(d_model, "PositionalEncoding", "d_model")
        self.max_len = check_positive_int(max_len, "PositionalEncoding", "max_len")
        self.dtype = check_float_dtype(dtype, "PositionalEncoding")
        self.encoding = F.sinusoidal_positions(max_len, d_model, self.dtype)

    def extra_repr(self) -> str:
        return f"d_model={self.d_model}, max_len={self.max_len}"

    def forward(self, x):
        x = check_features(x, self, self.d_model, self.dtype)
        if x.ndim != 3 or x.shape[1] > self.max_len:
            raise InputError(f"{self}: input must have shape (N, T, {self.d_model}) with T ≤ {self.max_len}, "
                             f"got {x.shape}")
        self._cache = x.shape
        return x + self.encoding[:x.shape[1]]

    def backward(self, grad_out):
        return check_grad(grad_out, self._saved(), self, dtype=self.dtype)


class TransformerEncoderLayer(Module):
    """PyTorch's ``nn.TransformerEncoderLayer(batch_first=True)``: self-attention and a feed-forward block, each
    with a residual connection, dropout and layer normalization (after the residual sum, or before the block with
    ``norm_first=True``). ReLU activation; no dropout inside the attention weights.

    Post-norm (the original transformer):  ``x = norm1(x + dropout1(attn(x)));  x = norm2(x + dropout2(ff(x)))``
    Pre-norm (``norm_first=True``):        ``x = x + dropout1(attn(norm1(x)));  x = x + dropout2(ff(norm2(x)))``
    with ``ff(x) = linear2(dropout(relu(linear1(x))))``.

    Shapes: x (N, T, d_model) → same. ``forward(x, key_padding_mask=None, causal=False)`` as in
    :class:`MultiHeadAttention`.
    """

    def __init__(self, d_model: int, nhead: int, dim_feedforward: int = 2048, dropout: float = 0.1,
                 norm_first: bool = False, layer_norm_eps: float = 1e-5, *, rng=None, dtype=np.float32):
        who = "TransformerEncoderLayer"
        rng = as_rng(rng, who)
        p = check_real(dropout, who, "dropout", lambda v: 0 <= v < 1, "a probability in [0, 1)")
        _check_sizes(who, d_model=d_model, nhead=nhead, dim_feedforward=dim_feedforward)
        check_real(layer_norm_eps, who, "layer_norm_eps", lambda v: v > 0, "a number > 0")
        check_float_dtype(dtype, who)
        self.norm_first = bool(norm_first)
        self.self_attn = MultiHeadAttention(d_model, nhead, rng=rng, dtype=dtype)
        self.linear1 = Linear(d_model, dim_feedforward, rng=rng, dtype=dtype)
        self.activation = ReLU()
        self.dropout = Dropout(p, rng=rng)
        self.linear2 = Linear(dim_feedforward, d_model, rng=rng, dtype=dtype)
        self.norm1 = LayerNorm(d_model, layer_norm_eps, dtype=dtype)
        self.norm2 = LayerNorm(d_model, layer_norm_eps, dtype=dtype)
        self.dropout1, self.dropout2 = Dropout(p, rng=rng), Dropout(p, rng=rng)

    def __repr__(self) -> str:
        return (f"TransformerEncoderLayer(d_model={self.linear1.in_features}, nhead={self.self_attn.num_heads}, "
                f"dim_feedforward={self.linear1.out_features}, dropout={self.dropout.p}, "
                f"norm_first={self.norm_first})")

    def _feed_forward(self, x):
        return self.linear2(self.dropout(self.activation(self.linear1(x))))

    def _feed_forward_backward(self, grad):
        return self.linear1.backward(self.activation.backward(self.dropout.backward(self.linear2.backward(grad))))

    def _attention_block(self, x, key_padding_mask, causal):
        return self.dropout1(self.self_attn(x, key_padding_mask=key_padding_mask, causal=causal))

    def forward(self, x, key_padding_mask=None, causal: bool = False):
        x = self.self_attn._check(x, "input", who=self)
        if self.norm_first:
            x = x + self._attention_block(self.norm1(x), key_padding_mask, causal)
            y = x + self.dropout2(self._feed_forward(self.norm2(x)))
        else:
            x = self.norm1(x + self._attention_block(x, key_padding_mask, causal))
            y = self.norm2(x + self.dropout2(self._feed_forward(x)))
        self._cache = y.shape
        return y

    def backward(self, grad_out):
        """dL/d(output) (N, T, d_model) → dL/dx: each residual sum passes the gradient both ways and adds."""
        grad_out = check_grad(grad_out, self._saved(), self, dtype=self.self_attn.dtype)
        if self.norm_first:
            grad = grad_out + self.norm2.backward(self._feed_forward_backward(self.dropout2.backward(grad_out)))
            return grad + self.norm1.backward(self.self_attn.backward(self.dropout1.backward(grad)))
        grad = self.norm2.backward(grad_out)
        grad = grad + self._feed_forward_backward(self.dropout2.backward(grad))
        grad = self.norm1.backward(grad)
        return grad + self.self_attn.backward(self.dropout1.backward(grad))
