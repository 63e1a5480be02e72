"""Backward told that nobody needs dL/dx (``input_gradient=False``, as ``fit`` does) stops below the lowest trainable
layer: the same parameter gradients, no stale or leaked cache, and the full dL/dx whenever a caller asks for it."""

import numpy as np
import pytest

from nnlib import (
    LSTM,
    RNN,
    Conv2d,
    CrossEntropyLoss,
    Embedding,
    Flatten,
    InputError,
    Linear,
    MaxPool2d,
    Module,
    Parameter,
    ReLU,
    SequenceModel,
    Sequential,
    Tanh,
    fit,
    use_fast_kernels,
)
from nnlib.kernels import conv as conv_kernels
from nnlib.module import backward_without_input_gradient, can_release_backward, release_backward
from nnlib.optim import SGD

F64 = np.float64


class CountingReLU(ReLU):
    """A ReLU that counts its backward calls (overriding backward, it has not opted in to skipping dL/dx)."""

    def __init__(self):
        self.calls = 0

    def backward(self, grad_out):
        self.calls += 1
        return super().backward(grad_out)


class LearnerScale(Module):
    """A learner-style layer on the plain contract: y = a·x with a trainable scalar a, no opt-in."""

    def __init__(self, frozen=False):
        self.a = Parameter(np.array([1.5]), "a", requires_grad=not frozen)

    def forward(self, x):
        self.cache = x
        return self.a.data * x

    def backward(self, grad_out):
        if self.a.requires_grad:
            self.a.grad += (grad_out * self.cache).sum(keepdims=True).reshape(1)
        return grad_out * self.a.data


class LearnerBlock(Module):
    """A learner-style composite (not a Sequential): its caches can only be released by its own backward."""

    def __init__(self, rng):
        self.inner, self.act = Linear(4, 4, rng=rng, dtype=F64).requires_grad_(False), Tanh()

    def forward(self, x):
        return self.act(self.inner(x))

    def backward(self, grad_out):
        return self.inner.backward(self.act.backward(grad_out))


def _linear(rng, frozen=False, n_in=4, n_out=4):
    return Linear(n_in, n_out, rng=rng, dtype=F64).requires_grad_(not frozen)


def frozen_prefix(rng):
    return Sequential(_linear(rng, True), CountingReLU(), _linear(rng, True), CountingReLU(), _linear(rng, n_out=3))


def partly_frozen(rng):
    return Sequential(_linear(rng, True), CountingReLU(), _linear(rng), CountingReLU(), _linear(rng, True),
                      Tanh(), _linear(rng, n_out=3))


def shared_frozen(rng):
    shared, act = _linear(rng, True), CountingReLU()
    return Sequential(shared, act, shared, act, _linear(rng, n_out=3))


def shared_trainable(rng):
    shared, act = _linear(rng), CountingReLU()
    return Sequential(shared, act, _linear(rng, True), act, shared, _linear(rng, n_out=3))


def nested(rng):
    block = Sequential(_linear(rng, True), CountingReLU())
    return Sequential(block, Sequential(_linear(rng, True), CountingReLU(), _linear(rng), Tanh()), block,
                      _linear(rng, n_out=3))


def learner_layer_at_bottom(rng):
    return Sequential(LearnerScale(), CountingReLU(), _linear(rng, True), _linear(rng, n_out=3))


def learner_layer_in_middle(rng):
    return Sequential(_linear(rng, True), CountingReLU(), LearnerScale(frozen=True), _linear(rng), Tanh(),
                      _linear(rng, n_out=3))


def learner_composite_below(rng):
    return Sequential(_linear(rng, True), CountingReLU(), LearnerBlock(rng), CountingReLU(), _linear(rng, n_out=3))


# builder -> CountingReLU backward calls (with skipping, without). When the lowest layer trains (shared_trainable,
# learner_layer_at_bottom) every layer runs; a learner's composite below the lowest trainable layer runs too.
MODELS = {frozen_prefix: (0, 2), partly_frozen: (1, 2), shared_frozen: (0, 2), shared_trainable: (2, 2),
          nested: (1, 3), learner_layer_at_bottom: (1, 1), learner_layer_in_middle: (0, 1),
          learner_composite_below: (1, 2)}


def _counting(model):
    return list({id(m): m for m in model.modules() if isinstance(m, CountingReLU)}.values())


def _run(build, skip, x, grad):
    """Parameter gradients, the returned value and the CountingReLU calls of one forward + backward."""
    model = build(np.random.default_rng(0))
    model(x)
    result = backward_without_input_gradient(model, grad) if skip else model.backward(grad)
    grads = {name: p.grad.copy() for name, p in model.named_parameters()}
    return model, grads, result, sum(m.calls for m in _counting(model))


@pytest.mark.parametrize("build", list(MODELS), ids=lambda b: b.__name__)
def test_skipping_gives_the_same_parameter_gradients_and_runs_fewer_layers(build, rng):
    x, grad = rng.standard_normal((5, 4)), rng.standard_normal((5, 3))
    _, full, full_result, full_calls = _run(build, False, x, grad)
    model, skipped, result, calls = _run(build, True, x, grad)
    assert full_result.shape == x.shape and result is None
    assert full.keys() == skipped.keys()
    for name in full:
        np.testing.assert_array_equal(skipped[name], full[name], err_msg=name)
    assert any(g.any() for g in skipped.values())  # something trainable received a gradient
    assert (calls, full_calls) == MODELS[build]
    for module in model.modules():  # everything the forward stored was released
        with pytest.raises(RuntimeError, match="no cache"):
            _ = module.cache
    with pytest.raises(RuntimeError, match="twice for one forward"):
        model.backward(grad)


def test_a_fully_frozen_model_still_returns_the_true_input_gradient(rng):
    """A saliency map: model.backward(g) on a frozen model is dL/dx, the same as with every layer trainable."""
    x, grad = rng.standard_normal((5, 4)), rng.standard_normal((5, 3))
    frozen = frozen_prefix(np.random.default_rng(0)).requires_grad_(False)
    trainable = frozen_prefix(np.random.default_rng(0))
    frozen(x)
    trainable(x)
    saliency = frozen.backward(grad)
    np.testing.assert_allclose(saliency, trainable.backward(grad), rtol=0, atol=0)
    eps, bump = 1e-6, np.zeros_like(x)
    bump[2, 1] = eps
    with_bump = [float((frozen(x + s * bump) * grad).sum()) for s in (1, -1)]
    frozen.clear_caches()
    assert saliency[2, 1] == pytest.approx((with_bump[0] - with_bump[1]) / (2 * eps), rel=1e-6)
    assert not any(p.grad.any() for p in frozen.parameters())


def test_a_fully_frozen_model_told_no_input_gradient_computes_nothing_and_releases_everything(rng):
    model = frozen_prefix(np.random.default_rng(0)).requires_grad_(False)
    x, grad = rng.standard_normal((5, 4)), rng.standard_normal((5, 3))
    model(x)
    assert model.backward(grad, input_gradient=False) is None
    assert sum(m.calls for m in _counting(model)) == 0
    model(x)  # the next forward and its full backward are unaffected
    assert model.backward(grad).shape == x.shape


class SharedBeforeSequential(Module):
    """One Tanh used by itself first, then at the bottom of a Sequential whose input gradient nobody needs. In reverse
    order, the Sequential's backward must release the second use's cache, so that the Tanh's own backward reads the
    first's. (A test module: its backward returns dL/dx through the direct branch only.)"""

    def __init__(self, rng):
        self.shared = Tanh()
        self.seq = Sequential(self.shared, _linear(rng, n_out=3))

    def forward(self, x):
        direct = self.shared(x)
        return self.seq(x + 1.0) + direct[:, :3]

    def backward(self, grad_out):
        assert self.seq.backward(grad_out, input_gradient=False) is None
        grad_direct = np.zeros(grad_out.shape[:1] + (4,))
        grad_direct[:, :3] = grad_out
        return self.shared.backward(grad_direct)


def test_a_skipped_layer_leaves_no_stale_cache_for_its_other_uses(rng):
    x, grad = rng.standard_normal((5, 4)), rng.standard_normal((5, 3))
    model = SharedBeforeSequential(np.random.default_rng(0))
    model(x)
    got = model.backward(grad)
    expected = np.zeros_like(x)
    expected[:, :3] = grad * (1 - np.tanh(x[:, :3]) ** 2)  # tanh' at the first use's input x, not at x + 1
    np.testing.assert_allclose(got, expected)
    assert model.seq[1].weight.grad.any()
    for module in model.modules():
        with pytest.raises(RuntimeError, match="no cache"):
            _ = module.cache


def test_fit_runs_no_backward_below_the_trainable_head():
    rng = np.random.default_rng(0)
    relus = [CountingReLU(), CountingReLU()]
    model = Sequential(Conv2d(1, 4, 3, padding=1, rng=0), relus[0], MaxPool2d(2), Conv2d(4, 8, 3, padding=1, rng=1),
                       relus[1], MaxPool2d(2), Flatten(), Linear(8 * 3 * 3, 5, rng=2))
    model[:-1].requires_grad_(False)
    X, y = rng.random((20, 1, 12, 12), dtype=np.float32), rng.integers(0, 5, 20)
    before = model[-1].weight.data.copy()
    fit(model, CrossEntropyLoss(), SGD(model.parameters(), lr=0.1), X, y, epochs=2, batch_size=8, rng=0)
    assert [r.calls for r in relus] == [0, 0]
    assert not np.array_equal(model[-1].weight.data, before)
    for module in model.modules():
        with pytest.raises(RuntimeError, match="no cache"):
            _ = module.cache


def _sequence_model(kind, rng):
    if kind == "frozen embedding, trainable LSTM":
        return SequenceModel(LSTM(3, 4, rng=rng, dtype=F64), Linear(4, 2, rng=rng, dtype=F64),
                             Embedding(6, 3, rng=rng, dtype=F64).requires_grad_(False))
    if kind == "frozen embedding and RNN, trainable head":
        return SequenceModel(RNN(3, 4, rng=rng, dtype=F64).requires_grad_(False), Linear(4, 2, rng=rng, dtype=F64),
                             Embedding(6, 3, rng=rng, dtype=F64).requires_grad_(False), last_step=True)
    if kind == "frozen RNN on floats, trainable head":
        return SequenceModel(RNN(3, 4, rng=rng, dtype=F64).requires_grad_(False), Linear(4, 2, rng=rng, dtype=F64))
    return SequenceModel(LSTM(3, 4, rng=rng, dtype=F64), Linear(4, 2, rng=rng, dtype=F64),
                         Embedding(6, 3, rng=rng, dtype=F64), last_step=True)


@pytest.mark.parametrize("kind", ["frozen embedding, trainable LSTM", "frozen embedding and RNN, trainable head",
                                  "frozen RNN on floats, trainable head", "everything trainable"])
def test_sequence_model_skips_what_is_frozen_with_the_same_gradients(kind, rng):
    floats = "floats" in kind
    x = rng.standard_normal((2, 5, 3)) if floats else rng.integers(0, 6, (2, 5))
    grads = []
    for skip in (False, True):
        model = _sequence_model(kind, np.random.default_rng(0))
        grad = np.ones_like(model(x))
        result = backward_without_input_gradient(model, grad) if skip else model.backward(grad)
        assert (result is None) == (skip or not floats)
        grads.append({n: p.grad.copy() for n, p in model.named_parameters()})
        for module in model.modules():
            with pytest.raises(RuntimeError, match="no cache"):
                _ = module.cache
    for name in grads[0]:
        np.testing.assert_array_equal(grads[1][name], grads[0][name], err_msg=name)
    assert any(g.any() for g in grads[1].values())


class MyLinear(Linear):
    """A learner's subclass overriding backward on the plain contract: it has not opted in."""

    def backward(self, grad_out):
        return super().backward(grad_out)


def test_asking_a_layer_that_did_not_opt_in_is_a_clear_error(rng):
    x = rng.standard_normal((3, 4))
    for layer in (LearnerScale(), MyLinear(4, 4, rng=0, dtype=F64)):
        assert not layer.can_skip_input_gradient
        y = layer(x)
        with pytest.raises(InputError, match=r"can_skip_input_gradient = True.*backward\(grad_out\)"):
            layer.backward(np.ones_like(y), input_gradient=False)
        assert backward_without_input_gradient(layer, np.ones_like(y)) is None  # the plain backward, run
        with pytest.raises(RuntimeError, match="twice for one forward"):
            layer.backward(np.ones_like(y))


@pytest.mark.parametrize("value", ["no", 0, None])
def test_input_gradient_must_be_a_bool(value, rng):
    layer = Linear(4, 2, rng=0, dtype=F64)
    y = layer(rng.standard_normal((3, 4)))
    with pytest.raises(InputError, match=rf"input_gradient must be True or False, got {value!r}"):
        layer.backward(np.ones_like(y), input_gradient=value)


def test_release_backward_outside_a_models_backward_is_refused(rng):
    layer = Linear(4, 2, rng=0, dtype=F64)
    layer(rng.standard_normal((3, 4)))
    assert not can_release_backward(layer)
    with pytest.raises(RuntimeError, match="run its backward instead"):
        release_backward(layer)


def test_linear_skips_only_the_input_gradient(rng):
    x, grad = rng.standard_normal((3, 4)), rng.standard_normal((3, 2))
    a, b = Linear(4, 2, rng=0, dtype=F64), Linear(4, 2, rng=0, dtype=F64)
    a(x)
    b(x)
    assert a.backward(grad, input_gradient=False) is None
    np.testing.assert_allclose(b.backward(grad, input_gradient=True), grad @ b.weight.data.T)
    np.testing.assert_array_equal(a.weight.grad, b.weight.grad)
    np.testing.assert_array_equal(a.bias.grad, b.bias.grad)


# --- Conv2d opts in: the first trainable conv of a CNN in ``fit`` computes no dL/d(images) -------------------------

# (C, C_out, kernel, stride, padding): the fast road's three backwards (16→32 unfolds δ, 1→8 folds columns back with
# col2im, stride 2 folds into phases)
CONV_SKIPS = [(4, 8, 3, 1, 1), (1, 8, 3, 1, 1), (2, 3, 3, 2, 1)]


def _conv(setting, seed=0):
    c, o, k, s, p = setting
    return Conv2d(c, o, k, stride=s, padding=p, rng=seed, dtype=F64)


@pytest.mark.parametrize("frozen", [None, "weight", "bias"])
@pytest.mark.parametrize("setting", CONV_SKIPS, ids=["unfold-delta", "col2im", "stride-2"])
def test_conv2d_skips_only_the_input_gradient(kernel_path, setting, frozen, rng):
    x = rng.standard_normal((3, setting[0], 7, 6))
    a, b = _conv(setting), _conv(setting)
    if frozen:
        getattr(a, frozen).requires_grad = getattr(b, frozen).requires_grad = False
    grad = rng.standard_normal(a(x).shape)
    b(x)
    assert a.backward(grad, input_gradient=False) is None
    assert b.backward(grad, input_gradient=True).shape == x.shape
    for p, q in zip(a.parameters(), b.parameters(), strict=True):
        np.testing.assert_array_equal(p.grad, q.grad)
    assert any(p.grad.any() for p in a.parameters())
    with pytest.raises(RuntimeError, match="no cache"):
        _ = a.cache


@pytest.mark.parametrize("setting", CONV_SKIPS[1:], ids=["col2im", "stride-2"])
def test_the_fast_conv_folds_nothing_back_when_nobody_needs_the_input_gradient(setting, rng, monkeypatch):
    """No Wᵀδ is folded back onto the input: col2im and the phases' fold are never called."""
    def refuse(*args, **kwargs):
        raise AssertionError("folded dL/dx back although nobody needs it")

    layer = _conv(setting)
    x = rng.standard_normal((2, setting[0], 7, 6))
    with use_fast_kernels(True):
        grad = rng.standard_normal(layer(x).shape)
    assert isinstance(layer.cache, conv_kernels.ConvCache)
    monkeypatch.setattr(conv_kernels, "col2im", refuse)
    monkeypatch.setattr(conv_kernels, "fold_into_phases", refuse)
    with use_fast_kernels(True):
        assert layer.backward(grad, input_gradient=False) is None
    assert layer.weight.grad.any()


def cnn_with_conv_first(rng):
    return Sequential(Conv2d(2, 4, 3, padding=1, rng=rng, dtype=F64), CountingReLU(), MaxPool2d(2), Flatten(),
                      Linear(4 * 3 * 3, 3, rng=rng, dtype=F64))


@pytest.mark.parametrize("frozen_conv", [False, True])
def test_a_cnn_whose_first_layer_is_a_conv_gets_the_same_gradients_without_the_input_gradient(kernel_path, frozen_conv,
                                                                                              rng):
    x, grad = rng.standard_normal((5, 2, 6, 6)), rng.standard_normal((5, 3))
    grads, results = [], []
    for skip in (False, True):
        model = cnn_with_conv_first(np.random.default_rng(0))
        model[0].requires_grad_(not frozen_conv)
        model(x)
        results.append(backward_without_input_gradient(model, grad) if skip else model.backward(grad))
        grads.append({name: p.grad.copy() for name, p in model.named_parameters()})
        assert model[1].calls == (0 if skip and frozen_conv else 1)
        for module in model.modules():
            with pytest.raises(RuntimeError, match="no cache"):
                _ = module.cache
        with pytest.raises(RuntimeError, match="twice for one forward"):
            model.backward(grad)
    assert results[0].shape == x.shape and results[1] is None
    for name in grads[0]:
        np.testing.assert_array_equal(grads[1][name], grads[0][name], err_msg=name)
    assert grads[1]["0.weight"].any() != frozen_conv


class MyConv2d(Conv2d):
    """A learner's Conv2d overriding backward on the plain contract: it has not opted in."""

    def __init__(self, *args, **kwargs):
        super().__init__(*args, **kwargs)
        self.calls = 0

    def backward(self, grad_out):
        self.calls += 1
        return super().backward(grad_out)


def test_a_learner_subclass_of_conv2d_keeps_its_plain_backward(rng):
    assert Conv2d.can_skip_input_gradient and not MyConv2d.can_skip_input_gradient
    x, grad = rng.standard_normal((3, 2, 6, 6)), rng.standard_normal((3, 3))
    grads, learner = [], MyConv2d(2, 4, 3, padding=1, rng=0, dtype=F64)
    for layer in (learner, Conv2d(2, 4, 3, padding=1, rng=0, dtype=F64)):
        model = Sequential(layer, ReLU(), MaxPool2d(2), Flatten(), Linear(4 * 3 * 3, 3, rng=1, dtype=F64))
        model(x)
        assert backward_without_input_gradient(model, grad) is None
        grads.append([p.grad.copy() for p in model.parameters()])
    assert learner.calls == 1
    for a, b in zip(*grads, strict=True):
        np.testing.assert_array_equal(a, b)
    layer = MyConv2d(2, 4, 3, padding=1, rng=0, dtype=F64)
    y = layer(x)
    with pytest.raises(InputError, match=r"can_skip_input_gradient = True"):
        layer.backward(np.ones_like(y), input_gradient=False)
