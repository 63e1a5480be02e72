r"""Layer normalization: standardise each sample's features, then rescale them with learned γ and β.

.. math::
    \mu = \frac{1}{D}\sum_d x_d, \qquad \sigma^2 = \frac{1}{D}\sum_d (x_d - \mu)^2, \qquad
    \hat x = \frac{x - \mu}{\sqrt{\sigma^2 + \epsilon}}, \qquad y = \gamma \odot \hat x + \beta

Backward, with :math:`g = \partial L / \partial \hat x = \gamma \odot \partial L / \partial y` (the mean and variance
depend on every feature, hence the two correction terms):

.. math::
    \frac{\partial L}{\partial x} = \frac{1}{\sqrt{\sigma^2 + \epsilon}}
    \Big(g - \overline{g} - \hat x\, \overline{g \odot \hat x}\Big),
    \qquad \overline{a} = \tfrac{1}{D}\textstyle\sum_d a_d
"""

from __future__ import annotations

from typing import NamedTuple

import numpy as np

from .._checks import check_features, check_float_dtype, check_grad, check_positive_int, check_real
from ..module import Module, Parameter

__all__ = ["LayerNorm", "LayerNormCache"]


class LayerNormCache(NamedTuple):
    """What :class:`LayerNorm` keeps for backward."""

    x_hat: np.ndarray    #: the standardised input x̂ = (x − μ) / √(σ² + ε), (N, ..., D)
    inv_std: np.ndarray  #: 1 / √(σ² + ε) of each sample, (N, ..., 1)


class LayerNorm(Module):
    r"""PyTorch's ``nn.LayerNorm(normalized_shape)`` over the last axis; γ starts at 1 and β at 0.

    Shapes: x (N, ..., D) → y same; weight γ (D,), bias β (D,) (absent with ``elementwise_affine=False``).
    Backward: the module's equations, and with :math:`\delta = \partial L / \partial y` (sums over every position)
    :math:`\partial L / \partial \gamma = \sum \delta \odot \hat x`, :math:`\partial L / \partial \beta = \sum \delta`.
    Cache: :class:`LayerNormCache`.
    """

    def __init__(self, normalized_shape: int, eps: float = 1e-5, elementwise_affine: bool = True, *,
                 dtype=np.float32):
        self.normalized_shape = check_positive_int(normalized_shape, "LayerNorm", "normalized_shape")
        self.eps = check_real(eps, "LayerNorm", "eps", lambda v: v > 0, "a number > 0")
        dtype = check_float_dtype(dtype, "LayerNorm")
        self.dtype = dtype
        self.weight = Parameter(np.ones(normalized_shape, dtype), "weight") if elementwise_affine else None
        self.bias = Parameter(np.zeros(normalized_shape, dtype), "bias") if elementwise_affine else None

    def extra_repr(self) -> str:
        return f"{self.normalized_shape}, eps={self.eps}, elementwise_affine={self.weight is not None}"

    def forward(self, x):
        """x (N, ..., D) → y = γ ⊙ x̂ + β, same shape."""
        x = check_features(x, self, self.normalized_shape, self.dtype)
        centred = x - x.mean(axis=-1, keepdims=True)                                        # x − μ
        inv_std = 1 / np.sqrt((centred * centred).mean(axis=-1, keepdims=True) + self.eps)  # 1 / √(σ² + ε)
        x_hat = centred * inv_std
        self.cache = LayerNormCache(x_hat, inv_std)
        return x_hat if self.weight is None else x_hat * self.weight.data + self.bias.data

    def backward(self, grad_out):
        """δ = dL/dy (N, ..., D) → dL/dx, same shape; accumulates dL/dγ and dL/dβ."""
        x_hat, inv_std = self.cache
        grad_out = check_grad(grad_out, x_hat.shape, self, dtype=self.dtype)
        if self.weight is None:
            g = grad_out                                                             # g = dL/dx̂
        else:
            delta = grad_out.reshape(-1, self.normalized_shape)                      # one row per position
            if self.weight.requires_grad:
                self.weight.grad += (delta * x_hat.reshape(delta.shape)).sum(axis=0)
            if self.bias.requires_grad:
                self.bias.grad += delta.sum(axis=0)
            g = grad_out * self.weight.data                                          # g = γ ⊙ δ
        return inv_std * (g - g.mean(axis=-1, keepdims=True) - x_hat * (g * x_hat).mean(axis=-1, keepdims=True))
