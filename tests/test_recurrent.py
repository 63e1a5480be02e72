"""RNN, LSTM, GRU, Embedding, gradient clipping: BPTT gradients, PyTorch twins over several T, N and sizes, the fast
kernels against the reference steps, the public caches, errors."""

import numpy as np
import pytest

from nnlib import GRU, LSTM, RNN, DTypeError, Embedding, InputError, Linear, gradcheck, use_fast_kernels
from nnlib.gradcheck import tree_leaves
from nnlib.layers.recurrent import GRUCache, LSTMCache, RNNCache
from nnlib.optim import clip_grad_norm, clip_grad_value, grad_norm

F64 = np.float64
LAYERS = {
    "RNN": lambda i, h, dtype=F64, **kw: RNN(i, h, rng=0, dtype=dtype, **kw),
    "RNN(relu)": lambda i, h, dtype=F64, **kw: RNN(i, h, nonlinearity="relu", rng=1, dtype=dtype, **kw),
    "LSTM": lambda i, h, dtype=F64, **kw: LSTM(i, h, rng=2, dtype=dtype, **kw),
    "GRU": lambda i, h, dtype=F64, **kw: GRU(i, h, rng=3, dtype=dtype, **kw),
}
# (N, T, I, H): one step, one sample, more inputs than hidden units and the reverse
SIZES = [(1, 1, 2, 3), (3, 5, 4, 2), (2, 9, 1, 6), (4, 3, 6, 5)]


def _initial_state(layer, n, rng):
    h0 = rng.standard_normal((n, layer.hidden_size))
    return (h0, rng.standard_normal((n, layer.hidden_size))) if isinstance(layer, LSTM) else h0


def _random_like(tree, rng):
    if isinstance(tree, tuple):
        return tuple(_random_like(t, rng) for t in tree)
    return rng.standard_normal(tree.shape)


# --- gradients ------------------------------------------------------------------------------------------------

@pytest.mark.gradcheck
@pytest.mark.parametrize("bias", [True, False])
@pytest.mark.parametrize("size", SIZES[:3], ids=str)
@pytest.mark.parametrize("name", LAYERS)
def test_gradcheck_inputs_initial_state_and_parameters(rng, kernel_path, name, size, bias):
    n, t, i, h = size
    layer = LAYERS[name](i, h, bias=bias)
    x = rng.standard_normal((n, t, i))
    errors = gradcheck(layer, x, _initial_state(layer, n, rng), tol=1e-7)
    n_state = 2 if isinstance(layer, LSTM) else 1
    assert set(errors) == {f"input{k}" for k in range(1 + n_state)} | {p for p, _ in layer.named_parameters()}


@pytest.mark.gradcheck
def test_gradcheck_a_language_model_step(rng, kernel_path):
    """Embedding → GRU → Linear, the shape of lesson 07's character model, checked end to end."""
    from nnlib import Module

    class Tiny(Module):
        def __init__(self):
            self.embed, self.rnn = Embedding(5, 3, rng=0, dtype=F64), GRU(3, 4, rng=1, dtype=F64)
            self.head = Linear(4, 5, rng=2, dtype=F64)

        def forward(self, ids):
            return self.head(self.rnn(self.embed(ids))[0])

        def backward(self, grad):
            self.embed.backward(self.rnn.backward(self.head.backward(grad))[0])

    errors = gradcheck(Tiny(), rng.integers(0, 5, (2, 6)), tol=1e-7)
    assert {"embed.weight", "rnn.weight_hh", "head.weight"} <= set(errors)


# --- fast kernels against the reference steps ------------------------------------------------------------------

ODD = (3, 5, 2, 7)  # (N, T, I, H): no two sizes alike, so a swapped axis cannot pass


def _forward_backward(layer, x, state, grad_output, grad_last):
    """Everything one forward and backward produce: outputs, cache fields, input and parameter gradients."""
    output, last = layer(x, state)
    cache = layer.cache
    grad_x, grad_state = layer.backward(grad_output, grad_last)
    return {"output": output, "last state": last, **cache._asdict(), "dL/dx": grad_x,
            "dL/d initial state": grad_state, **{name: p.grad for name, p in layer.named_parameters()}}


def _random_case(layer, rng, with_state, shape=ODD):
    n, t, i, _ = shape
    x = rng.standard_normal((n, t, i))
    state = _initial_state(layer, n, rng) if with_state else None
    last = _initial_state(layer, n, rng)
    return x, state, rng.standard_normal((n, t, layer.hidden_size)), _random_like(last, rng) if with_state else None


# (N, T, I, H) beside ODD: all ones, one sample, one step, one hidden unit, more inputs than hidden units
KERNEL_SHAPES = {"odd": ODD, "ones": (1, 1, 1, 1), "N=1": (1, 4, 3, 5), "T=1": (2, 1, 3, 6), "H=1": (3, 4, 5, 1),
                 "wide": (4, 2, 9, 33)}


@pytest.mark.parametrize("shape", KERNEL_SHAPES.values(), ids=KERNEL_SHAPES.keys())
@pytest.mark.parametrize("with_state", [True, False], ids=["state-and-grad_h_n", "no-state"])
@pytest.mark.parametrize("bias", [True, False])
@pytest.mark.parametrize("name", LAYERS)
def test_fast_kernels_equal_the_reference_forward_and_backward(rng, name, bias, with_state, shape):
    """Both roads, float64, odd shapes (and N = T = I = H = 1): the same outputs, cache, dL/dx, dL/d(initial state)
    and parameter grads."""
    _, _, inputs, hidden = shape
    case = _random_case(LAYERS[name](inputs, hidden, bias=bias), rng, with_state, shape)
    results = {}
    for fast in (True, False):
        with use_fast_kernels(fast):
            results[fast] = _forward_backward(LAYERS[name](inputs, hidden, bias=bias), *case)
    assert results[True].keys() == results[False].keys()
    for what, fast_value in results[True].items():
        for ours, reference in zip(tree_leaves(fast_value), tree_leaves(results[False][what]), strict=True):
            assert ours.shape == reference.shape, what
            np.testing.assert_allclose(ours, reference, rtol=1e-12, atol=1e-13, err_msg=what)


@pytest.mark.parametrize("with_state", [True, False], ids=["state-and-grad_h_n", "no-state"])
@pytest.mark.parametrize("bias", [True, False])
@pytest.mark.parametrize("name", LAYERS)
def test_a_cache_from_either_road_serves_the_other_roads_backward(rng, name, bias, with_state):
    """The kernels fill the same named cache as the reference, so switching between forward and backward is exact,
    parameter gradients included."""
    case = _random_case(LAYERS[name](ODD[2], ODD[3], bias=bias), rng, with_state)
    with use_fast_kernels(False):
        expected = _forward_backward(LAYERS[name](ODD[2], ODD[3], bias=bias), *case)
    for forward_fast in (True, False):
        layer = LAYERS[name](ODD[2], ODD[3], bias=bias)
        with use_fast_kernels(forward_fast):
            layer(*case[:2])
        with use_fast_kernels(not forward_fast):
            grad_x, grad_state = layer.backward(*case[2:])
        np.testing.assert_allclose(grad_x, expected["dL/dx"], rtol=1e-12, atol=1e-13)
        for ours, theirs in zip(tree_leaves(grad_state), tree_leaves(expected["dL/d initial state"]), strict=True):
            np.testing.assert_allclose(ours, theirs, rtol=1e-12, atol=1e-13)
        for param_name, param in layer.named_parameters():
            np.testing.assert_allclose(param.grad, expected[param_name], rtol=1e-12, atol=1e-13, err_msg=param_name)


@pytest.mark.parametrize("name", LAYERS)
def test_stacked_layers_agree_on_both_roads(rng, name):
    """Two layers stacked, the second reading the first's output sequence and the first receiving the second's
    dL/dx as its dL/d(outputs): both roads give the same gradients all the way down."""
    n, t, inputs, hidden = ODD
    x, upstream = rng.standard_normal((n, t, inputs)), rng.standard_normal((n, t, hidden + 1))
    results = {}
    for fast in (True, False):
        first, second = LAYERS[name](inputs, hidden), LAYERS[name](hidden, hidden + 1)
        with use_fast_kernels(fast):
            output, _ = second(first(x)[0])
            grad_x, _ = first.backward(second.backward(upstream)[0])
        results[fast] = [output, grad_x] + [p.grad for layer in (first, second) for p in layer.parameters()]
    for ours, reference in zip(results[True], results[False], strict=True):
        np.testing.assert_allclose(ours, reference, rtol=1e-12, atol=1e-13)


@pytest.mark.parametrize("name", LAYERS)
def test_the_public_cache_holds_the_documented_values(rng, kernel_path, name):
    n, t, i, h = ODD
    layer = LAYERS[name](i, h)
    x, state = rng.standard_normal((n, t, i)), _initial_state(layer, n, rng)
    output, _ = layer(x, state)
    cache = layer.cache
    assert type(cache) is {RNN: RNNCache, LSTM: LSTMCache, GRU: GRUCache}[type(layer)]
    h0 = state[0] if isinstance(layer, LSTM) else state
    assert cache.x is x and cache.hs.shape == (t + 1, n, h)
    np.testing.assert_array_equal(cache.hs[0], h0)
    np.testing.assert_array_equal(cache.hs[1:].transpose(1, 0, 2), output)
    if isinstance(layer, LSTM):
        i_, f, g, o = np.split(cache.gates, 4, axis=2)
        assert cache.cs.shape == (t + 1, n, h) and cache.gates.shape == (t, n, 4 * h)
        np.testing.assert_array_equal(cache.cs[0], state[1])
        np.testing.assert_allclose(cache.tanh_c, np.tanh(cache.cs[1:]), rtol=1e-14)
        np.testing.assert_allclose(cache.cs[1:], f * cache.cs[:-1] + i_ * g, rtol=1e-13)
        np.testing.assert_allclose(cache.hs[1:], o * cache.tanh_c, rtol=1e-13)
    if isinstance(layer, GRU):
        r, z, candidate = np.split(cache.gates, 3, axis=2)
        assert cache.gates.shape == (t, n, 3 * h) and cache.n_hidden.shape == (t, n, h)
        w_hn, b_hn = layer.weight_hh.data[:, 2 * h:], layer.bias_hh.data[2 * h:]
        np.testing.assert_allclose(cache.n_hidden, cache.hs[:-1] @ w_hn + b_hn, rtol=1e-13, atol=1e-15)
        np.testing.assert_allclose(cache.hs[1:], (1 - z) * candidate + z * cache.hs[:-1], rtol=1e-13)


@pytest.mark.parametrize("name", LAYERS)
def test_step_is_one_step_of_forward(rng, kernel_path, name):
    """The public ``step`` (lesson 08's lstm_step / gru_step) gives what forward gives on a one-step sequence."""
    n, _, i, h = ODD
    layer = LAYERS[name](i, h)
    x_t, state = rng.standard_normal((n, i)), _initial_state(layer, n, rng)
    _, last = layer(x_t[:, None], state)
    stepped = layer.step(x_t, *state) if isinstance(layer, LSTM) else layer.step(x_t, state)
    h_t = stepped if isinstance(layer, RNN) else stepped[0]
    np.testing.assert_allclose(h_t, tree_leaves(last)[0], rtol=1e-13)
    if isinstance(layer, LSTM):
        np.testing.assert_allclose(stepped[1], last[1], rtol=1e-13)


@pytest.mark.parametrize("name", LAYERS)
def test_forward_under_no_grad_keeps_no_cache_and_reads_no_stale_one(rng, kernel_path, name):
    from nnlib import no_grad

    layer = LAYERS[name](3, 4)
    x1, x2 = rng.standard_normal((2, 5, 3)), rng.standard_normal((2, 5, 3))
    layer(x1)
    with no_grad():
        output, last = layer(x2)
    layer.backward(np.ones_like(output))  # the waiting forward on x1
    with pytest.raises(RuntimeError, match="no cache"):
        _ = layer.cache
    fresh, fresh_last = layer(x2)
    for ours, expected in zip(tree_leaves((output, last)), tree_leaves((fresh, fresh_last)), strict=True):
        np.testing.assert_array_equal(ours, expected)


# --- PyTorch ----------------------------------------------------------------------------------------------------

def _torch_twin(torch, layer):
    """The torch module with ``layer``'s weights: nnlib's (in, gates·H) is torch's transpose, same gate order."""
    kwargs = {"nonlinearity": layer.nonlinearity} if isinstance(layer, RNN) else {}
    twin = getattr(torch.nn, type(layer).__name__)(layer.input_size, layer.hidden_size, batch_first=True,
                                                    bias=layer.bias_ih is not None, dtype=torch.float64, **kwargs)
    pairs = [(layer.weight_ih, twin.weight_ih_l0, True), (layer.weight_hh, twin.weight_hh_l0, True)]
    if layer.bias_ih is not None:
        pairs += [(layer.bias_ih, twin.bias_ih_l0, False), (layer.bias_hh, twin.bias_hh_l0, False)]
    with torch.no_grad():
        for ours, theirs, transposed in pairs:
            theirs.copy_(torch.tensor(ours.data.T if transposed else ours.data))
    return twin, pairs


def _torch_state(torch, state):
    """nnlib's (N, H) states → torch's (1, N, H) leaves."""
    if isinstance(state, tuple):
        return tuple(_torch_state(torch, s) for s in state)
    return torch.tensor(state[None], requires_grad=True)


@pytest.mark.parametrize("bias", [True, False])
@pytest.mark.parametrize("size", SIZES, ids=str)
@pytest.mark.parametrize("name", LAYERS)
def test_matches_torch(torch, rng, kernel_path, name, size, bias):
    n, t, i, h = size
    layer = LAYERS[name](i, h, bias=bias)
    x, state = rng.standard_normal((n, t, i)), _initial_state(layer, n, rng)
    output, last = layer(x, state)
    grad_output, grad_last = rng.standard_normal(output.shape), _random_like(last, rng)
    grad_x, grad_state = layer.backward(grad_output, grad_last)

    twin, pairs = _torch_twin(torch, layer)
    x_t, state_t = torch.tensor(x, requires_grad=True), _torch_state(torch, state)
    output_t, last_t = twin(x_t, state_t)
    total = (output_t * torch.tensor(grad_output)).sum()
    for value, grad in zip(tree_leaves(last_t), tree_leaves(grad_last), strict=True):
        total = total + (value[0] * torch.tensor(grad)).sum()
    total.backward()

    def close(ours, theirs, what):
        np.testing.assert_allclose(ours, theirs, rtol=1e-7, atol=1e-10, err_msg=what)

    close(output, output_t.detach().numpy(), "output")
    for ours, theirs in zip(tree_leaves(last), tree_leaves(last_t), strict=True):
        close(ours, theirs.detach().numpy()[0], "last state")
    close(grad_x, x_t.grad.numpy(), "dL/dx")
    for ours, theirs in zip(tree_leaves(grad_state), tree_leaves(state_t), strict=True):
        close(ours, theirs.grad.numpy()[0], "dL/d initial state")
    for ours, theirs, transposed in pairs:
        close(ours.grad, theirs.grad.numpy().T if transposed else theirs.grad.numpy(), ours.name)


@pytest.mark.parametrize("name", LAYERS)
def test_float32_long_sequence_matches_torch(torch, rng, kernel_path, name):
    layer = LAYERS[name](16, 32, dtype=np.float32)
    x = rng.standard_normal((8, 50, 16)).astype(np.float32)
    output, _ = layer(x)
    grad = rng.standard_normal(output.shape).astype(np.float32)
    grad_x, _ = layer.backward(grad)
    twin, pairs = _torch_twin(torch, layer)
    twin.float()
    x_t = torch.tensor(x, requires_grad=True)
    output_t, _ = twin(x_t)
    output_t.backward(torch.tensor(grad))
    np.testing.assert_allclose(output, output_t.detach().numpy(), atol=1e-5)
    np.testing.assert_allclose(grad_x, x_t.grad.numpy(), rtol=1e-4, atol=1e-4)
    assert output.dtype == grad_x.dtype == np.float32
    for ours, theirs, transposed in pairs:
        expected = theirs.grad.numpy().T if transposed else theirs.grad.numpy()
        np.testing.assert_allclose(ours.grad, expected, rtol=1e-4, atol=1e-3, err_msg=ours.name)


def test_embedding_matches_torch(torch, rng):
    layer = Embedding(7, 3, rng=0, dtype=F64)
    ids = rng.integers(0, 7, (4, 5))  # repeated ids: their gradients must add up
    grad = rng.standard_normal((4, 5, 3))
    y = layer(ids)
    assert layer.backward(grad) is None
    twin = torch.nn.Embedding(7, 3, dtype=torch.float64)
    with torch.no_grad():
        twin.weight.copy_(torch.tensor(layer.weight.data))
    y_t = twin(torch.tensor(ids))
    y_t.backward(torch.tensor(grad))
    np.testing.assert_array_equal(y, y_t.detach().numpy())
    np.testing.assert_allclose(layer.weight.grad, twin.weight.grad.numpy(), rtol=1e-12)


@pytest.mark.parametrize("max_norm", [0.1, 1.0, 100.0])
def test_clip_grad_norm_matches_torch(torch, rng, max_norm):
    layers = [Linear(3, 4, rng=0, dtype=F64), Linear(4, 2, rng=1, dtype=F64)]
    params = [p for layer in layers for p in layer.parameters()]
    grads = [rng.standard_normal(p.shape) for p in params]
    for p, g in zip(params, grads, strict=True):
        p.grad[...] = g
    leaves = [torch.zeros(p.shape, dtype=torch.float64, requires_grad=True) for p in params]
    for leaf, g in zip(leaves, grads, strict=True):
        leaf.grad = torch.tensor(g)
    assert grad_norm(params) == pytest.approx(np.sqrt(sum(np.sum(g * g) for g in grads)), rel=1e-12)
    total = clip_grad_norm(params, max_norm)
    assert total == pytest.approx(float(torch.nn.utils.clip_grad_norm_(leaves, max_norm)), rel=1e-12)
    for p, leaf in zip(params, leaves, strict=True):
        np.testing.assert_allclose(p.grad, leaf.grad.numpy(), rtol=1e-12)


def test_clip_grad_value_matches_torch_and_skips_frozen(torch, rng):
    layer = Linear(3, 4, rng=0, dtype=F64)
    layer.weight.grad[...] = rng.standard_normal((3, 4))
    layer.bias.grad[...] = 5.0
    layer.bias.requires_grad = False
    leaf = torch.zeros((3, 4), dtype=torch.float64, requires_grad=True)
    leaf.grad = torch.tensor(layer.weight.grad.copy())
    torch.nn.utils.clip_grad_value_([leaf], 0.5)
    clip_grad_value(layer.parameters(), 0.5)
    np.testing.assert_array_equal(layer.weight.grad, leaf.grad.numpy())
    assert np.abs(layer.weight.grad).max() == 0.5
    np.testing.assert_array_equal(layer.bias.grad, 5.0)


# --- behaviour ------------------------------------------------------------------------------------------------

@pytest.mark.parametrize("name", LAYERS)
def test_last_state_is_the_last_output_and_zero_state_is_the_default(rng, name):
    layer = LAYERS[name](3, 4)
    x = rng.standard_normal((2, 5, 3))
    output, last = layer(x)
    h_n = last[0] if isinstance(layer, LSTM) else last
    np.testing.assert_array_equal(h_n, output[:, -1])
    zeros = _initial_state(layer, 2, rng)
    zeros = tuple(np.zeros_like(z) for z in zeros) if isinstance(zeros, tuple) else np.zeros_like(zeros)
    np.testing.assert_array_equal(layer(x, zeros)[0], output)


@pytest.mark.parametrize("name", LAYERS)
def test_step_by_step_equals_the_whole_sequence(rng, kernel_path, name):
    """Feeding one step at a time, passing the state along, gives the same outputs as one call."""
    layer = LAYERS[name](3, 4)
    x = rng.standard_normal((2, 6, 3))
    whole, _ = layer(x)
    state, steps = None, []
    for t in range(6):
        out, state = layer(x[:, t:t + 1], state)
        steps.append(out)
    np.testing.assert_allclose(np.concatenate(steps, axis=1), whole, rtol=1e-12)


@pytest.mark.parametrize("name", LAYERS)
def test_second_backward_accumulates_and_nothing_is_mutated(rng, kernel_path, name):
    layer = LAYERS[name](3, 4)
    x = rng.standard_normal((2, 5, 3))
    output, last = layer(x)
    grad_output, grad_last = rng.standard_normal(output.shape), _random_like(last, rng)
    saved = [a.copy() for a in [x, grad_output, *tree_leaves(grad_last)]]
    first = layer.backward(grad_output, grad_last)
    once = [p.grad.copy() for p in layer.parameters()]
    layer(x)
    second = layer.backward(grad_output, grad_last)
    for a, b in zip(tree_leaves(first), tree_leaves(second), strict=True):
        np.testing.assert_array_equal(a, b)
    for p, g in zip(layer.parameters(), once, strict=True):
        np.testing.assert_allclose(p.grad, 2 * g, rtol=1e-12, err_msg=p.name)
    for before, after in zip(saved, [x, grad_output, *tree_leaves(grad_last)], strict=True):
        np.testing.assert_array_equal(before, after)


@pytest.mark.parametrize("name", LAYERS)
def test_frozen_parameters_and_missing_upstream(rng, kernel_path, name):
    layer = LAYERS[name](3, 4)
    layer.weight_hh.requires_grad = False
    x = rng.standard_normal((2, 5, 3))
    _, last = layer(x)
    grad_x, _ = layer.backward(None, _random_like(last, rng))  # only the last state matters, as in many-to-one
    assert not np.any(layer.weight_hh.grad) and np.any(layer.weight_ih.grad) and np.any(grad_x)


@pytest.mark.parametrize("dtype", [np.float32, np.float64])
@pytest.mark.parametrize("name", LAYERS)
def test_dtype_is_preserved(rng, kernel_path, name, dtype):
    layer = LAYERS[name](3, 4, dtype=dtype)
    output, _ = layer(rng.standard_normal((2, 5, 3)).astype(dtype))
    grad_x, _ = layer.backward(np.ones_like(output))
    assert output.dtype == grad_x.dtype == dtype
    assert all(p.grad.dtype == dtype for p in layer.parameters())


def test_parameter_counts_match_pytorch():
    """4·(I·H + H·H + 2H) for the LSTM, 3·(...) for the GRU, 1·(...) for the RNN: the notes' comparison."""
    i, h = 16, 64
    assert RNN(i, h).num_parameters() == i * h + h * h + 2 * h
    assert GRU(i, h).num_parameters() == 3 * (i * h + h * h + 2 * h)
    assert LSTM(i, h).num_parameters() == 4 * (i * h + h * h + 2 * h)


def test_clip_grad_norm_keeps_the_direction_and_leaves_small_gradients_alone(rng):
    layer = Linear(5, 5, rng=0, dtype=F64)
    layer.weight.grad[...] = rng.standard_normal((5, 5)) * 10
    direction = layer.weight.grad / np.linalg.norm(layer.weight.grad)
    total = clip_grad_norm(layer.parameters(), 1.0)
    assert total > 1.0
    assert np.linalg.norm(layer.weight.grad) == pytest.approx(1.0, rel=1e-5)
    np.testing.assert_allclose(layer.weight.grad / np.linalg.norm(layer.weight.grad), direction, rtol=1e-12)
    before = layer.weight.grad.copy()
    clip_grad_norm(layer.parameters(), 10.0)
    np.testing.assert_array_equal(layer.weight.grad, before)


# --- bad input ------------------------------------------------------------------------------------------------

@pytest.mark.parametrize(("call", "error", "pattern"), [
    (lambda: RNN(3, 4, dtype=F64)(np.ones((2, 3))), InputError,
     r"^RNN\(3, 4.*input must have shape \(N, T, 3\).*got \(2, 3\) — add the batch axis"),
    (lambda: LSTM(3, 4, dtype=F64)(np.ones((2, 5, 2))), InputError, r"^LSTM.*\(N, T, 3\).*got \(2, 5, 2\)"),
    (lambda: GRU(3, 4, dtype=F64)(np.ones((2, 0, 3))), InputError, r"^GRU.*N, T ≥ 1"),
    (lambda: GRU(3, 4)(np.ones((2, 5, 3))), DTypeError, "has dtype float64 but the layer's parameters are float32"),
    (lambda: RNN(3, 4, dtype=F64)(np.ones((2, 5, 3)), np.ones((3, 4))), InputError,
     r"^RNN.*h0 must have shape \(2, 4\), got \(3, 4\)"),
    (lambda: LSTM(3, 4, dtype=F64)(np.ones((2, 5, 3)), np.ones((2, 4))), InputError,
     r"^LSTM.*state must be a pair \(h, c\)"),
    (lambda: LSTM(3, 4, dtype=F64)(np.ones((2, 5, 3)), (np.ones((2, 4)), np.ones((2, 5)))), InputError,
     r"^LSTM.*c0 must have shape \(2, 4\)"),
    (lambda: RNN(3, 4, dtype=F64)(np.full((1, 2, 3), np.nan)), InputError, "contains 6 NaN"),
    (lambda: RNN(3, 4, nonlinearity="sigmoid"), InputError, "nonlinearity must be 'tanh' or 'relu'"),
    (lambda: LSTM(0, 4), InputError, "LSTM: input_size must be a positive integer"),
    (lambda: GRU(3, 4, dtype=np.int64), DTypeError, "GRU: dtype must be float32 or float64"),
    (lambda: Embedding(5, 2)(np.array([[0.0, 1.0]])), DTypeError, "integer token ids, got dtype float64 — convert"),
    (lambda: Embedding(5, 2)(np.array([[0, 5]])), InputError, r"token ids must be in \[0, 5\), got values in \[0, 5\]"),
    (lambda: Embedding(5, 2)(np.array(3)), InputError, "non-empty array of ids"),
    (lambda: clip_grad_norm([], 1.0), InputError, "clip_grad_norm: got an empty list"),
    (lambda: clip_grad_norm(Linear(2, 2).parameters(), 0), InputError, "max_norm must be a number > 0"),
    (lambda: clip_grad_value(Linear(2, 2).weight, 1.0), InputError, "got a single Parameter"),
], ids=["2-D", "features", "empty", "dtype", "h0", "lstm-pair", "c0", "nan", "nonlinearity", "size", "int-dtype",
        "float-ids", "id-range", "scalar-ids", "no-params", "max_norm", "single"])
def test_bad_input_is_named(call, error, pattern):
    with pytest.raises(error, match=pattern):
        call()


@pytest.mark.parametrize("name", LAYERS)
def test_bad_grads_and_early_backward_are_named(rng, name):
    layer = LAYERS[name](3, 4)
    with pytest.raises(RuntimeError, match="backward called before forward"):
        layer.backward(np.ones((2, 5, 4)))
    output, _ = layer(rng.standard_normal((2, 5, 3)))
    with pytest.raises(InputError, match=r"grad_out \(dL/d output\) must have shape \(2, 5, 4\)"):
        layer.backward(np.ones((2, 4, 4)))
    bad_last = (np.ones((2, 3)), np.ones((2, 4))) if isinstance(layer, LSTM) else np.ones((2, 3))
    with pytest.raises(InputError, match=r"grad_h_n must have shape \(2, 4\), got \(2, 3\)"):
        layer.backward(output, bad_last)


def test_repr():
    assert repr(RNN(3, 4)) == "RNN(3, 4, nonlinearity='tanh', bias=True, dtype=float32)"
    assert repr(LSTM(3, 4, bias=False)) == "LSTM(3, 4, bias=False, dtype=float32)"
    assert repr(Embedding(10, 3)) == "Embedding(10, 3, dtype=float32)"
