"""Property-based tests (hypothesis) of every nnlib layer and model, the losses and the softmax family (issue #11).

For random sizes (1–5 features, batch 1–4, 1–5 steps, images up to 7×7 with kernels up to their size), both float
dtypes, and random values up to |x| = 1e4, they prove that:

1. forward gives finite outputs of the documented shape, in the input's dtype (float32 stays float32);
2. backward returns dL/dx shaped and typed like x (a recurrent layer: and dL/d(state) like the state; token ids:
   None), and every Parameter.grad keeps its parameter's shape and dtype;
3. nnlib.gradcheck holds at random float64 points away from kinks (ReLU-family inputs and RNN pre-activations at
   least 1e-3 from 0, no near-ties in Maxout or MaxPool2d, no random dropout mask);
4. every loss is finite and ≥ 0, with a finite gradient shaped like the prediction;
5. softmax (function and layer) rows are probabilities summing to 1; log_softmax ≤ 0; max ≤ logsumexp ≤ max + log n;
6. what exponentiates stays finite, forward and backward, without a floating-point warning, up to |x| = 1e4.

The registry ``LAYERS`` maps a name to ``(dtype, mode) -> strategy of Case``: a module, the inputs of its forward,
and the documented shapes of what forward and backward return. A falsifying example prints as one line of Python
that rebuilds the module and calls it. Hypothesis runs derandomized (the same examples on every run, no database);
``pytest --hypothesis-show-statistics tests/test_properties.py`` shows how many examples each test tried.
"""

from __future__ import annotations

import operator
import warnings
from contextlib import contextmanager
from dataclasses import dataclass, field

import numpy as np
import pytest
from hypothesis import assume, given, settings
from hypothesis import strategies as st
from hypothesis.extra import numpy as hnp

from nnlib import (
    ELU,
    GRU,
    LSTM,
    RNN,
    AvgPool2d,
    BatchNorm1d,
    BatchNorm2d,
    BCEWithLogitsLoss,
    Conv2d,
    CrossEntropyLoss,
    Dropout,
    Embedding,
    Flatten,
    LayerNorm,
    LeakyReLU,
    Linear,
    Maxout,
    MaxPool2d,
    Module,
    MSELoss,
    MultiHeadAttention,
    PositionalEncoding,
    ReLU,
    Seq2SeqTransformer,
    SequenceModel,
    Sequential,
    Sigmoid,
    Softmax,
    Softplus,
    SquaredError,
    Tanh,
    TransformerDecoderLayer,
    TransformerEncoderLayer,
    TransformerModel,
    gradcheck,
)
from nnlib import functional as F

settings.register_profile("nnlib-properties", derandomize=True, deadline=None, database=None, max_examples=25)
PROFILE = settings.get_profile("nnlib-properties")  # used per test: the global profile stays untouched

F32, F64 = np.float32, np.float64
DTYPES = [F32, F64]
KINK_MARGIN = 1e-3          # gradcheck's points stay this far from every kink (its finite-difference step is 1e-6)
# At random points the finite differences' rounding noise (~1e-16·|L| / 1e-6) reaches 2.5e-7 of gradcheck's 1e-2
# floor for some near-zero gradients (attention keys with identical rows, a tiny d_model); a wrong gradient is off
# by 1e-3 or far more. Hence 1e-5 here, not the 1e-7 of the hand-picked points in the other gradcheck tests.
GRADCHECK_TOL = 1e-5
SEEDS = st.integers(0, 2**32 - 1)
SIZES = st.integers(1, 5)   # features, hidden sizes, outputs
BATCH = st.integers(1, 4)
STEPS = st.integers(1, 5)
SIDE = st.integers(1, 7)    # image height and width
CHANNELS = st.integers(1, 3)


@dataclass(frozen=True)
class Mode:
    """How to draw values: ``bound`` on |x|; ``gradcheck``: float64-friendly, smooth points, deterministic layers."""

    bound: float
    gradcheck: bool


FORWARD = Mode(1e4, gradcheck=False)
GRADCHECK = Mode(2.0, gradcheck=True)


@dataclass(frozen=True)
class Spec:
    """What an array must look like: its shape and dtype (and finite values)."""

    shape: tuple
    dtype: np.dtype


@dataclass
class Built:
    """A module and the constructor call that rebuilds it (hypothesis prints it in a falsifying example)."""

    module: Module
    text: str


def make(cls, *args, **kwargs) -> Built:
    """``cls(*args, **kwargs)``, where arguments may be Built sub-modules, with its text."""
    def text(value):
        if isinstance(value, Built):
            return value.text
        if isinstance(value, type):
            return f"np.{value.__name__}" if issubclass(value, np.generic) else value.__name__
        return repr(value)

    def unwrap(value):
        return value.module if isinstance(value, Built) else value

    call = ", ".join([*map(text, args), *(f"{k}={text(v)}" for k, v in kwargs.items())])
    return Built(cls(*map(unwrap, args), **{k: unwrap(v) for k, v in kwargs.items()}), f"{cls.__name__}({call})")


def in_eval_mode(built: Built, flag: bool = True) -> Built:
    return Built(built.module.eval(), built.text + ".eval()") if flag else built


def _text(value) -> str:
    if isinstance(value, np.ndarray):
        return f"np.array({value.tolist()!r}, dtype=np.{value.dtype})"
    if isinstance(value, tuple):
        return "(" + ", ".join(map(_text, value)) + ")"
    return repr(value)


@dataclass
class Case:
    """A module, its forward's inputs (arrays, or an LSTM's (h0, c0) pair) and fixed keyword arguments, and the
    documented shapes of what forward and backward return (trees of Spec; None where backward returns None)."""

    built: Built
    inputs: tuple
    out: object
    grad: object
    kwargs: dict = field(default_factory=dict)

    @property
    def module(self) -> Module:
        return self.built.module

    def call(self) -> Module:
        return _WithKeywords(self.module, self.kwargs)

    def __repr__(self) -> str:
        args = [_text(x) for x in self.inputs] + [f"{k}={_text(v)}" for k, v in self.kwargs.items()]
        return f"{self.built.text}({', '.join(args)})"

    def _repr_pretty_(self, printer, cycle) -> None:  # hypothesis's printer would otherwise list the fields
        printer.text(repr(self))


class _WithKeywords(Module):
    """``module(*inputs, **kwargs)`` as a module of the inputs alone, as gradcheck calls it."""

    def __init__(self, module: Module, kwargs: dict):
        self.module, self.kwargs = module, kwargs

    def forward(self, *inputs):
        return self.module(*inputs, **self.kwargs)

    def backward(self, *grads):
        return self.module.backward(*grads)


# --- drawing values ------------------------------------------------------------------------------------------

def _floats(draw, dtype, shape, mode: Mode, away_from_zero: bool = False) -> np.ndarray:
    """An array of ``dtype`` with values in ±mode.bound (at least KINK_MARGIN from 0 if asked, in gradcheck mode)."""
    width = 32 if dtype == F32 else 64
    if away_from_zero and mode.gradcheck:
        magnitude = st.floats(KINK_MARGIN, mode.bound, width=width)
        elements = st.one_of(magnitude, magnitude.map(operator.neg))
    else:
        elements = st.floats(-mode.bound, mode.bound, width=width, allow_subnormal=False)
    return draw(hnp.arrays(dtype, shape, elements=elements))


def _separated(draw, dtype, shape) -> np.ndarray:
    """Distinct values 0.01 apart in random order, within ±3: no max-pool window has a near-tie."""
    size = int(np.prod(shape))  # at most 4·3·7·7 = 588
    order = np.random.default_rng(draw(SEEDS)).permutation(size)
    return ((order - size / 2) * 0.01).reshape(shape).astype(dtype)


def _leading(draw) -> tuple:
    """Batch axes (N,) or (N, T) for a layer acting on the last axis."""
    return draw(hnp.array_shapes(min_dims=1, max_dims=2, min_side=1, max_side=4))


def _heads(draw) -> tuple[int, int]:
    """(embed_dim E ≤ 5, num_heads dividing E)."""
    e = draw(SIZES)
    return e, draw(st.sampled_from([h for h in range(1, e + 1) if e % h == 0]))


def _dropout_p(draw, mode: Mode) -> tuple[float, bool]:
    """(p, eval mode?): any p in training or eval for the shape properties; p = 0, or eval mode, for gradcheck."""
    if mode.gradcheck:
        p = draw(st.sampled_from([0.0, 0.3]))
        return p, p > 0
    return draw(st.floats(0, 0.9)), draw(st.booleans())


def _attention_kwargs(draw, n: int, t_k: int) -> dict:
    """Optional causal flag and key padding mask (True = padding); never a query with no key to attend to."""
    kwargs = {"causal": draw(st.booleans())}
    if draw(st.booleans()):
        padding = draw(hnp.arrays(bool, (n, t_k)))
        padding[:, 0 if kwargs["causal"] else draw(st.integers(0, t_k - 1))] = False  # causal query 0 sees key 0
        kwargs["key_padding_mask"] = padding
    return kwargs


def _out_size(size: int, kernel: int, stride: int, padding: int) -> int:
    return (size + 2 * padding - kernel) // stride + 1


# --- the registry: every layer and model --------------------------------------------------------------------

@st.composite
def _linear(draw, dtype, mode):
    n_in, n_out = draw(SIZES), draw(SIZES)
    built = make(Linear, n_in, n_out, bias=draw(st.booleans()), rng=draw(SEEDS), dtype=dtype)
    lead = _leading(draw)
    x = _floats(draw, dtype, (*lead, n_in), mode)
    return Case(built, (x,), Spec((*lead, n_out), dtype), Spec(x.shape, dtype))


def _activation(build_layer, kinked: bool = False):
    """An elementwise activation on any shape; ``kinked``: gradcheck keeps its inputs away from 0."""
    @st.composite
    def build(draw, dtype, mode):
        built = build_layer(draw)
        x = _floats(draw, dtype, draw(hnp.array_shapes(min_dims=1, max_dims=3, max_side=4)), mode, kinked)
        return Case(built, (x,), Spec(x.shape, dtype), Spec(x.shape, dtype))
    return build


@st.composite
def _softmax(draw, dtype, mode):
    x = _floats(draw, dtype, draw(hnp.array_shapes(min_dims=1, max_dims=3, max_side=4)), mode)
    built = make(Softmax, draw(st.integers(-x.ndim, x.ndim - 1)))
    return Case(built, (x,), Spec(x.shape, dtype), Spec(x.shape, dtype))


@st.composite
def _maxout(draw, dtype, mode):
    n_in, n_out = draw(SIZES), draw(SIZES)
    built = make(Maxout, n_in, n_out, draw(st.integers(1, 3)), rng=draw(SEEDS), dtype=dtype)
    lead = _leading(draw)
    x = _floats(draw, dtype, (*lead, n_in), mode)
    return Case(built, (x,), Spec((*lead, n_out), dtype), Spec(x.shape, dtype))


@st.composite
def _dropout(draw, dtype, mode):
    p, evaluating = _dropout_p(draw, mode)
    built = in_eval_mode(make(Dropout, p, rng=draw(SEEDS)), evaluating)
    x = _floats(draw, dtype, draw(hnp.array_shapes(min_dims=1, max_dims=3, max_side=4)), mode)
    return Case(built, (x,), Spec(x.shape, dtype), Spec(x.shape, dtype))


@st.composite
def _conv2d(draw, dtype, mode):
    c_in, c_out, n, h, w = draw(CHANNELS), draw(CHANNELS), draw(BATCH), draw(SIDE), draw(SIDE)
    kernel = (draw(st.integers(1, h)), draw(st.integers(1, w)))
    stride = (draw(st.integers(1, 2)), draw(st.integers(1, 2)))
    padding = (draw(st.integers(0, 1)), draw(st.integers(0, 1)))
    built = make(Conv2d, c_in, c_out, kernel, stride, padding, bias=draw(st.booleans()), rng=draw(SEEDS),
                 dtype=dtype)
    x = _floats(draw, dtype, (n, c_in, h, w), mode)
    out = (n, c_out, *map(_out_size, (h, w), kernel, stride, padding))
    return Case(built, (x,), Spec(out, dtype), Spec(x.shape, dtype))


def _pool(cls):
    @st.composite
    def build(draw, dtype, mode):
        n, c, h, w = draw(BATCH), draw(CHANNELS), draw(SIDE), draw(SIDE)
        kernel = (draw(st.integers(1, h)), draw(st.integers(1, w)))
        stride = draw(st.none() | st.tuples(st.integers(1, 2), st.integers(1, 2)))
        padding = (draw(st.integers(0, kernel[0] // 2)), draw(st.integers(0, kernel[1] // 2)))
        built = make(cls, kernel, stride, padding)
        shape = (n, c, h, w)
        x = _separated(draw, dtype, shape) if mode.gradcheck and cls is MaxPool2d else _floats(draw, dtype, shape, mode)
        out = (n, c, *map(_out_size, (h, w), kernel, stride or kernel, padding))
        return Case(built, (x,), Spec(out, dtype), Spec(x.shape, dtype))
    return build


@st.composite
def _flatten(draw, dtype, mode):
    x = _floats(draw, dtype, draw(hnp.array_shapes(min_dims=2, max_dims=4, max_side=4)), mode)
    start = draw(st.integers(1, x.ndim - 1))
    out = (*x.shape[:start], int(np.prod(x.shape[start:])))
    return Case(make(Flatten, start), (x,), Spec(out, dtype), Spec(x.shape, dtype))


def _recurrent(cls):
    @st.composite
    def build(draw, dtype, mode):
        n, t, size_in, size = draw(BATCH), draw(STEPS), draw(SIZES), draw(SIZES)
        options = {"nonlinearity": draw(st.sampled_from(["tanh", "relu"]))} if cls is RNN else {}
        built = make(cls, size_in, size, **options, bias=draw(st.booleans()), rng=draw(SEEDS), dtype=dtype)
        x = _floats(draw, dtype, (n, t, size_in), mode)
        state = Spec((n, size), dtype)
        if cls is LSTM:
            state = (state, state)
        inputs = (x,)
        if draw(st.booleans()):  # an initial state, else zeros
            inputs = (x, _tree_map(lambda s: _floats(draw, dtype, s.shape, mode), state))
        return Case(built, inputs, (Spec((n, t, size), dtype), state), (Spec(x.shape, dtype), state))
    return build


@st.composite
def _embedding(draw, dtype, mode):
    vocab, dim = draw(st.integers(1, 6)), draw(SIZES)
    built = make(Embedding, vocab, dim, rng=draw(SEEDS), dtype=dtype)
    ids = _token_ids(draw, vocab, draw(hnp.array_shapes(min_dims=1, max_dims=2, max_side=4)))
    return Case(built, (ids,), Spec((*ids.shape, dim), dtype), None)


def _token_ids(draw, vocab: int, shape: tuple) -> np.ndarray:
    return draw(hnp.arrays(draw(st.sampled_from([np.int64, np.int32, np.int8, np.uint8, np.uint64])), shape,
                           elements=st.integers(0, vocab - 1)))


@st.composite
def _layer_norm(draw, dtype, mode):
    dim = draw(SIZES)
    built = make(LayerNorm, dim, elementwise_affine=draw(st.booleans()), dtype=dtype)
    x = _floats(draw, dtype, (*_leading(draw), dim), mode)
    return Case(built, (x,), Spec(x.shape, dtype), Spec(x.shape, dtype))


@st.composite
def _batch_norm(draw, dtype, mode):
    """BatchNorm1d on (N, C) or (N, C, L), BatchNorm2d on (N, C, H, W); in training mode only with ≥ 2 values per
    channel (one value has no variance: refused), else in eval mode with drawn running statistics."""
    c, n, rank = draw(CHANNELS), draw(BATCH), draw(st.sampled_from([2, 3, 4]))
    shape = (n, c, *draw(hnp.array_shapes(min_dims=rank - 2, max_dims=rank - 2, min_side=1, max_side=4)))
    cls = BatchNorm2d if rank == 4 else BatchNorm1d
    built = make(cls, c, momentum=draw(st.floats(0, 1)), affine=draw(st.booleans()), dtype=dtype)
    built = in_eval_mode(built, np.prod(shape) // c < 2 or draw(st.booleans()))
    if not built.module.training:
        built.module.running_mean[:] = _floats(draw, dtype, (c,), mode)
        built.module.running_var[:] = draw(hnp.arrays(dtype, (c,), elements=st.floats(0, 4, width=32)))
    x = _floats(draw, dtype, shape, mode)
    return Case(built, (x,), Spec(x.shape, dtype), Spec(x.shape, dtype))


@st.composite
def _attention(draw, dtype, mode):
    (e, heads), n, t_q = _heads(draw), draw(BATCH), draw(STEPS)
    built = make(MultiHeadAttention, e, heads, bias=draw(st.booleans()), rng=draw(SEEDS), dtype=dtype)
    query = _floats(draw, dtype, (n, t_q, e), mode)
    if draw(st.booleans()):  # cross-attention: backward returns the three gradients
        t_k = draw(STEPS)
        inputs = (query, _floats(draw, dtype, (n, t_k, e), mode), _floats(draw, dtype, (n, t_k, e), mode))
        grad = tuple(Spec(x.shape, dtype) for x in inputs)
    else:
        t_k, inputs, grad = t_q, (query,), Spec(query.shape, dtype)
    return Case(built, inputs, Spec(query.shape, dtype), grad, _attention_kwargs(draw, n, t_k))


@st.composite
def _positional_encoding(draw, dtype, mode):
    dim, n, t = draw(SIZES), draw(BATCH), draw(STEPS)
    built = make(PositionalEncoding, dim, t + draw(st.integers(0, 3)), dtype=dtype)
    x = _floats(draw, dtype, (n, t, dim), mode)
    return Case(built, (x,), Spec(x.shape, dtype), Spec(x.shape, dtype))


@st.composite
def _encoder_layer(draw, dtype, mode):
    (e, heads), n, t = _heads(draw), draw(BATCH), draw(STEPS)
    p, evaluating = _dropout_p(draw, mode)
    built = in_eval_mode(make(TransformerEncoderLayer, e, heads, draw(SIZES), p, norm_first=draw(st.booleans()),
                              rng=draw(SEEDS), dtype=dtype), evaluating)
    x = _floats(draw, dtype, (n, t, e), mode)
    return Case(built, (x,), Spec(x.shape, dtype), Spec(x.shape, dtype), _attention_kwargs(draw, n, t))


@st.composite
def _decoder_layer(draw, dtype, mode):
    (e, heads), n, t, s = _heads(draw), draw(BATCH), draw(STEPS), draw(STEPS)
    p, evaluating = _dropout_p(draw, mode)
    built = in_eval_mode(make(TransformerDecoderLayer, e, heads, draw(SIZES), p, norm_first=draw(st.booleans()),
                              rng=draw(SEEDS), dtype=dtype), evaluating)
    x, memory = _floats(draw, dtype, (n, t, e), mode), _floats(draw, dtype, (n, s, e), mode)
    target = _attention_kwargs(draw, n, t)
    kwargs = {"causal": target["causal"], "tgt_key_padding_mask": target.get("key_padding_mask"),
              "memory_key_padding_mask": _attention_kwargs(draw, n, s).get("key_padding_mask")}
    return Case(built, (x, memory), Spec(x.shape, dtype), (Spec(x.shape, dtype), Spec(memory.shape, dtype)), kwargs)


ACTIVATIONS = [Sigmoid, Tanh, ReLU, LeakyReLU, ELU, Softplus]


@st.composite
def _mlp(draw, dtype, mode):
    n_in, hidden, n_out = draw(SIZES), draw(SIZES), draw(SIZES)
    second = draw(st.sampled_from([Linear, Maxout]))
    layers = [make(Linear, n_in, hidden, rng=draw(SEEDS), dtype=dtype), make(draw(st.sampled_from(ACTIVATIONS))),
              make(second, hidden, n_out, rng=draw(SEEDS), dtype=dtype)]
    if draw(st.booleans()):
        layers.append(make(Softmax))
    x = _floats(draw, dtype, (draw(BATCH), n_in), mode)
    return Case(make(Sequential, *layers), (x,), Spec((len(x), n_out), dtype), Spec(x.shape, dtype))


@st.composite
def _cnn(draw, dtype, mode):
    """Conv2d → activation → pooling → Flatten → Linear. Gradcheck pools by averaging: max-pooling the
    convolution's output could tie (the MaxPool2d entry checks max-pooling on well-separated values)."""
    n, c_in, c_out, h, w, n_out = draw(BATCH), draw(CHANNELS), draw(CHANNELS), draw(SIDE), draw(SIDE), draw(SIZES)
    kernel, padding = draw(st.integers(1, min(h, w, 3))), draw(st.integers(0, 1))
    conv_h, conv_w = _out_size(h, kernel, 1, padding), _out_size(w, kernel, 1, padding)
    pool_size = draw(st.integers(1, min(2, conv_h, conv_w)))
    pool = AvgPool2d if mode.gradcheck else draw(st.sampled_from([MaxPool2d, AvgPool2d]))
    features = c_out * (conv_h // pool_size) * (conv_w // pool_size)
    built = make(Sequential, make(Conv2d, c_in, c_out, kernel, padding=padding, rng=draw(SEEDS), dtype=dtype),
                 make(draw(st.sampled_from([ReLU, Tanh, ELU]))), make(pool, pool_size), make(Flatten),
                 make(Linear, features, n_out, rng=draw(SEEDS), dtype=dtype))
    x = _floats(draw, dtype, (n, c_in, h, w), mode)
    return Case(built, (x,), Spec((n, n_out), dtype), Spec(x.shape, dtype))


@st.composite
def _sequence_model(draw, dtype, mode):
    cls = draw(st.sampled_from([RNN, LSTM, GRU]))
    n, t, size_in, size, n_out = draw(BATCH), draw(STEPS), draw(SIZES), draw(SIZES), draw(SIZES)
    options = {"nonlinearity": draw(st.sampled_from(["tanh", "relu"]))} if cls is RNN else {}
    recurrent = make(cls, size_in, size, **options, rng=draw(SEEDS), dtype=dtype)
    embedding = make(Embedding, 6, size_in, rng=draw(SEEDS), dtype=dtype) if draw(st.booleans()) else None
    last_step = draw(st.booleans())
    built = make(SequenceModel, recurrent, make(Linear, size, n_out, rng=draw(SEEDS), dtype=dtype), embedding,
                 last_step=last_step)
    x = _token_ids(draw, 6, (n, t)) if embedding else _floats(draw, dtype, (n, t, size_in), mode)
    inputs = (x,)
    if draw(st.booleans()):
        state = _floats(draw, dtype, (n, size), mode)
        inputs = (x, (state, _floats(draw, dtype, (n, size), mode)) if cls is LSTM else state)
    out = (n, n_out) if last_step else (n, t, n_out)
    return Case(built, inputs, Spec(out, dtype), None if embedding else Spec(x.shape, dtype))


@st.composite
def _transformer_model(draw, dtype, mode):
    (e, heads), vocab, n_out, n, t = _heads(draw), draw(st.integers(1, 6)), draw(SIZES), draw(BATCH), draw(STEPS)
    p, evaluating = _dropout_p(draw, mode)
    layers = 1 if mode.gradcheck else draw(st.integers(1, 2))  # one layer is enough for the (slow) gradcheck
    built = in_eval_mode(make(TransformerModel, vocab, n_out, d_model=e, nhead=heads, num_layers=layers,
                              dim_feedforward=draw(SIZES), dropout=p, max_len=t + draw(st.integers(0, 3)),
                              norm_first=draw(st.booleans()), causal=draw(st.booleans()), rng=draw(SEEDS),
                              dtype=dtype), evaluating)
    ids = _token_ids(draw, vocab, (n, t))
    return Case(built, (ids,), Spec((n, t, n_out), dtype), None)


@st.composite
def _seq2seq(draw, dtype, mode):
    (e, heads), n, s, t = _heads(draw), draw(BATCH), draw(STEPS), draw(STEPS)
    src_vocab, tgt_vocab = draw(st.integers(1, 6)), draw(st.integers(1, 6))
    p, evaluating = _dropout_p(draw, mode)
    layers = 1 if mode.gradcheck else draw(st.integers(1, 2))
    built = in_eval_mode(make(Seq2SeqTransformer, src_vocab, tgt_vocab, d_model=e, nhead=heads,
                              num_encoder_layers=layers, num_decoder_layers=layers, dim_feedforward=draw(SIZES),
                              dropout=p, max_len=max(s, t) + draw(st.integers(0, 3)), norm_first=draw(st.booleans()),
                              rng=draw(SEEDS), dtype=dtype), evaluating)
    src, tgt_in = _token_ids(draw, src_vocab, (n, s)), _token_ids(draw, tgt_vocab, (n, t))
    return Case(built, (src, tgt_in), Spec((n, t, tgt_vocab), dtype), None)


def _options(**strategies):
    """A layer built from drawn keyword arguments, e.g. ``LeakyReLU(negative_slope=0.37)``."""
    def build_layer(cls):
        return lambda draw: make(cls, **{k: draw(s) for k, s in strategies.items()})
    return build_layer


LAYERS = {
    "Linear": _linear,
    "Sigmoid": _activation(lambda draw: make(Sigmoid)),
    "Tanh": _activation(lambda draw: make(Tanh)),
    "ReLU": _activation(lambda draw: make(ReLU), kinked=True),
    "LeakyReLU": _activation(_options(negative_slope=st.floats(0, 1))(LeakyReLU), kinked=True),
    "ELU": _activation(_options(alpha=st.floats(0.1, 3))(ELU), kinked=True),
    "Softplus": _activation(lambda draw: make(Softplus)),
    "Softmax": _softmax,
    "Maxout": _maxout,
    "Dropout": _dropout,
    "Conv2d": _conv2d,
    "MaxPool2d": _pool(MaxPool2d),
    "AvgPool2d": _pool(AvgPool2d),
    "Flatten": _flatten,
    "RNN": _recurrent(RNN),
    "LSTM": _recurrent(LSTM),
    "GRU": _recurrent(GRU),
    "Embedding": _embedding,
    "LayerNorm": _layer_norm,
    "BatchNorm": _batch_norm,
    "MultiHeadAttention": _attention,
    "PositionalEncoding": _positional_encoding,
    "TransformerEncoderLayer": _encoder_layer,
    "TransformerDecoderLayer": _decoder_layer,
    "Sequential(MLP)": _mlp,
    "Sequential(CNN)": _cnn,
    "SequenceModel": _sequence_model,
    "TransformerModel": _transformer_model,
    "Seq2SeqTransformer": _seq2seq,
}


# --- tree helpers --------------------------------------------------------------------------------------------

def _tree_map(fn, tree):
    if isinstance(tree, tuple):
        return tuple(_tree_map(fn, item) for item in tree)
    return fn(tree)


def _assert_like(value, spec, what: str) -> None:
    """``value`` has ``spec``'s structure, and each array its shape and dtype, with finite values."""
    if spec is None:
        assert value is None, f"{what}: expected None, got {type(value).__name__}"
    elif isinstance(spec, tuple):
        assert isinstance(value, tuple) and len(value) == len(spec), f"{what}: expected a {len(spec)}-tuple: {value!r}"
        for i, (v, s) in enumerate(zip(value, spec, strict=True)):
            _assert_like(v, s, f"{what}[{i}]")
    else:
        assert isinstance(value, np.ndarray), f"{what}: expected an array, got {type(value).__name__}"
        assert (value.shape, value.dtype) == (spec.shape, np.dtype(spec.dtype)), (
            f"{what}: expected shape {spec.shape} and dtype {np.dtype(spec.dtype)}, got {value.shape} {value.dtype}")
        assert np.all(np.isfinite(value)), f"{what}: {np.sum(~np.isfinite(value))} non-finite values"


def _backward(module: Module, upstream):
    """backward with one upstream gradient per output, in the output's structure (as gradcheck calls it)."""
    return module.backward(*upstream) if isinstance(upstream, tuple) else module.backward(upstream)


def _distance_to_kinks(module: Module) -> float:
    """After a forward pass, how near its sub-layers' kinks the inputs came (inf if there is none).

    Reads what each layer cached for backward: a ReLU-family input, Maxout's gap between its best two pieces, the
    pre-activations of an RNN with ReLU. (Max-pooling is only gradchecked on well-separated inputs.)
    """
    distances = [np.inf]
    for m in module.modules():
        if isinstance(m, (ReLU, LeakyReLU, ELU)):
            distances.append(np.abs(m.cache.x).min())
        elif isinstance(m, Maxout) and m.pieces > 1:
            z = np.sort(m.cache.x.reshape(-1, m.in_features) @ m.weight.data + m.bias.data[:, None, :], axis=0)
            distances.append((z[-1] - z[-2]).min())
        elif isinstance(m, RNN) and m.nonlinearity == "relu":
            x, hs = m.cache.x, m.cache.hs
            net = x.transpose(1, 0, 2) @ m.weight_ih.data + hs[:-1] @ m.weight_hh.data
            if m.bias_ih is not None:
                net += m.bias_ih.data + m.bias_hh.data
            distances.append(np.abs(net).min())
    return float(min(distances))


# --- properties 1–3: every layer -------------------------------------------------------------------------------

@pytest.mark.parametrize("dtype", DTYPES, ids=["float32", "float64"])
@pytest.mark.parametrize("name", LAYERS)
@settings(PROFILE)
@given(data=st.data())
def test_forward_is_finite_with_the_documented_shape_and_dtype(name, dtype, data):
    case = data.draw(LAYERS[name](dtype, FORWARD), label="case")
    _assert_like(case.call()(*case.inputs), case.out, f"{name} forward")


@pytest.mark.parametrize("dtype", DTYPES, ids=["float32", "float64"])
@pytest.mark.parametrize("name", LAYERS)
@settings(PROFILE)
@given(data=st.data())
def test_backward_returns_gradients_shaped_and_typed_like_inputs_and_parameters(name, dtype, data):
    case = data.draw(LAYERS[name](dtype, FORWARD), label="case")
    module = case.call()
    module(*case.inputs)
    draw = np.random.default_rng(data.draw(SEEDS, label="upstream seed"))
    upstream = _tree_map(lambda s: draw.standard_normal(s.shape).astype(s.dtype), case.out)
    _assert_like(_backward(module, upstream), case.grad, f"{name} backward")
    for pname, p in case.module.named_parameters():
        _assert_like(p.grad, Spec(p.shape, p.dtype), f"{name} {pname}.grad")


# The composites whose gradcheck costs seconds per example (two forwards per parameter entry): fewer examples, so
# that three suite runs in CI (fast road, reference road, floors) stay affordable. The transformers are also
# gradchecked at fixed shapes in test_attention.py, and a CNN's layers one by one in test_conv.py.
COMPOSITES = ("TransformerDecoderLayer", "Sequential(CNN)", "Seq2SeqTransformer")


@pytest.mark.gradcheck
@pytest.mark.parametrize("name", [name for name in LAYERS if name not in COMPOSITES])
@settings(PROFILE)
@given(data=st.data())
def test_gradcheck_holds_at_random_points_away_from_kinks(name, data):
    _check_gradients_at_a_random_point(name, data)


@pytest.mark.gradcheck
@pytest.mark.parametrize("name", COMPOSITES)
@settings(PROFILE, max_examples=10)
@given(data=st.data())
def test_composites_gradcheck_holds_at_random_points_away_from_kinks(name, data):
    _check_gradients_at_a_random_point(name, data)


def _check_gradients_at_a_random_point(name, data):
    case = data.draw(LAYERS[name](F64, GRADCHECK), label="case")
    module = case.call()
    module(*case.inputs)
    assume(_distance_to_kinks(case.module) >= KINK_MARGIN)
    errors = gradcheck(module, *case.inputs, rng=data.draw(SEEDS, label="upstream seed"),
                       tol=GRADCHECK_TOL)
    assert {f"module.{n}" for n, p in case.module.named_parameters() if p.requires_grad} <= set(errors)


# --- property 4: losses ----------------------------------------------------------------------------------------

@st.composite
def _regression_data(draw, dtype, probabilities=False):
    pred = _floats(draw, dtype, draw(hnp.array_shapes(min_dims=1, max_dims=3, max_side=4)), FORWARD)
    width = 32 if dtype == F32 else 64
    target = draw(hnp.arrays(dtype, pred.shape, elements=st.floats(0, 1, width=width) if probabilities else
                             st.floats(-1e4, 1e4, width=width, allow_subnormal=False)))
    return pred, target


@st.composite
def _class_data(draw, dtype):
    logits = _floats(draw, dtype, (*_leading(draw), draw(SIZES)), FORWARD)
    return logits, _token_ids(draw, logits.shape[-1], logits.shape[:-1])


LOSSES = {
    "SquaredError": (SquaredError, _regression_data),
    **{f"MSELoss({r})": (lambda r=r: MSELoss(r), _regression_data) for r in ("mean", "sum")},
    **{f"CrossEntropyLoss({r})": (lambda r=r: CrossEntropyLoss(r), _class_data) for r in ("mean", "sum")},
    **{f"BCEWithLogitsLoss({r})": (lambda r=r: BCEWithLogitsLoss(r), lambda dtype: _regression_data(dtype, True))
       for r in ("mean", "sum")},
}


@pytest.mark.parametrize("dtype", DTYPES, ids=["float32", "float64"])
@pytest.mark.parametrize("name", LOSSES)
@settings(PROFILE, max_examples=40)
@given(data=st.data())
def test_losses_are_finite_and_non_negative(name, dtype, data):
    factory, draw_data = LOSSES[name]
    pred, target = data.draw(draw_data(dtype), label="pred, target")
    loss = factory()
    value = loss(pred, target)
    assert type(value) is float and np.isfinite(value) and value >= 0, value
    _assert_like(loss.backward(), Spec(pred.shape, dtype), f"{name} backward")


# --- property 5: softmax ---------------------------------------------------------------------------------------

@st.composite
def _scores(draw, dtype):
    """Scores of any shape (1–3 axes) with values in ±1e4, and an axis."""
    x = _floats(draw, dtype, draw(hnp.array_shapes(min_dims=1, max_dims=3, max_side=5)), FORWARD)
    return x, draw(st.integers(-x.ndim, x.ndim - 1))


SOFTMAXES = {"functional": F.softmax, "layer": lambda x, axis: Softmax(axis)(x)}


@pytest.mark.parametrize("dtype", DTYPES, ids=["float32", "float64"])
@pytest.mark.parametrize("kind", SOFTMAXES)
@settings(PROFILE, max_examples=60)
@given(data=st.data())
def test_softmax_rows_are_probabilities_that_sum_to_one(kind, dtype, data):
    x, axis = data.draw(_scores(dtype), label="x, axis")
    s = SOFTMAXES[kind](x, axis)
    assert s.shape == x.shape and s.dtype == dtype
    assert np.all((s >= 0) & (s <= 1))
    n = x.shape[axis]
    np.testing.assert_allclose(s.sum(axis=axis, dtype=F64), 1.0, rtol=0, atol=2 * n * np.finfo(dtype).eps)


@pytest.mark.parametrize("dtype", DTYPES, ids=["float32", "float64"])
@settings(PROFILE, max_examples=60)
@given(data=st.data())
def test_log_softmax_is_at_most_zero_and_logsumexp_lies_between_max_and_max_plus_log_n(dtype, data):
    x, axis = data.draw(_scores(dtype), label="x, axis")
    log_s = F.log_softmax(x, axis)
    assert log_s.dtype == dtype and np.all(np.isfinite(log_s)) and np.all(log_s <= 0)
    np.testing.assert_allclose(np.exp(log_s.astype(F64)), F.softmax(x, axis), rtol=0, atol=8 * np.finfo(dtype).eps)
    lse, top, n = F.logsumexp(x, axis), x.max(axis=axis), x.shape[axis]
    assert lse.dtype == dtype and np.all(lse >= top)
    assert np.all(lse <= top + np.log(n) + 4 * np.finfo(dtype).eps * (np.abs(top) + np.log(n) + 1))


# --- property 6: stability up to |x| = 1e4 ----------------------------------------------------------------------

@contextmanager
def _strict():
    """Every warning is an error, and so is every floating-point problem except underflow: e^(−|x|) may round to
    0 (that is how the stable forms work), but nothing may overflow, divide by zero or produce NaN."""
    with warnings.catch_warnings(), np.errstate(all="raise", under="ignore"):
        warnings.simplefilter("error")
        yield


def _elementwise(f, f_prime):
    return lambda x, g, rng: [f(x), g * f_prime(x)]


def _through(make_layer):
    """Forward x through a fresh layer, then backward g."""
    def run(x, g, rng):
        layer = make_layer(x, rng)
        return [layer(x), layer.backward(g)]
    return run


def _loss(cls, target):
    """The loss of logits x against a random target, and its gradient."""
    def run(x, g, rng):
        loss = cls()
        return [np.array(loss(x, target(x, rng))), loss.backward()]
    return run


def _some_heads(e: int, rng) -> int:
    return int(rng.choice([h for h in range(1, e + 1) if e % h == 0]))


STABLE = {
    "sigmoid": _elementwise(F.sigmoid, F.sigmoid_prime),
    "tanh": _elementwise(F.tanh, F.tanh_prime),
    "softplus": _elementwise(F.softplus, F.softplus_prime),
    "elu": _elementwise(F.elu, F.elu_prime),
    "softmax": lambda x, g, rng: [s := F.softmax(x), F.softmax_backward(s, g)],
    # nnlib has no backward for these two: their vector-Jacobian products are built from its softmax
    "log_softmax": lambda x, g, rng: [F.log_softmax(x), g - F.softmax(x) * g.sum(axis=-1, keepdims=True)],
    "logsumexp": lambda x, g, rng: [F.logsumexp(x), F.softmax(x) * g[..., :1]],
    "Softmax": _through(lambda x, rng: Softmax()),
    "CrossEntropyLoss": _loss(CrossEntropyLoss, lambda x, rng: rng.integers(0, x.shape[-1], x.shape[:-1])),
    "BCEWithLogitsLoss": _loss(BCEWithLogitsLoss, lambda x, rng: rng.uniform(0, 1, x.shape).astype(x.dtype)),
    "LayerNorm": _through(lambda x, rng: LayerNorm(x.shape[-1], dtype=x.dtype)),
    "BatchNorm1d": _through(lambda x, rng: BatchNorm1d(x.shape[1], dtype=x.dtype).train(x.size > x.shape[1])),
    "MultiHeadAttention": _through(lambda x, rng: MultiHeadAttention(x.shape[-1], _some_heads(x.shape[-1], rng),
                                                                     rng=rng, dtype=x.dtype)),
}


@pytest.mark.parametrize("dtype", DTYPES, ids=["float32", "float64"])
@pytest.mark.parametrize("name", STABLE)
@settings(PROFILE, max_examples=40)
@given(data=st.data())
def test_stable_up_to_1e4_forward_and_backward_without_warnings(name, dtype, data):
    x = _floats(data.draw, dtype, data.draw(hnp.array_shapes(min_dims=3, max_dims=3, max_side=5), label="shape"),
                FORWARD)
    rng = np.random.default_rng(data.draw(SEEDS, label="seed"))
    g = rng.standard_normal(x.shape).astype(dtype)
    with _strict():
        results = STABLE[name](x, g, rng)
    for i, result in enumerate(results):
        assert result.dtype == dtype or result.ndim == 0, f"{name} result {i}: dtype {result.dtype}"
        assert np.all(np.isfinite(result)), f"{name} result {i} is not finite: {result}"
