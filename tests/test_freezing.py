"""Freezing (requires_grad=False) is honoured by every layer's backward, by the optimizers and by fit."""

import numpy as np
import pytest

from nnlib import (
    GRU,
    LSTM,
    RNN,
    SGD,
    AdamW,
    BatchNorm1d,
    BatchNorm2d,
    Conv2d,
    CrossEntropyLoss,
    Embedding,
    InputError,
    LayerNorm,
    Linear,
    Maxout,
    MultiHeadAttention,
    Parameter,
    SequenceModel,
    Sequential,
    TransformerEncoderLayer,
    TransformerModel,
    fit,
)
from nnlib.pretrained import digits_cnn
from nnlib.regularization import L2Penalty

F64 = np.float64
FLOATS_NTF = (2, 5, 4)    # (N, T, F) sequences, or (N, F) rows after [:, 0]

# name -> (factory, input); every module with parameters, and the compositions that hold several
MODULES = {
    "Linear": (lambda: Linear(4, 3, rng=0, dtype=F64), lambda r: r.standard_normal((3, 4))),
    "Maxout": (lambda: Maxout(4, 3, rng=0, dtype=F64), lambda r: r.standard_normal((3, 4))),
    "Conv2d": (lambda: Conv2d(2, 3, 3, padding=1, rng=0, dtype=F64), lambda r: r.standard_normal((2, 2, 5, 5))),
    "RNN": (lambda: RNN(4, 3, rng=0, dtype=F64), lambda r: r.standard_normal(FLOATS_NTF)),
    "LSTM": (lambda: LSTM(4, 3, rng=0, dtype=F64), lambda r: r.standard_normal(FLOATS_NTF)),
    "GRU": (lambda: GRU(4, 3, rng=0, dtype=F64), lambda r: r.standard_normal(FLOATS_NTF)),
    "Embedding": (lambda: Embedding(7, 3, rng=0, dtype=F64), lambda r: r.integers(0, 7, (2, 5))),
    "LayerNorm": (lambda: LayerNorm(4, dtype=F64), lambda r: r.standard_normal(FLOATS_NTF)),
    "BatchNorm1d": (lambda: BatchNorm1d(4, dtype=F64), lambda r: r.standard_normal((5, 4))),
    "BatchNorm2d": (lambda: BatchNorm2d(2, dtype=F64), lambda r: r.standard_normal((3, 2, 4, 4))),
    "MultiHeadAttention": (lambda: MultiHeadAttention(4, 2, rng=0, dtype=F64),
                           lambda r: r.standard_normal(FLOATS_NTF)),
    "TransformerEncoderLayer": (lambda: TransformerEncoderLayer(4, 2, 8, dropout=0.0, rng=0, dtype=F64),
                                lambda r: r.standard_normal(FLOATS_NTF)),
    "SequenceModel": (lambda: SequenceModel(GRU(3, 4, rng=0, dtype=F64), Linear(4, 2, rng=1, dtype=F64),
                                            Embedding(7, 3, rng=2, dtype=F64)), lambda r: r.integers(0, 7, (2, 5))),
    "TransformerModel": (lambda: TransformerModel(7, 3, d_model=4, nhead=2, num_layers=1, dim_feedforward=8, rng=0,
                                                  dtype=F64), lambda r: r.integers(0, 7, (2, 5))),
    "digits_cnn": (lambda: digits_cnn(rng=0), lambda r: r.random((2, 1, 12, 12), dtype=np.float32)),
}
PARAMETERS = [(module, name) for module, (make, _) in MODULES.items() for name, _ in make().named_parameters()]


def _forward_backward(module, x) -> np.ndarray | None:
    """One forward and backward pass with a fixed upstream gradient; returns dL/dx (None for token ids)."""
    out = module(x)
    out = out[0] if isinstance(out, tuple) else out            # recurrent layers return (output, state)
    grad_in = module.backward(np.random.default_rng(0).standard_normal(out.shape).astype(out.dtype))
    return grad_in[0] if isinstance(grad_in, tuple) else grad_in


def _grads(module) -> dict[str, np.ndarray]:
    return {name: p.grad.copy() for name, p in module.named_parameters()}


@pytest.mark.parametrize("name", MODULES)
def test_a_frozen_module_passes_the_same_gradient_back_and_keeps_every_grad_zero(rng, name):
    make, make_input = MODULES[name]
    x = make_input(rng)
    trainable, frozen = make(), make().requires_grad_(False)
    expected = _forward_backward(trainable, x)
    got = _forward_backward(frozen, x)
    if expected is not None:
        np.testing.assert_array_equal(got, expected)
    assert all(not p.requires_grad and not np.any(p.grad) for p in frozen.parameters())
    assert any(np.any(p.grad) for p in trainable.parameters())


@pytest.mark.parametrize(("module", "name"), PARAMETERS, ids=[f"{m}-{n}" for m, n in PARAMETERS])
def test_freezing_one_parameter_changes_only_its_gradient(rng, module, name):
    make, make_input = MODULES[module]
    x = make_input(rng)
    reference, model = make(), make()
    _forward_backward(reference, x)
    dict(model.named_parameters())[name].requires_grad = False
    _forward_backward(model, x)
    expected = _grads(reference)
    for other, grad in _grads(model).items():
        np.testing.assert_array_equal(grad, 0 if other == name else expected[other], err_msg=other)


def test_requires_grad_freezes_and_unfreezes_in_place_and_returns_the_module():
    model = digits_cnn(rng=0)
    assert model[:-1].requires_grad_(False) is not model     # a slice shares the layers, so this freezes them
    assert model.num_parameters(trainable_only=True) == model[-1].num_parameters() == 288 * 5 + 5
    assert model.requires_grad_() is model and model.num_parameters(trainable_only=True) == model.num_parameters()


@pytest.mark.parametrize("flag", [0, 1, None, "False", np.float64(1.0)])
def test_requires_grad_must_be_a_bool(flag):
    with pytest.raises(InputError, match=r"'w': requires_grad must be True or False"):
        Parameter(np.zeros(2), "w", requires_grad=flag)
    with pytest.raises(InputError, match="requires_grad must be True or False"):
        Linear(2, 2).requires_grad_(flag)


def test_fit_with_weight_decay_a_penalty_and_clipping_never_moves_a_frozen_extractor(rng):
    model = digits_cnn(rng=0)
    model[-1] = Linear(288, 3, rng=1)
    model[:-1].requires_grad_(False)
    extractor, head = model[:-1].state_dict(), model[-1].state_dict()
    X, y = rng.random((40, 1, 12, 12), dtype=np.float32), rng.integers(0, 3, 40)
    for optimizer in (AdamW(model.parameters(), lr=0.01, weight_decay=0.1), SGD(model.parameters(), lr=0.1,
                                                                                  momentum=0.9, weight_decay=0.1)):
        fit(model, CrossEntropyLoss(), optimizer, X, y, epochs=2, batch_size=8, rng=0, penalty=L2Penalty(0.1),
            max_grad_norm=0.5)
    for name, value in model[:-1].state_dict().items():
        np.testing.assert_array_equal(value, extractor[name], err_msg=name)
    assert all(not np.array_equal(value, head[name]) for name, value in model[-1].state_dict().items())


def test_a_sequential_slice_shares_its_layers_with_the_model():
    model = Sequential(Linear(2, 3, rng=0), Linear(3, 1, rng=1))
    features = model[:-1]
    assert features[0] is model[0] and len(features) == 1
