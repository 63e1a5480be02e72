"""The bad-input matrix (issue #11): every public constructor, forward and backward, every loss, the models,
Sequential and the functional helpers refuse bad input with a ValueError or TypeError — a RuntimeError for backward
before forward — whose message STARTS with the culprit's name and states what it expected.

``CASES`` is one table of (id, category, call, error, regex), generated per layer and per category by the loops below;
every regex is anchored on the culprit's class name at the start of the message and contains the expectation.
``N_CASES`` is the number of cases tried. Composites that are not layers (Sequential, SequenceModel,
TransformerModel, Seq2SeqTransformer) name the sub-layer that received the bad value, as Sequential always has; every
layer, including MultiHeadAttention and the transformer encoder and decoder layers, names itself.

The policy under test: layers with parameters take exactly their parameters' dtype (no silent float32/float64 cast),
finite values and no empty axis; parameter-free layers take float32 or float64 of any shape (empty batches and
non-finite values pass through, as in NumPy). The last tests pin what is deliberately NOT an error.
"""

import re
import tempfile
from collections import Counter
from collections.abc import Callable
from pathlib import Path
from typing import NamedTuple

import numpy as np
import pytest

from nnlib import (
    ELU,
    GRU,
    LSTM,
    RNN,
    SGD,
    Adam,
    AdamW,
    AvgPool2d,
    BatchNorm1d,
    BatchNorm2d,
    BCEWithLogitsLoss,
    Conv2d,
    CrossEntropyLoss,
    Dropout,
    DTypeError,
    EarlyStopping,
    Embedding,
    Flatten,
    InputError,
    LayerNorm,
    LeakyReLU,
    Linear,
    Maxout,
    MaxPool2d,
    MSELoss,
    MultiHeadAttention,
    PositionalEncoding,
    ReLU,
    RMSprop,
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
    accuracy,
    fit,
    init,
    io,
)
from nnlib import functional as F
from nnlib.data import make_moons, make_noisy_sine, make_xor

F32, F64 = np.float32, np.float64
GRAD = r"grad_out \(dL/d output\)"


class Case(NamedTuple):
    id: str
    category: str
    call: Callable
    error: type
    pattern: str


CASES: list[Case] = []


def add(category: str, id_: str, call: Callable, error: type, who: str, expected: str) -> None:
    """A row: ``call()`` raises ``error`` with a message that starts with ``who`` and then matches ``expected``."""
    CASES.append(Case(f"{category}:{id_}", category, call, error, rf"^{re.escape(who)}[(:.].*{expected}"))


def shape_text(shape: tuple) -> str:
    return re.escape(str(tuple(shape)))


def forward(make, *args, **kwargs) -> Callable:
    return lambda: make()(*args, **kwargs)


def backward_after(make, args: tuple, *grad) -> Callable:
    """A fresh layer, one good forward on ``args``, then ``backward(*grad)``."""
    def call():
        layer = make()
        layer(*args)
        return layer.backward(*grad)
    return call


def backward_first(make, *grad) -> Callable:
    return lambda: make().backward(*grad)


def output_of(make, *args):
    out = make()(*args)
    return out[0] if isinstance(out, tuple) else out


def good(shape, dtype=F64) -> np.ndarray:
    return np.random.default_rng(sum(shape) + len(shape)).standard_normal(shape).astype(dtype)


def with_value(x: np.ndarray, value: float) -> np.ndarray:
    x = x.copy()
    x.flat[1] = value
    return x


# --- forward and backward of every layer ---------------------------------------------------------------------------

class Spec(NamedTuple):
    make: Callable                  # dtype -> layer (the dtype is ignored by layers without one)
    shape: tuple                    # a good input shape
    shape_msg: str = ""             # regex of the shape expectation; "" for layers that take any shape
    wrong_shapes: tuple = ()        # wrong ndim, feature/channel size, or an empty axis (N = 0, T = 0, H = 0)
    params: bool = False            # parameters fix the dtype: float32 into a float64 layer is refused
    finite: bool = False            # NaN and ±inf refused
    input_name: str = "input"


def _features(make, f=4):
    return Spec(make, (2, f), rf"input must have shape \(N, {f}\) \(or \(N, \.\.\., {f}\)\) with no empty axis",
                ((f,), (), (2, f + 1), (2, f - 1), (0, f), (2, 0, f)), params=True, finite=True)


def _sequence(make, shape_msg, input_name="input"):
    return Spec(make, (2, 5, 4), shape_msg, ((5, 4), (4,), (1, 2, 5, 4), (2, 5, 3), (2, 5, 5), (0, 5, 4), (2, 0, 4)),
                params=True, finite=True, input_name=input_name)


RECURRENT = r"input must have shape \(N, T, 4\) \(batch, time, features\) with N, T ≥ 1"
POOL = r"input must have shape \(N, [C\d], H, W\) with N, H, W ≥ 1"
LAYERS = {
    "Linear": _features(lambda d: Linear(4, 3, rng=0, dtype=d)),
    "Maxout": _features(lambda d: Maxout(4, 3, pieces=3, rng=0, dtype=d)),
    "LayerNorm": _features(lambda d: LayerNorm(4, dtype=d)),
    "BatchNorm1d": Spec(lambda d: BatchNorm1d(4, dtype=d), (2, 4),
                        r"input must have shape \(N, 4\) or \(N, 4, L\) with no empty axis",
                        ((4,), (), (2, 5), (2, 3), (1, 2, 4, 3), (0, 4), (2, 4, 0)), params=True, finite=True),
    "BatchNorm2d": Spec(lambda d: BatchNorm2d(2, dtype=d), (2, 2, 3, 3),
                        r"input must have shape \(N, 2, H, W\) with no empty axis",
                        ((2, 3, 3), (2, 2), (1, 2, 2, 3, 3), (2, 3, 3, 3), (0, 2, 3, 3), (2, 2, 0, 3)),
                        params=True, finite=True),
    "Conv2d": Spec(lambda d: Conv2d(2, 3, 3, padding=1, rng=0, dtype=d), (2, 2, 5, 5),
                   r"input must have shape \(N, 2, H, W\) with N, H, W ≥ 1",
                   ((2, 5, 5), (1, 2, 2, 5, 5), (5,), (2, 3, 5, 5), (2, 1, 5, 5), (0, 2, 5, 5), (2, 2, 0, 5),
                    (2, 2, 5, 0)), params=True, finite=True),
    "MaxPool2d": Spec(lambda d: MaxPool2d(2), (2, 2, 4, 4), POOL,
                      ((2, 4, 4), (1, 2, 2, 4, 4), (4,), (0, 2, 4, 4), (2, 2, 0, 4), (2, 0, 4, 4)), finite=True),
    "AvgPool2d": Spec(lambda d: AvgPool2d(2, stride=1, padding=1), (2, 2, 4, 4), POOL,
                      ((2, 4, 4), (1, 2, 2, 4, 4), (4,), (0, 2, 4, 4), (2, 2, 4, 0)), finite=True),
    "RNN": _sequence(lambda d: RNN(4, 3, rng=0, dtype=d), RECURRENT),
    "LSTM": _sequence(lambda d: LSTM(4, 3, rng=0, dtype=d), RECURRENT),
    "GRU": _sequence(lambda d: GRU(4, 3, rng=0, dtype=d), RECURRENT),
    "MultiHeadAttention": _sequence(lambda d: MultiHeadAttention(4, 2, rng=0, dtype=d),
                                    r"query must have shape \(N, T, 4\) with T ≥ 1", "query"),
    "TransformerEncoderLayer": _sequence(lambda d: TransformerEncoderLayer(4, 2, 8, dropout=0.0, rng=0, dtype=d),
                                         r"input must have shape \(N, T, 4\) with T ≥ 1"),
    "PositionalEncoding": Spec(lambda d: PositionalEncoding(4, max_len=8, dtype=d), (2, 5, 4),
                               r"input must have shape \(N, (T, )?4\)",
                               ((5, 4), (4,), (1, 2, 5, 4), (2, 5, 3), (0, 5, 4), (2, 0, 4), (2, 9, 4)),
                               params=True, finite=True),
    # parameter-free, any shape: only non-float input is refused
    "Sigmoid": Spec(lambda d: Sigmoid(), (2, 4)),
    "Tanh": Spec(lambda d: Tanh(), (2, 4)),
    "ReLU": Spec(lambda d: ReLU(), (2, 4)),
    "LeakyReLU": Spec(lambda d: LeakyReLU(0.1), (2, 4)),
    "ELU": Spec(lambda d: ELU(0.5), (2, 4)),
    "Softplus": Spec(lambda d: Softplus(), (2, 4)),
    "Softmax": Spec(lambda d: Softmax(), (2, 4), r"axis -1 (is out of range|must have length ≥ 1)", ((), (2, 0))),
    "Dropout": Spec(lambda d: Dropout(0.5, rng=0), (2, 4)),
    "Flatten": Spec(lambda d: Flatten(), (2, 2, 3), r"input must have more than 1 axes", ((3,), ())),
}
PARAMETER_FREE = [name for name, spec in LAYERS.items() if not spec.params]

NOT_FLOAT = {  # id -> (input built from a good input x, error, expectation after "<input name> must be")
    "int64": (lambda x: x.astype(np.int64), DTypeError, r"a floating-point array, got dtype int64 — convert it"),
    "bool": (lambda x: x > 0, DTypeError, r"a floating-point array, got dtype bool — convert it"),
    "object": (lambda x: x.astype(object), DTypeError, r"a floating-point array, got dtype object"),
    "complex": (lambda x: x.astype(complex), DTypeError, r"a floating-point array, got dtype complex128"),
    "float16": (lambda x: x.astype(np.float16), DTypeError, r"a float32 or float64 array, got dtype float16"),
    "strings": (lambda x: np.full(x.shape, "a"), DTypeError, r"a floating-point array, got dtype <U1"),
    "list-of-strings": (lambda x: ["a", "b"], DTypeError, r"a floating-point array, got dtype <U1"),
    "None": (lambda x: None, DTypeError, r"a floating-point array, got None"),
    "ragged": (lambda x: [[1.0, 2.0], [3.0]], InputError, r"a floating-point array, got a ragged list"),
}
NON_FINITE = {"nan": (np.nan, "1 NaN and 0 infinite"), "inf": (np.inf, "0 NaN and 1 infinite"),
              "-inf": (-np.inf, "0 NaN and 1 infinite")}

for name, spec in LAYERS.items():
    make64, make32 = (lambda s=spec: s.make(F64)), (lambda s=spec: s.make(F32))
    x = good(spec.shape)
    who = name
    for bad in spec.wrong_shapes:
        category = "forward-empty" if 0 in bad else "forward-ndim" if len(bad) != len(x.shape) else "forward-size"
        add(category, f"{name}-{bad}", forward(make64, good(bad)), InputError, who,
            spec.shape_msg + ".*" + shape_text(bad))
    for key, (spoil, error, expected) in NOT_FLOAT.items():
        if key in ("int64", "bool") and spec.params:  # the advice names the layer's dtype
            expected = expected.replace("convert it", r"convert it with \.astype\(np\.float64\)")
        add("forward-dtype", f"{name}-{key}", forward(make64, spoil(x)), error, who,
            f"{spec.input_name} must be {expected}")
    if spec.params:
        add("forward-dtype", f"{name}-float32-into-float64", forward(make64, x.astype(F32)), DTypeError, who,
            f"{spec.input_name} has dtype float32 but the layer's parameters are float64; convert it")
        add("forward-dtype", f"{name}-float64-into-float32", forward(make32, x), DTypeError, who,
            f"{spec.input_name} has dtype float64 but the layer's parameters are float32; convert it")
    if spec.finite:
        for key, (value, counts) in NON_FINITE.items():
            add("forward-nonfinite", f"{name}-{key}", forward(make64, with_value(x, value)), InputError, who,
                f"{spec.input_name} contains {counts} values out of {x.size} .*expected finite values only")

    # backward: before forward, then grad_out of the wrong shape or dtype
    y = output_of(make64, x)
    add("backward-early", name, backward_first(make64, y), RuntimeError, who,
        r"backward called before forward, or twice for one forward — run the forward pass first")
    wrong_grads = {"extra-axis": y.shape + (1,), "missing-axis": y.shape[:-1],
                   "batch+1": (y.shape[0] + 1,) + y.shape[1:]}
    for key, shape in wrong_grads.items():
        add("backward-shape", f"{name}-{key}", backward_after(make64, (x,), np.ones(shape)), InputError, who,
            rf"{GRAD} must have shape {shape_text(y.shape)}, got {shape_text(shape)}")
    source = "the layer's parameters are" if spec.params else "the forward output was"
    add("backward-dtype", f"{name}-float32", backward_after(make64, (x,), y.astype(F32)), DTypeError, who,
        rf"{GRAD} has dtype float32 but {source} float64; convert it with \.astype\(np\.float64\)")
    for key in ("int64", "complex", "object", "None", "ragged", "float16"):
        if key == "None" and name in ("RNN", "LSTM", "GRU"):
            continue  # there None is valid: no gradient from the outputs, only from the last state
        spoil, error, expected = NOT_FLOAT[key]
        add("backward-dtype", f"{name}-{key}", backward_after(make64, (x,), spoil(y)), error, who,
            f"{GRAD} must be {expected}")


# --- layer-specific forward cases: kernels, sequences, states, masks, token ids -----------------------------------

def conv(kernel, padding=0):
    return lambda: Conv2d(2, 3, kernel, padding=padding, rng=0, dtype=F64)


KERNEL_TOO_LARGE = [  # (id, layer factory, input shape, kernel text, padded input text)
    ("conv-H", conv(3), (2, 2, 2, 5), "3×3", "2×5"),
    ("conv-W", conv(3), (2, 2, 5, 2), "3×3", "5×2"),
    ("conv-padded", conv(5, 1), (2, 2, 2, 9), "5×5", "4×11"),
    ("conv-rect", conv((2, 4)), (2, 2, 6, 3), "2×4", "6×3"),
    ("maxpool", lambda: MaxPool2d(3), (2, 2, 2, 2), "3×3", "2×2"),
    ("maxpool-W", lambda: MaxPool2d((1, 4)), (2, 2, 5, 3), "1×4", "5×3"),
    ("avgpool-padded", lambda: AvgPool2d(5, padding=1), (2, 2, 2, 2), "5×5", "4×4"),
    ("avgpool-rect", lambda: AvgPool2d((4, 2), padding=(1, 0)), (2, 1, 1, 3), "4×2", "3×3"),
]
for id_, make, shape, kernel, padded in KERNEL_TOO_LARGE:
    add("forward-kernel", id_, forward(make, good(shape)), InputError, type(make()).__name__,
        rf"the kernel \({kernel}\) is larger than the padded input \({padded} from an input of shape "
        + shape_text(shape))


def mha():
    return MultiHeadAttention(4, 2, rng=0, dtype=F64)


Q, KV = good((2, 3, 4)), good((2, 5, 4))
PAD = np.zeros((2, 5), bool)
MHA_CASES = [  # (id, args, kwargs, error, expectation)
    ("key-without-value", (Q, KV), {}, InputError, "give both key and value"),
    ("value-without-key", (Q,), {"value": KV}, InputError, "give both key and value"),
    ("key-value-lengths", (Q, KV, good((2, 4, 4))), {}, InputError, "key and value must have the same length"),
    ("key-batch", (Q, good((3, 5, 4)), good((3, 5, 4))), {}, InputError, r"key must have shape \(2, T, 4\)"),
    ("value-batch", (Q, KV, good((1, 5, 4))), {}, InputError, r"value must have shape \(2, T, 4\)"),
    ("key-features", (Q, good((2, 5, 3)), KV), {}, InputError, r"key must have shape \(2, T, 4\)"),
    ("value-features", (Q, KV, good((2, 5, 6))), {}, InputError, r"value must have shape \(2, T, 4\)"),
    ("key-2d", (Q, KV[0], KV), {}, InputError, r"key must have shape \(2, T, 4\)"),
    ("key-empty-time", (Q, np.ones((2, 0, 4)), np.ones((2, 0, 4))), {}, InputError, r"key must have .* T ≥ 1"),
    ("key-nan", (Q, with_value(KV, np.nan), KV), {}, InputError, "key contains 1 NaN"),
    ("value-inf", (Q, KV, with_value(KV, np.inf)), {}, InputError, "value contains 0 NaN and 1 infinite"),
    ("key-float32", (Q, KV.astype(F32), KV), {}, DTypeError, "key has dtype float32 but the layer's parameters"),
    ("value-int", (Q, KV, KV.astype(int)), {}, DTypeError, "value must be a floating-point array, got dtype int64"),
    ("key-None-value-given", (Q, None, KV), {}, InputError, "give both key and value"),
]
for id_, mask in [("mask-transposed", PAD.T), ("mask-1d", PAD[0]), ("mask-extra-key", np.zeros((2, 6), bool)),
                  ("mask-extra-sample", np.zeros((3, 5), bool)), ("mask-float", PAD.astype(F64)),
                  ("mask-int", PAD.astype(int)), ("mask-3d", PAD[None])]:
    MHA_CASES.append((id_, (Q, KV, KV), {"key_padding_mask": mask}, InputError,
                      r"key_padding_mask must be a boolean array of shape \(2, 5\) \(True = padding\), got dtype"))
MHA_CASES += [
    ("mask-ragged", (Q, KV, KV), {"key_padding_mask": [[False] * 5, [False] * 4]}, InputError,
     "key_padding_mask must be a boolean array, got a ragged list"),
    ("mask-all-padding", (Q, KV, KV), {"key_padding_mask": np.array([[False] * 5, [True] * 5])}, InputError,
     "key_padding_mask marks every key of sample 1 as padding: nothing to attend to"),
    ("self-mask-wrong-length", (KV,), {"key_padding_mask": np.zeros((2, 3), bool)}, InputError,
     r"key_padding_mask must be a boolean array of shape \(2, 5\)"),
]
for id_, args, kwargs, error, expected in MHA_CASES:
    add("forward-sequences", f"MultiHeadAttention-{id_}", forward(mha, *args, **kwargs), error, "MultiHeadAttention",
        expected)
add("backward-shape", "MultiHeadAttention-cross-attention", backward_after(mha, (Q, KV, KV), np.ones((2, 5, 4))),
    InputError, "MultiHeadAttention", rf"{GRAD} must have shape \(2, 3, 4\), got \(2, 5, 4\)")


def encoder_layer():
    return TransformerEncoderLayer(4, 2, 8, dropout=0.0, rng=0, dtype=F64)


for id_, mask in [("mask-transposed", PAD.T), ("mask-float", PAD.astype(F64))]:  # the attention sub-layer checks it
    add("forward-sequences", f"TransformerEncoderLayer-{id_}", forward(encoder_layer, KV, key_padding_mask=mask),
        InputError, "MultiHeadAttention", r"key_padding_mask must be a boolean array of shape \(2, 5\)")


def decoder_layer():
    return TransformerDecoderLayer(4, 2, 8, dropout=0.0, rng=0, dtype=F64)


TGT = good((2, 3, 4))
DECODER_CASES = [  # (id, args, kwargs, error, expectation): the target x, then the memory
    ("target-features", (good((2, 3, 5)), KV), {}, InputError, r"input must have shape \(N, T, 4\) with T ≥ 1"),
    ("target-2d", (TGT[0], KV), {}, InputError, r"input must have shape \(N, T, 4\)"),
    ("target-empty-time", (np.ones((2, 0, 4)), KV), {}, InputError, r"input must have shape \(N, T, 4\) with T ≥ 1"),
    ("target-float32", (TGT.astype(F32), KV), {}, DTypeError, "input has dtype float32 but the layer's parameters"),
    ("memory-missing", (TGT, None), {}, DTypeError, "memory must be a floating-point array, got None"),
    ("memory-batch", (TGT, good((3, 5, 4))), {}, InputError, r"memory must have shape \(2, T, 4\) with T ≥ 1, got"),
    ("memory-features", (TGT, good((2, 5, 3))), {}, InputError, r"memory must have shape \(2, T, 4\)"),
    ("memory-2d", (TGT, KV[0]), {}, InputError, r"memory must have shape \(2, T, 4\)"),
    ("memory-empty-time", (TGT, np.ones((2, 0, 4))), {}, InputError, r"memory must have shape \(2, T, 4\) with T ≥ 1"),
    ("memory-nan", (TGT, with_value(KV, np.nan)), {}, InputError, "memory contains 1 NaN"),
    ("memory-float32", (TGT, KV.astype(F32)), {}, DTypeError, "memory has dtype float32 but the layer's parameters"),
    ("memory-int", (TGT, KV.astype(int)), {}, DTypeError, "memory must be a floating-point array, got dtype int64"),
]
for id_, args, kwargs, error, expected in DECODER_CASES:
    add("forward-sequences", f"TransformerDecoderLayer-{id_}", forward(decoder_layer, *args, **kwargs), error,
        "TransformerDecoderLayer", expected)
for id_, kwargs in [("memory-mask-transposed", {"memory_key_padding_mask": PAD.T}),
                    ("target-mask-float", {"tgt_key_padding_mask": np.zeros((2, 3))})]:  # the attention checks it
    add("forward-sequences", f"TransformerDecoderLayer-{id_}", forward(decoder_layer, TGT, KV, **kwargs), InputError,
        "MultiHeadAttention", r"key_padding_mask must be a boolean array of shape \(2, [35]\)")
add("backward-early", "TransformerDecoderLayer", backward_first(decoder_layer, TGT), RuntimeError,
    "TransformerDecoderLayer", "backward called before forward")
for id_, grad, error, expected in [
    ("memory-shaped", np.ones((2, 5, 4)), InputError, rf"{GRAD} must have shape \(2, 3, 4\), got \(2, 5, 4\)"),
    ("float32", np.ones((2, 3, 4), F32), DTypeError, f"{GRAD} has dtype float32 but the layer's parameters"),
    ("None", None, DTypeError, f"{GRAD} must be a floating-point array, got None"),
]:
    add("backward-shape" if error is InputError else "backward-dtype", f"TransformerDecoderLayer-{id_}",
        backward_after(decoder_layer, (TGT, KV), grad), error, "TransformerDecoderLayer", expected)
add("forward-sequences", "PositionalEncoding-longer-than-max_len",
    forward(lambda: PositionalEncoding(4, 3), KV.astype(F32)), InputError, "PositionalEncoding",
    r"input must have shape \(N, T, 4\) with T ≤ 3, got \(2, 5, 4\)")

X_SEQ = good((2, 5, 4))
H = np.zeros((2, 3))
for name in ("RNN", "GRU"):
    def make(n=name):
        return LAYERS[n].make(F64)
    for bad in [(3, 3), (2, 4), (3,), (1, 2, 3), (0, 3)]:
        add("forward-state", f"{name}-h0-{bad}", forward(make, X_SEQ, np.zeros(bad)), InputError, name,
            rf"h0 must have shape \(2, 3\), got {shape_text(bad)}")
    add("forward-state", f"{name}-h0-float32", forward(make, X_SEQ, H.astype(F32)), DTypeError, name,
        "h0 has dtype float32 but the layer's parameters are float64")
    add("forward-state", f"{name}-h0-int", forward(make, X_SEQ, H.astype(int)), DTypeError, name,
        "h0 must be a floating-point array, got dtype int64")
    add("forward-state", f"{name}-h0-nan", forward(make, X_SEQ, with_value(H, np.nan)), InputError, name,
        "h0 contains 1 NaN")
    add("forward-state", f"{name}-h0-ragged", forward(make, X_SEQ, [[0.0] * 3, [0.0]]), InputError, name,
        "h0 must be a floating-point array, got a ragged list")
    add("backward-state", f"{name}-grad_h_n-shape", backward_after(make, (X_SEQ,), None, np.zeros((2, 4))),
        InputError, name, r"grad_h_n must have shape \(2, 3\), got \(2, 4\)")
    add("backward-state", f"{name}-grad_h_n-float32", backward_after(make, (X_SEQ,), None, H.astype(F32)),
        DTypeError, name, "grad_h_n has dtype float32 but the layer's parameters are float64")


def lstm():
    return LSTM(4, 3, rng=0, dtype=F64)


for id_, state, error, expected in [
    ("not-a-pair", H, InputError, r"state must be a pair \(h, c\) of arrays \(N, 3\), got ndarray"),
    ("triple", (H, H, H), InputError, r"state must be a pair \(h, c\) of arrays \(N, 3\), got tuple"),
    ("single", [H], InputError, r"state must be a pair \(h, c\) of arrays \(N, 3\), got list"),
    ("h0-shape", (np.zeros((2, 4)), H), InputError, r"h0 must have shape \(2, 3\), got \(2, 4\)"),
    ("c0-shape", (H, np.zeros((3, 3))), InputError, r"c0 must have shape \(2, 3\), got \(3, 3\)"),
    ("c0-float32", (H, H.astype(F32)), DTypeError, "c0 has dtype float32 but the layer's parameters are float64"),
    ("c0-inf", (H, with_value(H, np.inf)), InputError, "c0 contains 0 NaN and 1 infinite"),
    ("h0-None-inside-is-fine-but-c0-bad", (None, np.zeros(3)), InputError, r"c0 must have shape \(2, 3\), got \(3,\)"),
]:
    add("forward-state", f"LSTM-{id_}", forward(lstm, X_SEQ, state), error, "LSTM", expected)
for id_, grad_state, expected in [
    ("grad_state-not-a-pair", H, r"grad_state must be a pair \(h, c\)"),
    ("grad_h_n-shape", (np.zeros((2, 4)), None), r"grad_h_n must have shape \(2, 3\), got \(2, 4\)"),
    ("grad_c_n-shape", (None, np.zeros((1, 3))), r"grad_c_n must have shape \(2, 3\), got \(1, 3\)"),
]:
    add("backward-state", f"LSTM-{id_}", backward_after(lstm, (X_SEQ,), None, grad_state), InputError, "LSTM",
        expected)


def embedding():
    return Embedding(5, 2, rng=0, dtype=F64)


IDS = np.array([[0, 1, 4], [2, 3, 3]])
for id_, ids, error, expected in [
    ("float", IDS.astype(F64), DTypeError, r"input must hold integer token ids, got dtype float64 — convert it"),
    ("bool", IDS > 1, DTypeError, r"input must hold integer token ids, got dtype bool — convert it"),
    ("complex", IDS.astype(complex), DTypeError, "input must hold integer token ids, got dtype complex128"),
    ("object", IDS.astype(object), DTypeError, "input must hold integer token ids, got dtype object"),
    ("strings", [["a", "b"]], DTypeError, "input must hold integer token ids, got dtype <U1"),
    ("None", None, DTypeError, "input must be an array of integer token ids, got None"),
    ("ragged", [[1, 2], [3]], InputError, "input must be an array of integer token ids, got a ragged list"),
    ("id-equal-to-vocab", IDS + 1, InputError, r"token ids must be in \[0, 5\), got values in \[1, 5\]"),
    ("negative-id", IDS - 1, InputError, r"token ids must be in \[0, 5\), got values in \[-1, 3\]"),
    ("huge-id", np.array([[2**40]]), InputError, r"token ids must be in \[0, 5\), got values in \[1099511627776, "),
    ("scalar", np.array(3), InputError, r"input must be a non-empty array of ids \(N, \.\.\.\), got shape \(\)"),
    ("empty-batch", np.zeros((0, 3), int), InputError, r"non-empty array of ids \(N, \.\.\.\), got shape \(0, 3\)"),
    ("empty-time", np.zeros((2, 0), int), InputError, r"non-empty array of ids \(N, \.\.\.\), got shape \(2, 0\)"),
]:
    add("forward-ids", f"Embedding-{id_}", forward(embedding, ids), error, "Embedding", expected)
add("backward-early", "Embedding", backward_first(embedding, np.ones((2, 3, 2))), RuntimeError, "Embedding",
    "backward called before forward")
for id_, grad, error, expected in [
    ("extra-axis", np.ones((2, 3, 2, 1)), InputError, rf"{GRAD} must have shape \(2, 3, 2\)"),
    ("wrong-dim", np.ones((2, 3, 3)), InputError, rf"{GRAD} must have shape \(2, 3, 2\), got \(2, 3, 3\)"),
    ("float32", np.ones((2, 3, 2), F32), DTypeError, f"{GRAD} has dtype float32 but the layer's parameters"),
    ("int", np.ones((2, 3, 2), int), DTypeError, f"{GRAD} must be a floating-point array, got dtype int64"),
    ("None", None, DTypeError, f"{GRAD} must be a floating-point array, got None"),
]:
    add("backward-shape" if error is InputError else "backward-dtype", f"Embedding-{id_}",
        backward_after(embedding, (IDS,), grad), error, "Embedding", expected)


def dropout_with_mask(mask):
    def make():
        layer = Dropout(0.5, rng=0)
        layer.fix_mask(mask)
        return layer
    return make


for id_, mask, error, expected in [
    ("values", np.array([0.0, 2.0]), InputError, r"mask must hold only 0 \(drop\) and 1 \(keep\)"),
    ("fraction", np.full(3, 0.5), InputError, r"mask must hold only 0 \(drop\) and 1 \(keep\)"),
    ("strings", ["a"], DTypeError, "mask must be a floating-point array, got dtype <U1"),
    ("ragged", [[1.0], [1.0, 0.0]], InputError, r"mask must be an array of 0 \(drop\) and 1 \(keep\), got a ragged"),
]:
    add("forward-mask", f"Dropout-fix_mask-{id_}", dropout_with_mask(mask), error, "Dropout", expected)
add("forward-mask", "Dropout-fixed-mask-of-another-shape", forward(dropout_with_mask(np.ones(3)), good((2, 4))),
    InputError, "Dropout", r"the fixed mask has shape \(3,\) but the input has shape \(2, 4\)")


# --- constructors -------------------------------------------------------------------------------------------------

CONSTRUCTORS = {  # name -> (class, valid keyword arguments, the size arguments)
    "Linear": (Linear, {"in_features": 4, "out_features": 3}, ["in_features", "out_features"]),
    "Maxout": (Maxout, {"in_features": 4, "out_features": 3}, ["in_features", "out_features", "pieces"]),
    "Conv2d": (Conv2d, {"in_channels": 2, "out_channels": 3, "kernel_size": 3}, ["in_channels", "out_channels"]),
    "MaxPool2d": (MaxPool2d, {"kernel_size": 2}, []),
    "AvgPool2d": (AvgPool2d, {"kernel_size": 2}, []),
    "Flatten": (Flatten, {}, ["start_dim"]),
    "RNN": (RNN, {"input_size": 4, "hidden_size": 3}, ["input_size", "hidden_size"]),
    "LSTM": (LSTM, {"input_size": 4, "hidden_size": 3}, ["input_size", "hidden_size"]),
    "GRU": (GRU, {"input_size": 4, "hidden_size": 3}, ["input_size", "hidden_size"]),
    "Embedding": (Embedding, {"num_embeddings": 5, "embedding_dim": 2}, ["num_embeddings", "embedding_dim"]),
    "LayerNorm": (LayerNorm, {"normalized_shape": 4}, ["normalized_shape"]),
    "BatchNorm1d": (BatchNorm1d, {"num_features": 4}, ["num_features"]),
    "BatchNorm2d": (BatchNorm2d, {"num_features": 4}, ["num_features"]),
    "MultiHeadAttention": (MultiHeadAttention, {"embed_dim": 4, "num_heads": 2}, ["embed_dim", "num_heads"]),
    "PositionalEncoding": (PositionalEncoding, {"d_model": 4}, ["d_model", "max_len"]),
    "TransformerEncoderLayer": (TransformerEncoderLayer, {"d_model": 4, "nhead": 2, "dim_feedforward": 8},
                                ["d_model", "nhead", "dim_feedforward"]),
    "TransformerDecoderLayer": (TransformerDecoderLayer, {"d_model": 4, "nhead": 2, "dim_feedforward": 8},
                                ["d_model", "nhead", "dim_feedforward"]),
    "Seq2SeqTransformer": (Seq2SeqTransformer, {"src_vocab_size": 5, "tgt_vocab_size": 3, "d_model": 4, "nhead": 2,
                                                "num_encoder_layers": 1, "num_decoder_layers": 1,
                                                "dim_feedforward": 8},
                           ["src_vocab_size", "tgt_vocab_size", "d_model", "nhead", "num_encoder_layers",
                            "num_decoder_layers", "dim_feedforward", "max_len"]),
    "TransformerModel": (TransformerModel, {"vocab_size": 5, "n_outputs": 3, "d_model": 4, "nhead": 2,
                                            "num_layers": 1, "dim_feedforward": 8},
                         ["vocab_size", "n_outputs", "d_model", "nhead", "num_layers", "dim_feedforward", "max_len"]),
    "Dropout": (Dropout, {}, []),
    "LeakyReLU": (LeakyReLU, {}, []),
    "ELU": (ELU, {}, []),
    "Softmax": (Softmax, {}, []),
}
WITH_DTYPE = ["Linear", "Maxout", "Conv2d", "RNN", "LSTM", "GRU", "Embedding", "LayerNorm", "BatchNorm1d",
              "BatchNorm2d", "MultiHeadAttention", "PositionalEncoding", "TransformerEncoderLayer",
              "TransformerDecoderLayer", "TransformerModel", "Seq2SeqTransformer"]
WITH_RNG = ["Linear", "Maxout", "Conv2d", "RNN", "LSTM", "GRU", "Embedding", "Dropout", "MultiHeadAttention",
            "TransformerEncoderLayer", "TransformerDecoderLayer", "TransformerModel", "Seq2SeqTransformer"]
BAD_SIZES = [0, -1, -7, 2.5, 3.0, "3", True, None]
BAD_KERNELS = [0, -1, 2.5, "3", True, None, (3, 0), (3, 3, 3), (2.0, 2), []]
BAD_PADDINGS = [-1, 2.5, "1", True, None, (1, -1), (1, 1, 1)]
BAD_DTYPES = [np.int32, np.int64, bool, object, np.complex64, np.float16, "banana"]
BAD_RNGS = [1.5, "3", True, np.random.RandomState(0), [1]]
BAD_PROBABILITIES = [-0.1, 1.0, 1.5, np.nan, np.inf, "0.5", True, None]
BAD_POSITIVE = [0, -1e-5, np.nan, np.inf, "1e-5", True, None]
BAD_REALS = [np.nan, np.inf, -np.inf, "0.1", True, None, 1j]


def build(name: str, **override) -> Callable:
    cls, kwargs, _ = CONSTRUCTORS[name]
    return lambda: cls(**{**kwargs, **override})


def dtype_text(value) -> str:
    """How a refused dtype argument is shown: its NumPy name, or its repr when it names no dtype at all."""
    try:
        return np.dtype(value).name
    except TypeError:
        return re.escape(repr(value))


def label(value) -> str:
    """A test id for ``value`` that is the same in every process (no memory addresses)."""
    text = repr(value)
    return type(value).__name__ if " at 0x" in text else text


def add_argument_cases(name: str, argument: str, values, error, expected: str) -> None:
    """One row per bad value of ``name``'s ``argument``; ``expected`` is completed with ``got <the value>``."""
    for value in values:
        if argument == "dtype":
            got = dtype_text(value)
        else:
            got = type(value).__name__ if error is TypeError else re.escape(repr(value))
        add("constructor", f"{name}-{argument}={label(value)}", build(name, **{argument: value}), error, name,
            rf"{argument + ' ' if argument != 'rng' else ''}{expected}, got {got}")


for name, (_, _, sizes) in CONSTRUCTORS.items():
    for argument in sizes:
        add_argument_cases(name, argument, BAD_SIZES, InputError, "must be a positive integer")
for name in ("Conv2d", "MaxPool2d", "AvgPool2d"):
    add_argument_cases(name, "kernel_size", BAD_KERNELS, InputError,
                       r"must be an int ≥ 1 or a pair of them \(height, width\)")
    stride = [v for v in BAD_KERNELS if v is not None or name == "Conv2d"]  # a pool's stride None means its kernel
    add_argument_cases(name, "stride", stride, InputError, r"must be an int ≥ 1 or a pair of them \(height, width\)")
    add_argument_cases(name, "padding", BAD_PADDINGS, InputError,
                       r"must be an int ≥ 0 or a pair of them \(height, width\)")
for name in WITH_DTYPE:
    add_argument_cases(name, "dtype", BAD_DTYPES, DTypeError, "must be float32 or float64")
for name in WITH_RNG:
    add_argument_cases(name, "rng", BAD_RNGS, TypeError, r"expected None, an int seed or a numpy\.random\.Generator")
for name, argument in [("Dropout", "p"), ("TransformerEncoderLayer", "dropout"), ("TransformerDecoderLayer", "dropout"),
                       ("TransformerModel", "dropout"), ("Seq2SeqTransformer", "dropout")]:
    add_argument_cases(name, argument, BAD_PROBABILITIES, InputError, r"must be a probability in \[0, 1\)")
for name, argument in [("LayerNorm", "eps"), ("TransformerEncoderLayer", "layer_norm_eps"), ("BatchNorm1d", "eps"),
                       ("BatchNorm2d", "eps"), ("TransformerDecoderLayer", "layer_norm_eps")]:
    add_argument_cases(name, argument, BAD_POSITIVE, InputError, "must be a number > 0")
for name in ("BatchNorm1d", "BatchNorm2d"):
    add_argument_cases(name, "momentum", [-0.1, 1.5, np.nan, np.inf, "0.1", True, None], InputError,
                       r"must be a number in \[0, 1\]")
    add_argument_cases(name, "affine", ["yes", 1, None], InputError, "must be True or False")
for name, shape in [("BatchNorm1d", (1, 4)), ("BatchNorm2d", (1, 4, 1, 1))]:
    add("forward-size", f"{name}-one-value-per-channel-in-training", forward(build(name, dtype=F64), good(shape)),
        InputError, name, r"training needs more than one value per channel .*use a larger batch, or model\.eval\(\)")
for name in ("Linear", "Conv2d", "RNN", "LSTM", "GRU"):
    for value in ["glorot", "Xavier_uniform", 3, ""]:
        add("constructor", f"{name}-init={value!r}", build(name, init=value), InputError, name,
            rf"init must be one of \['kaiming_normal', .*'zeros'\] or a function \(weight, \*, rng\) -> array, "
            rf"got {re.escape(repr(value))}")
    add("constructor", f"{name}-init-returns-a-wrong-shape", build(name, init=lambda w, rng: np.zeros(3)),
        InputError, name, r"init returned shape \(3,\) for a weight of shape \(\d+, \d+.*expected the weight's own")
    add("constructor", f"{name}-init-returns-nan", build(name, init=lambda w, rng: np.full(w.shape, np.nan)),
        InputError, name, "init must return finite floating-point values")
for scheme in ("xavier_uniform", "xavier_normal", "kaiming_uniform", "kaiming_normal"):
    for shape in [(5,), ()]:
        add("init", f"{scheme}-shape-{shape}", lambda f=init.SCHEMES[scheme], s=shape: f(s), InputError, scheme,
            rf"fans need a weight of at least 2 dimensions .*got shape {shape_text(shape)}; a bias takes zeros")
    add("init", f"{scheme}-a-list", lambda f=init.SCHEMES[scheme]: f([3, 4]), InputError, scheme,
        "weight must be an array, a Parameter or a shape tuple of ints ≥ 0, got list")
    add("init", f"{scheme}-int-dtype", lambda f=init.SCHEMES[scheme]: f((3, 4), dtype=np.int64), DTypeError, scheme,
        "dtype must be float32 or float64")
for scheme in ("xavier_uniform", "xavier_normal", "orthogonal"):
    for value in [0, -1.0, np.nan, "1"]:
        add("init", f"{scheme}-gain={label(value)}", lambda f=init.SCHEMES[scheme], v=value: f((3, 4), gain=v),
            InputError, scheme, rf"gain must be a number > 0, got {re.escape(repr(value))}")
for scheme in ("kaiming_uniform", "kaiming_normal"):
    add("init", f"{scheme}-mode", lambda f=init.SCHEMES[scheme]: f((3, 4), mode="in"), InputError, scheme,
        r"mode must be 'fan_in' \(keeps the forward variance\) or 'fan_out' \(the backward's\), got 'in'")
    add("init", f"{scheme}-nonlinearity", lambda f=init.SCHEMES[scheme]: f((3, 4), nonlinearity="swish"), InputError,
        "calculate_gain", r"nonlinearity must be one of \[.*'tanh'\], got 'swish'")
    add("init", f"{scheme}-empty-fan", lambda f=init.SCHEMES[scheme]: f((0, 4)), InputError, scheme,
        r"weight of shape \(0, 4\) has fan_in 0")
add("init", "orthogonal-1-D", lambda: init.orthogonal((4,)), InputError, "orthogonal",
    r"weight must have at least 2 non-empty dimensions, got shape \(4,\)")
for name, argument in [("LeakyReLU", "negative_slope"), ("ELU", "alpha")]:
    add_argument_cases(name, argument, BAD_REALS, InputError, "must be a finite real number")
add_argument_cases("Softmax", "axis", [1.0, "1", True, None], InputError, "must be an int")
for value in ["sigmoid", "TANH", None, 1]:
    add("constructor", f"RNN-nonlinearity={value!r}", lambda v=value: RNN(4, 3, nonlinearity=v), InputError, "RNN",
        rf"nonlinearity must be 'tanh' or 'relu', got {re.escape(repr(value))}")
for name, kernel, padding in [("MaxPool2d", 2, 2), ("AvgPool2d", 3, 2), ("MaxPool2d", (4, 2), (1, 2))]:
    k, p = (kernel,) * 2 if isinstance(kernel, int) else kernel, (padding,) * 2 if isinstance(padding, int) else padding
    add("constructor", f"{name}-padding-over-half-kernel-{k}-{p}", build(name, kernel_size=kernel, padding=padding),
        InputError, name, rf"padding {shape_text(p)} must be at most half the kernel size {shape_text(k)}")
for e, h in [(6, 4), (4, 3), (5, 2)]:
    add("constructor", f"MultiHeadAttention-{h}-heads-for-{e}", build("MultiHeadAttention", embed_dim=e, num_heads=h),
        InputError, "MultiHeadAttention", rf"num_heads \({h}\) must divide embed_dim \({e}\)")
    for name in ("TransformerEncoderLayer", "TransformerDecoderLayer", "TransformerModel", "Seq2SeqTransformer"):
        add("constructor", f"{name}-{h}-heads-for-{e}", build(name, d_model=e, nhead=h), InputError, name,
            rf"nhead \({h}\) must divide d_model \({e}\)")
for cls in (MSELoss, CrossEntropyLoss, BCEWithLogitsLoss):
    for value in ["none", "Mean", None, 1]:
        add("constructor", f"{cls.__name__}-reduction={value!r}", lambda c=cls, v=value: c(reduction=v), InputError,
            cls.__name__, rf"reduction must be 'mean' or 'sum', got {re.escape(repr(value))}")

NOT_MODULES = ["relu", None, np.tanh, Linear, 3, [Linear(2, 2)]]
for item in NOT_MODULES:
    kind = type(item).__name__
    add("sequential", f"argument-{kind}", lambda i=item: Sequential(Linear(2, 2), i), InputError, "Sequential",
        f"argument 1 must be a Module, got {kind}")
    add("sequential", f"append-{kind}", lambda i=item: Sequential().append(i), InputError, "Sequential",
        f"append: expected a Module, got {kind}")
    add("sequential", f"setitem-{kind}", lambda i=item: Sequential(ReLU()).__setitem__(0, i), InputError,
        "Sequential", f"item 0 must be a Module, got {kind}")
add("sequential", "forward-names-the-first-layer", forward(lambda: Sequential(Linear(4, 3, dtype=F64), ReLU()),
                                                            good((2, 5))), InputError, "Linear",
    r"input must have shape \(N, 4\)")
add("sequential", "backward-names-the-last-layer", backward_after(lambda: Sequential(Linear(4, 3, dtype=F64), Tanh()),
                                                                   (good((2, 4)),), np.ones((2, 4))),
    InputError, "Tanh", rf"{GRAD} must have shape \(2, 3\)")


# --- losses -------------------------------------------------------------------------------------------------------

LOSSES = {  # name -> (factory, pred, target)
    "MSELoss": (MSELoss, good((4, 3)), good((4, 3))),
    "SquaredError": (SquaredError, good((4, 3)), good((4, 3))),
    "BCEWithLogitsLoss": (BCEWithLogitsLoss, good((4, 3)), np.full((4, 3), 0.25)),
    "CrossEntropyLoss": (CrossEntropyLoss, good((4, 3)), np.array([0, 2, 1, 2])),
}
PRED = r"pred \(the model output\)"
for name, (make, pred, target) in LOSSES.items():
    def loss_call(p, t, make=make):
        return lambda: make()(p, t)
    for key, (spoil, error, expected) in NOT_FLOAT.items():
        add("loss-pred", f"{name}-{key}", loss_call(spoil(pred), target), error, name, f"{PRED} must be {expected}")
    for key, (value, counts) in NON_FINITE.items():
        add("loss-pred", f"{name}-{key}", loss_call(with_value(pred, value), target), InputError, name,
            f"{PRED} contains {counts} values out of 12 .*expected finite values only")
    add("loss-pred", f"{name}-empty-batch", loss_call(pred[:0], target[:0]), InputError, name,
        rf"{PRED} must hold at least one item, got shape \(0, 3\)")
    add("loss-backward", f"{name}-early", backward_first(make), RuntimeError, name,
        "backward called before forward")
    for value in [np.ones(2), [1.0], "1", None, 1j, True]:
        add("loss-backward", f"{name}-grad_out={value!r}", backward_after(make, (pred, target), value), InputError,
            name, "grad_out must be a real scalar")
    if name == "CrossEntropyLoss":
        continue
    for bad in [(3, 4), (4, 3, 1), (4,), (12,), (4, 1), (1, 3)]:
        add("loss-target", f"{name}-shape-{bad}", loss_call(pred, np.zeros(bad)), InputError, name,
            rf"target must have the prediction's shape \(4, 3\), got {shape_text(bad)} \(no broadcasting")
    for key in ("complex", "object", "strings", "None", "ragged"):
        spoil, error, _ = NOT_FLOAT[key]
        got = {"complex": "dtype complex128", "object": "dtype object", "strings": r"dtype <U1", "None": "None",
               "ragged": "a ragged list"}[key]
        add("loss-target", f"{name}-{key}", loss_call(pred, spoil(target)), error, name,
            f"target must be a real-valued array, got {got}")
    for key, (value, counts) in NON_FINITE.items():
        add("loss-target", f"{name}-{key}", loss_call(pred, with_value(target, value)), InputError, name,
            f"target contains {counts} values")
for id_, target, low, high in [("negative", -0.5, r"-0\.5", "0.25"), ("above-one", 1.5, "0.25", r"1\.5"),
                               ("int-two", 2, "0", "2")]:
    t = np.full((4, 3), 0.25) if id_ != "int-two" else np.zeros((4, 3), int)
    t.flat[1] = target
    add("loss-target", f"BCEWithLogitsLoss-{id_}", lambda t=t: BCEWithLogitsLoss()(good((4, 3)), t), InputError,
        "BCEWithLogitsLoss", rf"targets must be probabilities in \[0, 1\], got values in \[{low}, {high}\]")
LOGITS = good((4, 3))
for id_, labels, error, expected in [
    ("label-equal-to-classes", np.array([0, 3, 1, 2]), InputError, r"class labels must be in \[0, 3\), got values in"),
    ("negative-label", np.array([0, -1, 1, 2]), InputError, r"class labels must be in \[0, 3\), got values in \[-1,"),
    ("huge-label", np.array([0, 2**40, 1, 2]), InputError, r"class labels must be in \[0, 3\)"),
    ("float-labels", np.array([0.0, 1.0, 2.0, 1.0]), DTypeError,
     r"target must hold integer class labels, got dtype float64 — convert it with \.astype\(np\.int64\)"),
    ("bool-labels", np.array([True, False, True, True]), DTypeError, "integer class labels, got dtype bool"),
    ("complex-labels", np.zeros(4, complex), DTypeError, "integer class labels, got dtype complex128"),
    ("object-labels", np.zeros(4, object), DTypeError, "integer class labels, got dtype object"),
    ("string-labels", ["a", "b", "c", "d"], DTypeError, "integer class labels, got dtype <U1"),
    ("None", None, DTypeError, "target must be an array of integer class labels, got None"),
    ("ragged", [[0], [1, 2]], InputError, "target must be an array of integer class labels, got a ragged list"),
    ("one-hot", np.eye(3, dtype=int)[[0, 2, 1, 2]], InputError,
     r"target must have shape \(4,\) \(the logits' shape without the class axis\), got \(4, 3\)"),
    ("column", np.zeros((4, 1), int), InputError, r"target must have shape \(4,\) .*got \(4, 1\)"),
    ("short", np.zeros(3, int), InputError, r"target must have shape \(4,\) .*got \(3,\)"),
    ("scalar", np.array(1), InputError, r"target must have shape \(4,\) .*got \(\)"),
]:
    add("loss-target", f"CrossEntropyLoss-{id_}", lambda t=labels: CrossEntropyLoss()(LOGITS, t), error,
        "CrossEntropyLoss", expected)
for shape in [(3,), ()]:
    add("loss-pred", f"CrossEntropyLoss-logits-{shape}", lambda s=shape: CrossEntropyLoss()(np.zeros(s), np.array(0)),
        InputError, "CrossEntropyLoss", r"logits must have shape \(N, C\) or \(N, \.\.\., C\), got "
        + shape_text(shape))


# --- models: the sub-layer that received the bad value is named ---------------------------------------------------

def token_model():
    return SequenceModel(GRU(3, 4, rng=0, dtype=F64), Linear(4, 2, rng=1, dtype=F64), Embedding(7, 3, rng=2, dtype=F64))


def float_model(head=None):
    return lambda: SequenceModel(LSTM(3, 4, rng=0, dtype=F64), head or Linear(4, 2, rng=1, dtype=F64), last_step=True)


def transformer():
    return TransformerModel(7, 3, d_model=4, nhead=2, num_layers=1, dim_feedforward=8, max_len=6, rng=0, dtype=F64)


TOKENS = np.array([[1, 2, 3, 4, 5], [6, 5, 4, 3, 2]])
X_MODEL = good((2, 5, 3))
TOKEN_CASES = [  # (id, ids, culprit, error, expectation); both token models
    ("float-ids", TOKENS.astype(F64), "Embedding", DTypeError, "input must hold integer token ids, got dtype float64"),
    ("id-equal-to-vocab", TOKENS + 2, "Embedding", InputError, r"token ids must be in \[0, 7\), got values in \[3, 8"),
    ("negative-id", TOKENS - 2, "Embedding", InputError, r"token ids must be in \[0, 7\), got values in \[-1, 4\]"),
    ("None", None, "Embedding", DTypeError, "input must be an array of integer token ids, got None"),
    ("strings", [["a"]], "Embedding", DTypeError, "input must hold integer token ids, got dtype <U1"),
    ("empty-batch", TOKENS[:0], "Embedding", InputError, r"non-empty array of ids \(N, \.\.\.\), got shape \(0, 5\)"),
    ("empty-time", TOKENS[:, :0], "Embedding", InputError, r"non-empty array of ids \(N, \.\.\.\), got shape \(2, 0\)"),
]
for id_, ids, culprit, error, expected in TOKEN_CASES:
    add("models", f"SequenceModel-{id_}", forward(token_model, ids), error, culprit, expected)
    add("models", f"TransformerModel-{id_}", forward(transformer, ids), error, culprit, expected)
MODEL_CASES = [  # (id, call, culprit, error, expectation)
    ("SequenceModel-1d-ids", forward(token_model, TOKENS[0]), "GRU", InputError,
     r"input must have shape \(N, T, 3\) .*got \(5, 3\) — add the batch axis with x\[None\]"),
    ("SequenceModel-h0-batch", forward(token_model, TOKENS, np.zeros((3, 4))), "GRU", InputError,
     r"h0 must have shape \(2, 4\), got \(3, 4\)"),
    ("SequenceModel-h0-float32", forward(token_model, TOKENS, np.zeros((2, 4), F32)), "GRU", DTypeError,
     "h0 has dtype float32 but the layer's parameters are float64"),
    ("SequenceModel-int-sequence", forward(float_model(), X_MODEL.astype(int)), "LSTM", DTypeError,
     "input must be a floating-point array, got dtype int64"),
    ("SequenceModel-features", forward(float_model(), good((2, 5, 4))), "LSTM", InputError,
     r"input must have shape \(N, T, 3\)"),
    ("SequenceModel-state-not-a-pair", forward(float_model(), X_MODEL, np.zeros((2, 4))), "LSTM", InputError,
     r"state must be a pair \(h, c\)"),
    ("SequenceModel-head-size", forward(float_model(Linear(5, 2, dtype=F64)), X_MODEL), "Linear", InputError,
     r"input must have shape \(N, 5\)"),
    ("SequenceModel-head-dtype", forward(float_model(Linear(4, 2)), X_MODEL), "Linear", DTypeError,
     "input has dtype float64 but the layer's parameters are float32"),
    ("SequenceModel-backward-early", backward_first(token_model, np.ones((2, 5, 2))), "SequenceModel", RuntimeError,
     "backward called before forward"),
    ("SequenceModel-grad-shape", backward_after(token_model, (TOKENS,), np.ones((2, 5, 3))), "Linear", InputError,
     rf"{GRAD} must have shape \(2, 5, 2\), got \(2, 5, 3\)"),
    ("SequenceModel-last-step-grad-shape", backward_after(float_model(), (X_MODEL,), np.ones((2, 5, 2))), "Linear",
     InputError, rf"{GRAD} must have shape \(2, 2\), got \(2, 5, 2\)"),
    ("TransformerModel-longer-than-max_len", forward(transformer, np.ones((2, 7), int)), "PositionalEncoding",
     InputError, r"input must have shape \(N, T, 4\) with T ≤ 6, got \(2, 7, 4\)"),
    ("TransformerModel-1d-ids", forward(transformer, TOKENS[0]), "PositionalEncoding", InputError,
     r"input must have shape \(N, T, 4\) with T ≤ 6, got \(5, 4\)"),
    ("TransformerModel-backward-early", backward_first(transformer, np.ones((2, 5, 3))), "TransformerModel",
     RuntimeError, "backward called before forward"),
    ("TransformerModel-grad-shape", backward_after(transformer, (TOKENS,), np.ones((2, 5, 4))), "Linear", InputError,
     rf"{GRAD} must have shape \(2, 5, 3\), got \(2, 5, 4\)"),
    ("TransformerModel-grad-float32", backward_after(transformer, (TOKENS,), np.ones((2, 5, 3), F32)), "Linear",
     DTypeError, f"{GRAD} has dtype float32 but the layer's parameters are float64"),
]
for id_, call, culprit, error, expected in MODEL_CASES:
    add("models", id_, call, error, culprit, expected)


def seq2seq():
    return Seq2SeqTransformer(7, 6, d_model=4, nhead=2, num_encoder_layers=1, num_decoder_layers=1, dim_feedforward=8,
                              max_len=6, rng=0, dtype=F64)


TGT_IN = np.array([[0, 2, 3], [0, 5, 1]])
for id_, ids, culprit, error, expected in TOKEN_CASES:  # None is not (N, S): the model itself refuses it, below
    if ids is not None:
        add("models", f"Seq2SeqTransformer-src-{id_}", forward(seq2seq, ids, TGT_IN[:len(ids)]), error, culprit,
            expected)
for id_, call, culprit, error, expected in [
    ("tgt_in-id-equal-to-vocab", forward(seq2seq, TOKENS, TGT_IN + 1), "Embedding", InputError,
     r"token ids must be in \[0, 6\), got values in \[1, 6\]"),
    ("tgt_in-float", forward(seq2seq, TOKENS, TGT_IN.astype(F64)), "Embedding", DTypeError,
     "input must hold integer token ids, got dtype float64"),
    ("batches", forward(seq2seq, TOKENS, TGT_IN[:1]), "Seq2SeqTransformer", InputError,
     r"src and tgt_in must be id arrays \(N, S\) and \(N, T\) with the same N, got shapes \(2, 5\) and \(1, 3\)"),
    ("src-None", forward(seq2seq, None, TGT_IN), "Seq2SeqTransformer", InputError,
     r"src and tgt_in must be id arrays .* got shapes \(\) and \(2, 3\)"),
    ("1d-src", forward(seq2seq, TOKENS[0], TGT_IN), "Seq2SeqTransformer", InputError,
     r"src and tgt_in must be id arrays .* got shapes \(5,\) and \(2, 3\)"),
    ("src-longer-than-max_len", forward(seq2seq, np.ones((2, 7), int), TGT_IN), "PositionalEncoding", InputError,
     r"input must have shape \(N, T, 4\) with T ≤ 6, got \(2, 7, 4\)"),
    ("backward-early", backward_first(seq2seq, np.ones((2, 3, 6))), "Seq2SeqTransformer", RuntimeError,
     "backward called before forward"),
    ("grad-shape", backward_after(seq2seq, (TOKENS, TGT_IN), np.ones((2, 5, 6))), "Linear", InputError,
     rf"{GRAD} must have shape \(2, 3, 6\), got \(2, 5, 6\)"),
    ("generate-bos", lambda: seq2seq().generate(TOKENS, 4, bos=6, eos=1), "Seq2SeqTransformer", InputError,
     r"bos must be a token id, an int in \[0, 6\), got 6"),
    ("generate-eos-float", lambda: seq2seq().generate(TOKENS, 4, bos=0, eos=1.0), "Seq2SeqTransformer", InputError,
     r"eos must be a token id, an int in \[0, 6\), got 1\.0"),
    ("generate-beam", lambda: seq2seq().generate(TOKENS, 4, bos=0, eos=1, beam=0), "Seq2SeqTransformer", InputError,
     "beam must be a positive integer, got 0"),
    ("generate-max_len", lambda: seq2seq().generate(TOKENS, 2.5, bos=0, eos=1), "Seq2SeqTransformer", InputError,
     "max_len must be a positive integer, got 2.5"),
    ("src_pad_id", lambda: Seq2SeqTransformer(7, 6, src_pad_id=-1), "Seq2SeqTransformer", InputError,
     r"src_pad_id must be a token id, an int in \[0, 7\), got -1"),
]:
    add("models", f"Seq2SeqTransformer-{id_}", call, error, culprit, expected)
for id_, kwargs, expected in [
    ("recurrent-Linear", {"recurrent": Linear(3, 4)}, "recurrent must be an nnlib RNN, LSTM or GRU, got Linear"),
    ("recurrent-class", {"recurrent": LSTM}, "recurrent must be an nnlib RNN, LSTM or GRU, got type"),
    ("recurrent-None", {"recurrent": None}, "recurrent must be an nnlib RNN, LSTM or GRU, got NoneType"),
    ("head-None", {"head": None}, "head must be an nnlib Module and embedding an Embedding or None"),
    ("head-function", {"head": np.tanh}, "head must be an nnlib Module"),
    ("head-class", {"head": Linear}, "head must be an nnlib Module"),
    ("embedding-Linear", {"embedding": Linear(2, 3)}, "embedding an Embedding or None"),
    ("embedding-string", {"embedding": "embedding"}, "embedding an Embedding or None"),
]:
    def make_model(kwargs=kwargs):
        return SequenceModel(**{"recurrent": GRU(3, 4), "head": Linear(4, 2), **kwargs})
    add("constructor", f"SequenceModel-{id_}", make_model, InputError, "SequenceModel", expected)


# --- functional helpers ---------------------------------------------------------------------------------------------

ELEMENTWISE = [F.sigmoid, F.sigmoid_prime, F.tanh, F.tanh_prime, F.relu, F.relu_prime, F.leaky_relu,
               F.leaky_relu_prime, F.elu, F.elu_prime, F.softplus, F.softplus_prime, F.softmax, F.log_softmax,
               F.logsumexp]
for fn in ELEMENTWISE:
    for id_, x, error, expected in [
        ("None", None, DTypeError, "x must be a real-valued array, got None"),
        ("strings", ["a", "b"], DTypeError, "expected a real-valued array, got dtype <U1"),
        ("object", np.ones(2, object), DTypeError, "expected a real-valued array, got dtype object"),
        ("ragged", [[1.0], [1.0, 2.0]], InputError, "x must be a real-valued array, got a ragged list"),
    ]:
        add("functional", f"{fn.__name__}-{id_}", lambda f=fn, x=x: f(x), error, fn.__name__, expected)
for fn in (F.softmax, F.log_softmax, F.logsumexp):
    for shape, axis in [((3, 0), -1), ((0, 3), 0), ((0,), 0)]:
        add("functional", f"{fn.__name__}-empty-axis-{shape}-{axis}", lambda f=fn, s=shape, a=axis: f(np.zeros(s), a),
            InputError, fn.__name__, rf"axis {axis} must have length ≥ 1, got an input with shape {shape_text(shape)}")
add("functional", "softmax_backward-shapes", lambda: F.softmax_backward(np.ones((2, 3)), np.ones((3, 2))),
    InputError, "softmax_backward", r"grad_out must have the softmax output's shape \(2, 3\), got \(3, 2\)")


# --- careless notebook use (issue 22): notebook state, wrong meaning, sizes, paths ---------------------------------

def twice(make, x, grad) -> Callable:
    """A forward, its backward, then the same backward again (a re-run cell)."""
    def call():
        layer = make()
        layer(x)
        layer.backward(grad)
        layer.backward(grad)
    return call


def two_forwards(make, x1, x2, grad) -> Callable:
    def call():
        model = make()
        model(x1)
        model(x2)
        model.backward(grad)
    return call


def mlp64():
    return Sequential(Linear(4, 3, dtype=F64), Tanh())


add("state", "backward-twice-Linear", twice(lambda: Linear(4, 3, dtype=F64), good((2, 4)), np.ones((2, 3))),
    RuntimeError, "Linear", "backward called before forward, or twice for one forward")
add("state", "backward-twice-Sequential", twice(mlp64, good((2, 4)), np.ones((2, 3))), RuntimeError, "Sequential",
    "backward called before forward, or twice for one forward")
add("state", "two-forwards-same-shape", two_forwards(mlp64, good((2, 4)), good((2, 4)) + 1, np.ones((2, 3))),
    RuntimeError, "Sequential", r"2 forwards on different inputs .* could belong to either")
for flag in ("no", 0, None, "False"):
    add("state", f"train({flag!r})", lambda f=flag: mlp64().train(f), InputError, "Sequential",
        rf"train: mode must be True or False, got {re.escape(repr(flag))}")
for seed in (-1, -(2**40)):
    for name in ("Linear", "Dropout", "RNN"):
        add("constructor", f"{name}-rng={seed}", build(name, rng=seed), InputError, name,
            rf"a seed must be an int ≥ 0, got {seed}")
add("size", "Linear-1e5x1e5", lambda: Linear(10**5, 10**5), InputError, "Linear",
    r"the weight of shape \(100000, 100000\) would need [\d,.]+ GiB, more than this machine's")
for fn, args in [(make_xor, (10**12,)), (make_moons, (10**12,)), (make_noisy_sine, (10**9, 1000))]:
    add("size", f"{fn.__name__}-huge", lambda f=fn, a=args: f(*a), InputError, fn.__name__,
        r"the data set of shape .* would need [\d,.]+ GiB")
add("meaning", "accuracy-one-hot", lambda: accuracy(np.eye(3)[[0, 2, 1]] * 2, np.eye(3)[[1, 2, 0]]), InputError,
    "accuracy", r"looks like one-hot rows.*y.argmax\(axis=-1\)")
add("meaning", "MSELoss-target-beyond-float32", lambda: MSELoss()(np.zeros(2, F32), np.array([1e39, 0.0])),
    InputError, "MSELoss",
    r"target holds values beyond the range of pred's dtype float32 \(largest \|target\| = 1e\+39")
for make, what in [(lambda: Conv2d(10**5, 10**5, 3), "Conv2d"), (lambda: LSTM(10**5, 10**5), "LSTM"),
                   (lambda: Maxout(10**5, 10**5, 4), "Maxout"), (lambda: Embedding(10**10, 8), "Embedding"),
                   (lambda: PositionalEncoding(64, 10**9), "PositionalEncoding")]:
    add("size", f"{what}-huge", make, InputError, what, r"of shape .* would need [\d,.]+ GiB, more than this machine's")
for flag in ("no", 1, None):
    add("meaning", f"MultiHeadAttention-causal={flag!r}", lambda f=flag: mha()(good((2, 3, 4)), causal=f), InputError,
        "MultiHeadAttention", rf"causal must be True or False, got {re.escape(repr(flag))}")
    add("meaning", f"TransformerModel-causal={flag!r}", lambda f=flag: TransformerModel(5, 3, 4, 2, causal=f),
        InputError, "TransformerModel", rf"causal must be True or False, got {re.escape(repr(flag))}")
for cls in (Adam, AdamW, RMSprop):
    add("meaning", f"{cls.__name__}-eps=0", lambda c=cls: c(Linear(2, 2).parameters(), eps=0), InputError,
        cls.__name__, r"eps must be a number > 0 \(with eps = 0 a weight whose gradient is 0 becomes 0/0 = NaN\)")


def set_lr(cls, value) -> Callable:
    def call():
        opt = cls(Linear(2, 2).parameters(), lr=0.1)
        opt.lr = value
    return call


def step_with_grad_of_shape(cls, shape) -> Callable:
    def call():
        layer = Linear(3, 2)
        opt = cls(layer.parameters(), lr=0.1)
        layer.weight.grad = np.ones(shape, F32)  # replaced, not written into
        opt.step()
    return call


for cls in (SGD, Adam, RMSprop):
    for value in (-0.1, 0, np.nan, "0.1"):
        add("meaning", f"{cls.__name__}-lr-set-to-{label(value)}", set_lr(cls, value), InputError, cls.__name__,
            rf"lr must be a number > 0, got {re.escape(repr(value))}")
    for shape in [(3,), (1, 2), (2, 3)]:
        add("meaning", f"{cls.__name__}-grad-of-shape-{shape}", step_with_grad_of_shape(cls, shape), InputError,
            cls.__name__, rf"params\[0\] \(weight\) has a gradient of shape {shape_text(shape)} but the parameter "
            r"has shape \(3, 2\); write into it")
for cls in (RNN, LSTM, GRU):
    for option, value, advice in [("batch_first", True, "always batch-first: x is \\(N, T, features\\)"),
                                  ("num_layers", 2, "have one layer"), ("bidirectional", True, "forward in time"),
                                  ("nonsense", 1, "see the layer's docstring")]:
        add("constructor", f"{cls.__name__}-{option}", lambda c=cls, o=option, v=value: c(3, 4, **{o: v}), InputError,
            cls.__name__, rf"unexpected argument {option}={value}: .*{advice}")


def save_into(folder: str) -> Callable:
    return lambda: io.save(Linear(2, 2), Path(tempfile.gettempdir()) / folder / "model.npz")


add("path", "save-missing-folder", save_into("no-such-folder-3f9c"), FileNotFoundError, "save",
    "does not exist; create it first")
add("path", "save-to-a-folder", lambda: io.save(Linear(2, 2), tempfile.gettempdir()), InputError, "save",
    "is a folder; give a file name")
add("path", "load-a-folder", lambda: io.load(Linear(2, 2), tempfile.gettempdir()), InputError, "load",
    "is a folder; give the checkpoint file inside it")
for bad in (None, 3, ["m.npz"]):
    add("path", f"load-{label(bad)}", lambda b=bad: io.load(Linear(2, 2), b), InputError, "load",
        rf"path must be a file name \(str or pathlib.Path\), got {type(bad).__name__}")


def fit_with(**change) -> Callable:
    def call():
        X, y = make_xor()
        model = Sequential(Linear(2, 2))
        args = {"model": model, "loss": CrossEntropyLoss(), "optimizer": SGD(model.parameters(), lr=0.1), "X": X,
                "y": y, "epochs": 1}
        fit(**{**args, **{k: v() if callable(v) else v for k, v in change.items()}})
    return call


add("fit", "optimizer-of-another-model", fit_with(optimizer=lambda: SGD(Linear(2, 2).parameters(), lr=0.1)),
    InputError, "fit", "the optimizer updates parameters that are not this model's")
add("fit", "nan-in-X", fit_with(X=np.array([[0, 0], [0, 1], [np.nan, 0], [1, 1]], F32)), InputError, "fit",
    r"X\[2\] holds NaN or inf \(sample 2 of the array you passed\)")
add("fit", "label-out-of-range", fit_with(y=np.array([0, 1, 1, 7])), InputError, "fit",
    r"y\[3\] = 7 is not a class label of this model: its output has 2 classes")
add("fit", "one-hot-labels", fit_with(y=np.eye(2)[[0, 1, 1, 0]]), InputError, "fit",
    r"y must hold integer class labels .*one-hot rows\?")
add("fit", "early-stopping-without-validation", fit_with(early_stopping=3), InputError, "fit",
    r"early_stopping watches the validation loss, but no validation data was given; pass validation=")
for value in ["3", 2.5, True, {"patience": 3}]:
    add("fit", f"early_stopping={label(value)}", fit_with(early_stopping=value), InputError, "fit",
        rf"early_stopping must be an EarlyStopping \(e\.g\. EarlyStopping\(patience=5\)\), a patience .*got "
        rf"{re.escape(repr(value))}")
for argument, value, expected in [("patience", 0, "must be a positive integer"), ("patience", 1.5, "must be a posi"),
                                  ("min_delta", -0.1, "must be a number ≥ 0"), ("min_delta", np.nan, "must be a num"),
                                  ("restore_best", "yes", "must be True or False")]:
    add("fit", f"EarlyStopping-{argument}={label(value)}", lambda a=argument, v=value: EarlyStopping(**{a: v}),
        InputError, "EarlyStopping", f"{argument} {expected}")
add("fit", "X_val-other-features", fit_with(validation=(np.zeros((3, 5), F32), np.zeros(3, int))), InputError, "fit",
    r"X_val has samples of shape \(5,\), X of shape \(2,\)")
IMG3 = r"x must have shape \(N, C, H, W\), got \(3, 4, 4\) — one image\? add the batch axis with x\[None\]"
for fn, call in [("conv2d_naive", lambda: F.conv2d_naive(np.ones((3, 4, 4)), np.ones((2, 3, 3, 3)))),
                 ("im2col", lambda: F.im2col(np.ones((3, 4, 4)), 3)), ("pad2d", lambda: F.pad2d(np.ones((3, 4, 4)), 1)),
                 ("sliding_windows", lambda: F.sliding_windows(np.ones((3, 4, 4)), 2))]:
    add("functional", f"{fn}-one-image", call, InputError, fn, IMG3)
for fn, call, expected in [
    ("conv2d_naive", lambda: F.conv2d_naive(np.ones((1, 3, 4, 4)), np.ones((2, 2, 3, 3))),
     r"weight must have shape \(C_out, 3, KH, KW\) for an input with 3 channels, got \(2, 2, 3, 3\)"),
    ("conv2d_naive", lambda: F.conv2d_naive(np.ones((1, 3, 4, 4)), np.ones((2, 3, 3, 3)), bias=np.ones(3)),
     r"bias must have shape \(2,\), one per output channel, got \(3,\)"),
    ("conv2d_naive", lambda: F.conv2d_naive(np.ones((1, 1, 2, 2)), np.ones((1, 1, 3, 3))),
     r"the kernel \(3×3\) is larger than the padded input \(2×2"),
    ("im2col", lambda: F.im2col(np.ones((1, 1, 2, 2)), 3), r"the kernel \(3×3\) is larger than the padded input"),
    ("col2im", lambda: F.col2im(np.ones((1, 9, 5)), (1, 1, 4, 4), 3),
     r"cols must have shape \(N, C·KH·KW, H'·W'\) = \(1, 9, 4\) for an input of shape \(1, 1, 4, 4\), got"),
    ("col2im", lambda: F.col2im(np.ones((1, 9, 4)), (1, 4, 4), 3), r"x_shape must be the image batch's shape"),
    ("pad2d", lambda: F.pad2d(np.ones((1, 1, 4, 4)), (-1, 1)), r"padding must be an int ≥ 0 or a pair of them"),
    ("split_heads", lambda: F.split_heads(np.ones((4, 6)), 2), r"x must have shape \(N, T, E\), got \(4, 6\)"),
    ("merge_heads", lambda: F.merge_heads(np.ones((2, 3, 4))), r"x must have shape \(N, h, T, E/h\)"),
    ("causal_mask", lambda: F.causal_mask(-1), "length must be a positive integer, got -1"),
    ("causal_mask", lambda: F.causal_mask(3, 2.5), "key_length must be a positive integer, got 2.5"),
    ("scaled_dot_product_attention", lambda: F.scaled_dot_product_attention(
        np.ones((2, 3, 4)), np.ones((2, 5, 4)), np.ones((2, 5, 4)), mask=np.ones((3, 3), bool)),
     r"mask of shape \(3, 3\) does not broadcast to the scores' shape \(..., T_q, T_k\) = \(2, 3, 5\)"),
    ("scaled_dot_product_attention_backward", lambda: F.scaled_dot_product_attention_backward(
        np.ones((2, 3, 4)), np.ones((2, 3, 4)), np.ones((2, 5, 4)), np.ones((2, 5, 4)), np.ones((2, 3, 3))),
     r"weights must be the forward's \(..., T_q, T_k\) = \(..., 3, 5\)"),
]:
    add("functional", f"{fn}-{label(expected[:20])}", call, InputError, fn, expected)

N_CASES = len(CASES)
CATEGORY_COUNTS = Counter(case.category for case in CASES)


def test_the_matrix_is_large_and_every_case_has_its_own_id():
    assert N_CASES > 300, N_CASES
    assert len({case.id for case in CASES}) == N_CASES


def test_every_layer_of_the_public_api_is_in_the_matrix():
    import nnlib.layers

    covered = {re.match(r"\^(\w+)", case.pattern.replace("\\", "")).group(1) for case in CASES}
    assert set(nnlib.layers.__all__) <= covered, set(nnlib.layers.__all__) - covered


@pytest.mark.parametrize("case", CASES, ids=[case.id for case in CASES])
def test_bad_input_is_refused_with_a_message_naming_the_culprit_and_the_expectation(case):
    # RuntimeError: backward too early, twice or ambiguous (a misuse of call order); OSError: a missing folder
    assert issubclass(case.error, (ValueError, TypeError, OSError)) or "early" in case.id or case.category == "state"
    with pytest.raises(case.error, match=case.pattern):
        case.call()


# --- the policy on what is NOT an error ---------------------------------------------------------------------------

@pytest.mark.parametrize("dtype", [F32, F64])
@pytest.mark.parametrize("name", PARAMETER_FREE)
def test_parameter_free_layers_take_float32_and_float64_and_keep_it(name, dtype):
    layer = LAYERS[name].make(dtype)
    x = good(LAYERS[name].shape, dtype)
    y = layer(x)
    assert y.dtype == dtype and layer.backward(np.ones_like(y)).dtype == dtype


@pytest.mark.parametrize("name", [n for n in PARAMETER_FREE if n not in ("MaxPool2d", "AvgPool2d")])
def test_parameter_free_layers_pass_an_empty_batch_through(name):
    shape = (0,) + LAYERS[name].shape[1:]
    layer = LAYERS[name].make(F64)
    y = layer(np.zeros(shape))
    assert y.shape[0] == 0 and layer.backward(np.zeros(y.shape)).shape == shape


def test_feature_layers_treat_extra_leading_axes_as_batch():
    assert Linear(4, 3, dtype=F64)(good((2, 5, 4))).shape == (2, 5, 3)
    assert LayerNorm(4, dtype=F64)(good((1, 2, 5, 4))).shape == (1, 2, 5, 4)


def test_losses_accept_the_target_dtypes_they_document():
    assert BCEWithLogitsLoss()(np.zeros(2), np.array([True, False])) == pytest.approx(np.log(2))
    assert CrossEntropyLoss()(np.zeros((2, 3)), np.array([0, 2], np.uint8)) == pytest.approx(np.log(3))
    assert MSELoss()(np.zeros(2, F32), np.array([1, 1])) == pytest.approx(1.0)
