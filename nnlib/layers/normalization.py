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

import numpy as np

from .._checks import check_features, check_float_dtype, check_grad, check_positive_int, check_real
from ..module import Module, Parameter

__all__ = ["LayerNorm"]


class LayerNorm(Module):
    """PyTorch's ``nn.LayerNorm(normalized_shape)`` over the last axis; γ starts at 1 and β at 0.

    Shapes: x (N, ..., D) → y same; weight γ (D,), bias β (D,) (absent with ``elementwise_affine=False``).
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
        x = check_features(x, self, self.normalized_shape, self.dtype)
        centred = x - x.mean(axis=-1, keepdims=True)
        inv_std = 1 / np.sqrt((centred * centred).mean(axis=-1, keepdims=True) + self.eps)
        x_hat = centred * inv_std
        self._cache = (x_hat, inv_std)
        return x_hat if self.weight is None else x_hat * self.weight.data + self.bias.data

    def backward(self, grad_out):
        x_hat, inv_std = self._saved()
        grad_out = check_grad(grad_out, x_hat.shape, self, dtype=self.dtype)
        if self.weight is None:
            g = grad_out
        else:
            rows = grad_out.reshape(-1, self.normalized_shape)
            if self.weight.requires_grad:
                self.weight.grad += (rows * x_hat.reshape(rows.shape)).sum(axis=0)
            if self.bias.requires_grad:
                self.bias.grad += rows.sum(axis=0)
            g = grad_out * self.weight.data
        return inv_std * (g - g.mean(axis=-1, keepdims=True) - x_hat * (g * x_hat).mean(axis=-1, keepdims=True))
