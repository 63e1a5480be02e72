"""Linear, the activation layers, Softmax, Maxout and a small MLP: gradients, PyTorch, the backward contract, errors."""

import numpy as np
import pytest

from nnlib import DTypeError, InputError, Sequential, gradcheck
from nnlib.layers import ELU, LeakyReLU, Linear, Maxout, ReLU, Sigmoid, Softmax, Softplus, Tanh

F64 = np.float64

# name -> factory(in_features, dtype) building the layer for inputs (..., in_features)
LAYERS = {
    "Linear": lambda n, dtype: Linear(n, 3, rng=0, dtype=dtype),
    "Linear(bias=False)": lambda n, dtype: Linear(n, 2, bias=False, rng=1, dtype=dtype),
    "Sigmoid": lambda n, dtype: Sigmoid(),
    "Tanh": lambda n, dtype: Tanh(),
    "ReLU": lambda n, dtype: ReLU(),
    "LeakyReLU": lambda n, dtype: LeakyReLU(),
    "LeakyReLU(0.2)": lambda n, dtype: LeakyReLU(0.2),
    "ELU": lambda n, dtype: ELU(),
    "ELU(alpha=0.5)": lambda n, dtype: ELU(alpha=0.5),
    "Softplus": lambda n, dtype: Softplus(),
    "Softmax": lambda n, dtype: Softmax(),
    "Softmax(axis=0)": lambda n, dtype: Softmax(axis=0),
    "Maxout": lambda n, dtype: Maxout(n, 3, rng=2, dtype=dtype),
    "Maxout(pieces=4)": lambda n, dtype: Maxout(n, 2, pieces=4, rng=3, dtype=dtype),
    "MLP": lambda n, dtype: Sequential(Linear(n, 6, rng=4, dtype=dtype), Tanh(), Linear(6, 5, rng=5, dtype=dtype),
                                       ReLU(), Maxout(5, 4, pieces=3, rng=6, dtype=dtype), ELU(),
                                       Linear(4, 3, rng=7, dtype=dtype), Softmax()),
}
WITH_PARAMETERS = [name for name in LAYERS if LAYERS[name](3, F64).parameters()]
PARAMETER_FREE = [name for name in LAYERS if name not in WITH_PARAMETERS]
SHAPES = [(1, 3), (4, 5), (2, 3, 4)]


def _upstream(layer, x, rng):
    """A random dL/dy for ``layer(x)``, in x's dtype."""
    return rng.standard_normal(layer(x).shape).astype(x.dtype)


def _run(layer, x, upstream):
    """One forward and backward pass; returns (output, dL/dx)."""
    y = layer(x)
    return y, layer.backward(upstream)


@pytest.mark.gradcheck
@pytest.mark.parametrize("shape", SHAPES, ids=str)
@pytest.mark.parametrize("name", LAYERS)
def test_gradcheck(rng, name, shape):
    layer = LAYERS[name](shape[-1], F64)
    errors = gradcheck(layer, rng.standard_normal(shape), tol=1e-7)
    assert set(errors) == {"input0"} | {n for n, _ in layer.named_parameters()}


# --- PyTorch ----------------------------------------------------------------------------------------

def _torch_twin(torch, layer):
    """A torch function computing ``layer``'s map with the same parameter values, and
    ``[(nnlib parameter, callable returning the torch gradient in nnlib's layout)]``."""
    nn = torch.nn

    def leaf(array):
        return torch.tensor(array, requires_grad=True)

    if isinstance(layer, Sequential):
        twins = [_torch_twin(torch, sub) for sub in layer]

        def chain(x):
            for fn, _ in twins:
                x = fn(x)
            return x
        return chain, [pair for _, pairs in twins for pair in pairs]
    if isinstance(layer, Linear):
        twin = nn.Linear(layer.in_features, layer.out_features, bias=layer.bias is not None, dtype=torch.float64)
        with torch.no_grad():
            twin.weight.copy_(torch.tensor(layer.weight.data.T))  # nnlib (in, out) -> torch (out, in)
            if layer.bias is not None:
                twin.bias.copy_(torch.tensor(layer.bias.data))
        pairs = [(layer.weight, lambda: twin.weight.grad.numpy().T)]
        if layer.bias is not None:
            pairs.append((layer.bias, lambda: twin.bias.grad.numpy()))
        return twin, pairs
    if isinstance(layer, Maxout):
        weight, bias = leaf(layer.weight.data), leaf(layer.bias.data)

        def maxout(x):
            z = x.reshape(-1, layer.in_features) @ weight + bias[:, None, :]  # (pieces, M, out)
            return z.max(dim=0).values.reshape(*x.shape[:-1], layer.out_features)
        return maxout, [(layer.weight, lambda: weight.grad.numpy()), (layer.bias, lambda: bias.grad.numpy())]
    simple = {Sigmoid: nn.Sigmoid, Tanh: nn.Tanh, ReLU: nn.ReLU, Softplus: nn.Softplus,
              LeakyReLU: lambda: nn.LeakyReLU(layer.negative_slope), ELU: lambda: nn.ELU(layer.alpha),
              Softmax: lambda: nn.Softmax(dim=layer.axis)}
    return simple[type(layer)](), []


@pytest.mark.parametrize("shape", SHAPES, ids=str)
@pytest.mark.parametrize("name", LAYERS)
def test_matches_torch(torch, rng, name, shape):
    layer = LAYERS[name](shape[-1], F64)
    x = rng.standard_normal(shape)
    upstream = _upstream(layer, x, rng)
    y, grad_x = _run(layer, x, upstream)
    twin, pairs = _torch_twin(torch, layer)
    xt = torch.tensor(x, requires_grad=True)
    yt = twin(xt)
    yt.backward(torch.tensor(upstream))
    np.testing.assert_allclose(y, yt.detach().numpy(), rtol=1e-6, atol=1e-12)
    np.testing.assert_allclose(grad_x, xt.grad.numpy(), rtol=1e-6, atol=1e-12)
    assert len(pairs) == len(layer.parameters())
    for param, torch_grad in pairs:
        np.testing.assert_allclose(param.grad, torch_grad(), rtol=1e-6, atol=1e-12, err_msg=param.name)


# --- the backward contract ---------------------------------------------------------------------------

@pytest.mark.parametrize("name", LAYERS)
def test_second_backward_accumulates(rng, name):
    layer = LAYERS[name](4, F64)
    x = rng.standard_normal((3, 4))
    upstream = _upstream(layer, x, rng)
    _, first = _run(layer, x, upstream)
    once = [p.grad.copy() for p in layer.parameters()]
    _, second = _run(layer, x, upstream)
    np.testing.assert_array_equal(second, first)
    for param, grad in zip(layer.parameters(), once, strict=True):
        np.testing.assert_allclose(param.grad, 2 * grad, rtol=1e-12, err_msg=param.name)
        assert np.any(grad != 0), param.name


@pytest.mark.parametrize("name", WITH_PARAMETERS)
def test_frozen_parameter_keeps_zero_grad(rng, name):
    layer = LAYERS[name](4, F64)
    frozen, *trainable = layer.parameters()
    frozen.requires_grad = False
    x = rng.standard_normal((3, 4))
    _run(layer, x, _upstream(layer, x, rng))
    assert not np.any(frozen.grad)
    assert all(np.any(p.grad) for p in trainable)


@pytest.mark.parametrize("name", LAYERS)
def test_inputs_and_grad_out_are_not_mutated(rng, name):
    layer = LAYERS[name](4, F64)
    x = rng.standard_normal((3, 4))
    upstream = _upstream(layer, x, rng)
    x_before, upstream_before = x.copy(), upstream.copy()
    _run(layer, x, upstream)
    np.testing.assert_array_equal(x, x_before)
    np.testing.assert_array_equal(upstream, upstream_before)


@pytest.mark.parametrize("dtype", [np.float32, np.float64])
@pytest.mark.parametrize("name", LAYERS)
def test_dtype_is_preserved(rng, name, dtype):
    layer = LAYERS[name](4, dtype)
    x = rng.standard_normal((3, 4)).astype(dtype)
    y, grad_x = _run(layer, x, _upstream(layer, x, rng))
    assert y.dtype == grad_x.dtype == dtype
    assert all(p.grad.dtype == dtype for p in layer.parameters())


@pytest.mark.parametrize("dtype", [np.float32, np.float64])
@pytest.mark.parametrize("name", PARAMETER_FREE)
def test_parameter_free_layers_are_stable_at_extremes(name, dtype):
    layer = LAYERS[name](4, dtype)
    x = np.array([[-1000.0, -1.0, 0.0, 1000.0]], dtype=dtype)
    y, grad_x = _run(layer, x, np.ones_like(x))
    assert np.all(np.isfinite(y)) and np.all(np.isfinite(grad_x))


def test_maxout_is_the_max_of_its_pieces(rng):
    layer = Maxout(3, 2, pieces=2, rng=0, dtype=F64)
    x = rng.standard_normal((5, 3))
    w, b = layer.weight.data, layer.bias.data
    np.testing.assert_allclose(layer(x), np.maximum(x @ w[0] + b[0], x @ w[1] + b[1]), rtol=1e-12)


def test_maxout_tie_sends_gradient_to_first_piece():
    layer = Maxout(2, 1, pieces=3, rng=0, dtype=F64)
    layer.weight.data[:] = 1.0
    layer.bias.data[:] = 0.0
    layer(np.array([[1.0, 2.0]]))
    layer.backward(np.ones((1, 1)))
    np.testing.assert_array_equal(layer.weight.grad[:, :, 0], [[1.0, 2.0], [0.0, 0.0], [0.0, 0.0]])
    np.testing.assert_array_equal(layer.bias.grad, [[1.0], [0.0], [0.0]])


@pytest.mark.parametrize(("layer", "text"), [
    (Sigmoid(), "Sigmoid()"),
    (Tanh(), "Tanh()"),
    (ReLU(), "ReLU()"),
    (LeakyReLU(), "LeakyReLU(negative_slope=0.01)"),
    (ELU(alpha=0.5), "ELU(alpha=0.5)"),
    (Softplus(), "Softplus()"),
    (Softmax(axis=1), "Softmax(axis=1)"),
    (Maxout(3, 2, pieces=4), "Maxout(in_features=3, out_features=2, pieces=4, dtype=float32)"),
], ids=str)
def test_repr(layer, text):
    assert repr(layer) == text


# --- bad input ----------------------------------------------------------------------------------------

WITH_FEATURES = ["Linear", "Maxout", "MLP"]
BAD_FORWARD = [
    # (layers, bad input where (2, 4) float64 is expected, error, message after the layer's name)
    (WITH_FEATURES, np.ones((2, 5)), InputError, r"input must have shape \(N, 4\)"),
    (WITH_FEATURES, np.ones(4), InputError, r"input must have shape \(N, 4\)"),
    (list(LAYERS), np.ones((2, 4), dtype=np.int64), DTypeError, "floating-point array, got dtype int64"),
    (WITH_FEATURES, np.ones((2, 4), dtype=np.float32), DTypeError, "has dtype float32 but"),
    (WITH_FEATURES, np.array([[1.0, np.nan, 0.0, 1.0]] * 2), InputError, "contains 2 NaN"),
]
BAD_GRAD_OUT = {  # spoil the correct grad_out
    "wrong shape": (lambda g: np.ones(g.shape + (1,)), InputError, r"grad_out \(dL/d output\) must have shape"),
    "float32": (lambda g: g.astype(np.float32), DTypeError, r"grad_out \(dL/d output\) has dtype float32"),
}


def _culprit(layer, first: bool):
    """The layer whose name the error must carry: a Sequential's first layer sees x, its last grad_out."""
    if isinstance(layer, Sequential):
        return layer[0] if first else layer[-1]
    return layer


@pytest.mark.parametrize(("name", "bad", "error", "pattern"), [
    pytest.param(name, bad, error, pattern, id=f"{name}-{i}")
    for i, (names, bad, error, pattern) in enumerate(BAD_FORWARD) for name in names])
def test_bad_input_names_the_layer(name, bad, error, pattern):
    layer = LAYERS[name](4, F64)
    with pytest.raises(error, match=f"^{type(_culprit(layer, True)).__name__}.*{pattern}"):
        layer(bad)


@pytest.mark.parametrize("spoil", BAD_GRAD_OUT)
@pytest.mark.parametrize("name", LAYERS)
def test_bad_grad_out_names_the_layer(name, spoil):
    layer = LAYERS[name](4, F64)
    make_bad, error, pattern = BAD_GRAD_OUT[spoil]
    y = layer(np.ones((2, 4)))
    with pytest.raises(error, match=f"^{type(_culprit(layer, False)).__name__}.*{pattern}"):
        layer.backward(make_bad(y))


@pytest.mark.parametrize("name", LAYERS)
def test_backward_before_forward_names_the_layer(name):
    layer = LAYERS[name](4, F64)  # a model is named itself: it is what was not run forward
    with pytest.raises(RuntimeError, match=f"^{type(layer).__name__}.*backward called before forward"):
        layer.backward(np.ones((2, 3)))


def test_softmax_axis_out_of_range_names_the_layer():
    with pytest.raises(InputError, match=r"Softmax\(axis=2\): axis 2 is out of range .* \(3, 4\)"):
        Softmax(axis=2)(np.ones((3, 4)))


@pytest.mark.parametrize(("build", "error", "pattern"), [
    (lambda: LeakyReLU("0.1"), InputError, "LeakyReLU: negative_slope must be a finite real number"),
    (lambda: ELU(alpha=np.nan), InputError, "ELU: alpha must be a finite real number"),
    (lambda: Softmax(axis=1.0), InputError, "Softmax: axis must be an int"),
    (lambda: Maxout(3, 2, pieces=0), InputError, "Maxout: pieces must be a positive integer"),
    (lambda: Maxout(0, 2), InputError, "Maxout: in_features must be a positive integer"),
    (lambda: Maxout(3, 2, dtype=np.int32), DTypeError, "Maxout: dtype must be float32 or float64"),
], ids=["slope", "alpha", "axis", "pieces", "in_features", "dtype"])
def test_bad_constructor_arguments(build, error, pattern):
    with pytest.raises(error, match=pattern):
        build()
