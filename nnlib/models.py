"""Ready-made compositions of layers that do not fit a Sequential: a recurrent layer returns (output, state)."""

from __future__ import annotations

import numbers

import numpy as np

from . import functional as F
from ._checks import InputError, as_rng, check_bool, check_float_dtype, check_positive_int, check_real
from .layers import (
    LSTM,
    Embedding,
    LayerNorm,
    Linear,
    PositionalEncoding,
    TransformerDecoderLayer,
    TransformerEncoderLayer,
)
from .layers.attention import check_head_sizes
from .layers.recurrent import RecurrentLayer
from .module import Module, backward_without_input_gradient, can_release_backward, evaluating, release_backward

__all__ = ["SequenceModel", "TransformerModel", "Seq2SeqTransformer"]


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

    can_skip_input_gradient = True

    def backward(self, grad_out, input_gradient: bool = True):
        """grad_out: dL/d(outputs) → dL/dx (N, T, I), or None for token ids (the embedding has no input gradient).

        ``input_gradient=False`` (dL/dx not needed, as in ``fit``): a frozen embedding, and a frozen recurrent layer
        with nothing trainable below it, run no backward (their caches are released as it would); returns None.
        """
        if not input_gradient:
            return self._backward_parameters_only(grad_out)
        grad_inputs = self._recurrent_backward(self.head.backward(grad_out))
        return grad_inputs if self.embedding is None else self.embedding.backward(grad_inputs)

    def _recurrent_backward(self, grad_hidden):
        """dL/d(recurrent outputs), or of the last hidden state with ``last_step`` → dL/d(recurrent inputs)."""
        if self.last_step:
            grad_last = (grad_hidden, None) if isinstance(self.recurrent, LSTM) else grad_hidden
            return self.recurrent.backward(None, grad_last)[0]
        return self.recurrent.backward(grad_hidden)[0]

    def _backward_parameters_only(self, grad_out) -> None:
        embedding = self.embedding
        frozen_embedding = embedding is not None and embedding.num_parameters(trainable_only=True) == 0
        if frozen_embedding and not can_release_backward(embedding):
            frozen_embedding = False
        nothing_below = embedding is None or frozen_embedding  # nothing below the recurrent layer needs a gradient
        if (nothing_below and self.recurrent.num_parameters(trainable_only=True) == 0
                and can_release_backward(self.recurrent)):
            backward_without_input_gradient(self.head, grad_out)
            release_backward(self.recurrent)
        else:
            grad_inputs = self._recurrent_backward(self.head.backward(grad_out))
            if embedding is not None and not frozen_embedding:
                embedding.backward(grad_inputs)
        if frozen_embedding:
            release_backward(embedding)

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


class Seq2SeqTransformer(Module):
    r"""The encoder–decoder transformer: PyTorch's ``nn.Transformer(batch_first=True)`` with token embeddings,
    sinusoidal positions and an output layer, for sequence-to-sequence tasks such as translation.

    The encoder reads the whole source; the decoder predicts target token t+1 from target tokens ≤ t (causal
    self-attention) and from the encoder's output, the *memory* (cross-attention)::

        memory = encoder_norm(encoder_layers(positions(src_embedding(src) · √d_model)))
        logits = head(decoder_norm(decoder_layers(positions(tgt_embedding(tgt_in) · √d_model), memory)))

    Training uses *teacher forcing*: ``tgt_in`` is the true target shifted right (``[bos, y_1, …, y_{T-1}]``) and
    the loss compares the logits with ``[y_1, …, y_T]``, so every step trains at once. At inference the decoder is
    *free-running*: :meth:`generate` feeds its own predictions back, one token at a time.

    Args:
        src_vocab_size, tgt_vocab_size: the two vocabularies. d_model, nhead, dim_feedforward, dropout, norm_first:
            as in :class:`TransformerEncoderLayer`. num_encoder_layers, num_decoder_layers: depth of each stack.
        max_len: longest source or target. src_pad_id: the source padding token, masked out of every attention
            (None: no padding). rng, dtype: initialisation and parameter dtype.

    Shapes: src (N, S) ids, tgt_in (N, T) ids → logits (N, T, tgt_vocab_size). ``backward(grad_logits)`` → None
    (token ids have no gradient) and accumulates every parameter's gradient; the memory's gradient is the sum over
    all decoder layers, which all read it.

    Examples::

        >>> import numpy as np, nnlib
        >>> model = nnlib.Seq2SeqTransformer(7, 5, d_model=8, nhead=2, dim_feedforward=16, rng=0)
        >>> model(np.array([[3, 4, 6]]), np.array([[0, 2]])).shape
        (1, 2, 5)
        >>> model.generate(np.array([[3, 4, 6]]), max_len=4, bos=0, eos=1, beam=2).shape[0]
        1
    """

    def __init__(self, src_vocab_size: int, tgt_vocab_size: int, d_model: int = 32, nhead: int = 4,
                 num_encoder_layers: int = 2, num_decoder_layers: int = 2, dim_feedforward: int = 64,
                 dropout: float = 0.0, max_len: int = 512, norm_first: bool = True, src_pad_id: int | None = None,
                 *, rng=None, dtype=np.float32):
        who = "Seq2SeqTransformer"
        rng = as_rng(rng, who)
        check_head_sizes(who, d_model=d_model, nhead=nhead, src_vocab_size=src_vocab_size,
                         tgt_vocab_size=tgt_vocab_size, num_encoder_layers=num_encoder_layers,
                         num_decoder_layers=num_decoder_layers, dim_feedforward=dim_feedforward, max_len=max_len)
        check_real(dropout, who, "dropout", lambda v: 0 <= v < 1, "a probability in [0, 1)")
        self.src_pad_id = None if src_pad_id is None else _check_token(src_pad_id, src_vocab_size, who, "src_pad_id")
        check_float_dtype(dtype, who)
        options = {"dim_feedforward": dim_feedforward, "dropout": dropout, "norm_first": norm_first, "rng": rng,
                   "dtype": dtype}
        self.src_embedding = Embedding(src_vocab_size, d_model, rng=rng, dtype=dtype)
        self.tgt_embedding = Embedding(tgt_vocab_size, d_model, rng=rng, dtype=dtype)
        self.positions = PositionalEncoding(d_model, max_len, dtype=dtype)
        self.encoder_layers = [TransformerEncoderLayer(d_model, nhead, **options) for _ in range(num_encoder_layers)]
        self.encoder_norm = LayerNorm(d_model, dtype=dtype)
        self.decoder_layers = [TransformerDecoderLayer(d_model, nhead, **options) for _ in range(num_decoder_layers)]
        self.decoder_norm = LayerNorm(d_model, dtype=dtype)
        self.head = Linear(d_model, tgt_vocab_size, rng=rng, dtype=dtype)
        self.scale = np.sqrt(d_model).astype(dtype)

    @property
    def tgt_vocab_size(self) -> int:
        return self.head.out_features

    def source_padding(self, src) -> np.ndarray | None:
        """(N, S) bool, True at the source's padding tokens; None without ``src_pad_id``."""
        return None if self.src_pad_id is None else np.asarray(src) == self.src_pad_id

    def encode(self, src) -> np.ndarray:
        """src (N, S) ids → memory (N, S, d_model)."""
        x, padding = self.positions(self.src_embedding(src) * self.scale), self.source_padding(src)
        for layer in self.encoder_layers:
            x = layer(x, key_padding_mask=padding)
        return self.encoder_norm(x)

    def decode(self, memory, tgt_in, src_padding=None) -> np.ndarray:
        """memory (N, S, d_model), tgt_in (N, T) ids → logits (N, T, tgt_vocab_size) of the next tokens."""
        y = self.positions(self.tgt_embedding(tgt_in) * self.scale)
        for layer in self.decoder_layers:
            y = layer(y, memory, memory_key_padding_mask=src_padding)
        return self.head(self.decoder_norm(y))

    def forward(self, src, tgt_in):
        """src (N, S), tgt_in (N, T) ids → logits (N, T, tgt_vocab_size): teacher forcing, every step at once."""
        if np.ndim(src) != 2 or np.ndim(tgt_in) != 2 or len(src) != len(tgt_in):
            raise InputError(f"{self.short_name()}: src and tgt_in must be id arrays (N, S) and (N, T) with the same "
                             f"N, got shapes {np.shape(src)} and {np.shape(tgt_in)}")
        return self.decode(self.encode(src), tgt_in, self.source_padding(src))

    def backward(self, grad_out):
        """dL/d(logits) (N, T, V) → None; the memory's gradient sums the cross-attention paths of every layer."""
        grad, grad_memory = self.decoder_norm.backward(self.head.backward(grad_out)), 0
        for layer in reversed(self.decoder_layers):
            grad, grad_from_layer = layer.backward(grad)
            grad_memory = grad_memory + grad_from_layer
        self.tgt_embedding.backward(self.positions.backward(grad) * self.scale)
        grad = self.encoder_norm.backward(grad_memory)
        for layer in reversed(self.encoder_layers):
            grad = layer.backward(grad)
        return self.src_embedding.backward(self.positions.backward(grad) * self.scale)

    def generate(self, src, max_len: int, bos: int, eos: int, beam: int = 1) -> np.ndarray:
        """Free-running decoding: greedy (``beam=1``, :meth:`greedy_decode`) or :meth:`beam_search` of width beam.

        Returns (N, L) ids, L ≤ max_len, without the leading bos; after a sentence's eos come eos only.
        """
        beam = check_positive_int(beam, self.short_name(), "beam")
        if beam == 1:
            return self.greedy_decode(src, max_len, bos, eos)
        return self.beam_search(src, max_len, bos, eos, beam)

    def greedy_decode(self, src, max_len: int, bos: int, eos: int) -> np.ndarray:
        """Start from bos; at each step append the most probable next token; stop when every row has said eos.

        Cache-free: every step re-runs the decoder on the whole prefix (T steps cost O(T²) decoder rows).
        """
        max_len, bos, eos = self._check_decoding(max_len, bos, eos)
        with evaluating(self):
            memory, padding = self.encode(src), self.source_padding(src)
            out, done = np.full((len(memory), 1), bos), np.zeros(len(memory), bool)
            for _ in range(max_len):
                next_ids = np.where(done, eos, self.decode(memory, out, padding)[:, -1].argmax(axis=-1))
                out, done = np.concatenate([out, next_ids[:, None]], axis=1), done | (next_ids == eos)
                if done.all():
                    break
        return out[:, 1:]

    def beam_search(self, src, max_len: int, bos: int, eos: int, beam: int) -> np.ndarray:
        """Keep the ``beam`` most probable prefixes (sum of log-probabilities) per sentence; return the best.

        A finished prefix (it said eos) is extended by eos at no cost, so it competes with the unfinished ones
        at its final score. ``beam=1`` gives the greedy decoding. Cache-free, like :meth:`greedy_decode`.
        """
        max_len, bos, eos = self._check_decoding(max_len, bos, eos)
        k, vocab = check_positive_int(beam, self.short_name(), "beam"), self.tgt_vocab_size
        with evaluating(self):
            memory, padding = self.encode(src), self.source_padding(src)
            n = len(memory)
            memory, padding = np.repeat(memory, k, axis=0), None if padding is None else np.repeat(padding, k, axis=0)
            seqs, done = np.full((n * k, 1), bos), np.zeros(n * k, bool)
            scores = np.tile(np.r_[0.0, np.full(k - 1, -np.inf)], n)  # one live prefix per sentence at the start
            for _ in range(max_len):
                log_p = F.log_softmax(self.decode(memory, seqs, padding)[:, -1].astype(np.float64))
                log_p[done] = -np.inf
                log_p[done, eos] = 0.0
                total = (scores[:, None] + log_p).reshape(n, k * vocab)
                best = np.argsort(-total, axis=1, kind="stable")[:, :k]           # (n, k) into the k·V candidates
                parents = (np.arange(n)[:, None] * k + best // vocab).ravel()
                tokens, scores = (best % vocab).ravel(), np.take_along_axis(total, best, axis=1).ravel()
                seqs, done = np.concatenate([seqs[parents], tokens[:, None]], axis=1), done[parents] | (tokens == eos)
                if done.all():
                    break
        return seqs.reshape(n, k, -1)[:, 0, 1:]  # candidates are sorted: beam 0 is the best

    def sequence_log_prob(self, src, tgt, bos: int, eos: int) -> np.ndarray:
        """log P(tgt | src) = Σ_t log p(y_t | y_<t, src), up to and including each row's first eos → (N,) float64.

        tgt (N, T) as :meth:`generate` returns it (no bos). Compares decodings: beam search should score higher.
        """
        _, bos, eos = self._check_decoding(1, bos, eos)
        tgt = np.asarray(tgt)
        with evaluating(self):
            logits = self(src, np.concatenate([np.full((len(tgt), 1), bos), tgt[:, :-1]], axis=1))
        log_p = np.take_along_axis(F.log_softmax(logits.astype(np.float64)), tgt[..., None], axis=-1)[..., 0]
        after_eos = np.cumsum(tgt == eos, axis=1) - (tgt == eos) > 0
        return np.where(after_eos, 0.0, log_p).sum(axis=1)

    def _check_decoding(self, max_len, bos, eos) -> tuple[int, int, int]:
        who = self.short_name()
        return (check_positive_int(max_len, who, "max_len"), _check_token(bos, self.tgt_vocab_size, who, "bos"),
                _check_token(eos, self.tgt_vocab_size, who, "eos"))


def _check_token(value, vocab_size: int, who, name: str) -> int:
    """A token id: an int in [0, vocab_size)."""
    if isinstance(value, bool) or not isinstance(value, numbers.Integral) or not 0 <= value < vocab_size:
        raise InputError(f"{who}: {name} must be a token id, an int in [0, {vocab_size}), got {value!r}")
    return int(value)
