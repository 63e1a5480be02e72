"""Attention, LayerNorm, PositionalEncoding, TransformerEncoderLayer, Embedding: gradients, PyTorch twins, masks,
public caches, reuse, errors."""

import numpy as np
import pytest

from nnlib import (
    Adam,
    CrossEntropyLoss,
    DTypeError,
    Embedding,
    InputError,
    LayerNorm,
    Linear,
    Module,
    MultiHeadAttention,
    PositionalEncoding,
    Sequential,
    Tanh,
    TransformerEncoderLayer,
    TransformerModel,
    accuracy,
    fit,
    gradcheck,
    numerical_gradient,
    relative_error,
)
from nnlib import functional as F
from nnlib.layers.attention import (
    AttentionCache,
    PositionalEncodingCache,
    TransformerEncoderLayerCache,
    check_head_sizes,
)
from nnlib.layers.embedding import EmbeddingCache
from nnlib.layers.normalization import LayerNormCache

F64 = np.float64
ZERO_GRADIENT = "k_proj.bias"  # q·(k + b) − q·k = q·b is the same for every key: softmax ignores it, dL/db = 0


def _assert_gradcheck(module, *inputs):
    """gradcheck in float64; the key bias, whose gradient is exactly zero, must be zero analytically."""
    errors = gradcheck(module, *inputs, tol=None)
    for name, error in errors.items():
        if name.endswith(ZERO_GRADIENT):
            bias = dict(module.named_parameters())[name]
            assert np.abs(bias.grad).max() < 1e-12 and error < 1e-5, name  # finite differences: rounding noise only
        else:
            assert error < 1e-7, (name, error)
    return errors


def _padding(n, t, rng):
    """A key-padding mask (True = padding) with a different number of padded keys per sample, never all."""
    lengths = rng.integers(1, t + 1, n)
    return np.arange(t)[None, :] >= lengths[:, None]


# --- the functional core -------------------------------------------------------------------------------------

def test_attention_weights_are_a_softmax_of_scaled_scores(rng):
    q, k, v = rng.standard_normal((2, 3, 4)), rng.standard_normal((2, 5, 4)), rng.standard_normal((2, 5, 6))
    out, weights = F.scaled_dot_product_attention(q, k, v)
    expected = np.exp(q @ k.transpose(0, 2, 1) / 2)
    np.testing.assert_allclose(weights, expected / expected.sum(-1, keepdims=True), rtol=1e-12)
    np.testing.assert_allclose(out, weights @ v, rtol=1e-12)


def test_causal_mask_gives_zero_weight_to_the_future(rng):
    x = rng.standard_normal((1, 4, 3))
    _, weights = F.scaled_dot_product_attention(x, x, x, F.causal_mask(4))
    assert np.all(weights[0][np.triu_indices(4, 1)] == 0)
    np.testing.assert_allclose(weights.sum(-1), 1, rtol=1e-12)
    assert F.causal_mask(2, 3).tolist() == [[True, False, False], [True, True, False]]


@pytest.mark.parametrize("masked", [False, True])
def test_attention_backward_matches_finite_differences(rng, masked):
    q, k, v = rng.standard_normal((2, 3, 4)), rng.standard_normal((2, 5, 4)), rng.standard_normal((2, 5, 2))
    mask = rng.random((2, 3, 5)) < 0.7 if masked else None
    if masked:
        mask[..., 0] = True
    grad = rng.standard_normal((2, 3, 2))
    _, weights = F.scaled_dot_product_attention(q, k, v, mask)
    analytic = F.scaled_dot_product_attention_backward(grad, q, k, v, weights)

    def loss():
        return float(np.sum(grad * F.scaled_dot_product_attention(q, k, v, mask)[0]))

    for array, gradient in zip((q, k, v), analytic, strict=True):
        assert relative_error(gradient, numerical_gradient(loss, array)) < 1e-8


def test_attention_matches_torch_sdpa(torch, rng):
    q, k, v = rng.standard_normal((2, 3, 4, 8)), rng.standard_normal((2, 3, 6, 8)), rng.standard_normal((2, 3, 6, 5))
    mask = rng.random((4, 6)) < 0.6
    mask[:, 0] = True
    out, _ = F.scaled_dot_product_attention(q, k, v, mask)
    expected = torch.nn.functional.scaled_dot_product_attention(*(torch.tensor(a) for a in (q, k, v)),
                                                                attn_mask=torch.tensor(mask))
    np.testing.assert_allclose(out, expected.numpy(), rtol=1e-10, atol=1e-12)


def test_sinusoidal_positions_formula_and_shift_is_a_rotation():
    pe = F.sinusoidal_positions(50, 6)
    t = np.arange(50)
    np.testing.assert_allclose(pe[:, 2], np.sin(t / 10000 ** (2 / 6)), rtol=1e-12)
    np.testing.assert_allclose(pe[:, 3], np.cos(t / 10000 ** (2 / 6)), rtol=1e-12)
    # PE[t + k] is PE[t] rotated, pair by pair, by an angle that depends on k only
    omega, k = 1 / 10000 ** (np.arange(0, 6, 2) / 6), 7
    c, s = np.cos(k * omega), np.sin(k * omega)
    sin_t, cos_t = pe[:-k, 0::2], pe[:-k, 1::2]
    np.testing.assert_allclose(pe[k:, 0::2], sin_t * c + cos_t * s, atol=1e-12)
    np.testing.assert_allclose(pe[k:, 1::2], cos_t * c - sin_t * s, atol=1e-12)
    assert F.sinusoidal_positions(3, 5).shape == (3, 5)  # an odd d_model works too


# --- gradients of the layers ----------------------------------------------------------------------------------

class _MaskedAttention(MultiHeadAttention):
    """Self-attention with fixed masks, so that gradcheck can call it with the input alone."""

    def __init__(self, padding, causal):
        super().__init__(8, 2, rng=1, dtype=F64)
        self.padding, self.causal = padding, causal

    def forward(self, x):
        return super().forward(x, key_padding_mask=self.padding, causal=self.causal)


@pytest.mark.gradcheck
def test_self_attention_gradcheck(rng):
    layer = MultiHeadAttention(8, 2, rng=0, dtype=F64)
    errors = _assert_gradcheck(layer, rng.standard_normal((3, 5, 8)))
    assert set(errors) == {"input0"} | {n for n, _ in layer.named_parameters()}


@pytest.mark.gradcheck
@pytest.mark.parametrize(("padded", "causal"), [(True, False), (False, True), (True, True)])
def test_masked_self_attention_gradcheck(rng, padded, causal):
    padding = _padding(3, 5, rng) if padded else None
    if padded and causal:
        padding[:, 0] = False
    _assert_gradcheck(_MaskedAttention(padding, causal), rng.standard_normal((3, 5, 8)))


@pytest.mark.gradcheck
def test_cross_attention_gradcheck(rng):
    layer = MultiHeadAttention(4, 2, rng=0, dtype=F64)
    errors = _assert_gradcheck(layer, rng.standard_normal((2, 3, 4)), rng.standard_normal((2, 6, 4)),
                               rng.standard_normal((2, 6, 4)))
    assert {"input0", "input1", "input2"} <= set(errors)


@pytest.mark.gradcheck
@pytest.mark.parametrize("affine", [True, False])
def test_layer_norm_gradcheck(rng, affine):
    layer = LayerNorm(6, elementwise_affine=affine, dtype=F64)
    if affine:
        layer.weight.data[:] = rng.standard_normal(6)
        layer.bias.data[:] = rng.standard_normal(6)
    assert gradcheck(layer, rng.standard_normal((2, 3, 6)), tol=1e-7)


@pytest.mark.gradcheck
@pytest.mark.parametrize("norm_first", [False, True])
def test_encoder_layer_gradcheck(rng, norm_first):
    layer = TransformerEncoderLayer(8, 2, 12, dropout=0.0, norm_first=norm_first, rng=0, dtype=F64)
    _assert_gradcheck(layer, rng.standard_normal((2, 4, 8)))


@pytest.mark.gradcheck
def test_encoder_layer_gradcheck_with_fixed_dropout_masks(rng):
    layer = TransformerEncoderLayer(4, 2, 6, dropout=0.3, rng=0, dtype=F64)
    x = rng.standard_normal((2, 3, 4))
    for dropout, shape in ((layer.dropout1, (2, 3, 4)), (layer.dropout, (2, 3, 6)), (layer.dropout2, (2, 3, 4))):
        dropout.fix_mask(rng.random(shape) > 0.3)
    _assert_gradcheck(layer, x)


# --- public caches and reuse -------------------------------------------------------------------------------------

def test_attention_cache_holds_the_heads_q_k_v_and_the_weights(rng):
    layer = MultiHeadAttention(8, 2, rng=0, dtype=F64)
    query, memory = rng.standard_normal((3, 4, 8)), rng.standard_normal((3, 6, 8))
    layer(query, memory, memory)
    cache = layer.cache
    assert isinstance(cache, AttentionCache) and cache.self_attention is False
    assert (cache.q.shape, cache.k.shape, cache.v.shape, cache.weights.shape) == (
        (3, 2, 4, 4), (3, 2, 6, 4), (3, 2, 6, 4), (3, 2, 4, 6))
    np.testing.assert_allclose(F.merge_heads(cache.q), layer.q_proj(query), rtol=1e-12)  # Q = X_q W_q
    np.testing.assert_array_equal(cache.weights, layer.weights)
    layer(query)
    assert layer.cache.self_attention is True


@pytest.mark.parametrize(("make", "x", "cache_type", "fields"), [
    (lambda: LayerNorm(5, dtype=F64), (2, 3, 5), LayerNormCache, {"x_hat": (2, 3, 5), "inv_std": (2, 3, 1)}),
    (lambda: PositionalEncoding(5, dtype=F64), (2, 3, 5), PositionalEncodingCache, {}),
    (lambda: TransformerEncoderLayer(4, 2, 6, dropout=0.0, rng=0, dtype=F64), (2, 3, 4), TransformerEncoderLayerCache,
     {}),
], ids=["LayerNorm", "PositionalEncoding", "TransformerEncoderLayer"])
def test_each_layer_keeps_its_documented_named_cache(rng, make, x, cache_type, fields):
    layer = make()
    layer(rng.standard_normal(x))
    assert isinstance(layer.cache, cache_type)
    assert {name: getattr(layer.cache, name).shape for name in fields} == fields
    if "shape" in cache_type._fields:
        assert layer.cache.shape == x


def test_layer_norm_cache_is_the_standardised_input(rng):
    layer, x = LayerNorm(6, dtype=F64), rng.standard_normal((4, 6)) * 3 + 1
    layer(x)
    x_hat, inv_std = layer.cache
    np.testing.assert_allclose(x_hat, (x - x.mean(-1, keepdims=True)) / np.sqrt(x.var(-1, keepdims=True) + 1e-5))
    np.testing.assert_allclose(inv_std[:, 0], 1 / np.sqrt(x.var(-1) + 1e-5))


def test_embedding_cache_holds_the_ids(rng):
    layer, ids = Embedding(5, 3, rng=0, dtype=F64), rng.integers(0, 5, (2, 4))
    layer(ids)
    assert isinstance(layer.cache, EmbeddingCache)
    np.testing.assert_array_equal(layer.cache.ids, ids)


class _TwoLookups(Module):
    """y = 2·emb(ids) + emb(reversed ids) @ W: one Embedding used twice in a forward (tied lookups)."""

    def __init__(self):
        self.embedding, self.linear = Embedding(6, 4, rng=0, dtype=F64), Linear(4, 4, rng=1, dtype=F64)

    def forward(self, ids):
        return 2 * self.embedding(ids) + self.linear(self.embedding(ids[:, ::-1]))

    def backward(self, grad_out):
        self.embedding.backward(self.linear.backward(grad_out))  # the second lookup first: caches are a stack
        return self.embedding.backward(2 * grad_out)


@pytest.mark.gradcheck
@pytest.mark.parametrize("case", ["attention", "layer-norm", "encoder-layer", "embedding"])
def test_one_instance_used_twice_in_a_forward_is_gradcheck_exact(rng, case):
    if case == "embedding":
        errors = gradcheck(_TwoLookups(), rng.integers(0, 6, (2, 5)))
        assert "embedding.weight" in errors
        return
    width = 4
    shared = {"attention": lambda: MultiHeadAttention(width, 2, rng=0, dtype=F64),
              "layer-norm": lambda: LayerNorm(width, dtype=F64),
              "encoder-layer": lambda: TransformerEncoderLayer(width, 2, 6, dropout=0.0, rng=0, dtype=F64)}[case]()
    if case == "layer-norm":
        shared.weight.data[:] = rng.standard_normal(width)
    model = Sequential(shared, Tanh(), Linear(width, width, rng=1, dtype=F64), shared)
    _assert_gradcheck(model, rng.standard_normal((2, 3, width)))


def test_check_head_sizes_names_the_callers_arguments():
    assert check_head_sizes("MultiHeadAttention", 8, 2, names=("embed_dim", "num_heads")) == (8, 2)
    with pytest.raises(InputError, match=r"^MultiHeadAttention: num_heads \(3\) must divide embed_dim \(8\)"):
        check_head_sizes("MultiHeadAttention", 8, 3, names=("embed_dim", "num_heads"))
    with pytest.raises(InputError, match="^TransformerModel: max_len must be a positive integer, got 0"):
        check_head_sizes("TransformerModel", 8, 2, max_len=0)


# --- PyTorch ----------------------------------------------------------------------------------------------------

def _copy_attention(torch, ours, theirs):
    """nnlib's q/k/v/out projections (x @ W layout) into torch's stacked, transposed in_proj_weight."""
    with torch.no_grad():
        theirs.in_proj_weight.copy_(torch.tensor(np.concatenate(
            [p.weight.data.T for p in (ours.q_proj, ours.k_proj, ours.v_proj)])))
        theirs.in_proj_bias.copy_(torch.tensor(np.concatenate([p.bias.data for p in (ours.q_proj, ours.k_proj,
                                                                                      ours.v_proj)])))
        theirs.out_proj.weight.copy_(torch.tensor(ours.out_proj.weight.data.T))
        theirs.out_proj.bias.copy_(torch.tensor(ours.out_proj.bias.data))


def _assert_attention_grads(ours, theirs, atol=1e-10):
    e = ours.embed_dim
    for k, proj in enumerate((ours.q_proj, ours.k_proj, ours.v_proj)):
        np.testing.assert_allclose(proj.weight.grad, theirs.in_proj_weight.grad[k * e:(k + 1) * e].numpy().T,
                                   rtol=1e-6, atol=atol)
        np.testing.assert_allclose(proj.bias.grad, theirs.in_proj_bias.grad[k * e:(k + 1) * e].numpy(),
                                   rtol=1e-6, atol=atol)
    np.testing.assert_allclose(ours.out_proj.weight.grad, theirs.out_proj.weight.grad.numpy().T, rtol=1e-6, atol=atol)


@pytest.mark.parametrize(("n", "t", "e", "heads"), [(1, 1, 4, 1), (3, 5, 8, 2), (2, 7, 12, 4), (4, 3, 6, 6)])
@pytest.mark.parametrize("masks", ["none", "padding", "causal", "both"])
def test_self_attention_matches_torch(torch, rng, n, t, e, heads, masks):
    ours = MultiHeadAttention(e, heads, rng=0, dtype=F64)
    theirs = torch.nn.MultiheadAttention(e, heads, batch_first=True, dtype=torch.float64)
    _copy_attention(torch, ours, theirs)
    x = rng.standard_normal((n, t, e))
    padding = _padding(n, t, rng) if masks in ("padding", "both") else None
    causal = masks in ("causal", "both")
    if padding is not None and causal:
        padding[:, 0] = False  # the first query sees the first key only: it must not be padding
    y = ours(x, key_padding_mask=padding, causal=causal)
    grad = rng.standard_normal(y.shape)
    grad_x = ours.backward(grad)
    x_t = torch.tensor(x, requires_grad=True)
    y_t, weights_t = theirs(x_t, x_t, x_t, key_padding_mask=None if padding is None else torch.tensor(padding),
                            attn_mask=torch.tensor(~F.causal_mask(t)) if causal else None,
                            average_attn_weights=False)
    y_t.backward(torch.tensor(grad))
    np.testing.assert_allclose(y, y_t.detach().numpy(), rtol=1e-6, atol=1e-12)
    np.testing.assert_allclose(ours.weights, weights_t.detach().numpy(), rtol=1e-6, atol=1e-12)
    np.testing.assert_allclose(grad_x, x_t.grad.numpy(), rtol=1e-6, atol=1e-10)
    _assert_attention_grads(ours, theirs)


def test_cross_attention_matches_torch(torch, rng):
    ours = MultiHeadAttention(8, 4, rng=0, dtype=F64)
    theirs = torch.nn.MultiheadAttention(8, 4, batch_first=True, dtype=torch.float64)
    _copy_attention(torch, ours, theirs)
    q, k, v = rng.standard_normal((2, 3, 8)), rng.standard_normal((2, 6, 8)), rng.standard_normal((2, 6, 8))
    padding = _padding(2, 6, rng)
    y = ours(q, k, v, key_padding_mask=padding)
    grad = rng.standard_normal(y.shape)
    grads = ours.backward(grad)
    leaves = [torch.tensor(a, requires_grad=True) for a in (q, k, v)]
    y_t, _ = theirs(*leaves, key_padding_mask=torch.tensor(padding))
    y_t.backward(torch.tensor(grad))
    np.testing.assert_allclose(y, y_t.detach().numpy(), rtol=1e-6, atol=1e-12)
    for ours_grad, leaf in zip(grads, leaves, strict=True):
        np.testing.assert_allclose(ours_grad, leaf.grad.numpy(), rtol=1e-6, atol=1e-10)
    _assert_attention_grads(ours, theirs)


def test_layer_norm_matches_torch(torch, rng):
    ours = LayerNorm(5, eps=1e-3, dtype=F64)
    ours.weight.data[:] = rng.standard_normal(5)
    ours.bias.data[:] = rng.standard_normal(5)
    theirs = torch.nn.LayerNorm(5, eps=1e-3, dtype=torch.float64)
    with torch.no_grad():
        theirs.weight.copy_(torch.tensor(ours.weight.data))
        theirs.bias.copy_(torch.tensor(ours.bias.data))
    x, grad = rng.standard_normal((3, 4, 5)) * 10 + 3, rng.standard_normal((3, 4, 5))
    y, grad_x = ours(x), ours.backward(grad)
    x_t = torch.tensor(x, requires_grad=True)
    theirs(x_t).backward(torch.tensor(grad))
    np.testing.assert_allclose(y, theirs(x_t).detach().numpy(), rtol=1e-10, atol=1e-12)
    np.testing.assert_allclose(grad_x, x_t.grad.numpy(), rtol=1e-8, atol=1e-12)
    np.testing.assert_allclose(ours.weight.grad, theirs.weight.grad.numpy(), rtol=1e-10)
    np.testing.assert_allclose(ours.bias.grad, theirs.bias.grad.numpy(), rtol=1e-10)


@pytest.mark.parametrize("norm_first", [False, True])
@pytest.mark.parametrize("causal", [False, True])
def test_encoder_layer_matches_torch(torch, rng, norm_first, causal):
    ours = TransformerEncoderLayer(8, 2, 16, dropout=0.0, norm_first=norm_first, rng=0, dtype=F64)
    theirs = torch.nn.TransformerEncoderLayer(8, 2, 16, dropout=0.0, batch_first=True, norm_first=norm_first,
                                              dtype=torch.float64)
    _copy_attention(torch, ours.self_attn, theirs.self_attn)
    with torch.no_grad():
        for name in ("linear1", "linear2"):
            getattr(theirs, name).weight.copy_(torch.tensor(getattr(ours, name).weight.data.T))
            getattr(theirs, name).bias.copy_(torch.tensor(getattr(ours, name).bias.data))
    x, padding = rng.standard_normal((3, 5, 8)), _padding(3, 5, rng)
    padding[:, 0] = False
    y = ours(x, key_padding_mask=padding, causal=causal)
    grad = rng.standard_normal(y.shape)
    grad_x = ours.backward(grad)
    x_t = torch.tensor(x, requires_grad=True)
    y_t = theirs(x_t, src_key_padding_mask=torch.tensor(padding),
                 src_mask=torch.tensor(~F.causal_mask(5)) if causal else None, is_causal=causal)
    y_t.backward(torch.tensor(grad))
    np.testing.assert_allclose(y, y_t.detach().numpy(), rtol=1e-6, atol=1e-10)
    np.testing.assert_allclose(grad_x, x_t.grad.numpy(), rtol=1e-6, atol=1e-9)
    _assert_attention_grads(ours.self_attn, theirs.self_attn, atol=1e-9)
    for name in ("linear1", "linear2", "norm1", "norm2"):
        np.testing.assert_allclose(getattr(ours, name).weight.grad.T if name.startswith("linear") else
                                   getattr(ours, name).weight.grad, getattr(theirs, name).weight.grad.numpy(),
                                   rtol=1e-6, atol=1e-9, err_msg=name)


def test_float32_attention_matches_torch(torch, rng):
    ours = MultiHeadAttention(16, 4, rng=0)
    theirs = torch.nn.MultiheadAttention(16, 4, batch_first=True)
    _copy_attention(torch, ours, theirs)
    x = rng.standard_normal((4, 10, 16)).astype(np.float32)
    y = ours(x, causal=True)
    assert y.dtype == ours.backward(np.ones_like(y)).dtype == np.float32
    y_t, _ = theirs(*(torch.tensor(x),) * 3, attn_mask=torch.tensor(~F.causal_mask(10)))
    np.testing.assert_allclose(y, y_t.detach().numpy(), atol=1e-5)


# --- behaviour and bad input --------------------------------------------------------------------------------------

def test_positional_encoding_adds_the_table_and_passes_gradients(rng):
    layer = PositionalEncoding(6, max_len=10, dtype=F64)
    x = rng.standard_normal((2, 4, 6))
    np.testing.assert_allclose(layer(x) - x, np.broadcast_to(F.sinusoidal_positions(4, 6), x.shape), atol=1e-12)
    grad = rng.standard_normal(x.shape)
    np.testing.assert_array_equal(layer.backward(grad), grad)
    assert not layer.parameters()


def test_encoder_layer_dropout_only_in_training(rng):
    layer = TransformerEncoderLayer(4, 2, 8, dropout=0.5, rng=0, dtype=F64)
    x = rng.standard_normal((2, 3, 4))
    assert not np.allclose(layer(x), layer(x))  # fresh masks each training forward
    layer.eval()
    np.testing.assert_array_equal(layer(x), layer(x))


@pytest.mark.parametrize(("call", "error", "pattern"), [
    (lambda: MultiHeadAttention(6, 4), InputError, r"num_heads \(4\) must divide embed_dim \(6\)"),
    (lambda: MultiHeadAttention(4, 2, dtype=F64)(np.ones((2, 3, 5))), InputError,
     r"^MultiHeadAttention.*query must have shape \(N, T, 4\).*got \(2, 3, 5\)"),
    (lambda: MultiHeadAttention(4, 2, dtype=F64)(np.ones((2, 3, 4)), np.ones((2, 3, 4))), InputError,
     "give both key and value"),
    (lambda: MultiHeadAttention(4, 2, dtype=F64)(np.ones((2, 3, 4)), np.ones((3, 5, 4)), np.ones((3, 5, 4))),
     InputError, r"key must have shape \(2, T, 4\)"),
    (lambda: MultiHeadAttention(4, 2, dtype=F64)(np.ones((2, 3, 4)), np.ones((2, 5, 4)), np.ones((2, 4, 4))),
     InputError, "key and value must have the same length"),
    (lambda: MultiHeadAttention(4, 2, dtype=F64)(np.ones((2, 3, 4)), key_padding_mask=np.zeros((2, 3))),
     InputError, r"key_padding_mask must be a boolean array of shape \(2, 3\)"),
    (lambda: MultiHeadAttention(4, 2, dtype=F64)(np.ones((2, 3, 4)), key_padding_mask=np.ones((2, 3), bool)),
     InputError, "every key of sample 0 as padding"),
    (lambda: MultiHeadAttention(4, 2)(np.ones((2, 3, 4))), DTypeError, "has dtype float64 but"),
    (lambda: F.scaled_dot_product_attention(np.ones((2, 3)), np.ones((4, 3)), np.ones((5, 2))), InputError,
     "must agree on d_k and T_k"),
    (lambda: F.scaled_dot_product_attention(np.ones((2, 3)), np.ones((4, 3)), np.ones((4, 2)), np.ones((2, 4))),
     DTypeError, "mask must be boolean"),
    (lambda: F.scaled_dot_product_attention(np.ones((2, 3)), np.ones((4, 3)), np.ones((4, 2)),
                                            np.zeros((2, 4), bool)), InputError, "may attend to no key at all"),
    (lambda: LayerNorm(4, dtype=F64)(np.ones((2, 5))), InputError, r"^LayerNorm.*\(N, 4\)"),
    (lambda: LayerNorm(4, eps=0), InputError, "eps must be a number > 0"),
    (lambda: PositionalEncoding(4, max_len=3, dtype=F64)(np.ones((1, 5, 4))), InputError, "T ≤ 3"),
    (lambda: TransformerEncoderLayer(4, 2, dropout=1.0), InputError, r"dropout must be a probability in \[0, 1\)"),
    (lambda: F.sinusoidal_positions(0, 4), InputError, "length must be a positive integer"),
], ids=["heads", "features", "key-only", "batch", "lengths", "mask-dtype", "all-padding", "dtype", "dk",
        "mask-bool", "empty-row", "ln-features", "eps", "max_len", "dropout", "positions"])
def test_bad_input_is_named(call, error, pattern):
    with pytest.raises(error, match=pattern):
        call()


def test_repr():
    assert repr(MultiHeadAttention(8, 2)) == "MultiHeadAttention(embed_dim=8, num_heads=2, dtype=float32)"
    assert repr(LayerNorm(4)) == "LayerNorm(4, eps=1e-05, elementwise_affine=True)"
    assert repr(TransformerEncoderLayer(8, 2, 16)) == ("TransformerEncoderLayer(d_model=8, nhead=2, "
                                                       "dim_feedforward=16, dropout=0.1, norm_first=False)")


@pytest.mark.gradcheck
@pytest.mark.parametrize("causal", [False, True])
def test_transformer_model_gradcheck(rng, causal):
    model = TransformerModel(5, 3, d_model=4, nhead=2, num_layers=2, dim_feedforward=6, causal=causal, rng=0,
                             dtype=F64)
    errors = _assert_gradcheck(model, rng.integers(0, 5, (2, 3)))
    assert "embedding.weight" in errors and "layers.1.linear2.weight" in errors and "input0" not in errors


def test_transformer_model_learns_to_reverse(rng):
    digits = rng.integers(0, 10, (1500, 5))
    model = TransformerModel(10, 10, d_model=32, nhead=4, num_layers=2, dim_feedforward=64, rng=0)
    fit(model, CrossEntropyLoss(), Adam(model.parameters(), lr=1e-2), digits, digits[:, ::-1].copy(), epochs=12,
        batch_size=64, rng=0)
    test = np.random.default_rng(1).integers(0, 10, (300, 5))
    assert accuracy(model.eval()(test), test[:, ::-1]) > 0.95  # chance: 0.1


def test_split_and_merge_heads_are_inverse_and_keep_features_together(rng):
    x = rng.standard_normal((2, 3, 8))
    heads = F.split_heads(x, 4)
    assert heads.shape == (2, 4, 3, 2)
    np.testing.assert_array_equal(heads[1, 2, 0], x[1, 0, 4:6])  # head 2 holds features 4, 5 of every step
    np.testing.assert_array_equal(F.merge_heads(heads), x)
    with pytest.raises(InputError, match="num_heads must be a positive integer dividing E = 8, got 3"):
        F.split_heads(x, 3)
