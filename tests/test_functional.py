"""nnlib.functional: derivatives vs finite differences, known values, stability, and PyTorch."""

import warnings
from functools import partial

import numpy as np
import pytest

from nnlib import functional as F
from nnlib._checks import DTypeError, InputError
from nnlib.gradcheck import check_derivative, check_gradient


def _torch_fn(name, **kwargs):
    """A function (torch, tensor) -> tensor calling torch.nn.functional.<name> (or torch.<name>)."""
    def call(torch, x):
        fn = getattr(torch.nn.functional, name, None) or getattr(torch, name)
        return fn(x, **kwargs)
    return call


# name -> (f, f_prime, torch twin)
ACTIVATIONS = {
    "sigmoid": (F.sigmoid, F.sigmoid_prime, _torch_fn("sigmoid")),
    "tanh": (F.tanh, F.tanh_prime, _torch_fn("tanh")),
    "relu": (F.relu, F.relu_prime, _torch_fn("relu")),
    "leaky_relu": (F.leaky_relu, F.leaky_relu_prime, _torch_fn("leaky_relu", negative_slope=0.01)),
    "leaky_relu(0.1)": (partial(F.leaky_relu, negative_slope=0.1), partial(F.leaky_relu_prime, negative_slope=0.1),
                        _torch_fn("leaky_relu", negative_slope=0.1)),
    "elu": (F.elu, F.elu_prime, _torch_fn("elu", alpha=1.0)),
    "elu(alpha=2)": (partial(F.elu, alpha=2.0), partial(F.elu_prime, alpha=2.0), _torch_fn("elu", alpha=2.0)),
    "softplus": (F.softplus, F.softplus_prime, _torch_fn("softplus")),
}
ELEMENTWISE = [fn for f, f_prime, _ in ACTIVATIONS.values() for fn in (f, f_prime)]
REDUCING = [F.softmax, F.log_softmax, F.logsumexp]
EXTREMES = [-1e4, -1000.0, -1.0, 0.0, 1.0, 1000.0, 1e4]


def _id(fn):
    return getattr(fn, "__name__", None) or f"{fn.func.__name__}{fn.keywords}"


@pytest.fixture
def strict():
    """Every floating-point problem except harmless underflow to 0 raises, and so does any warning."""
    with warnings.catch_warnings(), np.errstate(all="raise", under="ignore"):
        warnings.simplefilter("error")
        yield


# --- derivatives -----------------------------------------------------------------------------------

@pytest.mark.parametrize("name", ACTIVATIONS)
def test_prime_matches_finite_differences(name):
    f, f_prime, _ = ACTIVATIONS[name]
    x = np.linspace(-4, 4, 40)  # an even count: no point at the kink x = 0
    assert check_derivative(f, f_prime, x) <= 1e-7


@pytest.mark.parametrize(("shape", "axis"), [((5,), -1), ((3, 4), -1), ((3, 4), 0), ((2, 3, 4), 1)])
def test_softmax_backward_matches_finite_differences(rng, shape, axis):
    upstream = rng.standard_normal(shape)
    x = rng.standard_normal(shape)
    err = check_gradient(lambda z: np.sum(upstream * F.softmax(z, axis)),
                         lambda z: F.softmax_backward(F.softmax(z, axis), upstream, axis), x)
    assert err <= 1e-7


# --- known values --------------------------------------------------------------------------------

@pytest.mark.parametrize(("fn", "x", "expected"), [
    (F.sigmoid, 0.0, 0.5),
    (F.sigmoid_prime, 0.0, 0.25),
    (F.sigmoid, [-1000.0, 1000.0], [0.0, 1.0]),
    (F.tanh, 0.0, 0.0),
    (F.tanh_prime, 0.0, 1.0),
    (F.relu, [-2.0, 0.0, 3.0], [0.0, 0.0, 3.0]),
    (F.relu_prime, [-2.0, 0.0, 3.0], [0.0, 0.0, 1.0]),
    (F.leaky_relu, [-2.0, 3.0], [-0.02, 3.0]),
    (F.leaky_relu_prime, [-2.0, 0.0, 3.0], [0.01, 0.01, 1.0]),
    (partial(F.leaky_relu, negative_slope=0.1), [-2.0, 3.0], [-0.2, 3.0]),
    (F.elu, [-1000.0, 0.0, 2.0], [-1.0, 0.0, 2.0]),
    (F.elu_prime, [0.0, 2.0], [1.0, 1.0]),
    (partial(F.elu_prime, alpha=2.0), [0.0, -np.log(2)], [2.0, 1.0]),
    (F.softplus, [-1000.0, 0.0, 1000.0], [0.0, np.log(2), 1000.0]),
    (F.softplus_prime, 0.0, 0.5),
    (F.softmax, [1000.0, -1000.0], [1.0, 0.0]),
    (F.softmax, [0.0, 0.0, 0.0, 0.0], [0.25] * 4),
    (F.log_softmax, [1000.0, -1000.0], [0.0, -2000.0]),
    (F.logsumexp, [1000.0, 1000.0], 1000.0 + np.log(2)),
    (F.logsumexp, [0.0, np.log(3)], np.log(4)),
], ids=lambda v: _id(v) if callable(v) else None)
def test_known_values(fn, x, expected):
    np.testing.assert_allclose(fn(np.asarray(x)), expected, rtol=1e-12, atol=1e-300)


@pytest.mark.parametrize("axis", [-1, 0, 1])
def test_softmax_family_identities(rng, axis):
    x = 3 * rng.standard_normal((4, 5))
    s = F.softmax(x, axis)
    np.testing.assert_allclose(s.sum(axis=axis), 1.0, rtol=1e-12)
    np.testing.assert_allclose(F.log_softmax(x, axis), np.log(s), rtol=1e-10, atol=1e-14)
    np.testing.assert_allclose(F.logsumexp(x, axis), np.log(np.exp(x).sum(axis=axis)), rtol=1e-12)
    assert F.logsumexp(x, axis, keepdims=True).shape == tuple(1 if i == axis % 2 else n for i, n in enumerate(x.shape))
    np.testing.assert_allclose(F.softmax(x + 100.0, axis), s, rtol=1e-12)


# --- stability and dtypes ----------------------------------------------------------------------------

@pytest.mark.parametrize("dtype", [np.float32, np.float64])
@pytest.mark.parametrize("fn", ELEMENTWISE + REDUCING, ids=_id)
def test_extreme_inputs_are_finite_without_warnings(strict, fn, dtype):
    x = np.array([EXTREMES, EXTREMES[::-1]], dtype=dtype)
    y = fn(x)
    assert y.dtype == dtype
    assert np.all(np.isfinite(y))


@pytest.mark.parametrize("dtype", [np.float32, np.float64])
def test_softmax_backward_keeps_dtype_and_is_finite(strict, rng, dtype):
    x = np.array([EXTREMES], dtype=dtype)
    grad = F.softmax_backward(F.softmax(x), rng.standard_normal(x.shape).astype(dtype))
    assert grad.dtype == dtype
    assert np.all(np.isfinite(grad))


@pytest.mark.parametrize("fn", ELEMENTWISE + REDUCING, ids=_id)
def test_integer_input_becomes_float64(fn):
    assert fn(np.array([[0, 1, -2]])).dtype == np.float64


@pytest.mark.parametrize("fn", ELEMENTWISE + REDUCING, ids=_id)
def test_complex_input_is_refused_with_the_function_name(fn):
    name = getattr(fn, "__name__", None) or fn.func.__name__
    with pytest.raises(DTypeError, match=f"{name}: expected a real-valued array, got dtype complex128"):
        fn(np.array([1j]))


@pytest.mark.parametrize("fn", REDUCING, ids=_id)
@pytest.mark.parametrize("axis", [2, -3, 1.0])
def test_bad_axis_is_refused_with_the_function_name(fn, axis):
    with pytest.raises(InputError, match=f"{fn.__name__}: axis"):
        fn(np.zeros((2, 3)), axis=axis)


def test_softmax_backward_refuses_mismatched_shapes():
    with pytest.raises(InputError, match=r"softmax_backward: grad_out must have .* \(2, 3\), got \(3, 2\)"):
        F.softmax_backward(np.full((2, 3), 1 / 3), np.zeros((3, 2)))


# --- PyTorch --------------------------------------------------------------------------------------

KINK_POINTS = [-25.0, -3.0, -1.0, -0.5, 0.0, 0.5, 1.0, 3.0, 25.0]


@pytest.mark.parametrize(("dtype", "rtol"), [(np.float64, 1e-6), (np.float32, 1e-5)])
@pytest.mark.parametrize("name", ACTIVATIONS)
def test_activation_and_derivative_match_torch(torch, name, dtype, rtol):
    f, f_prime, twin = ACTIVATIONS[name]
    x = np.array(KINK_POINTS, dtype=dtype)
    xt = torch.tensor(x, requires_grad=True)
    yt = twin(torch, xt)
    yt.sum().backward()
    np.testing.assert_allclose(f(x), yt.detach().numpy(), rtol=rtol, atol=1e-7)
    np.testing.assert_allclose(f_prime(x), xt.grad.numpy(), rtol=rtol, atol=1e-7)


@pytest.mark.parametrize("axis", [-1, 0])
def test_softmax_family_matches_torch(torch, rng, axis):
    x = 5 * rng.standard_normal((4, 6))
    upstream = rng.standard_normal(x.shape)
    xt = torch.tensor(x, requires_grad=True)
    st = torch.softmax(xt, dim=axis)
    st.backward(torch.tensor(upstream))
    np.testing.assert_allclose(F.softmax(x, axis), st.detach().numpy(), rtol=1e-6)
    np.testing.assert_allclose(F.softmax_backward(F.softmax(x, axis), upstream, axis), xt.grad.numpy(),
                               rtol=1e-6, atol=1e-12)
    tx = torch.tensor(x)
    np.testing.assert_allclose(F.log_softmax(x, axis), torch.log_softmax(tx, dim=axis).numpy(), rtol=1e-6)
    np.testing.assert_allclose(F.logsumexp(x, axis), torch.logsumexp(tx, dim=axis).numpy(), rtol=1e-6)
