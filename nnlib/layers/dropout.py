r"""Dropout: randomly silence units during training, so that no unit can rely on any other.

Inverted dropout (PyTorch's): in training each element is kept with probability :math:`1 - p` and the kept ones
are scaled by :math:`1 / (1 - p)`, so the expected output equals the input and evaluation needs no rescaling:

.. math::
    m_i \sim \text{Bernoulli}(1 - p), \qquad y = \frac{m \odot x}{1 - p}, \qquad
    \frac{\partial L}{\partial x} = \frac{m \odot \partial L / \partial y}{1 - p}

In eval mode (``model.eval()``) the layer is the identity.
"""

from __future__ import annotations

from typing import NamedTuple

import numpy as np

from .._checks import InputError, as_array, as_rng, check_array, check_grad, check_real
from ..module import Module

__all__ = ["Dropout", "DropoutCache"]


class DropoutCache(NamedTuple):
    """What :class:`Dropout` keeps for backward: the scaled keep-mask of this very forward."""

    scale: np.ndarray | None  #: m / (1 − p), x's shape and dtype; None in eval mode or with p = 0 (the identity)
    shape: tuple              #: x's shape
    dtype: np.dtype           #: x's dtype


class Dropout(Module):
    """Inverted dropout with drop probability ``p``; identity in eval mode.

    Args:
        p: probability of zeroing each element, in [0, 1).
        rng: seed or Generator for the masks (each training forward draws a new mask).

    Shapes: x any shape, float32 or float64 → y same shape and dtype.

    ``fix_mask(mask)`` makes every training forward use that keep-mask (0/1, x's shape) instead of drawing one,
    so a gradient check sees one fixed function; ``fix_mask(None)`` goes back to drawing.

    ``mask`` shows the keep-mask m of the latest training forward. Backward reads the mask of its own forward from
    the cache (:class:`DropoutCache`), so one Dropout used twice in a forward backpropagates each use exactly.
    """

    def __init__(self, p: float = 0.5, *, rng=None):
        self.p = check_real(p, "Dropout", "p", lambda v: 0 <= v < 1, "a probability in [0, 1)")
        self.rng = as_rng(rng, "Dropout")
        self.mask: np.ndarray | None = None  # the keep-mask of the latest training forward, for display
        self._fixed_mask: np.ndarray | None = None

    def extra_repr(self) -> str:
        return f"p={self.p}"

    def fix_mask(self, mask) -> None:
        """Use this keep-mask (1 = keep, 0 = drop) in every training forward; ``None`` to draw again."""
        if mask is not None:
            mask = as_array(mask, self, "mask", "an array of 0 (drop) and 1 (keep)")
            if mask.dtype == bool:
                mask = mask.astype(np.float64)
            mask = check_array(mask, self, name="mask")
            if not np.isin(mask, (0, 1)).all():
                raise InputError(f"{self}: mask must hold only 0 (drop) and 1 (keep)")
        self._fixed_mask = mask

    def forward(self, x):
        """x: any shape → y: same shape and dtype; m ⊙ x / (1 − p) in training, x itself in eval mode."""
        x = check_array(x, self)
        if not self.training or self.p == 0:
            self.cache = DropoutCache(None, x.shape, x.dtype)
            return x
        self.mask = self._draw_mask(x.shape)                     # m ~ Bernoulli(1 − p)
        scale = (self.mask / (1 - self.p)).astype(x.dtype)       # m / (1 − p)
        self.cache = DropoutCache(scale, x.shape, x.dtype)
        return x * scale

    def backward(self, grad_out):
        """grad_out: dL/dy (y's shape) → dL/dx = m ⊙ grad_out / (1 − p) (grad_out itself in eval mode)."""
        scale, shape, dtype = self.cache
        grad_out = check_grad(grad_out, shape, self, output_dtype=dtype)
        return grad_out if scale is None else grad_out * scale

    def _draw_mask(self, shape: tuple[int, ...]) -> np.ndarray:
        if self._fixed_mask is None:
            return (self.rng.random(shape) >= self.p).astype(np.float64)
        if self._fixed_mask.shape != shape:
            raise InputError(f"{self}: the fixed mask has shape {self._fixed_mask.shape} but the input has "
                             f"shape {shape}; call fix_mask with a mask of the input's shape")
        return self._fixed_mask
