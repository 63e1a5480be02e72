r"""The 2-D convolution layer, computed as one matrix product over unfolded receptive fields (im2col).

Forward, for input :math:`x` (N, C, H, W) zero-padded by ``padding`` and weight :math:`w` (C_out, C, KH, KW):

.. math::
    y_{n,o,i,j} = b_o + \sum_{c,p,q} w_{o,c,p,q}\, x_{n,c,\,i s + p,\,j s + q}
    \qquad\text{i.e.}\qquad y_n = W\, \text{cols}_n + b,\quad \text{cols}_n = \text{im2col}(x)_n

with :math:`W` the weight reshaped to (C_out, C·KH·KW). Backward, with :math:`\delta = \partial L / \partial y`
reshaped to (N, C_out, H'·W'):

.. math::
    \frac{\partial L}{\partial W} = \sum_n \delta_n\, \text{cols}_n^\top, \qquad
    \frac{\partial L}{\partial b} = \sum_{n,i,j} \delta_{n,:,i,j}, \qquad
    \frac{\partial L}{\partial x} = \text{col2im}\big(W^\top \delta_n\big)

— col2im adds every column back onto the pixels it was read from, so each :math:`w_{o,c,p,q}\,\delta_{n,o,i,j}`
lands on the pixel it multiplied. :func:`nnlib.functional.conv2d_naive` is the same forward written as four nested
loops.

A faster road, tested equal to this one and split over the cores, is :mod:`nnlib.kernels.conv`, taken while
:func:`nnlib.fast_kernels_enabled` is true.
"""

from __future__ import annotations

from typing import NamedTuple

import numpy as np

from .._checks import (
    InputError,
    as_rng,
    check_fits_in_memory,
    check_float_dtype,
    check_grad,
    check_images,
    check_positive_int,
)
from ..functional import as_pair, col2im, conv_output_size, im2col
from ..init import get as get_init
from ..init import initial_weight
from ..kernels import conv as conv_kernels
from ..kernels import fast_kernels_enabled
from ..module import Module, Parameter

__all__ = ["Conv2d", "Conv2dCache", "output_hw"]


def output_hw(layer: Module, x_shape: tuple) -> tuple[int, int]:
    """(H', W') of a convolution or pooling ``layer`` on an input of ``x_shape``, or an error naming it."""
    (kh, kw), (sh, sw), (ph, pw) = layer.kernel_size, layer.stride, layer.padding
    h, w = x_shape[2:]
    if h + 2 * ph < kh or w + 2 * pw < kw:
        raise InputError(f"{layer}: the kernel ({kh}×{kw}) is larger than the padded input "
                         f"({h + 2 * ph}×{w + 2 * pw} from an input of shape {tuple(x_shape)})")
    return conv_output_size(h, kh, sh, ph), conv_output_size(w, kw, sw, pw)


class Conv2dCache(NamedTuple):
    """What :class:`Conv2d`'s reference forward keeps for backward (the fast road keeps a
    :class:`nnlib.kernels.conv.ConvCache` instead)."""

    cols: np.ndarray  #: im2col(x) (N, C·KH·KW, H'·W'): every receptive field of the input as a column
    x_shape: tuple  #: (N, C, H, W), the input's shape, where col2im folds dL/d(cols) back


class Conv2d(Module):
    """2-D convolution (a cross-correlation, as in PyTorch): ``C_out`` learned filters slid over the input.

    Args:
        in_channels, out_channels: C and C_out.
        kernel_size, stride, padding: an int or a pair (height, width); zero padding on every side.
        bias: learn one bias per output channel.
        rng, dtype: initialisation (PyTorch's default, uniform in ±1/√(C·KH·KW)) and parameter dtype.
        init: a scheme of :mod:`nnlib.init` by name (``"kaiming_normal"``, ...) or a function ``(weight, *, rng) ->
            values`` for the weight instead of the default; the bias then starts at zero.

    Shapes:
        x: (N, C, H, W) → y: (N, C_out, H', W'), with H' = ⌊(H + 2·padding − KH) / stride⌋ + 1 (same for W').
        weight: (C_out, C, KH, KW), PyTorch's layout; bias: (C_out,).
    """

    def __init__(self, in_channels: int, out_channels: int, kernel_size, stride=1, padding=0, bias: bool = True,
                 *, rng=None, dtype=np.float32, init=None):
        self.in_channels = check_positive_int(in_channels, "Conv2d", "in_channels")
        self.out_channels = check_positive_int(out_channels, "Conv2d", "out_channels")
        self.kernel_size = as_pair(kernel_size, "Conv2d", "kernel_size")
        self.stride = as_pair(stride, "Conv2d", "stride")
        self.padding = as_pair(padding, "Conv2d", "padding", minimum=0)
        dtype = check_float_dtype(dtype, "Conv2d")
        rng = as_rng(rng, "Conv2d")
        shape = (out_channels, in_channels, *self.kernel_size)
        check_fits_in_memory(shape, "Conv2d", "the weight")
        scheme = get_init(init, "Conv2d")
        if scheme is not None:
            self.weight = Parameter(initial_weight(scheme, shape, dtype, rng, "Conv2d"), "weight")
            self.bias = Parameter(np.zeros(out_channels, dtype), "bias") if bias else None
            return
        bound = 1.0 / np.sqrt(in_channels * self.kernel_size[0] * self.kernel_size[1])
        self.weight = Parameter(rng.uniform(-bound, bound, shape).astype(dtype), "weight")
        self.bias = Parameter(rng.uniform(-bound, bound, out_channels).astype(dtype), "bias") if bias else None

    def extra_repr(self) -> str:
        return (f"{self.in_channels}, {self.out_channels}, kernel_size={self.kernel_size}, stride={self.stride}, "
                f"padding={self.padding}, bias={self.bias is not None}, dtype={self.weight.dtype}")

    def forward(self, x):
        """x (N, C, H, W) → y (N, C_out, H', W'): ``weight (C_out, C·KH·KW) @ im2col(x) (N, C·KH·KW, H'·W') + b``."""
        x = check_images(x, self, self.in_channels, self.weight.dtype)
        out_h, out_w = output_hw(self, x.shape)
        if fast_kernels_enabled():
            bias = None if self.bias is None else self.bias.data
            y, self.cache = conv_kernels.conv_forward(x, self.weight.data, bias, self.stride, self.padding)
            return y
        cols = im2col(x, self.kernel_size, self.stride, self.padding)  # (N, C·KH·KW, H'·W')
        y = self.weight.data.reshape(self.out_channels, -1) @ cols  # W cols_n, (N, C_out, H'·W')
        if self.bias is not None:
            y += self.bias.data[:, None]
        self.cache = Conv2dCache(cols, x.shape)
        return y.reshape(x.shape[0], self.out_channels, out_h, out_w)

    can_skip_input_gradient = True

    def backward(self, grad_out, input_gradient=True):
        r"""grad_out (N, C_out, H', W') → dL/dx (N, C, H, W); accumulates dL/dweight and dL/dbias.

        ``input_gradient=False`` skips :math:`\text{col2im}(W^\top \delta_n)` and returns None (a model's lowest
        trainable layer when nobody needs dL/dx, see :mod:`nnlib.module`). Follows the road its forward took (the
        cache tells), so switching the fast kernels in between is safe.
        """
        cache = self.cache
        fast = isinstance(cache, conv_kernels.ConvCache)
        x_shape = cache.x.shape if fast else cache.x_shape
        out_shape = (x_shape[0], self.out_channels, *output_hw(self, x_shape))
        delta = check_grad(grad_out, out_shape, self, dtype=self.weight.dtype)
        if fast:
            return conv_kernels.conv_backward(delta, cache, self.weight, self.bias, input_gradient)
        delta = delta.reshape(*out_shape[:2], -1)  # δ_n: (C_out, H'·W') for each n
        if self.weight.requires_grad:  # Σ_n δ_n cols_nᵀ
            self.weight.grad += (delta @ cache.cols.transpose(0, 2, 1)).sum(axis=0).reshape(self.weight.shape)
        if self.bias is not None and self.bias.requires_grad:  # Σ δ over samples and pixels
            self.bias.grad += delta.sum(axis=(0, 2))
        if not input_gradient:
            return None
        grad_cols = self.weight.data.reshape(self.out_channels, -1).T @ delta  # Wᵀ δ_n = dL/d(cols)
        return col2im(grad_cols, x_shape, self.kernel_size, self.stride, self.padding)
