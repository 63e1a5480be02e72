r"""Fast kernels of :class:`nnlib.layers.Conv2d`, every stride and padding, split over the cores.

The reference :class:`~nnlib.layers.Conv2d` is lesson 6's im2col forward and col2im backward, over the whole batch
at once. This road does the same products a cache-sized batch of images at a time, the batches shared among
:func:`nnlib.kernels.parallel.worker_count` threads (one under ``threadpool_limits(1)``), tested equal to the
reference. Its pieces took Conv2d 16→32 on 14×14 (batch 64, 3×3, float32, forward + backward, 1 thread) from 2.2×
to 1.2× PyTorch's time:

* :func:`same_windows` / :func:`unfold_same`: for a stride-1 "same" convolution (odd kernel, padding (K − 1) / 2),
  im2col copied in long runs (one slice of H·W per kernel offset) instead of short rows; any other convolution
  unfolds :func:`strided_windows` with :func:`unfold_strided`, runs of W', and its backward folds back through the
  stride's phases (:func:`fold_into_phases`). Together with the batches below, this took Conv2d 16→32 with stride 2
  (28×28 → 14×14, 3×3, padding 1, batch 64, 1 thread) from 1.75–2.3× to 1.3–1.55× PyTorch's time (interleaved
  medians on a loaded 2-core machine, load average 4–9);
* :func:`unfolds_delta`: for a same convolution with C_out ≤ 4·C, backward unfolds :math:`\delta` instead of folding
  C·KH·KW rows back with col2im. With padding (K − 1) / 2 the full convolution of :math:`\delta` with the flipped
  kernel is again a same convolution,

  .. math::
      \frac{\partial L}{\partial x_{n,c,h,v}} = \sum_{o,p,q} \tilde w_{c,o,p,q}\,
      \delta_{n,o,\,h + p - p_h,\,v + q - p_w},
      \qquad \tilde w_{c,o,p,q} = w_{o,c,\,K_H - 1 - p,\,K_W - 1 - q}

  (flipped kernel, channels swapped), and :math:`\partial L / \partial w` is read off the same unfolded
  :math:`\delta`, multiplied by the input;
* :func:`cache_sized_batches`: every product is taken a batch of images at a time, small enough to stay in the CPU
  cache, and these batches are the pieces that :func:`~nnlib.kernels.parallel.run_split` shares among threads;
* :func:`bias_gradient` and :func:`weight_gradient`: the two reductions written the way NumPy runs them fastest.

Results do not depend on the number of threads: each batch writes its own images of the output, and the weight
gradient's per-batch partial sums are added in batch order (or per image, then summed as the reference does).
:func:`conv_forward` and :func:`conv_backward` put these together; the layer calls them while
:func:`nnlib.kernels.fast_kernels_enabled` is true.
"""

from __future__ import annotations

from typing import NamedTuple

import numpy as np

from ..functional import col2im, conv_output_size
from .parallel import run_split

__all__ = ["CACHE_BYTES", "ConvCache", "is_same", "unfolds_delta", "same_windows", "unfold_same", "strided_windows",
           "unfold_strided", "cache_sized_batches", "bias_gradient", "weight_gradient", "conv_forward",
           "conv_backward", "phase_grid", "fold_into_phases", "backward_folding_columns", "backward_unfolding_delta"]

# Unfolded batches about this large are still in the (L2) cache when the matmuls read them. Measured on Conv2d 16→32
# over 64 images of 14×14: unfolding all of them at once makes forward + backward 1.5× slower; batches of 0.5–2 MB
# are equally fast, smaller ones pay for the extra Python calls.
CACHE_BYTES = 1 << 20


class ConvCache(NamedTuple):
    """What :func:`conv_forward` keeps for :func:`conv_backward`: Conv2d's cache on the fast road."""

    x: np.ndarray  #: the input (N, C, H, W)
    cols: np.ndarray | None  #: im2col(x) (N, C·KH·KW, H'·W') when backward uses col2im; None when it unfolds δ
    stride: tuple[int, int]  #: (SH, SW)
    padding: tuple[int, int]  #: (PH, PW)


def is_same(kernel_size: tuple[int, int], stride: tuple[int, int], padding: tuple[int, int]) -> bool:
    """Whether a convolution is stride-1 "same": padding (K − 1) / 2 with an odd kernel, so H' = H and W' = W."""
    return tuple(stride) == (1, 1) and tuple(2 * p + 1 for p in padding) == tuple(kernel_size)


def unfolds_delta(in_channels: int, out_channels: int) -> bool:
    """Whether the backward of a same convolution unfolds δ (C_out·KH·KW rows) rather than adding C·KH·KW rows back
    with col2im.

    Measured (3×3, batch 64): unfolding δ makes forward + backward 1.6× faster on 16→32 channels and 1.3× on
    4→16, about even on 3→16, and 1.7× slower on 1→16. Hence the rule C_out ≤ 4·C.
    """
    return out_channels <= 4 * in_channels


def same_windows(x: np.ndarray, kernel_size: tuple[int, int]) -> np.ndarray:
    """The windows of a stride-1 "same" convolution (odd kernel, padding (K − 1) / 2), as a view to unfold in batches.

    x (N, C, H, W) → (N, C, KH, KW, H, W). Each image is flattened row after row, with ph zero rows above and below
    and pw zeros at both ends: then pixel (i + p − ph, j + q − pw), under kernel offset (p, q) of output pixel
    (i, j), is element (i·W + j) + (p·W + q) of the flat image, so the windows of one offset form a single slice of
    H·W elements. Where j + q − pw falls off the left or right edge, the slice wraps into the neighbouring row
    instead of reading zero padding: :func:`unfold_same` zeroes those entries.
    """
    (kh, kw), (n, c, h, w) = kernel_size, x.shape
    ph, pw = kh // 2, kw // 2
    flat = np.zeros((n, c, (h + 2 * ph) * w + 2 * pw), dtype=x.dtype)
    flat[:, :, pw + ph * w:pw + (ph + h) * w] = x.reshape(n, c, h * w)
    s_n, s_c, s_x = flat.strides
    return np.lib.stride_tricks.as_strided(flat, (n, c, kh, kw, h, w), (s_n, s_c, w * s_x, s_x, w * s_x, s_x),
                                           writeable=False)


def unfold_same(windows: np.ndarray, out: np.ndarray | None = None) -> np.ndarray:
    """Copy windows from :func:`same_windows` into im2col's layout: (n, C, KH, KW, H, W) → (n, C·KH·KW, H·W),
    written into ``out`` (contiguous, that shape) when given.

    The result equals ``im2col(x, kernel_size, 1, (KH // 2, KW // 2))`` of those n images, but is copied in
    n·C·KH·KW runs of H·W instead of n·C·KH·KW·H runs of W.
    """
    n, c, kh, kw, h, w = windows.shape
    cols = _copy(windows, out)
    pw = kw // 2
    for shift in range(1, pw + 1):  # offsets pw ∓ shift read `shift` columns beyond the left / right edge
        cols[:, :, :, pw - shift, :, :shift] = 0
        cols[:, :, :, pw + shift, :, -shift:] = 0
    return cols.reshape(n, c * kh * kw, h * w)


def strided_windows(x: np.ndarray, kernel_size: tuple[int, int], stride: tuple[int, int],
                    padding: tuple[int, int]) -> np.ndarray:
    """The windows of any convolution, as a view of the zero-padded input to unfold in batches.

    x (N, C, H, W) → (N, C, KH, KW, H', W'), ``[n, c, p, q, i, j]`` = :math:`x^{\\text{pad}}_{n,c,\\,i s_h + p,\\,
    j s_w + q}`: im2col's axes before the reshape, so that :func:`unfold_strided` is one copy. Splitting the padded
    input into its stride phases first, to copy runs of H'·W' instead, measured 2.5× slower (26 against 10 ms for
    the whole unfolding of Conv2d 16→32 with stride 2 on 28×28, batch 64, 1 thread, interleaved medians).
    """
    (kh, kw), (sh, sw), (ph, pw), (n, c, h, w) = kernel_size, stride, padding, x.shape
    out_h, out_w = conv_output_size(h, kh, sh, ph), conv_output_size(w, kw, sw, pw)
    padded = np.pad(x, ((0, 0), (0, 0), (ph, ph), (pw, pw))) if ph or pw else np.ascontiguousarray(x)
    s_n, s_c, s_h, s_w = padded.strides
    return np.lib.stride_tricks.as_strided(padded, (n, c, kh, kw, out_h, out_w),
                                           (s_n, s_c, s_h, s_w, sh * s_h, sw * s_w), writeable=False)


def unfold_strided(windows: np.ndarray, out: np.ndarray | None = None) -> np.ndarray:
    """Copy windows from :func:`strided_windows` into im2col's layout: (n, C, KH, KW, H', W') → (n, C·KH·KW, H'·W'),
    written into ``out`` (contiguous, that shape) when given. Equals ``im2col(x, kernel_size, stride, padding)``."""
    n, c, kh, kw, out_h, out_w = windows.shape
    return _copy(windows, out).reshape(n, c * kh * kw, out_h * out_w)


def _copy(windows: np.ndarray, out: np.ndarray | None) -> np.ndarray:
    """A contiguous copy of ``windows``: into ``out`` (any shape of the same size) when given, else a new array."""
    if out is None:
        return windows.copy()
    copy = out.reshape(windows.shape)
    copy[...] = windows
    return copy


def cache_sized_batches(images: np.ndarray) -> list[slice]:
    """Slices of the batch axis of ``images`` (windows or columns, the batch first) covering about
    :data:`CACHE_BYTES` of unfolded columns each, in order."""
    size = max(1, CACHE_BYTES // max(1, images[0].size * images.itemsize)) if len(images) else 1
    return [slice(i, i + size) for i in range(0, len(images), size)]


def bias_gradient(delta: np.ndarray) -> np.ndarray:
    """Σ_{n,i,j} δ_{n,o,i,j}: δ (N, C_out, H', W') → (C_out,).

    Faster than the reference's ``sum``: 0.08 ms against 0.40 on Conv2d 1→16 on 28×28 and 0.05 against 0.16 on 16→32
    on 14×14 (batch 64, float32, 1 thread), 3–5×.
    """
    return np.einsum("noij->o", delta)


def weight_gradient(delta: np.ndarray, cols: np.ndarray) -> np.ndarray:
    """Σ_n δ_n cols_nᵀ: δ (N, C_out, P), cols (N, C·KH·KW, P) → (C_out, C·KH·KW).

    Computed as (Σ_n cols_n δ_nᵀ)ᵀ, the order the tuned layer used (dc3aac2: "numpy's batched matmul is faster this
    way round"; no figure recorded). Re-measured on Conv2d 1→16 on 28×28 (batch 64, 3×3, float32, 1 thread) on a
    loaded 2-core machine, it ranged from 1.8× faster to 1.35× slower than the reference's order: unproven. Re-time it
    on a quiet machine, and drop it for the reference's order if it does not pay. :func:`backward_folding_columns`
    takes the products cols_n δ_nᵀ batch by batch, then sums them the same way.
    """
    return (cols @ delta.transpose(0, 2, 1)).sum(axis=0).T


def conv_forward(x: np.ndarray, weight: np.ndarray, bias: np.ndarray | None, stride: tuple[int, int],
                 padding: tuple[int, int]) -> tuple[np.ndarray, ConvCache]:
    """The convolution: x (N, C, H, W), weight (C_out, C, KH, KW), bias (C_out,) or None → (y, cache).

    y (N, C_out, H', W') equals the reference's ``weight.reshape(C_out, -1) @ im2col(x) + bias``, computed a
    cache-sized batch of images at a time, the batches split over the cores. The columns are kept for backward
    (written straight into one array), unless backward will unfold δ, which needs x only.
    """
    (n, c, _, _), (c_out, _, kh, kw) = x.shape, weight.shape
    same = is_same((kh, kw), stride, padding)
    windows = same_windows(x, (kh, kw)) if same else strided_windows(x, (kh, kw), stride, padding)
    unfold = unfold_same if same else unfold_strided
    out_h, out_w = windows.shape[-2:]
    matrix = weight.reshape(c_out, -1)
    y = np.empty((n, c_out, out_h * out_w), dtype=x.dtype)
    cols = None if same and unfolds_delta(c, c_out) else np.empty((n, c * kh * kw, out_h * out_w), dtype=x.dtype)

    def one_batch(batch: slice) -> None:
        unfolded = unfold(windows[batch], None if cols is None else cols[batch])
        np.matmul(matrix, unfolded, out=y[batch])
        if bias is not None:
            y[batch] += bias[:, None]

    run_split(one_batch, cache_sized_batches(windows))
    return y.reshape(n, c_out, out_h, out_w), ConvCache(x, cols, tuple(stride), tuple(padding))


def conv_backward(delta: np.ndarray, cache: ConvCache, weight, bias, input_gradient: bool = True) -> np.ndarray | None:
    """δ (N, C_out, H', W') → dL/dx (N, C, H, W), or None without ``input_gradient`` (no dX product, no fold);
    accumulates into ``weight.grad`` and ``bias.grad`` (Parameters, bias may be None) when they require grad. Unfolds
    δ when the forward kept no columns, else folds back with col2im."""
    if bias is not None and bias.requires_grad:
        bias.grad += bias_gradient(delta)
    if cache.cols is None:
        return backward_unfolding_delta(delta, cache.x, weight, input_gradient)
    return backward_folding_columns(delta, cache, weight, input_gradient)


def phase_grid(x_shape: tuple, kernel_size: tuple[int, int], stride: tuple[int, int],
               padding: tuple[int, int]) -> tuple[int, int]:
    """(rows, width) of one phase of the padded input in :func:`fold_into_phases`: enough for every pixel and for
    every window run, which reads H'·width elements from row p // SH, column q // SW."""
    (kh, kw), (sh, sw), (ph, pw), (h, w) = kernel_size, stride, padding, x_shape[2:]
    out_h, out_w = conv_output_size(h, kh, sh, ph), conv_output_size(w, kw, sw, pw)
    width = max(out_w + (kw - 1) // sw, -(-(w + 2 * pw) // sw))
    rows = max(out_h + (kh - 1) // sh + 1, -(-(h + 2 * ph) // sh))  # + 1: the last run may end in the next row
    return rows, width


def fold_into_phases(grad_cols: np.ndarray, x_shape: tuple, kernel_size: tuple[int, int], stride: tuple[int, int],
                     padding: tuple[int, int]) -> np.ndarray:
    """col2im for any stride, in long runs: grad_cols (n, C·KH·KW, H'·width) → dL/dx (n, C, H, W).

    The padded input is split into its SH·SW phases, phase (a, b) holding the pixels (r·SH + a, v·SW + b) as a
    (rows, width) image (:func:`phase_grid`). Kernel offset (p, q) of output pixel (i, j) reads pixel
    (i·SH + p, j·SW + q) = element (i + p // SH)·width + (j + q // SW) of flat phase (p mod SH, q mod SW), so an
    offset's columns, laid out H' rows of ``width`` (the output's last width − W' columns ignored, and zero here),
    are added onto one slice of H'·width elements: n·C runs per offset, where col2im adds n·C·H' runs of W'. On
    Conv2d 16→32 with stride 2 (28×28, batch 64, float32, 1 thread, cache-sized batches), Wᵀδ and the fold took
    10–15 ms against 17–20 ms with col2im (1.3–1.7×, three interleaved runs of 40 on a loaded 2-core machine) and
    14 % fewer instructions (callgrind: 422 M against 490 M per pass).
    The phases are then copied back onto the unpadded input, SH·SW strided copies.
    """
    (kh, kw), (sh, sw), (ph, pw), (n, c, h, w) = kernel_size, stride, padding, x_shape
    rows, width = phase_grid(x_shape, kernel_size, stride, padding)
    columns = grad_cols.reshape(n, c, kh, kw, -1)
    phases = np.zeros((n, c, sh, sw, rows * width), dtype=grad_cols.dtype)
    for p in range(kh):
        for q in range(kw):
            start = (p // sh) * width + q // sw
            phases[:, :, p % sh, q % sw, start:start + columns.shape[-1]] += columns[:, :, p, q]
    phases = phases.reshape(n, c, sh, sw, rows, width)
    grad_x = np.empty(x_shape, dtype=grad_cols.dtype)
    for a in range(sh):
        for b in range(sw):
            top, left = (a - ph) % sh, (b - pw) % sw  # the first unpadded pixel in phase (a, b)
            r, v = (top + ph) // sh, (left + pw) // sw
            grad_x[:, :, top::sh, left::sw] = phases[:, :, a, b, r:r + len(range(top, h, sh)),
                                                     v:v + len(range(left, w, sw))]
    return grad_x


def backward_folding_columns(delta: np.ndarray, cache: ConvCache, weight,
                             input_gradient: bool = True) -> np.ndarray | None:
    """δ (N, C_out, H', W') → dL/dx (N, C, H, W) = col2im(Wᵀ δ_n), or None without ``input_gradient``; accumulates
    dL/dw = Σ_n δ_n cols_nᵀ into the Parameter ``weight``, a cache-sized batch of images at a time, split over the
    cores.

    Each batch stores its images' products cols_n δ_nᵀ, summed afterwards as :func:`weight_gradient` does: the same
    numbers at any thread count. With a stride, Wᵀ δ_n is taken with δ widened by zero columns to
    :func:`phase_grid`'s width, which :func:`fold_into_phases` folds back in long runs; at stride 1, where col2im
    adds runs of W already, the phases measured no faster (Conv2d 1→16 on 28×28: 37 % more instructions, even in
    time; 3→16: even in both), so col2im folds back, batch by batch.
    """
    x, cols = cache.x, cache.cols
    n, c, h, w = x.shape
    c_out, _, kh, kw = weight.shape
    out_h, out_w = delta.shape[2:]
    width = phase_grid(x.shape, (kh, kw), cache.stride, cache.padding)[1]
    transposed = weight.data.reshape(c_out, -1).T  # Wᵀ (C·KH·KW, C_out)
    products = np.empty((n, cols.shape[1], c_out), dtype=x.dtype) if weight.requires_grad else None
    grad_x = np.empty(x.shape, dtype=x.dtype) if input_gradient else None
    if products is None and grad_x is None:
        return None

    def one_batch(batch: slice) -> None:
        images = delta[batch]
        if products is not None:
            np.matmul(cols[batch], images.reshape(len(images), c_out, -1).transpose(0, 2, 1), out=products[batch])
        if grad_x is None:
            return
        batch_shape = (len(images), c, h, w)
        if cache.stride == (1, 1):
            grad_cols = transposed @ images.reshape(len(images), c_out, -1)
            grad_x[batch] = col2im(grad_cols, batch_shape, (kh, kw), 1, cache.padding)
            return
        widened = np.zeros((len(images), c_out, out_h, width), dtype=x.dtype)
        widened[..., :out_w] = images
        grad_cols = transposed @ widened.reshape(len(images), c_out, -1)
        grad_x[batch] = fold_into_phases(grad_cols, batch_shape, (kh, kw), cache.stride, cache.padding)

    run_split(one_batch, cache_sized_batches(cols))
    if products is not None:
        weight.grad += products.sum(axis=0).T.reshape(weight.shape)
    return grad_x


def backward_unfolding_delta(delta: np.ndarray, x: np.ndarray, weight,
                             input_gradient: bool = True) -> np.ndarray | None:
    """δ (N, C_out, H, W), x (N, C, H, W) → dL/dx (N, C, H, W) of a same convolution, or None without
    ``input_gradient``; accumulates dL/dw into the Parameter ``weight``.

    With ``unfolded`` = the same-convolution im2col of δ, (N, C_out·KH·KW, H·W), taken in cache-sized batches split
    over the cores: dL/dx = w̃ (C, C_out·KH·KW) @ unfolded (the module docstring's formula), and
    dL/dw = Σ_n unfolded @ x (H·W, C), kernel flipped back; the batches' partial sums are added in batch order.
    """
    (n, c, h, w), (c_out, _, kh, kw) = x.shape, weight.shape
    learn = weight.requires_grad
    if not (learn or input_gradient):
        return None
    flipped = weight.data[:, :, ::-1, ::-1].transpose(1, 0, 2, 3).reshape(c, -1)  # w̃
    x_by_pixel = np.ascontiguousarray(x.reshape(n, c, h * w).transpose(0, 2, 1)) if learn else None  # (N, H·W, C)
    grad_x = np.empty((n, c, h * w), dtype=x.dtype) if input_gradient else None
    windows = same_windows(delta, (kh, kw))

    def one_batch(batch: slice) -> np.ndarray | None:
        unfolded = unfold_same(windows[batch])
        if grad_x is not None:
            np.matmul(flipped, unfolded, out=grad_x[batch])
        return (unfolded @ x_by_pixel[batch]).sum(axis=0) if learn else None

    partials = run_split(one_batch, cache_sized_batches(windows))
    if learn:
        grad_w_flipped = np.zeros((flipped.shape[1], c), dtype=x.dtype)  # (C_out·KH·KW, C)
        for partial in partials:
            grad_w_flipped += partial
        weight.grad += grad_w_flipped.reshape(c_out, kh, kw, c)[:, ::-1, ::-1].transpose(0, 3, 1, 2)
    return None if grad_x is None else grad_x.reshape(x.shape)
