r"""Pooling and flattening: shrink feature maps, then hand them to fully connected layers.

Max pooling keeps the largest value of each window; its backward routes the whole gradient to that one input
(PyTorch's tie rule: to the first maximum in row-major order) and nothing to the others:

.. math::
    y_{n,c,i,j} = \max_{p,q} x_{n,c,\,i s + p,\,j s + q}, \qquad
    \frac{\partial L}{\partial x_{n,c,\,i s + p^*,\,j s + q^*}} \mathrel{+}= \delta_{n,c,i,j}

Average pooling spreads each gradient evenly over its window: every input receives :math:`\delta / (KH \cdot KW)`.
Both loop over the KH·KW kernel offsets only, never over pixels or samples.
"""

from __future__ import annotations

import numpy as np

from .._checks import InputError, as_array, check_array, check_grad, check_images, check_positive_int
from ..functional import _pair, _windows
from ..module import Module
from .conv import output_hw

__all__ = ["MaxPool2d", "AvgPool2d", "Flatten"]


class _Pool2d(Module):
    """Shared arguments and shape checks of the pooling layers. ``stride`` defaults to ``kernel_size``."""

    def __init__(self, kernel_size, stride=None, padding=0):
        who = type(self).__name__
        self.kernel_size = _pair(kernel_size, who, "kernel_size")
        self.stride = self.kernel_size if stride is None else _pair(stride, who, "stride")
        self.padding = _pair(padding, who, "padding", minimum=0)
        if any(2 * p > k for p, k in zip(self.padding, self.kernel_size, strict=True)):
            raise InputError(f"{who}: padding {self.padding} must be at most half the kernel size {self.kernel_size}")

    def extra_repr(self) -> str:
        return f"kernel_size={self.kernel_size}, stride={self.stride}, padding={self.padding}"

    def _check_input(self, x) -> np.ndarray:
        x = as_array(x, self, expected="a floating-point array")
        channels = x.shape[1] if x.ndim == 4 else 1
        x = check_images(x, self, channels)
        output_hw(self, x.shape)
        return x

    def _offsets(self):
        """(k, p, q) for every kernel offset, row-major: k = p·KW + q."""
        kh, kw = self.kernel_size
        return [(p * kw + q, p, q) for p in range(kh) for q in range(kw)]

    def _scatter(self, grad_of_offset, x_shape, dtype) -> np.ndarray:
        """dL/dx (N, C, H, W) from ``grad_of_offset(k)`` (N, C, H', W'): what flows to offset k of each window."""
        (sh, sw), (ph, pw) = self.stride, self.padding
        n, c, h, w = x_shape
        out_h, out_w = output_hw(self, x_shape)
        padded = np.zeros((n, c, h + 2 * ph, w + 2 * pw), dtype=dtype)
        overlapping = any(s < k for s, k in zip(self.stride, self.kernel_size, strict=True))
        for k, p, q in self._offsets():
            target = padded[:, :, p:p + sh * out_h:sh, q:q + sw * out_w:sw]
            if overlapping:
                target += grad_of_offset(k)
            else:  # every input pixel is in at most one window: plain assignment is enough, and faster
                target[...] = grad_of_offset(k)
        return padded[:, :, ph:ph + h, pw:pw + w]


class MaxPool2d(_Pool2d):
    """Max pooling over KH×KW windows (padding counts as −∞).

    Shapes: x (N, C, H, W) → y (N, C, H', W'), H' = ⌊(H + 2·padding − KH) / stride⌋ + 1.
    ``argmax`` (N, C, H', W') holds the offset p·KW + q of each window's first maximum after a forward pass.
    """

    def forward(self, x):
        x = self._check_input(x)
        windows = _windows(x, self.kernel_size, self.stride, self.padding, pad_value=-np.inf)
        y = windows[..., 0, 0].copy()
        self.argmax = np.zeros(y.shape, dtype=np.int8 if len(self._offsets()) <= 127 else np.int32)
        for k, p, q in self._offsets()[1:]:
            candidate = windows[..., p, q]
            better = candidate > y  # strictly greater: ties keep the first maximum
            self.argmax += better * (k - self.argmax)  # argmax = where(better, k, argmax), without branches
            np.maximum(y, candidate, out=y)
        self._cache = (self.argmax, x.shape, x.dtype)
        return y

    def backward(self, grad_out):
        """grad_out (N, C, H', W') → dL/dx (N, C, H, W): each δ goes to its window's maximum only."""
        argmax, x_shape, dtype = self._saved()
        grad_out = check_grad(grad_out, argmax.shape, self, output_dtype=dtype)
        return self._scatter(lambda k: (argmax == k) * grad_out, x_shape, dtype)


class AvgPool2d(_Pool2d):
    """Average pooling over KH×KW windows (zero padding counted in the average, as PyTorch's default).

    Shapes: x (N, C, H, W) → y (N, C, H', W'), H' = ⌊(H + 2·padding − KH) / stride⌋ + 1.
    """

    def forward(self, x):
        x = self._check_input(x)
        windows = _windows(x, self.kernel_size, self.stride, self.padding)
        y = windows[..., 0, 0].copy()
        for _, p, q in self._offsets()[1:]:
            y += windows[..., p, q]
        y /= len(self._offsets())
        self._cache = (y.shape, x.shape, x.dtype)
        return y

    def backward(self, grad_out):
        """grad_out (N, C, H', W') → dL/dx (N, C, H, W): each δ shared equally by the KH·KW inputs of its window."""
        out_shape, x_shape, dtype = self._saved()
        share = check_grad(grad_out, out_shape, self, output_dtype=dtype) / len(self._offsets())
        return self._scatter(lambda k: share, x_shape, dtype)


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
        self._cache = (x.shape, x.dtype)
        return x.reshape(*x.shape[:self.start_dim], int(np.prod(x.shape[self.start_dim:])))  # -1 fails when N = 0

    def backward(self, grad_out):
        """grad_out (N, d1·d2·...) → dL/dx (N, d1, d2, ...)."""
        x_shape, dtype = self._saved()
        expected = (*x_shape[:self.start_dim], int(np.prod(x_shape[self.start_dim:])))
        return check_grad(grad_out, expected, self, output_dtype=dtype).reshape(x_shape)
