"""Attention, LayerNorm, PositionalEncoding, the transformer encoder and decoder layers, Seq2SeqTransformer,
Embedding: gradients, PyTorch twins, masks, public caches, reuse, decoding, errors."""

import itertools

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
    Seq2SeqTransformer,
    Sequential,
    Tanh,
    TransformerDecoderLayer,
    TransformerEncoderLayer,
    TransformerModel,
    accuracy,
    fit,
    gradcheck,
    no_grad,
    numerical_gradient,
    relative_error,
)
from nnlib import functional as F
from nnlib.layers.attention import (
    AttentionCache,
    PositionalEncodingCache,
    TransformerDecoderLayerCache,
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


ATTENTIONS = ("self_attn", "multihead_attn")  # a decoder layer has both, PyTorch's names
NORMS = ("norm1", "norm2", "norm3")


def _copy_transformer_layer(torch, ours, theirs):
    """An nnlib encoder or decoder layer's weights into PyTorch's twin: attentions, the two Linears (transposed:
    nnlib's weight is (in, out), PyTorch's (out, in)) and the LayerNorms."""
    for name in ATTENTIONS:
        if hasattr(theirs, name):
            _copy_attention(torch, getattr(ours, name), getattr(theirs, name))
    with torch.no_grad():
        for name in ("linear1", "linear2", *(n for n in NORMS if hasattr(theirs, n))):
            weight = getattr(ours, name).weight.data
            getattr(theirs, name).weight.copy_(torch.tensor(weight.T if name.startswith("linear") else weight))
            getattr(theirs, name).bias.copy_(torch.tensor(getattr(ours, name).bias.data))


def _assert_transformer_layer_grads(ours, theirs, atol=1e-9):
    """Every parameter gradient of an encoder or decoder layer equals its PyTorch twin's."""
    for name in ATTENTIONS:
        if hasattr(theirs, name):
            _assert_attention_grads(getattr(ours, name), getattr(theirs, name), atol=atol)
    for name in ("linear1", "linear2", *(n for n in NORMS if hasattr(theirs, n))):
        ours_layer, theirs_layer = getattr(ours, name), getattr(theirs, name)
        weight_grad = ours_layer.weight.grad.T if name.startswith("linear") else ours_layer.weight.grad
        np.testing.assert_allclose(weight_grad, theirs_layer.weight.grad.numpy(), rtol=1e-6, atol=atol, err_msg=name)
        np.testing.assert_allclose(ours_layer.bias.grad, theirs_layer.bias.grad.numpy(), rtol=1e-6, atol=atol,
                                   err_msg=name)


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
    _copy_transformer_layer(torch, ours, theirs)
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
    _assert_transformer_layer_grads(ours, theirs)


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



# --- the decoder layer and the encoder–decoder model ---------------------------------------------------------------

def _decoder_inputs(rng, n=3, t=4, s=6, e=8):
    """A target (N, T, E), a memory (N, S, E), and a padding mask of each (never a whole row, never step 0)."""
    target_padding, memory_padding = _padding(n, t, rng), _padding(n, s, rng)
    target_padding[:, 0] = False  # causal: the first step sees only itself
    return rng.standard_normal((n, t, e)), rng.standard_normal((n, s, e)), target_padding, memory_padding


class _MaskedDecoder(TransformerDecoderLayer):
    """A decoder layer with fixed masks, so that gradcheck calls it with the two sequences only."""

    def __init__(self, target_padding, memory_padding, **kwargs):
        super().__init__(8, 2, 12, dropout=0.0, rng=0, dtype=F64, **kwargs)
        self.masks = {"tgt_key_padding_mask": target_padding, "memory_key_padding_mask": memory_padding}

    def forward(self, x, memory):
        return super().forward(x, memory, **self.masks)


@pytest.mark.gradcheck
@pytest.mark.parametrize("norm_first", [False, True])
@pytest.mark.parametrize("masked", [False, True])
def test_decoder_layer_gradcheck(rng, norm_first, masked):
    x, memory, target_padding, memory_padding = _decoder_inputs(rng)
    layer = (_MaskedDecoder(target_padding, memory_padding, norm_first=norm_first) if masked else
             TransformerDecoderLayer(8, 2, 12, dropout=0.0, norm_first=norm_first, rng=0, dtype=F64))
    errors = _assert_gradcheck(layer, x, memory)
    assert {"input0", "input1", "multihead_attn.k_proj.weight", "norm3.weight"} <= set(errors)


@pytest.mark.gradcheck
def test_decoder_layer_gradcheck_with_fixed_dropout_masks(rng):
    layer = TransformerDecoderLayer(4, 2, 6, dropout=0.3, rng=0, dtype=F64)
    x, memory = rng.standard_normal((2, 3, 4)), rng.standard_normal((2, 5, 4))
    for dropout, shape in ((layer.dropout1, (2, 3, 4)), (layer.dropout2, (2, 3, 4)), (layer.dropout, (2, 3, 6)),
                           (layer.dropout3, (2, 3, 4))):
        dropout.fix_mask(rng.random(shape) > 0.3)
    _assert_gradcheck(layer, x, memory)


def test_decoder_layer_is_causal_and_reads_the_memory(rng):
    layer = TransformerDecoderLayer(8, 2, 12, dropout=0.0, rng=0, dtype=F64)
    x, memory, _, _ = _decoder_inputs(rng)
    later_changed = x.copy()
    later_changed[:, 2:] += 1.0
    with no_grad():
        y, y_later = layer(x, memory), layer(later_changed, memory)
        y_other_memory = layer(x, memory + 1.0)
    np.testing.assert_allclose(y[:, :2], y_later[:, :2], atol=1e-12)  # steps 0, 1 never see steps ≥ 2
    assert np.abs(y - y_other_memory).min() > 0  # every step reads the memory
    weights = layer.cross_attn.weights
    assert weights.shape == (3, 2, 4, 6)
    np.testing.assert_allclose(weights.sum(axis=-1), 1.0, rtol=1e-12)


def test_decoder_layer_keeps_its_documented_named_cache(rng):
    layer = TransformerDecoderLayer(4, 2, 6, dropout=0.0, rng=0, dtype=F64)
    layer(rng.standard_normal((2, 3, 4)), rng.standard_normal((2, 5, 4)))
    assert layer.cache == TransformerDecoderLayerCache((2, 3, 4), (2, 5, 4))
    assert layer.multihead_attn.cache.self_attention is False and layer.self_attn.cache.self_attention is True


def _perturb_norms(module, rng):
    """Random LayerNorm weights and biases, so that a twin test also checks how the norms are mapped."""
    for m in module.modules():
        if isinstance(m, LayerNorm):
            m.weight.data[:] = 1 + 0.3 * rng.standard_normal(m.weight.shape)
            m.bias.data[:] = 0.3 * rng.standard_normal(m.bias.shape)


@pytest.mark.parametrize("norm_first", [False, True])
def test_decoder_layer_matches_torch(torch, rng, norm_first):
    ours = TransformerDecoderLayer(8, 2, 16, dropout=0.0, norm_first=norm_first, rng=0, dtype=F64)
    _perturb_norms(ours, rng)
    theirs = torch.nn.TransformerDecoderLayer(8, 2, 16, dropout=0.0, batch_first=True, norm_first=norm_first,
                                              dtype=torch.float64)
    _copy_transformer_layer(torch, ours, theirs)
    x, memory, target_padding, memory_padding = _decoder_inputs(rng, t=5)
    y = ours(x, memory, tgt_key_padding_mask=target_padding, memory_key_padding_mask=memory_padding)
    grad = rng.standard_normal(y.shape)
    grad_x, grad_memory = ours.backward(grad)
    x_t, memory_t = (torch.tensor(a, requires_grad=True) for a in (x, memory))
    y_t = theirs(x_t, memory_t, tgt_mask=torch.tensor(~F.causal_mask(5)), tgt_is_causal=True,
                 tgt_key_padding_mask=torch.tensor(target_padding),
                 memory_key_padding_mask=torch.tensor(memory_padding))
    y_t.backward(torch.tensor(grad))
    np.testing.assert_allclose(y, y_t.detach().numpy(), rtol=1e-6, atol=1e-10)
    np.testing.assert_allclose(grad_x, x_t.grad.numpy(), rtol=1e-6, atol=1e-9)
    np.testing.assert_allclose(grad_memory, memory_t.grad.numpy(), rtol=1e-6, atol=1e-9)
    _assert_transformer_layer_grads(ours, theirs)


def _seq2seq(norm_first=True, layers=2, pad=0, **kwargs):
    return Seq2SeqTransformer(7, 6, d_model=4, nhead=2, num_encoder_layers=layers, num_decoder_layers=layers,
                              dim_feedforward=6, norm_first=norm_first, src_pad_id=pad, rng=0, dtype=F64, **kwargs)


SRC = np.array([[3, 4, 5, 0], [6, 2, 0, 0]])      # 0 pads the source: masked out of every attention
TGT_IN = np.array([[0, 2, 3], [0, 5, 1]])


@pytest.mark.gradcheck
@pytest.mark.parametrize("norm_first", [False, True])
def test_seq2seq_gradcheck(norm_first):
    errors = _assert_gradcheck(_seq2seq(norm_first), SRC, TGT_IN)
    assert {"src_embedding.weight", "encoder_layers.0.self_attn.q_proj.weight", "encoder_norm.weight",
            "decoder_layers.1.multihead_attn.v_proj.weight", "head.bias"} <= set(errors)
    assert "input0" not in errors  # token ids have no gradient


@pytest.mark.filterwarnings("ignore:enable_nested_tensor is True:UserWarning")  # PyTorch's own fast-path note
@pytest.mark.parametrize("norm_first", [False, True])
def test_seq2seq_matches_torch_transformer(torch, rng, norm_first):
    ours = _seq2seq(norm_first=norm_first, layers=2)
    _perturb_norms(ours, rng)
    theirs = torch.nn.Transformer(4, 2, 2, 2, 6, dropout=0.0, batch_first=True, norm_first=norm_first,
                                  dtype=torch.float64)
    for ours_layers, theirs_stack in ((ours.encoder_layers, theirs.encoder), (ours.decoder_layers, theirs.decoder)):
        for ours_layer, theirs_layer in zip(ours_layers, theirs_stack.layers, strict=True):
            _copy_transformer_layer(torch, ours_layer, theirs_layer)
    with torch.no_grad():
        for ours_norm, theirs_norm in ((ours.encoder_norm, theirs.encoder.norm),
                                       (ours.decoder_norm, theirs.decoder.norm)):
            theirs_norm.weight.copy_(torch.tensor(ours_norm.weight.data))
            theirs_norm.bias.copy_(torch.tensor(ours_norm.bias.data))
    logits = ours(SRC, TGT_IN)
    grad = rng.standard_normal(logits.shape)
    ours.backward(grad)
    leaves = {name: torch.tensor(p.data, requires_grad=True) for name, p in ours.named_parameters()
              if name.split(".")[0] in ("src_embedding", "tgt_embedding", "head")}
    positions = torch.tensor(F.sinusoidal_positions(4, 4))

    def embed(name, ids):
        return leaves[f"{name}.weight"][torch.tensor(ids)] * 2.0 + positions[:ids.shape[1]]  # √d_model = 2

    out = theirs(embed("src_embedding", SRC), embed("tgt_embedding", TGT_IN),
                 tgt_mask=torch.tensor(~F.causal_mask(3)), tgt_is_causal=True,
                 src_key_padding_mask=torch.tensor(SRC == 0), memory_key_padding_mask=torch.tensor(SRC == 0))
    logits_t = out @ leaves["head.weight"] + leaves["head.bias"]
    logits_t.backward(torch.tensor(grad))
    np.testing.assert_allclose(logits, logits_t.detach().numpy(), rtol=1e-6, atol=1e-10)
    for name, leaf in leaves.items():
        np.testing.assert_allclose(dict(ours.named_parameters())[name].grad, leaf.grad.numpy(), rtol=1e-6, atol=1e-9,
                                   err_msg=name)
    for ours_layers, theirs_stack in ((ours.encoder_layers, theirs.encoder), (ours.decoder_layers, theirs.decoder)):
        for ours_layer, theirs_layer in zip(ours_layers, theirs_stack.layers, strict=True):
            _assert_transformer_layer_grads(ours_layer, theirs_layer)


def test_beam_of_width_one_is_greedy_decoding(rng):
    model = Seq2SeqTransformer(9, 8, d_model=8, nhead=2, dim_feedforward=16, rng=3)
    src = rng.integers(0, 9, (40, 5))
    greedy = model.greedy_decode(src, max_len=6, bos=0, eos=1)
    np.testing.assert_array_equal(model.beam_search(src, max_len=6, bos=0, eos=1, beam=1), greedy)
    np.testing.assert_array_equal(model.generate(src, max_len=6, bos=0, eos=1), greedy)


def test_greedy_decoding_appends_the_argmax_and_pads_after_eos(rng):
    model = Seq2SeqTransformer(9, 5, d_model=8, nhead=2, dim_feedforward=16, rng=1)
    model.head.bias.data[1] = 1.0  # eos likely enough that some sentences end early and some do not
    src = rng.integers(0, 9, (30, 4))
    out = model.greedy_decode(src, max_len=5, bos=0, eos=1)
    tgt_in = np.concatenate([np.zeros((30, 1), int), out[:, :-1]], axis=1)
    with no_grad():
        argmax = model(src, tgt_in).argmax(axis=-1)  # teacher forcing on its own output: the same tokens
    finished = np.cumsum(out == 1, axis=1) - (out == 1) > 0
    np.testing.assert_array_equal(out[~finished], argmax[~finished])
    assert np.all(out[finished] == 1) and finished.any() and not finished[:, -1].all() and out.shape[1] <= 5


def _best_by_brute_force(model, src, length, bos, eos):
    """The most probable target of each sentence among every sequence of ``length`` tokens (eos pads after eos)."""
    candidates = np.array(list(itertools.product(range(model.tgt_vocab_size), repeat=length)))
    after_eos = np.cumsum(candidates == eos, axis=1) - (candidates == eos) > 0
    candidates = candidates[~np.any(after_eos & (candidates != eos), axis=1)]  # canonical: eos only after eos
    scores = np.stack([model.sequence_log_prob(np.repeat(s[None], len(candidates), 0), candidates, bos, eos)
                       for s in src])
    return candidates[scores.argmax(axis=1)], scores.max(axis=1)


def test_a_beam_as_wide_as_every_prefix_finds_the_most_probable_sequence(rng):
    model = Seq2SeqTransformer(6, 4, d_model=8, nhead=2, dim_feedforward=16, rng=2)
    src = rng.integers(0, 6, (4, 3))
    best, best_score = _best_by_brute_force(model, src, 3, bos=0, eos=1)
    found = model.beam_search(src, max_len=3, bos=0, eos=1, beam=4 ** 2)
    found = np.pad(found, ((0, 0), (0, 3 - found.shape[1])), constant_values=1)
    np.testing.assert_allclose(model.sequence_log_prob(src, found, 0, 1), best_score, rtol=1e-9)
    np.testing.assert_array_equal(found, best)


def test_beam_search_scores_at_least_greedy_on_a_seeded_model(rng):
    """Not a theorem (a beam may prune greedy's prefix), but true for this model and these sources; the mean gain
    must be strictly positive, or the beam would be doing nothing."""
    model = Seq2SeqTransformer(9, 6, d_model=8, nhead=2, dim_feedforward=16, rng=5)
    src = rng.integers(0, 9, (50, 5))
    greedy, beam = (model.generate(src, max_len=6, bos=0, eos=1, beam=k) for k in (1, 4))
    greedy_score, beam_score = (model.sequence_log_prob(src, out, 0, 1) for out in (greedy, beam))
    assert np.all(beam_score >= greedy_score - 1e-9) and np.mean(beam_score - greedy_score) > 0


def test_decoding_restores_the_training_mode_and_caches_nothing(rng):
    model = Seq2SeqTransformer(5, 5, d_model=4, nhead=2, dim_feedforward=8, dropout=0.5, rng=0)
    src = rng.integers(0, 5, (3, 4))
    first = model.generate(src, max_len=4, bos=0, eos=1, beam=2)
    np.testing.assert_array_equal(model.generate(src, max_len=4, bos=0, eos=1, beam=2), first)  # no dropout
    assert model.training and all(m.training for m in model.modules())
    assert not any(m.__dict__.get("_caches") for m in model.modules())


def test_seq2seq_learns_to_reverse_with_teacher_forcing():
    digits = np.random.default_rng(0).integers(2, 10, (3000, 4))
    targets = np.concatenate([digits[:, ::-1], np.ones((3000, 1), int)], axis=1)  # reversed, then eos = 1
    tgt_in = np.concatenate([np.zeros((3000, 1), int), targets[:, :-1]], axis=1)  # bos = 0, shifted right
    model = Seq2SeqTransformer(10, 10, d_model=32, nhead=4, num_encoder_layers=1, num_decoder_layers=1,
                               dim_feedforward=64, rng=0)
    loss, optimizer = CrossEntropyLoss(), Adam(model.parameters(), lr=2e-3)
    for _ in range(8):
        for i in range(0, 3000, 32):
            optimizer.zero_grad()
            loss(model(digits[i:i + 32], tgt_in[i:i + 32]), targets[i:i + 32])
            model.backward(loss.backward())
            optimizer.step()
    test = np.random.default_rng(1).integers(2, 10, (200, 4))
    out = model.generate(test, max_len=5, bos=0, eos=1)
    # chance is 8⁻⁴; the exact figure moves with the BLAS (0.95 at numpy 1.24's, more at the newest)
    assert np.mean(np.all(out[:, :4] == test[:, ::-1], axis=1)) >= 0.9


@pytest.mark.parametrize(("call", "pattern"), [
    (lambda: TransformerDecoderLayer(6, 4), r"nhead \(4\) must divide d_model \(6\)"),
    (lambda: TransformerDecoderLayer(4, 2, dropout=1.0), r"dropout must be a probability in \[0, 1\)"),
    (lambda: TransformerDecoderLayer(4, 2, dtype=F64)(np.ones((2, 3, 4)), np.ones((3, 5, 4))),
     r"^TransformerDecoderLayer.*memory must have shape \(2, T, 4\) with T ≥ 1, got \(3, 5, 4\)"),
    (lambda: TransformerDecoderLayer(4, 2, dtype=F64)(np.ones((2, 3, 4)), np.ones((2, 5, 3))),
     r"memory must have shape \(2, T, 4\)"),
    (lambda: _seq2seq()(SRC, TGT_IN[:1]), r"^Seq2SeqTransformer: src and tgt_in must be id arrays .* same N"),
    (lambda: _seq2seq(pad=7), r"src_pad_id must be a token id, an int in \[0, 7\), got 7"),
    (lambda: _seq2seq().generate(SRC, 4, bos=6, eos=1), r"bos must be a token id, an int in \[0, 6\), got 6"),
    (lambda: _seq2seq().generate(SRC, 4, bos=0, eos=1, beam=0), "beam must be a positive integer, got 0"),
    (lambda: _seq2seq().generate(SRC, 0, bos=0, eos=1), "max_len must be a positive integer, got 0"),
], ids=["heads", "dropout", "memory-batch", "memory-features", "batches", "pad", "bos", "beam", "max_len"])
def test_decoder_and_seq2seq_bad_input_is_named(call, pattern):
    with pytest.raises(InputError, match=pattern):
        call()


def test_decoder_repr():
    assert repr(TransformerDecoderLayer(8, 2, 16)) == ("TransformerDecoderLayer(d_model=8, nhead=2, "
                                                       "dim_feedforward=16, dropout=0.1, norm_first=False)")
