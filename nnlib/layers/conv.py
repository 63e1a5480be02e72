r"""The 2-D convolution layer, computed as one matrix product over unfolded receptive fields (im2col).

Forward, for input :math:`x` (N, C, H, W) zero-padded by ``padding`` and weight :math:`w` (C_out, C, KH, KW):

.. math::
    y_{n,o,i,j} = b_o + \sum_{c,p,q} w_{o,c,p,q}\, x_{n,c,\,i s + p,\,j s + q}

Backward, with :math:`\delta = \partial L / \partial y`:

.. math::
    \frac{\partial L}{\partial w_{o,c,p,q}} = \sum_{n,i,j} \delta_{n,o,i,j}\, x_{n,c,\,i s + p,\,j s + q}
    \qquad \text{(a correlation of the input with } \delta\text{)}

    \frac{\partial L}{\partial x} = \text{every } w_{o,c,p,q}\,\delta_{n,o,i,j}
    \text{ added back onto the pixel it multiplied}
    \qquad \text{(for stride 1: a full convolution of } \delta \text{ with the flipped kernel)}

:func:`nnlib.functional.conv2d_naive` is the same forward written as four nested loops.

The common stride-1 "same" convolution (odd kernel, padding (K − 1) / 2, H' = H, W' = W) takes a faster road.
Its im2col is copied in long runs (:func:`~nnlib.functional._same_windows`). And when C_out ≤ 4·C its backward
unfolds :math:`\delta` instead of folding columns back with col2im: with padding (K − 1) / 2 the full convolution
above is again a same convolution,

.. math::
    \frac{\partial L}{\partial x_{n,c,h,v}} = \sum_{o,p,q} \tilde w_{c,o,p,q}\,
    \delta_{n,o,\,h + p - p_h,\,v + q - p_w},
    \qquad \tilde w_{c,o,p,q} = w_{o,c,\,K_H - 1 - p,\,K_W - 1 - q}

(flipped kernel, channels swapped), and :math:`\partial L / \partial w` is read off the same unfolded
:math:`\delta`, multiplied by the input. Both run over batches of images small enough to stay in the CPU cache.
"""

from __future__ import annotations

import numpy as np

from .._checks import InputError, as_rng, check_float_dtype, check_grad, check_images, check_positive_int
from ..functional import _pair, _same_windows, _unfold_same, col2im, conv_output_size, im2col
from ..module import Module, Parameter

__all__ = ["Conv2d", "output_hw"]


def output_hw(layer: Module, x_shape: tuple) -> tuple[int, int]:
    """(H', W') of a convolution or pooling ``layer`` on an input of ``x_shape``, or an error naming it."""
    (kh, kw), (sh, sw), (ph, pw) = layer.kernel_size, layer.stride, layer.padding
    h, w = x_shape[2:]
    if h + 2 * ph < kh or w + 2 * pw < kw:
        raise InputError(f"{layer}: the kernel ({kh}×{kw}) is larger than the padded input "
                         f"({h + 2 * ph}×{w + 2 * pw} from an input of shape {tuple(x_shape)})")
    return conv_output_size(h, kh, sh, ph), conv_output_size(w, kw, sw, pw)


# Unfolded batches about this large are still in the (L2) cache when the matmuls read them. Measured on Conv2d 16→32
# over 64 images of 14×14: unfolding all of them at once makes forward + backward 1.5× slower; batches of 0.5–2 MB
# are equally fast, smaller ones pay for the extra Python calls.
CACHE_BYTES = 1 << 20


def _cache_sized_batches(windows: np.ndarray) -> list[slice]:
    """Slices of the batch axis of :func:`~nnlib.functional._same_windows` that unfold to about CACHE_BYTES each."""
    size = max(1, CACHE_BYTES // (windows[0].size * windows.itemsize))
    return [slice(i, i + size) for i in range(0, len(windows), size)]


class Conv2d(Module):
    """2-D convolution (a cross-correlation, as in PyTorch): ``C_out`` learned filters slid over the input.

    Args:
        in_channels, out_channels: C and C_out.
        kernel_size, stride, padding: an int or a pair (height, width); zero padding on every side.
        bias: learn one bias per output channel.
        rng, dtype: initialisation (PyTorch's default, uniform in ±1/√(C·KH·KW)) and parameter dtype.

    Shapes:
        x: (N, C, H, W) → y: (N, C_out, H', W'), with H' = ⌊(H + 2·padding − KH) / stride⌋ + 1 (same for W').
        weight: (C_out, C, KH, KW), PyTorch's layout; bias: (C_out,).
    """

    def __init__(self, in_channels: int, out_channels: int, kernel_size, stride=1, padding=0, bias: bool = True,
                 *, rng=None, dtype=np.float32):
        self.in_channels = check_positive_int(in_channels, "Conv2d", "in_channels")
        self.out_channels = check_positive_int(out_channels, "Conv2d", "out_channels")
        self.kernel_size = _pair(kernel_size, "Conv2d", "kernel_size")
        self.stride = _pair(stride, "Conv2d", "stride")
        self.padding = _pair(padding, "Conv2d", "padding", minimum=0)
        dtype = check_float_dtype(dtype, "Conv2d")
        rng = as_rng(rng, "Conv2d")
        shape = (out_channels, in_channels, *self.kernel_size)
        bound = 1.0 / np.sqrt(in_channels * self.kernel_size[0] * self.kernel_size[1])
        self.weight = Parameter(rng.uniform(-bound, bound, shape).astype(dtype), "weight")
        self.bias = Parameter(rng.uniform(-bound, bound, out_channels).astype(dtype), "bias") if bias else None

    def extra_repr(self) -> str:
        return (f"{self.in_channels}, {self.out_channels}, kernel_size={self.kernel_size}, stride={self.stride}, "
                f"padding={self.padding}, bias={self.bias is not None}, dtype={self.weight.dtype}")

    def forward(self, x):
        """x (N, C, H, W) → y (N, C_out, H', W'): ``weight (C_out, C·KH·KW) @ im2col(x) (N, C·KH·KW, H'·W')``."""
        x = check_images(x, self, self.in_channels, self.weight.dtype)
        out_h, out_w = output_hw(self, x.shape)
        weight = self.weight.data.reshape(self.out_channels, -1)
        if self._unfolds_delta():  # backward needs x only: unfold and multiply a cache-sized batch at a time
            y = np.empty((x.shape[0], self.out_channels, out_h * out_w), dtype=x.dtype)
            windows = _same_windows(x, self.kernel_size)
            for batch in _cache_sized_batches(windows):
                np.matmul(weight, _unfold_same(windows[batch]), out=y[batch])
            self._cache = (x, x.shape)
        else:
            cols = (_unfold_same(_same_windows(x, self.kernel_size)) if self._is_same()
                    else im2col(x, self.kernel_size, self.stride, self.padding))
            y = weight @ cols
            self._cache = (cols, x.shape)
        if self.bias is not None:
            y += self.bias.data[:, None]
        return y.reshape(x.shape[0], self.out_channels, out_h, out_w)

    def _is_same(self) -> bool:
        """Stride 1 and padding (K − 1) / 2 (odd kernel): a "same" convolution, H' = H and W' = W."""
        return self.stride == (1, 1) and tuple(2 * p + 1 for p in self.padding) == self.kernel_size

    def _unfolds_delta(self) -> bool:
        """Whether backward unfolds δ (C_out·KH·KW rows) instead of adding C·KH·KW rows back with col2im.

        Measured (3×3, batch 64): unfolding δ makes forward + backward 1.6× faster on 16→32 channels and 1.3× on
        4→16, about even on 3→16, and 1.7× slower on 1→16.
        """
        return self._is_same() and self.out_channels <= 4 * self.in_channels

    def backward(self, grad_out):
        """grad_out (N, C_out, H', W') → dL/dx (N, C, H, W); accumulates dL/dweight and dL/dbias."""
        saved, x_shape = self._saved()  # x itself when backward unfolds δ, else im2col(x)
        out_shape = (x_shape[0], self.out_channels, *output_hw(self, x_shape))
        delta = check_grad(grad_out, out_shape, self, dtype=self.weight.dtype)
        if self.bias is not None and self.bias.requires_grad:
            self.bias.grad += np.einsum("noij->o", delta)  # 4× faster than delta.sum(axis=(0, 2, 3))
        if self._unfolds_delta():
            return self._backward_unfolding_delta(delta, saved)
        cols, delta = saved, delta.reshape(*out_shape[:2], -1)
        if self.weight.requires_grad:
            # Σ_n cols_n @ δ_nᵀ, then transposed: numpy's batched matmul is faster this way round than δ_n @ cols_nᵀ
            self.weight.grad += (cols @ delta.transpose(0, 2, 1)).sum(axis=0).T.reshape(self.weight.shape)
        grad_cols = self.weight.data.reshape(self.out_channels, -1).T @ delta
        return col2im(grad_cols, x_shape, self.kernel_size, self.stride, self.padding)

    def _backward_unfolding_delta(self, delta, x):
        """δ (N, C_out, H, W), x (N, C, H, W) → dL/dx (N, C, H, W); accumulates dL/dweight (module docstring).

        With ``unfolded`` = im2col of δ for the same convolution, (N, C_out·KH·KW, H·W), taken in cache-sized
        batches: dL/dx = w̃ (C, C_out·KH·KW) @ unfolded, and dL/dw = Σ_n unfolded @ x (H·W, C), kernel flipped back.
        """
        n, c, h, w = x.shape
        kh, kw = self.kernel_size
        flipped = self.weight.data[:, :, ::-1, ::-1].transpose(1, 0, 2, 3).reshape(c, -1)  # w̃
        learn = self.weight.requires_grad
        if learn:
            x_by_pixel = np.ascontiguousarray(x.reshape(n, c, h * w).transpose(0, 2, 1))  # (N, H·W, C)
            grad_w_flipped = np.zeros((flipped.shape[1], c), dtype=x.dtype)  # (C_out·KH·KW, C)
        grad_x = np.empty((n, c, h * w), dtype=x.dtype)
        windows = _same_windows(delta, self.kernel_size)
        for batch in _cache_sized_batches(windows):
            unfolded = _unfold_same(windows[batch])
            np.matmul(flipped, unfolded, out=grad_x[batch])
            if learn:
                grad_w_flipped += (unfolded @ x_by_pixel[batch]).sum(axis=0)
        if learn:
            grad_w = grad_w_flipped.reshape(self.out_channels, kh, kw, c)[:, ::-1, ::-1].transpose(0, 3, 1, 2)
            self.weight.grad += grad_w
        return grad_x.reshape(x.shape)
