"""Reuse is never silently wrong: one instance used twice, shared weights, and forwards that wait for backward."""

import os
import subprocess
import sys

import numpy as np
import pytest

import nnlib
from nnlib import ELU, Linear, Module, Sequential, Sigmoid, Tanh, gradcheck
from nnlib.module import MAX_WAITING

F64 = np.float64


def _mlp_with_shared(act):
    return Sequential(Linear(4, 5, rng=0, dtype=F64), act, Linear(5, 5, rng=1, dtype=F64), act,
                      Linear(5, 3, rng=2, dtype=F64))


@pytest.mark.parametrize("act", [Tanh, Sigmoid, ELU], ids=lambda a: a.__name__)
def test_one_activation_instance_used_twice_is_gradcheck_exact(act, rng):
    gradcheck(_mlp_with_shared(act()), rng.standard_normal((6, 4)))


def test_one_linear_used_twice_shares_its_weights_exactly(rng):
    shared = Linear(4, 4, rng=0, dtype=F64)
    errors = gradcheck(Sequential(shared, Tanh(), shared, Tanh(), Linear(4, 2, rng=1, dtype=F64)),
                       rng.standard_normal((3, 4)))
    assert {"0.weight", "0.bias"} <= set(errors)  # the shared parameters are checked once, with both uses summed


def test_the_same_sub_sequential_twice_is_gradcheck_exact(rng):
    block = Sequential(Linear(4, 4, rng=0, dtype=F64), Tanh())
    gradcheck(Sequential(block, block, Linear(4, 2, rng=1, dtype=F64)), rng.standard_normal((5, 4)))


class Square(Module):
    """A learner's layer: it stores its cache the documented way and knows nothing about reuse."""

    def forward(self, x):
        self.cache = (x,)
        return x * x

    def backward(self, grad_out):
        (x,) = self.cache
        return 2 * x * grad_out


class DoubledLinear(Linear):
    """y = 2 (x W + b), a subclass calling the parent's forward and backward: the cache is popped once, not twice."""

    def forward(self, x):
        return super().forward(x) * 2

    def backward(self, grad_out):
        return super().backward(grad_out * 2)


@pytest.mark.parametrize("make", [Square, lambda: DoubledLinear(3, 3, rng=0, dtype=F64)], ids=["own", "subclass"])
def test_a_layer_written_on_the_contract_is_reusable(make, rng):
    layer = make()
    gradcheck(Sequential(Linear(3, 3, rng=1, dtype=F64), layer, Tanh(), layer), rng.standard_normal((2, 3)))


def _fresh_grads(make_model, x, grad):
    model = make_model()
    model(x)
    dx = model.backward(grad)
    return dx, [p.grad.copy() for p in model.parameters()]


def _model():
    return Sequential(Linear(3, 4, rng=0, dtype=F64), Tanh(), Linear(4, 2, rng=1, dtype=F64))


def test_waiting_forwards_of_different_shapes_each_get_their_own_backward(rng):
    a, b = rng.standard_normal((4, 3)), rng.standard_normal((7, 3))
    ga, gb = rng.standard_normal((4, 2)), rng.standard_normal((7, 2))
    model = _model()
    model(a)
    model(b)  # e.g. predictions on a validation set, run without no_grad
    for x, g in ((a, ga), (b, gb)):
        model.zero_grad()
        dx = model.backward(g)
        want_dx, want_grads = _fresh_grads(_model, x, g)
        np.testing.assert_allclose(dx, want_dx, rtol=1e-12)
        for p, want in zip(model.parameters(), want_grads, strict=True):
            np.testing.assert_allclose(p.grad, want, rtol=1e-12)


def test_a_gradient_that_could_belong_to_two_waiting_forwards_is_refused(rng):
    a, b, g = rng.standard_normal((4, 3)), rng.standard_normal((4, 3)), rng.standard_normal((4, 2))
    model = _model()
    model(a)
    model(b)
    with pytest.raises(RuntimeError, match=r"^Sequential: 2 forwards .* could belong to either.*no_grad"):
        model.backward(g)
    with pytest.raises(RuntimeError, match="backward called before forward"):  # both were dropped
        model.backward(g)
    model(a)
    np.testing.assert_allclose(model.backward(g), _fresh_grads(_model, a, g)[0], rtol=1e-12)


def test_rerunning_the_same_forward_replaces_the_waiting_one(rng):
    x, g = rng.standard_normal((4, 3)), rng.standard_normal((4, 2))
    model = _model()
    model(x)
    model(x.copy())  # a notebook cell run twice
    np.testing.assert_allclose(model.backward(g), _fresh_grads(_model, x, g)[0], rtol=1e-12)
    with pytest.raises(RuntimeError, match="^Sequential: backward called before forward, or twice for one forward"):
        model.backward(g)


def test_a_second_backward_raises_instead_of_doubling_the_gradients(rng):
    layer = Linear(3, 2, rng=0, dtype=F64)
    layer(rng.standard_normal((4, 3)))
    layer.backward(np.ones((4, 2)))
    grad = layer.weight.grad.copy()
    with pytest.raises(RuntimeError, match=r"^Linear\(.*\): backward called before forward, or twice"):
        layer.backward(np.ones((4, 2)))
    np.testing.assert_array_equal(layer.weight.grad, grad)


def test_no_grad_stores_nothing_and_restores_recording(rng):
    model = _model()
    with nnlib.no_grad():
        model(rng.standard_normal((4, 3)))
        assert not nnlib.is_grad_enabled()
    assert nnlib.is_grad_enabled()
    with pytest.raises(RuntimeError, match="no cache"):
        model[0].cache  # noqa: B018
    with pytest.raises(RuntimeError, match="backward called before forward"):
        model.backward(np.ones((4, 2)))


def test_the_cache_is_public_and_named_between_forward_and_backward(rng):
    x = rng.standard_normal((4, 3))
    model = _model()
    model(x)
    np.testing.assert_array_equal(model[0].cache.x, x)
    np.testing.assert_array_equal(model[1].cache.y, np.tanh(model[1].cache.x))


def test_at_most_max_waiting_forwards_wait(rng):
    layer = Linear(3, 2, rng=0, dtype=F64)
    for n in range(1, MAX_WAITING + 3):
        layer(rng.standard_normal((n, 3)))
    with pytest.raises(nnlib.InputError, match=r"grad_out"):  # the forward on 1 row was dropped
        layer.backward(np.ones((1, 2)))
    layer.backward(np.ones((MAX_WAITING + 2, 2)))


def test_a_forward_that_fails_leaves_nothing_waiting(rng):
    model = _model()
    with pytest.raises(nnlib.InputError):
        model(rng.standard_normal((4, 5)))
    x, g = rng.standard_normal((4, 3)), rng.standard_normal((4, 2))
    model(x)
    np.testing.assert_allclose(model.backward(g), _fresh_grads(_model, x, g)[0], rtol=1e-12)


def test_a_refused_gradient_keeps_the_forward_waiting(rng):
    model, x, g = _model(), rng.standard_normal((4, 3)), rng.standard_normal((4, 2))
    model(x)
    with pytest.raises(nnlib.InputError):
        model.backward(np.ones((4, 5)))
    np.testing.assert_allclose(model.backward(g), _fresh_grads(_model, x, g)[0], rtol=1e-12)


def test_predict_and_evaluate_keep_no_cache_and_restore_the_mode(rng):
    model, x = _model(), rng.standard_normal((10, 3))
    model.train()
    out = nnlib.predict(model, x, batch_size=3)
    with nnlib.no_grad():
        np.testing.assert_allclose(out, model(x), rtol=1e-12)
    nnlib.evaluate(model, nnlib.CrossEntropyLoss(), x, np.zeros(10, dtype=int), batch_size=4)
    assert model.training
    with pytest.raises(RuntimeError, match="backward called before forward"):
        model.backward(np.ones((10, 2)))


def test_fit_starts_clean_after_a_forward_left_waiting(rng):
    model = Sequential(Linear(3, 2, rng=0))
    x, y = rng.standard_normal((8, 3)).astype(np.float32), rng.integers(0, 2, 8)
    model(x[:4] + 1)  # a forward whose backward never came, of the batch size fit will use
    history = nnlib.fit(model, nnlib.CrossEntropyLoss(), nnlib.SGD(model.parameters(), lr=0.1), x, y, epochs=2,
                        batch_size=4, rng=0)
    assert len(history) == 2


@pytest.mark.parametrize("bad", [None, 0, "no"])
def test_use_fast_kernels_takes_a_bool(bad):
    with pytest.raises(nnlib.InputError, match="^use_fast_kernels: enabled must be True or False"):
        nnlib.use_fast_kernels(bad)


def test_use_fast_kernels_switches_and_restores():
    before = nnlib.fast_kernels_enabled()
    with nnlib.use_fast_kernels(not before):
        assert nnlib.fast_kernels_enabled() is not before
    assert nnlib.fast_kernels_enabled() is before


def test_a_validation_loss_computed_without_no_grad_does_not_confuse_the_next_step(rng):
    model, loss = _model(), nnlib.CrossEntropyLoss()
    x, y = rng.standard_normal((4, 3)), np.array([0, 1, 1, 0])
    x_val, y_val = rng.standard_normal((4, 3)), np.array([1, 1, 0, 0])
    loss(model(x_val), y_val)  # a validation loss in a learner's loop, same batch size, no no_grad
    loss(model(x), y)
    dx = model.backward(loss.backward())  # the loss takes its latest forward; the model matches that gradient...
    reference, reference_loss = _model(), nnlib.CrossEntropyLoss()
    reference_loss(reference(x), y)
    np.testing.assert_allclose(dx, reference.backward(reference_loss.backward()), rtol=1e-12)


@pytest.mark.parametrize(("value", "enabled"), [("0", False), ("1", True), ("", True)])
def test_the_environment_variable_sets_the_kernels_of_a_new_process(value, enabled):
    code = "import nnlib; print(nnlib.fast_kernels_enabled())"
    done = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, check=True,
                          env={**os.environ, "NNLIB_FAST_KERNELS": value})
    assert done.stdout.strip() == str(enabled)
