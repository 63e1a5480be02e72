"""MultiHeadAttention's fast road projects self-attention's Q, K, V in one product X [W_q W_k W_v] and backpropagates
them in two: the numbers, gradients (accumulated, frozen, shared), caches and fall-backs equal the reference road's."""

import numpy as np
import pytest

from nnlib import (
    Linear,
    MultiHeadAttention,
    TransformerDecoderLayer,
    TransformerEncoderLayer,
    no_grad,
    use_fast_kernels,
)

F64 = np.float64


def _run(layer, fast, x, upstream, backwards=1, **options):
    """Output, dL/dx and every parameter gradient after ``backwards`` forward + backward passes on one road."""
    with use_fast_kernels(fast):
        for _ in range(backwards):
            y = layer(x, **options)
            grad = layer.backward(upstream)
    return {"output": y, "dL/dx": grad, **{f"dL/d{name}": p.grad.copy() for name, p in layer.named_parameters()}}


def _assert_roads_equal(make, x, upstream, rtol=1e-12, atol=1e-13, **kwargs):
    fast, reference = (_run(make(), road, x, upstream, **kwargs) for road in (True, False))
    assert fast.keys() == reference.keys()
    for name in fast:
        np.testing.assert_allclose(fast[name], reference[name], rtol=rtol, atol=atol, err_msg=name)
    return fast


@pytest.fixture
def x(rng):
    return rng.standard_normal((3, 7, 8))


@pytest.mark.parametrize("bias", [True, False])
@pytest.mark.parametrize("options", [{}, {"causal": True},
                                     {"key_padding_mask": np.array([[False] * 7, [False] * 4 + [True] * 3,
                                                                    [False] + [True] * 6])}],
                         ids=["no mask", "causal", "padding"])
def test_fused_projections_equal_the_three_layers(rng, x, bias, options):
    upstream = rng.standard_normal(x.shape)
    _assert_roads_equal(lambda: MultiHeadAttention(8, 2, bias, rng=0, dtype=F64), x, upstream, **options)


def test_the_fast_road_fuses_self_attention_only_and_keeps_the_input(rng, x):
    layer, memory = MultiHeadAttention(8, 2, rng=0, dtype=F64), rng.standard_normal((3, 5, 8))
    with use_fast_kernels(True):
        layer(x)
        assert layer.cache.fused_input is x and layer.cache.self_attention
        with pytest.raises(RuntimeError, match="no cache"):  # the projections ran as one product, not as layers
            _ = layer.q_proj.cache
        layer(x, memory, memory)
    assert layer.cache.fused_input is None and layer.k_proj.cache.x is memory
    with use_fast_kernels(False):
        layer(x)
    assert layer.cache.fused_input is None and layer.q_proj.cache.x is x


def test_gradients_accumulate_over_two_backwards(rng, x):
    upstream = rng.standard_normal(x.shape)
    once = _run(MultiHeadAttention(8, 2, rng=0, dtype=F64), True, x, upstream)
    twice = _assert_roads_equal(lambda: MultiHeadAttention(8, 2, rng=0, dtype=F64), x, upstream, backwards=2)
    for name in once:
        if name.startswith("dL/d") and name != "dL/dx":
            np.testing.assert_allclose(twice[name], 2 * once[name], rtol=1e-12, err_msg=name)


@pytest.mark.parametrize("frozen", [("k_proj.weight",), ("v_proj.weight", "v_proj.bias"), ("q_proj.bias",),
                                    ("q_proj.weight", "k_proj.weight", "v_proj.weight")])
def test_frozen_projection_parameters_keep_a_zero_gradient(rng, x, frozen):
    def make():
        layer = MultiHeadAttention(8, 2, rng=0, dtype=F64)
        for name, parameter in layer.named_parameters():
            parameter.requires_grad = name not in frozen
        return layer

    grads = _assert_roads_equal(make, x, rng.standard_normal(x.shape))
    for name in grads:
        if name.startswith("dL/d") and name != "dL/dx":
            assert (grads[name] == 0).all() == (name[4:] in frozen), name


def test_a_projection_without_bias_among_two_with(rng, x):
    def make():
        layer = MultiHeadAttention(8, 2, rng=0, dtype=F64)
        layer.k_proj.bias = None
        return layer

    _assert_roads_equal(make, x, rng.standard_normal(x.shape))


def test_one_linear_shared_by_two_projections_gets_both_gradients(rng, x):
    def make():
        layer = MultiHeadAttention(8, 2, rng=0, dtype=F64)
        layer.k_proj = layer.q_proj
        return layer

    _assert_roads_equal(make, x, rng.standard_normal(x.shape))


def test_a_projection_that_is_not_a_plain_linear_runs_as_a_layer(rng, x):
    class Doubled(Linear):
        def forward(self, x):
            return 2 * super().forward(x)

        def backward(self, grad_out):
            return super().backward(2 * grad_out)

    def make():
        layer = MultiHeadAttention(8, 2, rng=0, dtype=F64)
        layer.v_proj = Doubled(8, 8, rng=1, dtype=F64)
        return layer

    _assert_roads_equal(make, x, rng.standard_normal(x.shape))
    layer = make()
    with use_fast_kernels(True):
        layer(x)
    assert layer.cache.fused_input is None


def test_no_grad_keeps_no_cache_on_the_fused_road(x):
    layer = MultiHeadAttention(8, 2, rng=0, dtype=F64)
    with use_fast_kernels(True), no_grad():
        y = layer(x)
    with use_fast_kernels(False), no_grad():
        np.testing.assert_allclose(y, layer(x), rtol=1e-12)
    for module in (layer, layer.q_proj, layer.out_proj):
        with pytest.raises(RuntimeError, match="no cache"):
            _ = module.cache


def test_float32_fused_road_is_the_reference_to_rounding(rng):
    x = rng.standard_normal((4, 20, 16)).astype(np.float32)
    upstream = rng.standard_normal(x.shape).astype(np.float32)
    grads = _assert_roads_equal(lambda: MultiHeadAttention(16, 4, rng=0), x, upstream, rtol=1e-4, atol=1e-5,
                                causal=True)
    assert all(g.dtype == np.float32 for g in grads.values())


@pytest.mark.parametrize("norm_first", [False, True])
def test_transformer_layers_on_the_fused_road_equal_the_reference(rng, x, norm_first):
    upstream = rng.standard_normal(x.shape)
    _assert_roads_equal(lambda: TransformerEncoderLayer(8, 2, 16, dropout=0.0, norm_first=norm_first, rng=0,
                                                        dtype=F64), x, upstream, causal=True)
    memory = rng.standard_normal((3, 5, 8))
    results = []
    for fast in (True, False):
        layer = TransformerDecoderLayer(8, 2, 16, dropout=0.0, norm_first=norm_first, rng=0, dtype=F64)
        with use_fast_kernels(fast):
            layer(x, memory)
            grads = layer.backward(upstream)
        results.append([*grads, *(p.grad for p in layer.parameters())])
    for fast, reference in zip(*results, strict=True):
        np.testing.assert_allclose(fast, reference, rtol=1e-12, atol=1e-13)
