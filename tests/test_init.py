"""nnlib.init against torch.nn.init: the same distributions (moments over many draws, bounds, orthogonality) for
nnlib's weight layouts, and the layers' ``init=``."""

import functools

import numpy as np
import pytest

from nnlib import GRU, LSTM, RNN, Conv2d, InputError, Linear, Parameter, init

# (id, nnlib shape, the PyTorch weight of the same layer): Linear (in, out) ↔ (out, in); Conv2d the same layout;
# a GRU's weight_ih (I, 3H) ↔ weight_ih_l0 (3H, I).
LAYOUTS = [("linear", (300, 200), (200, 300)), ("conv2d", (64, 16, 3, 3), (64, 16, 3, 3)),
           ("gru-ih", (40, 3 * 50), (3 * 50, 40))]
SCHEMES = {  # name -> (nnlib call, torch call on a tensor, variance formula from (fan_in, fan_out))
    "xavier_uniform": (functools.partial(init.xavier_uniform, gain=1.5), "xavier_uniform_", {"gain": 1.5},
                       lambda i, o: 1.5 ** 2 * 2 / (i + o)),
    "xavier_normal": (init.xavier_normal, "xavier_normal_", {}, lambda i, o: 2 / (i + o)),
    "kaiming_uniform": (init.kaiming_uniform, "kaiming_uniform_", {}, lambda i, o: 2 / i),
    "kaiming_normal-fan_out-tanh": (functools.partial(init.kaiming_normal, mode="fan_out", nonlinearity="tanh"),
                                    "kaiming_normal_", {"mode": "fan_out", "nonlinearity": "tanh"},
                                    lambda i, o: (5 / 3) ** 2 / o),
    "kaiming_uniform-leaky-0.2": (functools.partial(init.kaiming_uniform, a=0.2), "kaiming_uniform_", {"a": 0.2},
                                  lambda i, o: 2 / (1 + 0.04) / i),
}
DRAWS = 20


def _torch_draws(torch, shape, name, kwargs):
    torch.manual_seed(0)
    return np.stack([getattr(torch.nn.init, name)(torch.empty(shape, dtype=torch.float64), **kwargs).numpy()
                     for _ in range(DRAWS)])


@pytest.mark.parametrize(("layout", "shape", "torch_shape"), LAYOUTS, ids=[row[0] for row in LAYOUTS])
@pytest.mark.parametrize("scheme", SCHEMES)
def test_moments_and_bounds_match_torch(torch, scheme, layout, shape, torch_shape):
    ours_fn, torch_name, kwargs, variance = SCHEMES[scheme]
    rng = np.random.default_rng(0)
    ours = np.stack([ours_fn(shape, rng=rng, dtype=np.float64) for _ in range(DRAWS)])
    theirs = _torch_draws(torch, torch_shape, torch_name, kwargs)
    expected = variance(*init.fans(shape))
    n = ours.size  # ≥ 400 000 values: the sample variance is within ~1 % of the true one
    for sample in (ours, theirs):
        assert abs(sample.mean()) < 5 * np.sqrt(expected / n)
        assert sample.var() == pytest.approx(expected, rel=0.02)
    assert ours.var() == pytest.approx(theirs.var(), rel=0.03)
    if "uniform" in scheme:
        bound = np.sqrt(3 * expected)
        assert np.abs(ours).max() <= bound and np.abs(ours).max() > 0.999 * bound
        assert np.abs(theirs).max() <= bound * (1 + 1e-12)
    else:  # a normal: ≈ 4.55 % beyond two standard deviations, and no uniform's hard edge
        beyond = np.mean(np.abs(ours) > 2 * np.sqrt(expected))
        assert beyond == pytest.approx(np.mean(np.abs(theirs) > 2 * np.sqrt(expected)), abs=0.003)
        assert beyond == pytest.approx(0.0455, abs=0.003)


def test_fans_of_each_layout():
    assert init.fans((300, 200)) == (300, 200)                 # Linear (in, out)
    assert init.fans((64, 16, 3, 3)) == (16 * 9, 64 * 9)        # Conv2d (C_out, C, KH, KW)
    assert init.fans(LSTM(7, 5).weight_ih.shape) == (7, 20)     # recurrent (I, G·H)
    assert init.fans(LSTM(7, 5).weight_hh.shape) == (5, 20)


@pytest.mark.parametrize("shape", [(8, 5), (5, 8), (6, 6), (4, 3, 2, 2)])
def test_orthogonal_is_semi_orthogonal_times_gain_as_torch(torch, shape):
    w = init.orthogonal(shape, gain=2.0, rng=0, dtype=np.float64)
    torch.manual_seed(0)
    w_t = torch.nn.init.orthogonal_(torch.empty(shape, dtype=torch.float64), gain=2.0).numpy()
    for matrix in (w.reshape(shape[0], -1), w_t.reshape(shape[0], -1)):
        rows, cols = matrix.shape
        small = matrix @ matrix.T if rows <= cols else matrix.T @ matrix
        np.testing.assert_allclose(small, 4 * np.eye(min(rows, cols)), atol=1e-12)


def test_orthogonal_draws_are_uniform_not_one_fixed_matrix():
    """The sign fix makes Q Haar-distributed: every entry has mean 0 over many draws (without it, the diagonal of
    R > 0 biases Q's diagonal)."""
    rng = np.random.default_rng(1)
    draws = np.stack([init.orthogonal((4, 4), rng=rng, dtype=np.float64) for _ in range(4000)])
    assert np.abs(draws.mean(axis=0)).max() < 0.05
    np.testing.assert_allclose((draws ** 2).mean(axis=0), 0.25, atol=0.02)


def test_gain_matches_torch(torch):
    for name in ["linear", "conv2d", "sigmoid", "tanh", "relu", "selu"]:
        assert init.calculate_gain(name) == pytest.approx(torch.nn.init.calculate_gain(name))
    for slope in (None, 0.0, 0.2):
        assert init.calculate_gain("leaky_relu", slope) == pytest.approx(
            torch.nn.init.calculate_gain("leaky_relu", slope))


@pytest.mark.parametrize("dtype", [np.float32, np.float64])
def test_dtype_and_shape_are_kept_from_an_array_a_parameter_or_a_shape(dtype):
    array = np.ones((3, 4), dtype)
    for weight in (array, Parameter(array, "weight")):
        values = init.xavier_normal(weight, rng=0)
        assert values.shape == (3, 4) and values.dtype == dtype and values is not array
    assert init.zeros((2, 5), dtype=dtype).dtype == dtype
    assert init.kaiming_uniform((2, 5)).dtype == np.float32
    assert np.array_equal(init.xavier_uniform((3, 4), rng=5), init.xavier_uniform((3, 4), rng=5))


LAYERS = {
    "Linear": (lambda **kw: Linear(60, 40, **kw), ["weight"], ["bias"]),
    "Conv2d": (lambda **kw: Conv2d(6, 8, 3, **kw), ["weight"], ["bias"]),
    "RNN": (lambda **kw: RNN(10, 20, **kw), ["weight_ih", "weight_hh"], ["bias_ih", "bias_hh"]),
    "LSTM": (lambda **kw: LSTM(10, 20, **kw), ["weight_ih", "weight_hh"], ["bias_ih", "bias_hh"]),
    "GRU": (lambda **kw: GRU(10, 20, **kw), ["weight_ih", "weight_hh"], ["bias_ih", "bias_hh"]),
}


@pytest.mark.parametrize("name", LAYERS)
def test_layers_take_init_by_name_or_function_and_start_biases_at_zero(name):
    build, weights, biases = LAYERS[name]
    default = build(rng=0)
    assert build(rng=0, init=None).state_dict().keys() == default.state_dict().keys()
    for key, value in build(rng=0, init=None).state_dict().items():
        np.testing.assert_array_equal(value, default.state_dict()[key])   # the default is unchanged
    layer = build(rng=0, init="xavier_uniform", dtype=np.float64)
    for w in weights:
        values = getattr(layer, w).data
        assert values.dtype == np.float64
        assert np.abs(values).max() <= np.sqrt(6 / sum(init.fans(values.shape)))
    for b in biases:
        assert not getattr(layer, b).data.any()
    seen = []
    layer = build(rng=0, init=lambda weight, rng: seen.append(weight.shape) or np.full(weight.shape, 0.5))
    assert seen == [getattr(layer, w).shape for w in weights]
    assert all((getattr(layer, w).data == 0.5).all() for w in weights)
    assert all(getattr(layer, w).dtype == np.float32 for w in weights)


def test_orthogonal_recurrent_weight_keeps_the_hidden_state_norm():
    """An orthogonal W_hh (H, H) is an isometry: ‖h W‖ = ‖h‖, the reason it is used for recurrent weights."""
    rnn = RNN(3, 16, init="orthogonal", rng=0, dtype=np.float64)
    h = np.random.default_rng(2).standard_normal((5, 16))
    np.testing.assert_allclose(np.linalg.norm(h @ rnn.weight_hh.data, axis=1), np.linalg.norm(h, axis=1))


def test_he_init_keeps_the_relu_signal_where_the_default_shrinks_it():
    """Var(y) = n·Var(w)·Var(x): through 20 ReLU layers of width 256, He's Var(w) = 2/n keeps the scale, PyTorch's
    default (Var(w) = 1/(3n)) divides the second moment by 6 per layer until its biases (±1/16) are all that is left."""
    x = np.random.default_rng(3).standard_normal((512, 256))
    scales = {}
    for scheme in (None, "kaiming_normal"):
        h = x
        for i in range(20):
            h = np.maximum(Linear(256, 256, rng=i, dtype=np.float64, init=scheme)(h), 0)
        scales[scheme] = float(np.mean(h ** 2))
    assert 0.3 < scales["kaiming_normal"] < 3
    assert scales[None] < 1e-3


def test_unknown_scheme_names_the_layer():
    with pytest.raises(InputError, match=r"^Linear: init must be one of \['kaiming_normal'"):
        Linear(2, 2, init="he")
