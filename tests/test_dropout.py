"""Dropout: inverted scaling, eval-mode identity, the backward through a fixed mask, torch agreement."""

import numpy as np
import pytest

from nnlib import Dropout, InputError, Linear, Sequential, gradcheck
from nnlib.layers.dropout import DropoutCache


def test_training_keeps_a_fraction_one_minus_p_and_preserves_the_mean():
    layer = Dropout(0.3, rng=0)
    x = np.ones((200, 500))
    y = layer(x)
    kept = y != 0
    assert abs(kept.mean() - 0.7) < 0.005
    np.testing.assert_allclose(y[kept], 1 / 0.7)
    assert abs(y.mean() - 1.0) < 0.01  # inverted dropout: E[y] = x
    np.testing.assert_array_equal(layer.mask, kept)


def test_eval_mode_is_the_identity_and_its_backward_too():
    layer = Dropout(0.5, rng=0).eval()
    x = np.random.default_rng(0).normal(size=(4, 3))
    np.testing.assert_array_equal(layer(x), x)
    g = np.arange(12.0).reshape(4, 3)
    np.testing.assert_array_equal(layer.backward(g), g)


def test_p_zero_is_the_identity_in_training():
    x = np.random.default_rng(0).normal(size=(4, 3))
    np.testing.assert_array_equal(Dropout(0.0)(x), x)


def test_backward_routes_the_gradient_through_the_same_mask():
    layer = Dropout(0.5, rng=1)
    x = np.random.default_rng(0).normal(size=(6, 5))
    y = layer(x)
    g = np.random.default_rng(1).normal(size=y.shape)
    np.testing.assert_allclose(layer.backward(g), g * layer.mask / 0.5)


def test_the_cache_holds_the_scaled_mask_of_its_own_forward():
    layer = Dropout(0.25, rng=0)
    layer(np.ones((3, 4), np.float32))
    assert isinstance(layer.cache, DropoutCache) and layer.cache.shape == (3, 4) and layer.cache.dtype == np.float32
    np.testing.assert_array_equal(layer.cache.scale, (layer.mask / 0.75).astype(np.float32))
    layer.eval()(np.ones((3, 4)))
    assert layer.cache.scale is None  # eval mode: the identity


def test_one_dropout_used_twice_backpropagates_each_use_through_its_own_mask():
    """Sequential(dropout, linear, dropout): backward must apply the second mask, then the first, not one mask twice."""
    p, x = 0.5, np.random.default_rng(0).normal(size=(6, 5))
    dropout, linear = Dropout(p, rng=7), Linear(5, 5, rng=0, dtype=np.float64)
    model = Sequential(dropout, linear, dropout)
    masks = np.random.default_rng(7).random((2, 6, 5)) >= p  # the two masks, drawn in order from the same seed
    g = np.random.default_rng(1).normal(size=(6, 5))
    np.testing.assert_allclose(model(x), (x * masks[0] / (1 - p)) @ linear.weight.data * masks[1] / (1 - p)
                               + linear.bias.data * masks[1] / (1 - p))
    grad_x = model.backward(g)
    grad_mid = g * masks[1] / (1 - p)
    np.testing.assert_allclose(linear.weight.grad, (x * masks[0] / (1 - p)).T @ grad_mid)
    np.testing.assert_allclose(grad_x, grad_mid @ linear.weight.data.T * masks[0] / (1 - p))


def test_gradcheck_with_a_fixed_mask():
    rng = np.random.default_rng(0)
    layer = Dropout(0.4)
    layer.fix_mask(rng.random((5, 4)) >= 0.4)
    model = Sequential(Linear(3, 4, rng=0, dtype=np.float64), layer)
    errors = gradcheck(model, rng.normal(size=(5, 3)))
    assert max(errors.values()) < 1e-7


def test_masks_are_reproducible_from_the_seed_and_new_at_each_forward():
    x = np.ones((8, 8))
    first, second = Dropout(0.5, rng=3), Dropout(0.5, rng=3)
    np.testing.assert_array_equal(first(x), second(x))
    assert not np.array_equal(first(x), first(x))


def test_fix_mask_none_draws_again():
    layer = Dropout(0.5, rng=0)
    layer.fix_mask(np.ones((2, 2)))
    np.testing.assert_array_equal(layer(np.ones((2, 2))), 2 * np.ones((2, 2)))
    layer.fix_mask(None)
    assert layer(np.ones((50, 50))).min() == 0


def test_float32_stays_float32():
    y = Dropout(0.5, rng=0)(np.ones((3, 3), dtype=np.float32))
    assert y.dtype == np.float32


def test_matches_torch_given_torchs_mask(torch):
    x = np.random.default_rng(0).normal(size=(7, 9)) + 5.0  # no zeros: the mask is readable from the output
    xt = torch.tensor(x, requires_grad=True)
    torch.manual_seed(0)
    yt = torch.nn.functional.dropout(xt, p=0.25, training=True)
    g = np.random.default_rng(1).normal(size=x.shape)
    yt.backward(torch.tensor(g))
    layer = Dropout(0.25)
    layer.fix_mask(yt.detach().numpy() != 0)
    np.testing.assert_allclose(layer(x), yt.detach().numpy(), rtol=1e-12)
    np.testing.assert_allclose(layer.backward(g), xt.grad.numpy(), rtol=1e-12)


@pytest.mark.parametrize(("make", "error", "message"), [
    (lambda: Dropout(1.0), InputError, r"Dropout: p must be a probability in \[0, 1\), got 1.0"),
    (lambda: Dropout(-0.1), InputError, "p must be a probability"),
    (lambda: Dropout("0.5"), InputError, "p must be a probability"),
    (lambda: Dropout(0.5, rng="seed"), TypeError, "expected None, an int seed"),
    (lambda: Dropout(0.5).fix_mask([[0.5, 1.0]]), InputError, "mask must hold only 0 .drop. and 1 .keep."),
    (lambda: Dropout(0.5)(np.array(["a"])), InputError, "Dropout"),
])
def test_bad_arguments_are_refused(make, error, message):
    with pytest.raises(error, match=message):
        make()


def test_a_fixed_mask_of_the_wrong_shape_is_refused_when_used():
    layer = Dropout(0.5)
    layer.fix_mask(np.ones((2, 3)))
    with pytest.raises(InputError, match=r"fixed mask has shape \(2, 3\) but the input has shape \(3, 2\)"):
        layer(np.ones((3, 2)))


def test_backward_checks_order_and_shape():
    layer = Dropout(0.5, rng=0)
    with pytest.raises(RuntimeError, match="backward called before forward"):
        layer.backward(np.ones(3))
    layer(np.ones((2, 3)))
    with pytest.raises(InputError, match="grad_out"):
        layer.backward(np.ones((3, 2)))
