r"""Embedding: a lookup table of learned vectors, one row per token id.

.. math::
    y_{n,t} = W_{x_{n,t}}, \qquad \frac{\partial L}{\partial W_v} = \sum_{(n,t):\, x_{n,t} = v} \delta_{n,t}

Equivalent to a one-hot vector times W (a Linear layer without bias), without ever building the one-hot matrix.
"""

from __future__ import annotations

from typing import NamedTuple

import numpy as np

from .._checks import (
    DTypeError,
    InputError,
    as_array,
    as_rng,
    check_fits_in_memory,
    check_float_dtype,
    check_grad,
    check_positive_int,
)
from ..module import Module, Parameter

__all__ = ["Embedding", "EmbeddingCache"]


class EmbeddingCache(NamedTuple):
    """What :class:`Embedding` keeps for backward."""

    ids: np.ndarray  #: the token ids looked up, (N, ...) integers


class Embedding(Module):
    """Map integer token ids to learned vectors (PyTorch's ``nn.Embedding``; initialised N(0, 1) like it).

    Shapes: ids (N, ...) integers in [0, num_embeddings) → y (N, ..., embedding_dim); weight (V, D).
    ``backward(grad_out)`` accumulates into ``weight.grad`` (rows of repeated ids add up) and returns None:
    integer ids have no gradient. Cache: :class:`EmbeddingCache`.
    """

    def __init__(self, num_embeddings: int, embedding_dim: int, *, rng=None, dtype=np.float32):
        self.num_embeddings = check_positive_int(num_embeddings, "Embedding", "num_embeddings")
        self.embedding_dim = check_positive_int(embedding_dim, "Embedding", "embedding_dim")
        dtype = check_float_dtype(dtype, "Embedding")
        check_fits_in_memory((num_embeddings, embedding_dim), "Embedding", "the weight")
        self.weight = Parameter(as_rng(rng, "Embedding").standard_normal((num_embeddings, embedding_dim))
                                .astype(dtype), "weight")

    def extra_repr(self) -> str:
        return f"{self.num_embeddings}, {self.embedding_dim}, dtype={self.weight.dtype}"

    def forward(self, ids):
        ids = as_array(ids, self, expected="an array of integer token ids")
        if ids.dtype.kind not in "iu":
            raise DTypeError(f"{self}: input must hold integer token ids, got dtype {ids.dtype}"
                             + (" — convert it with .astype(np.int64)" if ids.dtype.kind in "fb" else ""))
        if ids.ndim == 0 or ids.size == 0:
            raise InputError(f"{self}: input must be a non-empty array of ids (N, ...), got shape {ids.shape}")
        if ids.min() < 0 or ids.max() >= self.num_embeddings:
            raise InputError(f"{self}: token ids must be in [0, {self.num_embeddings}), got values in "
                             f"[{ids.min()}, {ids.max()}]")
        self.cache = EmbeddingCache(ids)
        return self.weight.data[ids]                       # y_{n,t} = W_{x_{n,t}}

    def backward(self, grad_out):
        """δ = dL/dy (N, ..., D) → None; row v of weight.grad gains the sum of δ over the positions holding id v."""
        ids = self.cache.ids
        grad_out = check_grad(grad_out, ids.shape + (self.embedding_dim,), self, dtype=self.weight.dtype)
        if self.weight.requires_grad:
            np.add.at(self.weight.grad, ids.ravel(), grad_out.reshape(-1, self.embedding_dim))
        return None
