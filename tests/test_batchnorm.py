"""BatchNorm1d / BatchNorm2d: gradcheck in both modes, PyTorch twins (forward, backward, running statistics over
several steps, eval output), the public cache, buffers in state_dict, no_grad, reuse."""

import numpy as np
import pytest

from nnlib import BatchNorm1d, BatchNorm2d, Linear, ReLU, Sequential, gradcheck, io, no_grad
from nnlib.layers.normalization import BatchNormCache

F64 = np.float64
SHAPES = [(BatchNorm1d, (6, 3)), (BatchNorm1d, (4, 3, 5)), (BatchNorm2d, (3, 3, 4, 2))]
IDS = ["1d-(N,F)", "1d-(N,C,L)", "2d-(N,C,H,W)"]


def _random_affine(layer, rng):
    layer.weight.data[:] = rng.standard_normal(layer.num_features)
    layer.bias.data[:] = rng.standard_normal(layer.num_features)
    return layer


@pytest.mark.parametrize("affine", [True, False])
@pytest.mark.parametrize("training", [True, False], ids=["train", "eval"])
@pytest.mark.parametrize(("cls", "shape"), SHAPES, ids=IDS)
def test_gradcheck(cls, shape, training, affine, rng):
    layer = cls(shape[1], affine=affine, dtype=F64)
    if affine:
        _random_affine(layer, rng)
    layer.running_mean[:], layer.running_var[:] = rng.standard_normal(shape[1]), rng.uniform(0.5, 2, shape[1])
    layer.train(training)
    x = rng.standard_normal(shape) * 3 + 1
    errors = gradcheck(layer, x, rng=7, tol=1e-7)
    assert set(errors) == {"input0"} | ({"weight", "bias"} if affine else set())


@pytest.mark.parametrize(("cls", "shape"), SHAPES, ids=IDS)
def test_the_short_backward_equals_the_chain_rule_through_mu_and_sigma(cls, shape, rng):
    """dx from the short form against the long one: through x̂, σ² and μ separately (cs231n's computational graph)."""
    layer = _random_affine(cls(shape[1], dtype=F64), rng)
    x, dy = rng.standard_normal(shape) * 2 - 1, rng.standard_normal(shape)
    layer(x)
    dx = layer.backward(dy)
    axes = (0, *range(2, x.ndim))
    m = x.size // shape[1]
    mu, var = x.mean(axes, keepdims=True), x.var(axes, keepdims=True)
    gamma = layer.weight.data.reshape((1, -1) + (1,) * (x.ndim - 2))
    dx_hat = dy * gamma
    dvar = (dx_hat * (x - mu) * -0.5 * (var + layer.eps) ** -1.5).sum(axes, keepdims=True)
    dmu = (-dx_hat / np.sqrt(var + layer.eps)).sum(axes, keepdims=True) + dvar * (-2 * (x - mu)).mean(axes,
                                                                                                       keepdims=True)
    long_form = dx_hat / np.sqrt(var + layer.eps) + dvar * 2 * (x - mu) / m + dmu / m
    np.testing.assert_allclose(dx, long_form, rtol=1e-10, atol=1e-12)


def _torch_twin(torch, ours):
    cls = torch.nn.BatchNorm2d if isinstance(ours, BatchNorm2d) else torch.nn.BatchNorm1d
    theirs = cls(ours.num_features, eps=ours.eps, momentum=ours.momentum, dtype=torch.float64)
    with torch.no_grad():
        theirs.weight.copy_(torch.tensor(ours.weight.data))
        theirs.bias.copy_(torch.tensor(ours.bias.data))
    return theirs


@pytest.mark.parametrize(("cls", "shape"), SHAPES, ids=IDS)
def test_matches_torch_over_several_training_steps_then_in_eval(torch, cls, shape, rng):
    ours = _random_affine(cls(shape[1], eps=1e-3, momentum=0.3, dtype=F64), rng)
    theirs = _torch_twin(torch, ours)
    for step in range(4):
        x, dy = rng.standard_normal(shape) * (step + 1) + step, rng.standard_normal(shape)
        y, dx = ours(x), ours.backward(dy)
        x_t = torch.tensor(x, requires_grad=True)
        y_t = theirs(x_t)
        y_t.backward(torch.tensor(dy))
        np.testing.assert_allclose(y, y_t.detach().numpy(), rtol=1e-10, atol=1e-12)
        np.testing.assert_allclose(dx, x_t.grad.numpy(), rtol=1e-8, atol=1e-12)
        np.testing.assert_allclose(ours.running_mean, theirs.running_mean.numpy(), rtol=1e-12)
        np.testing.assert_allclose(ours.running_var, theirs.running_var.numpy(), rtol=1e-12)
    np.testing.assert_allclose(ours.weight.grad, theirs.weight.grad.numpy(), rtol=1e-10)
    np.testing.assert_allclose(ours.bias.grad, theirs.bias.grad.numpy(), rtol=1e-10)
    ours.eval()
    theirs.eval()
    x = rng.standard_normal(shape)
    with torch.no_grad():
        np.testing.assert_allclose(ours(x), theirs(torch.tensor(x)).numpy(), rtol=1e-10, atol=1e-12)


def test_running_statistics_follow_pytorchs_momentum_with_the_unbiased_variance(rng):
    layer, x = BatchNorm1d(2, momentum=0.25, dtype=F64), rng.standard_normal((5, 2))
    layer(x)
    np.testing.assert_allclose(layer.running_mean, 0.25 * x.mean(0))
    np.testing.assert_allclose(layer.running_var, 0.75 + 0.25 * x.var(0, ddof=1))


def test_training_output_is_standardised_per_channel_and_eval_uses_the_running_estimates(rng):
    layer = BatchNorm2d(3, dtype=F64)
    x = rng.standard_normal((8, 3, 4, 4)) * np.array([1, 5, 0.1])[:, None, None] + np.array([3, -2, 0])[:, None, None]
    y = layer(x)
    np.testing.assert_allclose(y.mean((0, 2, 3)), 0, atol=1e-12)
    np.testing.assert_allclose(y.var((0, 2, 3)), x.var((0, 2, 3)) / (x.var((0, 2, 3)) + layer.eps), rtol=1e-12)
    layer.eval()
    expected = (x - layer.running_mean[:, None, None]) / np.sqrt(layer.running_var[:, None, None] + layer.eps)
    np.testing.assert_allclose(layer(x), expected, rtol=1e-12)


def test_a_training_forward_under_no_grad_uses_the_batch_but_leaves_the_running_estimates(rng):
    layer, x = BatchNorm1d(3, dtype=F64), rng.standard_normal((4, 3)) + 5
    with no_grad():
        y = layer(x)
    np.testing.assert_allclose(y.mean(0), 0, atol=1e-12)
    assert np.array_equal(layer.running_mean, np.zeros(3)) and np.array_equal(layer.running_var, np.ones(3))


def test_the_cache_is_public_and_named(rng):
    layer = BatchNorm2d(2, dtype=F64)
    layer(rng.standard_normal((3, 2, 4, 5)))
    cache = layer.cache
    assert isinstance(cache, BatchNormCache) and cache.batch_stats
    assert cache.x_hat.shape == (3, 2, 4, 5) and cache.inv_std.shape == (1, 2, 1, 1)
    layer.eval()
    layer(rng.standard_normal((3, 2, 4, 5)))
    assert not layer.cache.batch_stats


def test_running_statistics_are_buffers_saved_and_loaded_with_the_model(rng, tmp_path):
    model = Sequential(Linear(3, 4, rng=0, dtype=F64), BatchNorm1d(4, dtype=F64), ReLU())
    model(rng.standard_normal((6, 3)))
    assert [name for name, _ in model.named_buffers()] == ["1.running_mean", "1.running_var"]
    io.save(model, tmp_path / "bn.npz")
    fresh = Sequential(Linear(3, 4, rng=1, dtype=F64), BatchNorm1d(4, dtype=F64), ReLU())
    io.load(fresh, tmp_path / "bn.npz")
    for (name, ours), (_, theirs) in zip(model.named_buffers(), fresh.named_buffers(), strict=True):
        np.testing.assert_array_equal(ours, theirs, err_msg=name)
    assert not np.array_equal(fresh[1].running_var, np.ones(4))


def test_one_layer_used_twice_backpropagates_each_use(rng):
    layer = BatchNorm1d(3, dtype=F64)
    model = Sequential(layer, Linear(3, 3, rng=0, dtype=F64), layer)
    gradcheck(model, rng.standard_normal((5, 3)), rng=3, tol=1e-7)


def test_float32_forward_and_backward_keep_float32(rng):
    layer = BatchNorm2d(2)
    x = rng.standard_normal((2, 2, 3, 3)).astype(np.float32)
    y = layer(x)
    assert y.dtype == np.float32 and layer.backward(y).dtype == np.float32
    assert layer.running_mean.dtype == layer.running_var.dtype == np.float32
