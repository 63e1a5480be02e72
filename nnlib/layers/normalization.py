r"""Layer and batch normalization. Layer normalization standardises each sample's features, then rescales them
with learned γ and β (batch normalization, below, standardises each channel over the batch instead).

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

from .._checks import (
    InputError,
    check_array,
    check_bool,
    check_features,
    check_float_dtype,
    check_grad,
    check_positive_int,
    check_real,
)
from ..module import Module, Parameter, is_grad_enabled

__all__ = ["LayerNorm", "LayerNormCache", "BatchNorm", "BatchNorm1d", "BatchNorm2d", "BatchNormCache"]


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


class BatchNormCache(NamedTuple):
    """What :class:`BatchNorm1d` and :class:`BatchNorm2d` keep for backward."""

    x_hat: np.ndarray    #: the standardised input x̂ = (x − μ) / √(σ² + ε), x's shape
    inv_std: np.ndarray  #: 1 / √(σ² + ε) of each channel, broadcastable to x: (1, C) or (1, C, 1, ...)
    batch_stats: bool    #: μ, σ² were this batch's (training), so backward goes through them; else the running ones


class BatchNorm(Module):
    r"""Batch normalization (Ioffe & Szegedy 2015): standardise each channel over the batch (and positions), then
    rescale with learned γ and β. Base of :class:`BatchNorm1d` and :class:`BatchNorm2d`, which fix the input's rank.

    Training mode, with :math:`m` values per channel (N, or N·L, or N·H·W):

    .. math::
        \mu = \frac1m \sum_i x_i, \quad \sigma^2 = \frac1m \sum_i (x_i - \mu)^2, \quad
        \hat x = \frac{x - \mu}{\sqrt{\sigma^2 + \epsilon}}, \quad y = \gamma \hat x + \beta

    and the running estimates move as PyTorch's do: :math:`r_\mu \leftarrow (1 - m_o)\, r_\mu + m_o\, \mu` and
    :math:`r_{\sigma^2} \leftarrow (1 - m_o)\, r_{\sigma^2} + m_o\, \frac{m}{m - 1} \sigma^2` (``momentum`` :math:`m_o`;
    the running variance is the unbiased estimate, the normalisation uses the biased one). In eval mode the running
    estimates replace μ and σ². A training-mode forward under :class:`~nnlib.no_grad` normalises with the batch but
    leaves the running estimates alone (PyTorch would update them): nnlib's ``no_grad`` forwards are the ones you only
    look at, and a gradient check's thousands of them must not drift the estimates.

    Backward in its short form, :math:`\delta = \partial L / \partial y`, sums over the m values of a channel:

    .. math::
        \frac{\partial L}{\partial x} = \frac{\gamma}{m \sqrt{\sigma^2 + \epsilon}}
        \Big(m\,\delta - \sum \delta - \hat x \sum \delta \hat x\Big), \qquad
        \frac{\partial L}{\partial \gamma} = \sum \delta \hat x, \qquad \frac{\partial L}{\partial \beta} = \sum \delta

    (with running statistics, constants, simply :math:`\gamma \delta / \sqrt{\sigma^2 + \epsilon}`).
    Cache: :class:`BatchNormCache`. Buffers (saved by ``state_dict``): ``running_mean``, ``running_var``, (C,).
    """

    buffer_names = ("running_mean", "running_var")
    ranks: tuple[int, ...] = ()
    shape_text = ""

    def __init__(self, num_features: int, eps: float = 1e-5, momentum: float = 0.1, affine: bool = True, *,
                 dtype=np.float32):
        who = type(self).__name__
        self.num_features = check_positive_int(num_features, who, "num_features")
        self.eps = check_real(eps, who, "eps", lambda v: v > 0, "a number > 0")
        self.momentum = check_real(momentum, who, "momentum", lambda v: 0 <= v <= 1, "a number in [0, 1]")
        dtype = check_float_dtype(dtype, who)
        self.dtype = dtype
        self.weight = Parameter(np.ones(num_features, dtype), "weight") if check_bool(affine, who, "affine") else None
        self.bias = Parameter(np.zeros(num_features, dtype), "bias") if affine else None
        self.running_mean = np.zeros(num_features, dtype)
        self.running_var = np.ones(num_features, dtype)

    def extra_repr(self) -> str:
        return f"{self.num_features}, eps={self.eps}, momentum={self.momentum}, affine={self.weight is not None}"

    def _check_x(self, x) -> np.ndarray:
        x = check_array(x, self, dtype=self.dtype, finite=True)
        if x.ndim not in self.ranks or x.shape[1] != self.num_features or 0 in x.shape:
            raise InputError(f"{self}: input must have shape {self.shape_text.format(C=self.num_features)} with no "
                             f"empty axis, got {x.shape}")
        return x

    def _channel(self, values: np.ndarray, ndim: int) -> np.ndarray:
        """(C,) → (1, C, 1, ...), broadcastable against an input of ``ndim`` dimensions."""
        return values.reshape((1, -1) + (1,) * (ndim - 2))

    def forward(self, x):
        """x (N, C, ...) → y = γ x̂ + β, same shape; in training also updates the running statistics."""
        x = self._check_x(x)
        axes = (0, *range(2, x.ndim))                                  # every axis but the channel's
        batch_stats = self.training
        if batch_stats:
            m = x.size // self.num_features
            if m < 2:
                raise InputError(f"{self}: training needs more than one value per channel to estimate a variance, got "
                                 f"an input of shape {x.shape}; use a larger batch, or model.eval()")
            mean = x.mean(axis=axes, keepdims=True)                     # μ
            var = ((x - mean) ** 2).mean(axis=axes, keepdims=True)      # σ² (biased)
            if is_grad_enabled():
                self._update_running(mean.ravel(), var.ravel() * (m / (m - 1)))
        else:
            mean, var = self._channel(self.running_mean, x.ndim), self._channel(self.running_var, x.ndim)
        inv_std = 1 / np.sqrt(var + self.eps)                           # 1 / √(σ² + ε)
        x_hat = (x - mean) * inv_std
        self.cache = BatchNormCache(x_hat, inv_std, batch_stats)
        if self.weight is None:
            return x_hat
        return x_hat * self._channel(self.weight.data, x.ndim) + self._channel(self.bias.data, x.ndim)

    def _update_running(self, mean: np.ndarray, unbiased_var: np.ndarray) -> None:
        """r ← (1 − momentum)·r + momentum·batch, in place (so arrays loaded or held elsewhere follow)."""
        self.running_mean *= 1 - self.momentum
        self.running_mean += (self.momentum * mean).astype(self.dtype)
        self.running_var *= 1 - self.momentum
        self.running_var += (self.momentum * unbiased_var).astype(self.dtype)

    def backward(self, grad_out):
        """δ = dL/dy (N, C, ...) → dL/dx, same shape; accumulates dL/dγ and dL/dβ."""
        x_hat, inv_std, batch_stats = self.cache
        grad_out = check_grad(grad_out, x_hat.shape, self, dtype=self.dtype)
        axes = (0, *range(2, x_hat.ndim))
        if self.weight is None:
            g = grad_out                                                              # dL/dx̂
        else:
            if self.weight.requires_grad:
                self.weight.grad += (grad_out * x_hat).sum(axis=axes)
            if self.bias.requires_grad:
                self.bias.grad += grad_out.sum(axis=axes)
            g = grad_out * self._channel(self.weight.data, x_hat.ndim)                # γ δ
        if not batch_stats:
            return g * inv_std
        m = x_hat.size // self.num_features
        return inv_std / m * (m * g - g.sum(axis=axes, keepdims=True)
                              - x_hat * (g * x_hat).sum(axis=axes, keepdims=True))


class BatchNorm1d(BatchNorm):
    """PyTorch's ``nn.BatchNorm1d``: features (N, C) or sequences of channels (N, C, L) → same shape.

    Examples::

        >>> import numpy as np, nnlib
        >>> bn = nnlib.BatchNorm1d(3, dtype=np.float64)
        >>> y = bn(np.arange(12.0).reshape(4, 3))
        >>> y.mean(axis=0).round(6).tolist(), bn.running_mean.round(2).tolist()
        ([0.0, 0.0, 0.0], [0.45, 0.55, 0.65])
    """

    ranks = (2, 3)
    shape_text = "(N, {C}) or (N, {C}, L)"


class BatchNorm2d(BatchNorm):
    """PyTorch's ``nn.BatchNorm2d``: images (N, C, H, W) → same shape, statistics per channel over N, H and W."""

    ranks = (4,)
    shape_text = "(N, {C}, H, W)"
