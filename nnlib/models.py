"""Ready-made compositions of layers that do not fit a Sequential: a recurrent layer returns (output, state)."""

from __future__ import annotations

import numpy as np

from ._checks import InputError, as_rng, check_bool, check_float_dtype, check_real
from .layers import LSTM, Embedding, Linear, PositionalEncoding, TransformerEncoderLayer
from .layers.attention import check_head_sizes
from .layers.recurrent import RecurrentLayer
from .module import Module

__all__ = ["SequenceModel", "TransformerModel"]


class SequenceModel(Module):
    """An optional Embedding, a recurrent layer, and a head (e.g. Linear) on every step or on the last one.

    Args:
        recurrent: an RNN, LSTM or GRU.
        head: any Module mapping (..., H) to the outputs, typically ``Linear(H, n_outputs)``.
        embedding: an Embedding for token-id inputs, or None for float inputs (N, T, I).
        last_step: apply the head to the last hidden state only (many-to-one: classify or regress a whole
            sequence) instead of to every step (many-to-many: a language model, a tagger, a forecaster).

    Shapes: x (N, T, I) floats, or (N, T) ids with an embedding → (N, T, O), or (N, O) with ``last_step``.
    ``state`` holds the recurrent layer's last state after each forward (to continue a sequence, or sample).
    """

    def __init__(self, recurrent: Module, head: Module, embedding: Embedding | None = None, last_step: bool = False):
        if not isinstance(recurrent, RecurrentLayer):
            raise InputError("SequenceModel: recurrent must be an nnlib RNN, LSTM or GRU, "
                             f"got {type(recurrent).__name__}")
        if not isinstance(head, Module) or not (embedding is None or isinstance(embedding, Embedding)):
            raise InputError("SequenceModel: head must be an nnlib Module and embedding an Embedding or None")
        self.embedding, self.recurrent, self.head = embedding, recurrent, head
        self.last_step = bool(last_step)
        self.state = None

    def forward(self, x, state=None):
        inputs = x if self.embedding is None else self.embedding(x)
        outputs, self.state = self.recurrent(inputs, state)
        return self.head(self._last_hidden(self.state) if self.last_step else outputs)

    def backward(self, grad_out):
        """grad_out: dL/d(outputs) → dL/dx (N, T, I), or None for token ids (the embedding has no input gradient)."""
        grad_hidden = self.head.backward(grad_out)
        if self.last_step:
            grad_last = (grad_hidden, None) if isinstance(self.recurrent, LSTM) else grad_hidden
            grad_inputs, _ = self.recurrent.backward(None, grad_last)
        else:
            grad_inputs, _ = self.recurrent.backward(grad_hidden)
        return grad_inputs if self.embedding is None else self.embedding.backward(grad_inputs)

    @staticmethod
    def _last_hidden(state) -> np.ndarray:
        return state[0] if isinstance(state, tuple) else state


class TransformerModel(Module):
    """Token ids → embedding (scaled by √d_model) + sinusoidal positions → encoder layers → a Linear on every step.

    An encoder-only transformer for sequence-to-sequence tasks of equal length (tagging, reversing or sorting a
    sequence). Every step sees every other step through self-attention (``causal=True`` restricts it to the past).

    Shapes: ids (N, T) ints in [0, vocab_size) → (N, T, n_outputs) logits.
    """

    def __init__(self, vocab_size: int, n_outputs: int, d_model: int = 32, nhead: int = 4, num_layers: int = 2,
                 dim_feedforward: int = 64, dropout: float = 0.0, max_len: int = 512, norm_first: bool = True,
                 causal: bool = False, *, rng=None, dtype=np.float32):
        who = "TransformerModel"
        rng = as_rng(rng, who)
        check_head_sizes(who, d_model=d_model, nhead=nhead, vocab_size=vocab_size, n_outputs=n_outputs,
                         num_layers=num_layers, dim_feedforward=dim_feedforward, max_len=max_len)
        check_real(dropout, who, "dropout", lambda v: 0 <= v < 1, "a probability in [0, 1)")
        check_float_dtype(dtype, who)
        self.embedding = Embedding(vocab_size, d_model, rng=rng, dtype=dtype)
        self.positions = PositionalEncoding(d_model, max_len, dtype=dtype)
        self.layers = [TransformerEncoderLayer(d_model, nhead, dim_feedforward, dropout, norm_first, rng=rng,
                                               dtype=dtype) for _ in range(num_layers)]
        self.head = Linear(d_model, n_outputs, rng=rng, dtype=dtype)
        self.scale = np.sqrt(d_model).astype(dtype)
        self.causal = check_bool(causal, who, "causal")

    def forward(self, ids):
        """ids (N, T) → logits (N, T, n_outputs)."""
        x = self.positions(self.embedding(ids) * self.scale)
        for layer in self.layers:
            x = layer(x, causal=self.causal)
        return self.head(x)

    def backward(self, grad_out):
        """dL/d(logits) (N, T, n_outputs) → None (token ids have no gradient); accumulates every parameter's grad."""
        grad = self.head.backward(grad_out)
        for layer in reversed(self.layers):
            grad = layer.backward(grad)
        return self.embedding.backward(self.positions.backward(grad) * self.scale)
