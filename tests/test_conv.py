"""Conv2d, MaxPool2d, AvgPool2d, Flatten, the im2col helpers and their fast kernels: the fast road equals the
reference, gradients and PyTorch on odd shapes on both roads, errors.

Tests that take the ``kernel_path`` fixture run twice: on the fast kernels and on the reference layers.
"""

import itertools

import numpy as np
import pytest
from threadpoolctl import threadpool_limits

from nnlib import DTypeError, InputError, Sequential, gradcheck, use_fast_kernels
from nnlib.functional import col2im, conv2d_naive, conv_output_size, im2col, sliding_windows
from nnlib.kernels import conv as conv_kernels
from nnlib.kernels import pooling as pool_kernels
from nnlib.kernels.parallel import worker_count
from nnlib.layers import AvgPool2d, Conv2d, Flatten, Linear, MaxPool2d, ReLU, Tanh
from nnlib.layers.conv import Conv2dCache, output_hw

F64 = np.float64

# (in_channels, out_channels, kernel, stride, padding): channels 1/3/8, kernels 1/3/5, stride 1/2, padding 0/1/2
CONV_SETTINGS = [(c, o, k, s, p) for (c, o), k, s, p in
                 itertools.product([(1, 4), (3, 2), (8, 3)], [1, 3, 5], [1, 2], [0, 1, 2])]
IMAGE = (2, 7, 10)  # N, H, W: non-square, odd height
# (kernel, stride, padding) of the pooling layers; stride None means "= kernel"
POOL_SETTINGS = [(2, None, 0), (2, 1, 0), (3, 2, 1), (3, None, 0), ((2, 3), (1, 2), (1, 0)), (1, None, 0)]
POOLS = {"MaxPool2d": MaxPool2d, "AvgPool2d": AvgPool2d}


def _conv(setting, dtype=F64, bias=True):
    c, o, k, s, p = setting
    return Conv2d(c, o, k, stride=s, padding=p, bias=bias, rng=sum(setting), dtype=dtype)


def _images(rng, channels, dtype=F64):
    n, h, w = IMAGE
    return rng.standard_normal((n, channels, h, w)).astype(dtype)


def _ids(settings):
    return [str(s).replace(" ", "") for s in settings]


# --- the readable reference and the im2col helpers ----------------------------------------------------

@pytest.mark.parametrize("setting", CONV_SETTINGS, ids=_ids(CONV_SETTINGS))
def test_conv2d_equals_the_naive_loops(rng, kernel_path, setting):
    layer = _conv(setting)
    x = _images(rng, setting[0])
    expected = conv2d_naive(x, layer.weight.data, layer.bias.data, stride=setting[3], padding=setting[4])
    np.testing.assert_allclose(layer(x), expected, rtol=1e-12, atol=1e-12)


@pytest.mark.parametrize(("kernel", "stride", "padding"), [(3, 1, 1), (2, 2, 0), ((3, 2), (2, 1), (0, 2))])
def test_col2im_is_the_adjoint_of_im2col(rng, kernel, stride, padding):
    x = rng.standard_normal((2, 3, 6, 5))
    cols = im2col(x, kernel, stride, padding)
    c = rng.standard_normal(cols.shape)
    assert np.isclose(np.sum(cols * c), np.sum(x * col2im(c, x.shape, kernel, stride, padding)), rtol=1e-12)


def test_sliding_windows_are_the_padded_receptive_fields(rng):
    x = rng.standard_normal((2, 3, 5, 6))
    windows = sliding_windows(x, (3, 2), stride=(2, 1), padding=1, pad_value=-7.0)
    assert windows.shape == (2, 3, 3, 7, 3, 2)
    padded = np.pad(x, ((0, 0), (0, 0), (1, 1), (1, 1)), constant_values=-7.0)
    np.testing.assert_array_equal(windows[1, 2, 2, 4], padded[1, 2, 4:7, 4:6])


@pytest.mark.parametrize(("size", "kernel", "stride", "padding", "expected"),
                         [(28, 3, 1, 1, 28), (28, 5, 1, 0, 24), (7, 3, 2, 1, 4), (8, 2, 2, 0, 4), (5, 5, 3, 0, 1),
                          (6, 3, 2, 0, 2), (1, 3, 1, 1, 1)])
def test_conv_output_size(size, kernel, stride, padding, expected):
    assert conv_output_size(size, kernel, stride, padding) == expected


@pytest.mark.parametrize(("args", "pattern"), [
    ((4, 7, 1, 1), r"the kernel \(7\) is larger than the padded input \(4 \+ 2·1 = 6\)"),
    ((4, 3, 0, 0), "stride must be an int ≥ 1, got 0"),
    ((4, 3, 1, -1), "padding must be an int ≥ 0, got -1"),
    ((4.0, 3, 1, 0), "size must be an int ≥ 1, got 4.0"),
])
def test_conv_output_size_refuses_impossible_settings(args, pattern):
    with pytest.raises(InputError, match=f"^conv_output_size: {pattern}"):
        conv_output_size(*args)


# --- the fast kernels of the convolution: stride-1 "same" -----------------------------------------------------

# Its fast im2col: odd kernels, square or not, on images smaller than the kernel too
SAME_KERNELS = [(1, 1), (3, 3), (5, 5), (3, 5), (5, 1), (1, 3), (7, 3)]
SAME_IMAGES = [(2, 3, 7, 10), (3, 2, 6, 2), (2, 2, 4, 3), (1, 2, 1, 1), (2, 1, 1, 5), (2, 1, 5, 1)]


@pytest.mark.parametrize("dtype", [np.float32, F64])
@pytest.mark.parametrize("shape", SAME_IMAGES, ids=_ids(SAME_IMAGES))
@pytest.mark.parametrize("kernel", SAME_KERNELS, ids=_ids(SAME_KERNELS))
def test_unfold_same_equals_im2col(rng, kernel, shape, dtype):
    x = rng.standard_normal(shape).astype(dtype)
    expected = im2col(x, kernel, 1, (kernel[0] // 2, kernel[1] // 2))
    windows = conv_kernels.same_windows(x, kernel)
    cols = conv_kernels.unfold_same(windows)
    assert cols.dtype == dtype and cols.flags.c_contiguous
    np.testing.assert_array_equal(cols, expected)
    np.testing.assert_array_equal(conv_kernels.unfold_same(windows[1:]), expected[1:])  # a batch of the images


def test_unfold_same_can_unfold_the_same_windows_twice(rng):
    """The wrap-around entries are zeroed in the copy, never in the padded image the windows view."""
    x = rng.standard_normal((2, 3, 4, 5))
    windows = conv_kernels.same_windows(x, (3, 3))
    np.testing.assert_array_equal(conv_kernels.unfold_same(windows), conv_kernels.unfold_same(windows))
    np.testing.assert_array_equal(conv_kernels.unfold_same(windows), im2col(x, 3, 1, 1))


@pytest.mark.parametrize(("cache_bytes", "sizes"), [(1, [1] * 5), (3 * 160, [3, 2]), (1 << 20, [5])])
def test_cache_sized_batches_cover_the_batch_in_order(monkeypatch, cache_bytes, sizes):
    monkeypatch.setattr(conv_kernels, "CACHE_BYTES", cache_bytes)
    windows = conv_kernels.same_windows(np.zeros((5, 2, 2, 5)), (1, 1))  # 2·2·5 float64 values = 160 bytes per image
    batches = conv_kernels.cache_sized_batches(windows)
    assert [len(range(5)[b]) for b in batches] == sizes
    assert [i for b in batches for i in range(5)[b]] == list(range(5))


@pytest.mark.parametrize(("args", "same"), [((3, 1, 1), True), ((5, 1, 2), True), (((3, 5), 1, (1, 2)), True),
                                            ((1, 1, 0), True), ((3, 2, 1), False), ((3, 1, 0), False),
                                            ((2, 1, 1), False), (((3, 5), 1, (1, 1)), False)])
def test_the_same_unfolding_is_for_stride_1_same_convolutions_only(args, same):
    layer = Conv2d(2, 3, *args)
    assert conv_kernels.is_same(layer.kernel_size, layer.stride, layer.padding) == same


@pytest.mark.parametrize(("channels", "unfolds"), [((16, 32), True), ((4, 16), True), ((3, 12), True),
                                                   ((3, 13), False), ((1, 16), False)])
def test_backward_unfolds_delta_up_to_four_times_as_many_output_channels(channels, unfolds):
    assert conv_kernels.unfolds_delta(*channels) == unfolds


# (C, C_out, kernel): 1→16 and 3→13 fold back with col2im, 16→32, 3→2 and 2→8 unfold δ; square and flat kernels
EQUIVALENCE = [(1, 16, (3, 3)), (16, 32, (3, 3)), (3, 2, (5, 3)), (2, 8, (1, 5)), (3, 13, (3, 1))]


def _conv_on_one_road(fast, setting, x, upstream, frozen):
    """y, dL/dx and the parameters' gradients of a fresh Conv2d on the fast road or the reference, and its cache."""
    c, o, (kh, kw) = setting
    layer = Conv2d(c, o, (kh, kw), padding=(kh // 2, kw // 2), rng=0, dtype=F64)
    if frozen:
        getattr(layer, frozen).requires_grad = False
    with use_fast_kernels(fast):
        y = layer(x)
        cache = layer.cache
        grad_x = layer.backward(upstream)
    return [y, grad_x, layer.weight.grad, layer.bias.grad], cache


@pytest.mark.parametrize("frozen", [None, "weight", "bias"])
@pytest.mark.parametrize("batches", ["one", "one image each"])
@pytest.mark.parametrize("setting", EQUIVALENCE, ids=_ids(EQUIVALENCE))
def test_fast_same_conv_equals_the_reference(rng, monkeypatch, setting, batches, frozen):
    if batches != "one":
        monkeypatch.setattr(conv_kernels, "CACHE_BYTES", 1)
    x = rng.standard_normal((3, setting[0], 7, 9))
    upstream = rng.standard_normal((3, setting[1], 7, 9))
    fast, fast_cache = _conv_on_one_road(True, setting, x, upstream, frozen)
    reference, reference_cache = _conv_on_one_road(False, setting, x, upstream, frozen)
    assert isinstance(fast_cache, conv_kernels.ConvCache) and isinstance(reference_cache, Conv2dCache)
    assert (fast_cache.cols is None) == conv_kernels.unfolds_delta(*setting[:2])
    for name, a, b in zip(["y", "dL/dx", "dL/dweight", "dL/dbias"], fast, reference, strict=True):
        np.testing.assert_allclose(a, b, rtol=1e-12, atol=1e-12, err_msg=name)


@pytest.mark.parametrize("setting", [(3, 2, (3, 3)), (1, 16, (3, 3))], ids=["unfold-delta", "col2im"])
@pytest.mark.parametrize("forward_fast", [True, False])
def test_backward_follows_the_road_of_its_forward(rng, setting, forward_fast):
    """Switching the kernels between a forward and its backward changes nothing: the cache says which road."""
    c, o, kernel = setting
    x, upstream = rng.standard_normal((2, c, 5, 6)), rng.standard_normal((2, o, 5, 6))
    expected, _ = _conv_on_one_road(forward_fast, setting, x, upstream, None)
    layer = Conv2d(c, o, kernel, padding=1, rng=0, dtype=F64)
    with use_fast_kernels(forward_fast):
        layer(x)
    with use_fast_kernels(not forward_fast):
        grad_x = layer.backward(upstream)
    for a, b in zip([grad_x, layer.weight.grad, layer.bias.grad], expected[1:], strict=True):
        np.testing.assert_allclose(a, b, rtol=1e-12, atol=1e-12)


def test_fast_conv_bias_and_weight_gradients_are_the_sums_they_stand_for(rng):
    delta, cols = rng.standard_normal((3, 4, 5, 6)), rng.standard_normal((3, 7, 30))
    np.testing.assert_allclose(conv_kernels.bias_gradient(delta), delta.sum(axis=(0, 2, 3)), rtol=1e-12)
    flat = delta.reshape(3, 4, 30)
    expected = sum(flat[n] @ cols[n].T for n in range(3))
    np.testing.assert_allclose(conv_kernels.weight_gradient(flat, cols), expected, rtol=1e-12)


# --- the fast kernels of the convolution: any stride and padding, and over several threads -------------------

# (C, C_out, kernel, stride, padding): stride 2 and 3, padding 0/1/2, even and odd kernels, non-square, C = 1, and
# the same convolutions of both backwards (16→32 unfolds δ, 1→16 folds columns back)
STRIDED = [(c, o, k, s, p) for (c, o), k, s, p in itertools.product([(1, 4), (3, 8)], [2, 3, (3, 2), (1, 4)], [2, 3],
                                                                     [0, 1, 2])]
STRIDED += [(16, 32, 3, 1, 1), (1, 16, 3, 1, 1), (2, 3, 3, 1, 0), (2, 3, 4, 1, 2), (2, 5, (2, 5), (1, 3), (0, 2))]
STRIDED_IMAGES = [(3, 9, 8), (1, 7, 10), (2, 5, 5)]  # N, H, W: batch 1, odd, non-square


def _both_roads(layer, x, upstream):
    """y, dL/dx and the gradients of ``layer`` on the fast road, then on the reference: two lists."""
    roads = []
    for fast in (True, False):
        layer.zero_grad()
        with use_fast_kernels(fast):
            y = layer(x)
            grad_x = layer.backward(upstream)
        roads.append([y, grad_x] + [p.grad.copy() for p in layer.parameters()])
    return roads


@pytest.mark.parametrize("image", STRIDED_IMAGES, ids=_ids(STRIDED_IMAGES))
@pytest.mark.parametrize("setting", STRIDED, ids=_ids(STRIDED))
def test_unfold_strided_equals_im2col(rng, setting, image):
    c, _, kernel, stride, padding = setting
    layer = Conv2d(c, 1, kernel, stride=stride, padding=padding)
    x = rng.standard_normal((image[0], c, *image[1:]))
    windows = conv_kernels.strided_windows(x, layer.kernel_size, layer.stride, layer.padding)
    cols = conv_kernels.unfold_strided(windows)
    expected = im2col(x, kernel, stride, padding)
    np.testing.assert_array_equal(cols, expected)
    into = np.empty_like(expected[1:])
    assert conv_kernels.unfold_strided(windows[1:], into).base is into  # written straight into ``out``
    np.testing.assert_array_equal(into, expected[1:])


@pytest.mark.parametrize("image", STRIDED_IMAGES, ids=_ids(STRIDED_IMAGES))
@pytest.mark.parametrize("setting", STRIDED, ids=_ids(STRIDED))
def test_fold_into_phases_equals_col2im(rng, setting, image):
    """The columns widened by zeros to the phases' width fold back as col2im folds the columns themselves."""
    c, _, kernel, stride, padding = setting
    layer = Conv2d(c, 1, kernel, stride=stride, padding=padding)
    x_shape = (image[0], c, *image[1:])
    out_h, out_w = output_hw(layer, x_shape)
    rows, width = conv_kernels.phase_grid(x_shape, layer.kernel_size, layer.stride, layer.padding)
    assert width >= out_w and rows > out_h
    cols = rng.standard_normal((image[0], c * np.prod(layer.kernel_size), out_h, out_w))
    widened = np.zeros((*cols.shape[:3], width))
    widened[..., :out_w] = cols
    got = conv_kernels.fold_into_phases(widened.reshape(*cols.shape[:2], -1), x_shape, layer.kernel_size,
                                        layer.stride, layer.padding)
    expected = col2im(cols.reshape(*cols.shape[:2], -1), x_shape, kernel, stride, padding)
    np.testing.assert_allclose(got, expected, rtol=1e-12, atol=1e-12)


@pytest.mark.parametrize("threads", [1, 2])
@pytest.mark.parametrize("image", STRIDED_IMAGES, ids=_ids(STRIDED_IMAGES))
@pytest.mark.parametrize("setting", STRIDED, ids=_ids(STRIDED))
def test_fast_conv_equals_the_reference_at_1_and_2_threads(rng, monkeypatch, setting, image, threads):
    """Every stride and padding takes the fast road, in batches of one image shared among the threads."""
    monkeypatch.setattr(conv_kernels, "CACHE_BYTES", 1)
    c, o, kernel, stride, padding = setting
    layer = Conv2d(c, o, kernel, stride=stride, padding=padding, rng=0, dtype=F64)
    x = rng.standard_normal((image[0], setting[0], *image[1:]))
    upstream = rng.standard_normal(layer(x).shape)
    with threadpool_limits(threads):
        fast, reference = _both_roads(layer, x, upstream)
        layer(x)
    assert isinstance(layer.cache, conv_kernels.ConvCache)
    for name, a, b in zip(["y", "dL/dx", "dL/dweight", "dL/dbias"], fast, reference, strict=True):
        np.testing.assert_allclose(a, b, rtol=1e-12, atol=1e-12, err_msg=name)


@pytest.mark.parametrize("frozen", [None, "weight"])
@pytest.mark.parametrize("setting", [(16, 32, 3, 1, 1), (1, 16, 3, 1, 1), (3, 8, 3, 2, 1), (3, 8, (2, 3), 3, 0)],
                         ids=["unfold-delta", "col2im", "stride-2", "stride-3"])
def test_float32_fast_conv_at_2_threads_is_bit_identical_to_1_thread_and_close_to_the_reference(rng, monkeypatch,
                                                                                                 setting, frozen):
    """The weight gradient's per-batch partial sums are added in a fixed order: the thread count changes nothing."""
    monkeypatch.setattr(conv_kernels, "CACHE_BYTES", 1)
    c, o, kernel, stride, padding = setting
    layer = Conv2d(c, o, kernel, stride=stride, padding=padding, rng=0)
    if frozen:
        getattr(layer, frozen).requires_grad = False
    x = rng.standard_normal((7, setting[0], 11, 9)).astype(np.float32)
    upstream = rng.standard_normal(layer(x).shape).astype(np.float32)
    results = {}
    for threads in (1, 2):
        with threadpool_limits(threads):
            if worker_count() != threads:
                pytest.skip("this machine has one core")
            results[threads] = _both_roads(layer, x, upstream)
    (fast, reference), (fast_2_threads, _) = results[1], results[2]
    for a, b, expected in zip(fast, fast_2_threads, reference, strict=True):
        np.testing.assert_array_equal(a, b)
        np.testing.assert_allclose(a, expected, rtol=1e-4, atol=1e-5)


# --- the fast kernels of pooling ------------------------------------------------------------------------------

@pytest.mark.parametrize("setting", POOL_SETTINGS, ids=_ids(POOL_SETTINGS))
@pytest.mark.parametrize("name", POOLS)
@pytest.mark.parametrize(("threads", "batches"), [(1, "one"), (1, "one image each"), (2, "one image each")])
def test_fast_pooling_equals_the_reference(rng, monkeypatch, name, setting, threads, batches):
    """Integer inputs in 0..2 tie in almost every window: both roads pick the same (first) maximum, and the same
    numbers whether the images are taken together or one at a time, on one thread or two."""
    if batches != "one":
        monkeypatch.setattr(pool_kernels, "CACHE_BYTES", 1)
    x = rng.integers(0, 3, (5, 3, 7, 10)).astype(F64)
    upstream = None
    results = {}
    for fast in (True, False):
        layer = POOLS[name](*setting)
        with use_fast_kernels(fast), threadpool_limits(threads):
            y = layer(x)
            upstream = rng.standard_normal(y.shape) if upstream is None else upstream
            argmax = layer.cache.argmax if name == "MaxPool2d" else None
            results[fast] = (y, argmax, layer.backward(upstream))
    for what, a, b in zip(["y", "argmax", "dL/dx"], results[True], results[False], strict=True):
        np.testing.assert_array_equal(a, b, err_msg=what)


@pytest.mark.parametrize(("kernel", "stride", "padding"), [((2, 2), (2, 2), (0, 0)), ((3, 2), (1, 2), (1, 1))])
def test_scatter_to_windows_is_col2im_of_the_stacked_offsets(rng, kernel, stride, padding):
    x_shape = (2, 3, 7, 8)
    out_h = conv_output_size(7, kernel[0], stride[0], padding[0])
    out_w = conv_output_size(8, kernel[1], stride[1], padding[1])
    shares = rng.standard_normal((2, 3, kernel[0] * kernel[1], out_h, out_w))
    expected = col2im(shares.reshape(2, -1, out_h * out_w), x_shape, kernel, stride, padding)
    got = pool_kernels.scatter_to_windows(lambda k, rows: shares[rows, :, k], x_shape, kernel, stride, padding, F64)
    np.testing.assert_allclose(got, expected, rtol=1e-12, atol=1e-12)


# --- gradients ------------------------------------------------------------------------------------------

GRADCHECK_CONV = [(1, 4, 3, 1, 1), (3, 2, 5, 2, 2), (8, 3, 1, 2, 0), (3, 2, 3, 2, 0), (1, 4, 5, 1, 2)]


@pytest.mark.gradcheck
@pytest.mark.parametrize("bias", [True, False])
@pytest.mark.parametrize("setting", GRADCHECK_CONV, ids=_ids(GRADCHECK_CONV))
def test_conv_gradcheck(rng, kernel_path, setting, bias):
    layer = _conv(setting, bias=bias)
    errors = gradcheck(layer, _images(rng, setting[0]), tol=1e-7)
    assert set(errors) == {"input0", "weight"} | ({"bias"} if bias else set())


@pytest.mark.gradcheck
@pytest.mark.parametrize("setting", POOL_SETTINGS, ids=_ids(POOL_SETTINGS))
@pytest.mark.parametrize("name", POOLS)
def test_pool_gradcheck(rng, kernel_path, name, setting):
    x = rng.permutation(np.arange(2 * 3 * 7 * 10, dtype=F64)).reshape(2, 3, 7, 10) / 10  # distinct: no ties
    assert set(gradcheck(POOLS[name](*setting), x, tol=1e-7)) == {"input0"}


@pytest.mark.gradcheck
def test_small_cnn_gradcheck(rng, kernel_path):
    assert len(gradcheck(_small_cnn(), rng.standard_normal((2, 1, 8, 8)), tol=1e-7)) == 7


@pytest.mark.gradcheck
def test_a_conv_and_a_pool_used_twice_gradcheck(rng, kernel_path):
    """Weight sharing: the same Conv2d (fast road, then reference road for its stride-2 twin) and MaxPool2d twice."""
    conv = Conv2d(2, 2, 3, padding=1, rng=0, dtype=F64)
    strided = Conv2d(2, 2, 3, stride=2, padding=1, rng=1, dtype=F64)
    pool = MaxPool2d(2, stride=1)
    model = Sequential(conv, Tanh(), conv, pool, strided, Tanh(), strided, pool)
    x = rng.permutation(np.arange(2 * 2 * 9 * 9, dtype=F64)).reshape(2, 2, 9, 9) / 50
    assert set(gradcheck(model, x, tol=1e-7)) == {"input0", "0.weight", "0.bias", "4.weight", "4.bias"}


def _small_cnn():
    return Sequential(Conv2d(1, 3, 3, padding=1, rng=0, dtype=F64), Tanh(), MaxPool2d(2),
                      Conv2d(3, 4, 3, stride=2, rng=1, dtype=F64), ReLU(), AvgPool2d(1), Flatten(),
                      Linear(4, 5, rng=2, dtype=F64))


# --- PyTorch ----------------------------------------------------------------------------------------------

def _torch_forward(torch, layer, x):
    """The torch twin of an nnlib conv/pool/flatten layer (or a Sequential of them) applied to tensor x,
    returning (y, [(nnlib parameter, torch leaf)])."""
    F = torch.nn.functional
    if isinstance(layer, Sequential):
        pairs = []
        for sub in layer:
            x, sub_pairs = _torch_forward(torch, sub, x)
            pairs += sub_pairs
        return x, pairs
    if isinstance(layer, Conv2d):
        leaves = [(p, torch.tensor(p.data, requires_grad=True)) for p in layer.parameters()]
        weight, bias = leaves[0][1], (leaves[1][1] if layer.bias is not None else None)
        return F.conv2d(x, weight, bias, stride=layer.stride, padding=layer.padding), leaves
    if isinstance(layer, Linear):
        weight, bias = (torch.tensor(p.data, requires_grad=True) for p in (layer.weight, layer.bias))
        return x @ weight + bias, [(layer.weight, weight), (layer.bias, bias)]
    simple = {MaxPool2d: lambda: F.max_pool2d(x, layer.kernel_size, layer.stride, layer.padding),
              AvgPool2d: lambda: F.avg_pool2d(x, layer.kernel_size, layer.stride, layer.padding),
              Flatten: lambda: torch.flatten(x, layer.start_dim), ReLU: lambda: F.relu(x), Tanh: lambda: torch.tanh(x)}
    return simple[type(layer)](), []


def _assert_matches_torch(torch, layer, x, upstream, atol=1e-12):
    y = layer(x)
    grad_x = layer.backward(upstream)
    xt = torch.tensor(x, requires_grad=True)
    yt, pairs = _torch_forward(torch, layer, xt)
    yt.backward(torch.tensor(upstream))
    np.testing.assert_allclose(y, yt.detach().numpy(), rtol=1e-6, atol=atol)
    np.testing.assert_allclose(grad_x, xt.grad.numpy(), rtol=1e-6, atol=atol)
    assert len(pairs) == len(layer.parameters())
    for param, leaf in pairs:
        np.testing.assert_allclose(param.grad, leaf.grad.numpy(), rtol=1e-6, atol=atol, err_msg=param.name)


@pytest.mark.parametrize("setting", CONV_SETTINGS, ids=_ids(CONV_SETTINGS))
def test_conv_matches_torch(torch, rng, kernel_path, setting):
    layer = _conv(setting)
    x = _images(rng, setting[0])
    _assert_matches_torch(torch, layer, x, rng.standard_normal(layer(x).shape))


@pytest.mark.parametrize("setting", POOL_SETTINGS, ids=_ids(POOL_SETTINGS))
@pytest.mark.parametrize("name", POOLS)
def test_pool_matches_torch(torch, rng, kernel_path, name, setting):
    layer = POOLS[name](*setting)
    x = _images(rng, 3)
    _assert_matches_torch(torch, layer, x, rng.standard_normal(layer(x).shape))


@pytest.mark.parametrize("setting", POOL_SETTINGS, ids=_ids(POOL_SETTINGS))
def test_maxpool_ties_follow_torch(torch, rng, kernel_path, setting):
    """Integer inputs in 0..2 tie in almost every window: PyTorch sends the gradient to the first maximum."""
    layer = MaxPool2d(*setting)
    x = rng.integers(0, 3, (2, 3, 7, 10)).astype(F64)
    _assert_matches_torch(torch, layer, x, rng.standard_normal(layer(x).shape))


def test_maxpool_tie_goes_to_the_first_maximum_in_row_major_order(kernel_path):
    layer = MaxPool2d(2)
    layer(np.array([[[[1.0, 5.0], [5.0, 5.0]]]]))
    assert layer.cache.argmax.item() == layer.argmax.item() == 1
    np.testing.assert_array_equal(layer.backward(np.array([[[[3.0]]]])), [[[[0.0, 3.0], [0.0, 0.0]]]])


def test_float32_cnn_matches_torch(torch, rng, kernel_path):
    layer = Sequential(Conv2d(3, 8, 3, padding=1, rng=0), ReLU(), MaxPool2d(2),
                       Conv2d(8, 4, 3, stride=2, padding=1, rng=1), Flatten())
    x = _images(rng, 3, np.float32)
    _assert_matches_torch(torch, layer, x, rng.standard_normal(layer(x).shape).astype(np.float32), atol=1e-5)


# Stride-1 "same" convolutions, odd or non-square kernels: C_out ≤ 4·C unfolds δ in backward, beyond uses col2im
SAME_CONV_SETTINGS = [(c, o, k) for (c, o), k in itertools.product([(3, 2), (2, 8), (1, 8)], SAME_KERNELS[:5])]


@pytest.mark.parametrize("batches", ["one", "of 2 images"])
@pytest.mark.parametrize("setting", SAME_CONV_SETTINGS, ids=_ids(SAME_CONV_SETTINGS))
def test_same_conv_matches_torch(torch, rng, monkeypatch, kernel_path, setting, batches):
    c, o, (kh, kw) = setting
    if batches != "one":  # backward unfolds two images per batch, the last batch holds one
        monkeypatch.setattr(conv_kernels, "CACHE_BYTES", 2 * o * kh * kw * 7 * 10 * 8)
    layer = Conv2d(c, o, (kh, kw), padding=(kh // 2, kw // 2), rng=0, dtype=F64)
    x = rng.standard_normal((5, c, 7, 10))
    _assert_matches_torch(torch, layer, x, rng.standard_normal(layer(x).shape))


@pytest.mark.parametrize("channels", [(3, 2), (1, 8)], ids=["unfold-delta", "col2im"])
def test_float32_same_conv_matches_torch(torch, rng, monkeypatch, kernel_path, channels):
    monkeypatch.setattr(conv_kernels, "CACHE_BYTES", 1)  # one image per batch
    layer = Conv2d(*channels, (3, 5), padding=(1, 2), rng=0)
    x = rng.standard_normal((3, channels[0], 6, 9)).astype(np.float32)
    _assert_matches_torch(torch, layer, x, rng.standard_normal(layer(x).shape).astype(np.float32), atol=1e-5)


# --- the backward contract ----------------------------------------------------------------------------------

LAYERS = {
    "Conv2d": lambda dtype: Conv2d(3, 2, 3, stride=2, padding=1, rng=0, dtype=dtype),
    "Conv2d-same": lambda dtype: Conv2d(3, 2, 3, padding=1, rng=0, dtype=dtype),  # backward unfolds δ
    "Conv2d-same-wide": lambda dtype: Conv2d(3, 16, (3, 1), padding=(1, 0), rng=0, dtype=dtype),  # col2im
    "MaxPool2d": lambda dtype: MaxPool2d(2),
    "AvgPool2d": lambda dtype: AvgPool2d(3, stride=1, padding=1),
    "Flatten": lambda dtype: Flatten(),
    "CNN": lambda dtype: Sequential(Conv2d(3, 4, 3, rng=1, dtype=dtype), ReLU(), MaxPool2d(2), Flatten()),
}


def _forward_backward(layer, x, rng):
    y = layer(x)
    upstream = rng.standard_normal(y.shape).astype(x.dtype)
    return y, upstream, layer.backward(upstream)


@pytest.mark.parametrize("name", LAYERS)
def test_second_backward_accumulates_and_inputs_are_not_mutated(rng, kernel_path, name):
    layer, x = LAYERS[name](F64), _images(rng, 3)
    x_before = x.copy()
    _, upstream, first = _forward_backward(layer, x, rng)
    upstream_before = upstream.copy()
    once = [p.grad.copy() for p in layer.parameters()]
    layer(x)
    np.testing.assert_array_equal(layer.backward(upstream), first)
    for param, grad in zip(layer.parameters(), once, strict=True):
        np.testing.assert_allclose(param.grad, 2 * grad, rtol=1e-12, err_msg=param.name)
        assert np.any(grad != 0), param.name
    np.testing.assert_array_equal(x, x_before)
    np.testing.assert_array_equal(upstream, upstream_before)


@pytest.mark.parametrize("dtype", [np.float32, np.float64])
@pytest.mark.parametrize("name", LAYERS)
def test_dtype_is_preserved(rng, kernel_path, name, dtype):
    layer = LAYERS[name](dtype)
    y, _, grad_x = _forward_backward(layer, _images(rng, 3, dtype), rng)
    assert y.dtype == grad_x.dtype == dtype
    assert all(p.grad.dtype == dtype for p in layer.parameters())


@pytest.mark.parametrize("frozen", ["weight", "bias"])
@pytest.mark.parametrize("name", ["Conv2d", "Conv2d-same", "Conv2d-same-wide"])
def test_frozen_conv_parameter_keeps_zero_grad(rng, kernel_path, name, frozen):
    layer = LAYERS[name](F64)
    getattr(layer, frozen).requires_grad = False
    _forward_backward(layer, _images(rng, 3), rng)
    for param_name, param in layer.named_parameters():
        assert np.any(param.grad) == (param_name != frozen), param_name


def test_flatten_keeps_leading_axes():
    x = np.arange(2 * 3 * 4 * 5, dtype=F64).reshape(2, 3, 4, 5)
    layer = Flatten(start_dim=2)
    assert layer(x).shape == (2, 3, 20)
    assert layer.backward(np.ones((2, 3, 20))).shape == x.shape


@pytest.mark.parametrize(("layer", "text"), [
    (Conv2d(1, 16, 3, padding=1),
     "Conv2d(1, 16, kernel_size=(3, 3), stride=(1, 1), padding=(1, 1), bias=True, dtype=float32)"),
    (MaxPool2d(2), "MaxPool2d(kernel_size=(2, 2), stride=(2, 2), padding=(0, 0))"),
    (AvgPool2d((3, 2), stride=1), "AvgPool2d(kernel_size=(3, 2), stride=(1, 1), padding=(0, 0))"),
    (Flatten(), "Flatten(start_dim=1)"),
], ids=str)
def test_repr(layer, text):
    assert repr(layer) == text


# --- bad input ------------------------------------------------------------------------------------------------

@pytest.mark.parametrize(("layer", "bad", "error", "pattern"), [
    (Conv2d(3, 2, 3, dtype=F64), np.ones((2, 1, 5, 5)), InputError, r"must have shape \(N, 3, H, W\).*\(2, 1, 5, 5\)"),
    (Conv2d(1, 2, 3, dtype=F64), np.ones((2, 5, 5)), InputError,
     r"got \(2, 5, 5\) — a batch of one-channel images\? add the channel axis with x\[:, None\]$"),
    (Conv2d(3, 2, 3, dtype=F64), np.ones((3, 5, 5)), InputError,
     r"got \(3, 5, 5\) — one image \(3 channels\)\? add the batch axis with x\[None\]$"),
    (MaxPool2d(2), np.ones((3, 4, 4)), InputError,
     r"\(N, C, H, W\).* one image \(3 channels\)\? add the batch axis with x\[None\] — a batch of one-channel"),
    (Conv2d(1, 2, 3, dtype=F64), np.ones((0, 1, 5, 5)), InputError, "N, H, W ≥ 1"),
    (Conv2d(1, 2, 3), np.ones((2, 1, 5, 5)), DTypeError, "has dtype float64 but the layer's parameters are float32"),
    (Conv2d(1, 2, 3, dtype=F64), np.ones((2, 1, 5, 5), dtype=np.int64), DTypeError, "floating-point array"),
    (Conv2d(1, 2, 3, dtype=F64), np.full((2, 1, 5, 5), np.inf), InputError, "contains 0 NaN and 50 infinite"),
    (Conv2d(1, 2, 5, padding=1, dtype=F64), np.ones((2, 1, 2, 9)), InputError,
     r"the kernel \(5×5\) is larger than the padded input \(4×11"),
    (MaxPool2d(3), np.ones((2, 4, 2, 2)), InputError, r"the kernel \(3×3\) is larger than the padded input \(2×2"),
    (AvgPool2d(2), np.ones((2, 4, 4)), InputError, r"must have shape \(N, C, H, W\)"),
    (MaxPool2d(2), np.ones((2, 4, 4, 4), dtype=complex), DTypeError, "floating-point array, got dtype complex128"),
    (Flatten(), np.ones(3), InputError, r"input must have more than 1 axes, got shape \(3,\)"),
], ids=lambda v: type(v).__name__ if isinstance(v, (Conv2d, MaxPool2d, AvgPool2d, Flatten)) else "")
def test_bad_input_names_the_layer(layer, bad, error, pattern):
    with pytest.raises(error, match=f"^{type(layer).__name__}.*{pattern}"):
        layer(bad)


@pytest.mark.parametrize("name", LAYERS)
def test_bad_grad_out_and_early_backward_name_the_layer(rng, name):
    layer = LAYERS[name](F64)
    with pytest.raises(RuntimeError, match="backward called before forward"):
        layer.backward(np.ones((2, 2)))
    y = layer(_images(rng, 3))
    who = type(layer[-1] if isinstance(layer, Sequential) else layer).__name__
    with pytest.raises(InputError, match=rf"^{who}.*grad_out \(dL/d output\) must have shape"):
        layer.backward(np.ones(y.shape + (1,)))
    with pytest.raises(DTypeError, match=rf"^{who}.*grad_out \(dL/d output\) has dtype float32"):
        layer.backward(np.ones(y.shape, dtype=np.float32))


@pytest.mark.parametrize(("build", "pattern"), [
    (lambda: Conv2d(0, 2, 3), "Conv2d: in_channels must be a positive integer, got 0"),
    (lambda: Conv2d(1, 2, 0), r"Conv2d: kernel_size must be an int ≥ 1 or a pair of them \(height, width\), got 0"),
    (lambda: Conv2d(1, 2, (3, 3, 3)), r"Conv2d: kernel_size .* got \(3, 3, 3\)"),
    (lambda: Conv2d(1, 2, 3, stride=1.5), "Conv2d: stride must be an int ≥ 1"),
    (lambda: Conv2d(1, 2, 3, padding=-1), "Conv2d: padding must be an int ≥ 0"),
    (lambda: Conv2d(1, 2, 3, dtype=np.float16), "Conv2d: dtype must be float32 or float64"),
    (lambda: MaxPool2d(2, padding=2), r"MaxPool2d: padding \(2, 2\) must be at most half the kernel size"),
    (lambda: AvgPool2d(True), "AvgPool2d: kernel_size must be an int ≥ 1"),
    (lambda: Flatten(0), "Flatten: start_dim must be a positive integer"),
], ids=["channels", "kernel", "kernel3", "stride", "padding", "dtype", "pool-padding", "bool", "start_dim"])
def test_bad_constructor_arguments(build, pattern):
    with pytest.raises((InputError, TypeError), match=f"^{pattern}"):
        build()
