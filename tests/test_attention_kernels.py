"""nnlib.kernels.attention: the tiled, multi-core attention equals the reference road of MultiHeadAttention
(forward, weights, cache, every gradient) on odd shapes, masks, 1 and 2 threads, and tiles that cover everything."""

import numpy as np
import pytest
from threadpoolctl import threadpool_limits

from nnlib import InputError, MultiHeadAttention, use_fast_kernels
from nnlib import functional as F
from nnlib.kernels import attention as attention_kernels
from nnlib.kernels import parallel

F64 = np.float64

# (N, heads, E, T_q, T_k or None for self-attention, masks)
SHAPES = [
    (1, 1, 4, 1, None, ""),             # batch 1, one head, T = 1
    (2, 3, 6, 7, None, ""),             # T not a multiple of the (forced small) row block
    (3, 2, 8, 5, 9, ""),                # cross-attention, T_q < T_k
    (2, 2, 4, 9, 4, ""),                # cross-attention, T_q > T_k
    (3, 2, 8, 6, None, "padding"),
    (2, 1, 4, 8, None, "causal"),
    (3, 2, 4, 7, None, "padding+causal"),
    (2, 2, 8, 6, 10, "padding"),        # cross-attention with padded memory
    (1, 4, 8, 1, 5, "padding"),         # one query over a padded memory
]


def _ids(shapes):
    return [f"N{n}-h{h}-E{e}-Tq{t_q}-Tk{t_k or t_q}{'-' + masks if masks else ''}"
            for n, h, e, t_q, t_k, masks in shapes]


def _inputs(rng, shape):
    """(query, key, value or None, None, forward keyword arguments) for one row of SHAPES, in float64."""
    n, _, e, t_q, t_k, masks = shape
    query = rng.standard_normal((n, t_q, e))
    keys = [None, None] if t_k is None else [rng.standard_normal((n, t_k, e)) for _ in range(2)]
    length = t_q if t_k is None else t_k
    options = {"causal": "causal" in masks}
    if "padding" in masks:
        padding = np.arange(length)[None, :] >= rng.integers(1, length + 1, n)[:, None]
        padding[:, 0] = False  # with causal, query 0 sees key 0 only
        options["key_padding_mask"] = padding
    return query, *keys, options


def _one_road(fast, shape, query, key, value, options, upstream):
    """Output, weights, cache and every gradient (inputs and parameters) of a fresh layer on one road."""
    layer = MultiHeadAttention(shape[2], shape[1], rng=0, dtype=F64)
    with use_fast_kernels(fast):
        y = layer(query, key, value, **options)
        cache = layer.cache
        grads = layer.backward(upstream)
    grads = grads if isinstance(grads, tuple) else (grads,)
    return {"output": y, "weights": layer.weights, **dict(zip(["q", "k", "v", "A"], cache[:4], strict=True)),
            **{f"dL/dinput{i}": g for i, g in enumerate(grads)},
            **{f"dL/d{name}": p.grad for name, p in layer.named_parameters()}}


@pytest.mark.parametrize("threads", [1, 2])
@pytest.mark.parametrize("tile", ["default", "one row"])
@pytest.mark.parametrize("shape", SHAPES, ids=_ids(SHAPES))
def test_fast_attention_equals_the_reference(rng, monkeypatch, shape, tile, threads):
    if tile == "one row":  # every query row its own block, every (sample, head) pair its own group
        monkeypatch.setattr(attention_kernels, "TILE_BYTES", 1)
    query, key, value, options = _inputs(rng, shape)
    upstream = rng.standard_normal(query.shape)
    with threadpool_limits(threads):
        fast = _one_road(True, shape, query, key, value, options, upstream)
        reference = _one_road(False, shape, query, key, value, options, upstream)
    assert fast.keys() == reference.keys()
    assert len([name for name in fast if name.startswith("dL/dinput")]) == (1 if key is None else 3)
    for name in fast:
        np.testing.assert_allclose(fast[name], reference[name], rtol=1e-12, atol=1e-13, err_msg=name)
    t_k = fast["weights"].shape[-1]
    allowed = np.ones((1, 1, query.shape[1], t_k), dtype=bool)
    if options["causal"]:
        allowed = allowed & F.causal_mask(query.shape[1], t_k)
    if "key_padding_mask" in options:
        allowed = allowed & ~options["key_padding_mask"][:, None, None, :]
    assert (fast["weights"][np.broadcast_to(~allowed, fast["weights"].shape)] == 0).all(), "masked weights are 0"


@pytest.mark.parametrize("forward_fast", [True, False])
def test_either_road_backpropagates_the_others_forward(rng, forward_fast):
    shape = SHAPES[6]
    query, key, value, options = _inputs(rng, shape)
    upstream = rng.standard_normal(query.shape)
    expected = _one_road(forward_fast, shape, query, key, value, options, upstream)
    layer = MultiHeadAttention(shape[2], shape[1], rng=0, dtype=F64)
    with use_fast_kernels(forward_fast):
        layer(query, **options)
    with use_fast_kernels(not forward_fast):
        grad = layer.backward(upstream)
    np.testing.assert_allclose(grad, expected["dL/dinput0"], rtol=1e-12, atol=1e-13)


def test_float32_fast_attention_is_the_reference_to_rounding(rng):
    x = rng.standard_normal((4, 33, 16)).astype(np.float32)
    upstream = rng.standard_normal(x.shape).astype(np.float32)
    results = []
    for fast in (True, False):
        layer = MultiHeadAttention(16, 4, rng=0)
        with use_fast_kernels(fast):
            results.append((layer(x, causal=True), layer.backward(upstream), layer.q_proj.weight.grad))
    for a, b in zip(*results, strict=True):
        assert a.dtype == np.float32
        np.testing.assert_allclose(a, b, rtol=1e-4, atol=1e-5)


@pytest.mark.parametrize("fast", [True, False])
def test_padding_and_causal_that_leave_a_query_nothing_is_refused_on_both_roads(rng, fast):
    padding = np.array([[False, False, False], [True, True, False]])
    with use_fast_kernels(fast), pytest.raises(InputError, match=r"query 0 of sample 1 nothing to attend to"):
        MultiHeadAttention(4, 2, rng=0, dtype=F64)(rng.standard_normal((2, 3, 4)), key_padding_mask=padding,
                                                   causal=True)


@pytest.mark.parametrize(("n", "h", "t_q", "t_k", "tile_bytes", "workers"),
                         [(32, 4, 64, 64, 128 * 1024, 1), (8, 4, 512, 512, 128 * 1024, 2), (3, 1, 7, 5, 1, 2),
                          (1, 1, 1, 1, 128 * 1024, 2), (2, 4, 300, 40, 4096, 1), (1, 8, 16, 16, 2048, 2),
                          (5, 3, 8, 8, 128 * 1024, 2)])
def test_tiles_cover_every_pair_and_row_once_and_fit_the_budget(monkeypatch, n, h, t_q, t_k, tile_bytes, workers):
    monkeypatch.setattr(attention_kernels, "TILE_BYTES", tile_bytes)
    monkeypatch.setattr(attention_kernels, "worker_count", lambda: workers)
    tiling = attention_kernels.tiling(n, h, t_q, t_k, itemsize=8)
    pairs = [(i, j) for samples, heads in tiling.groups for i in range(n)[samples] for j in range(h)[heads]]
    assert sorted(pairs) == [(i, j) for i in range(n) for j in range(h)] and len(set(pairs)) == len(pairs)
    assert [i for block in tiling.rows for i in range(t_q)[block]] == list(range(t_q))
    assert len(tiling.groups) >= min(n, workers), "every worker gets pairs"
    longest_block = max(block.stop - block.start for block in tiling.rows)
    assert longest_block == 1 or longest_block * t_k * 8 <= tile_bytes
    largest_group = max(len(range(n)[samples]) * len(range(h)[heads]) for samples, heads in tiling.groups)
    assert largest_group == 1 or largest_group * t_q * t_k * 8 <= tile_bytes


def test_two_threads_split_the_pairs_and_one_thread_does_not(rng, monkeypatch):
    calls = []

    def recording_split(task, pieces):
        calls.append((parallel.worker_count(), len(pieces)))
        return parallel.run_split(task, pieces)

    monkeypatch.setattr(attention_kernels, "run_split", recording_split)
    q, k, v = (rng.standard_normal((2, 2, 6, 4)) for _ in range(3))
    for threads in (1, 2):
        with threadpool_limits(threads):
            out, weights = attention_kernels.attention_forward(q, k, v, None)
            attention_kernels.attention_backward(np.ones_like(out), q, k, v, weights)
    assert calls[0] == calls[1] == (1, 1), "one thread: all four pairs in one group"
    if calls[2][0] >= 2:  # on a machine with more than one core
        assert calls[2][1] >= 2 and calls[3][1] >= 2
    expected, _ = F.scaled_dot_product_attention(q, k, v)
    np.testing.assert_allclose(out, expected, rtol=1e-12)
