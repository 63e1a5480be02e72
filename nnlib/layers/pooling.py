r"""Pooling and flattening: shrink feature maps, then hand them to fully connected layers.

Max pooling keeps the largest value of each window; its backward routes the whole gradient to that one input
(PyTorch's tie rule: to the first maximum in row-major order) and nothing to the others:

.. math::
    y_{n,c,i,j} = \max_{p,q} x_{n,c,\,i s + p,\,j s + q}, \qquad
    \frac{\partial L}{\partial x_{n,c,\,i s + p^*,\,j s + q^*}} \mathrel{+}= \delta_{n,c,i,j}

Average pooling spreads each gradient evenly over its window: every input receives :math:`\delta / (KH \cdot KW)`.
Both forwards loop over the KH·KW kernel offsets only, never over pixels or samples; both backwards stack what each
offset of each window receives as columns and fold them back onto the input with col2im, as Conv2d's backward does.
The faster road (:mod:`nnlib.kernels.pooling`), taken while :func:`nnlib.fast_kernels_enabled` is true, gives the
same numbers.
"""

from __future__ import annotations

from typing import NamedTuple

import numpy as np

from .._checks import InputError, check_array, check_grad, check_images, check_positive_int
from ..functional import as_pair, col2im, sliding_windows
from ..kernels import fast_kernels_enabled
from ..kernels import pooling as pool_kernels
from ..module import Module
from .conv import output_hw

__all__ = ["MaxPool2d", "AvgPool2d", "Flatten", "MaxPool2dCache", "AvgPool2dCache", "FlattenCache"]


class MaxPool2dCache(NamedTuple):
    """What :class:`MaxPool2d` keeps for backward."""

    argmax: np.ndarray  #: (N, C, H', W'): the offset k = p·KW + q of each window's first maximum
    x_shape: tuple  #: (N, C, H, W), the input's shape
    dtype: np.dtype  #: the input's dtype, which dL/dx keeps


class AvgPool2dCache(NamedTuple):
    """What :class:`AvgPool2d` keeps for backward: the input's shape and dtype (the gradient needs no values)."""

    x_shape: tuple  #: (N, C, H, W)
    dtype: np.dtype  #: the input's dtype, which dL/dx keeps


class FlattenCache(NamedTuple):
    """What :class:`Flatten` keeps for backward: the input's shape and dtype, to reshape the gradient back."""

    x_shape: tuple  #: (N, d1, d2, ...)
    dtype: np.dtype  #: the input's dtype, which dL/dx keeps


class _Pool2d(Module):
    """Shared arguments and shape checks of the pooling layers. ``stride`` defaults to ``kernel_size``."""

    def __init__(self, kernel_size, stride=None, padding=0):
        who = type(self).__name__
        self.kernel_size = as_pair(kernel_size, who, "kernel_size")
        self.stride = self.kernel_size if stride is None else as_pair(stride, who, "stride")
        self.padding = as_pair(padding, who, "padding", minimum=0)
        if any(2 * p > k for p, k in zip(self.padding, self.kernel_size, strict=True)):
            raise InputError(f"{who}: padding {self.padding} must be at most half the kernel size {self.kernel_size}")

    def extra_repr(self) -> str:
        return f"kernel_size={self.kernel_size}, stride={self.stride}, padding={self.padding}"

    def _check_input(self, x) -> np.ndarray:
        x = check_images(x, self, None)
        output_hw(self, x.shape)
        return x

    def _offsets(self) -> list[tuple[int, int, int]]:
        """(k, p, q) for every kernel offset, row-major: k = p·KW + q."""
        kh, kw = self.kernel_size
        return [(p * kw + q, p, q) for p in range(kh) for q in range(kw)]

    def _fold_back(self, grad_of_offset, x_shape: tuple, dtype) -> np.ndarray:
        """dL/dx (N, C, H, W) from ``grad_of_offset(k, rows)`` (n, C, H', W'): what offset k of every window of the
        images ``rows`` receives (all of them, ``slice(None)``, here; the fast road takes a batch at a time).

        Stacked as columns (N, C·KH·KW, H'·W'), they are folded back onto the input by col2im, as in Conv2d.
        """
        if fast_kernels_enabled():
            return pool_kernels.scatter_to_windows(grad_of_offset, x_shape, self.kernel_size, self.stride,
                                                   self.padding, dtype)
        every = slice(None)  # every image
        cols = np.stack([grad_of_offset(k, every) for k, _, _ in self._offsets()], axis=2)  # (N, C, KH·KW, H', W')
        n, c, offsets, out_h, out_w = cols.shape
        return col2im(cols.reshape(n, c * offsets, out_h * out_w), x_shape, self.kernel_size, self.stride, self.padding)


class MaxPool2d(_Pool2d):
    """Max pooling over KH×KW windows (padding counts as −∞).

    Shapes: x (N, C, H, W) → y (N, C, H', W'), H' = ⌊(H + 2·padding − KH) / stride⌋ + 1.
    ``cache.argmax`` (N, C, H', W') holds the offset p·KW + q of each window's first maximum; the latest forward's
    is also kept as ``argmax``, to look at (backward reads the cache).
    """

    def forward(self, x):
        """x (N, C, H, W) → y (N, C, H', W'): the largest value of each window."""
        x = self._check_input(x)
        windows = sliding_windows(x, self.kernel_size, self.stride, self.padding, pad_value=-np.inf)
        if fast_kernels_enabled():
            y, argmax = pool_kernels.max_pool_forward(windows)
        else:
            y, argmax = windows[..., 0, 0].copy(), np.zeros(windows.shape[:4], dtype=np.intp)
            for k, p, q in self._offsets()[1:]:
                candidate = windows[..., p, q]
                argmax = np.where(candidate > y, k, argmax)  # strictly greater: ties keep the first maximum
                y = np.maximum(y, candidate)
        self.argmax = argmax
        self.cache = MaxPool2dCache(argmax, x.shape, x.dtype)
        return y

    def backward(self, grad_out):
        """grad_out (N, C, H', W') → dL/dx (N, C, H, W): each δ goes to its window's maximum only."""
        argmax, x_shape, dtype = self.cache
        delta = check_grad(grad_out, argmax.shape, self, output_dtype=dtype)
        return self._fold_back(lambda k, rows: (argmax[rows] == k) * delta[rows], x_shape, dtype)


class AvgPool2d(_Pool2d):
    """Average pooling over KH×KW windows (zero padding counted in the average, as PyTorch's default).

    Shapes: x (N, C, H, W) → y (N, C, H', W'), H' = ⌊(H + 2·padding − KH) / stride⌋ + 1.
    """

    def forward(self, x):
        """x (N, C, H, W) → y (N, C, H', W'): the mean of each window."""
        x = self._check_input(x)
        windows = sliding_windows(x, self.kernel_size, self.stride, self.padding)
        self.cache = AvgPool2dCache(x.shape, x.dtype)
        return sum(windows[..., p, q] for _, p, q in self._offsets()) / len(self._offsets())

    def backward(self, grad_out):
        """grad_out (N, C, H', W') → dL/dx (N, C, H, W): each δ shared equally by the KH·KW inputs of its window."""
        x_shape, dtype = self.cache
        out_shape = (*x_shape[:2], *output_hw(self, x_shape))
        share = check_grad(grad_out, out_shape, self, output_dtype=dtype) / len(self._offsets())
        return self._fold_back(lambda k, rows: share[rows], x_shape, dtype)


class Flatten(Module):
    """Flatten every axis after the batch axis: x (N, d1, d2, ...) → y (N, d1·d2·...). Backward reshapes back."""

    def __init__(self, start_dim: int = 1):
        self.start_dim = check_positive_int(start_dim, "Flatten", "start_dim")

    def extra_repr(self) -> str:
        return f"start_dim={self.start_dim}"

    def forward(self, x):
        x = check_array(x, self)
        if x.ndim <= self.start_dim:
            raise InputError(f"{self}: input must have more than {self.start_dim} axes, got shape {x.shape}")
        self.cache = FlattenCache(x.shape, x.dtype)
        return x.reshape(*x.shape[:self.start_dim], int(np.prod(x.shape[self.start_dim:])))  # -1 fails when N = 0

    def backward(self, grad_out):
        """grad_out (N, d1·d2·...) → dL/dx (N, d1, d2, ...)."""
        x_shape, dtype = self.cache
        expected = (*x_shape[:self.start_dim], int(np.prod(x_shape[self.start_dim:])))
        return check_grad(grad_out, expected, self, output_dtype=dtype).reshape(x_shape)
