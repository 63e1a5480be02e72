"""The fully connected layer."""

from __future__ import annotations

from typing import NamedTuple

import numpy as np

from .._checks import as_rng, check_features, check_fits_in_memory, check_float_dtype, check_grad, check_positive_int
from ..init import get as get_init
from ..init import initial_weight
from ..module import Module, Parameter


class LinearCache(NamedTuple):
    """What :class:`Linear` keeps for backward."""

    x: np.ndarray  #: the input (N, ..., in_features)


class Linear(Module):
    r"""Fully connected layer, ``y = x @ W + b`` — the notes' :math:`net_k = \sum_j w_{jk} a_j + b`.

    Shapes:
        x: (N, in_features), or (N, ..., in_features) — leading axes are treated as batch.
        weight: (in_features, out_features); ``weight[j, k]`` is the notes' :math:`w_{jk}`.
        bias: (out_features,)
        y: (N, ..., out_features)

    Backward, with :math:`\delta = \partial L / \partial y` of shape (N, out):

    .. math::
        \frac{\partial L}{\partial W} = x^\top \delta,\qquad
        \frac{\partial L}{\partial b} = \sum_n \delta_n,\qquad
        \frac{\partial L}{\partial x} = \delta W^\top

    ``backward(grad_out, input_gradient=False)`` skips :math:`\delta W^\top` and returns None (a model's lowest
    trainable layer, when nobody needs dL/dx: see :mod:`nnlib.module`).

    Initialisation is PyTorch's default, every weight and bias uniform in ±1/√in_features, unless ``init`` names a
    scheme of :mod:`nnlib.init` (``"xavier_uniform"``, ``"kaiming_normal"``, ...) or is a function
    ``(weight, *, rng) -> values``: the weight then takes its values and the bias starts at zero.
    """

    def __init__(self, in_features: int, out_features: int, bias: bool = True, *, rng=None,
                 dtype=np.float32, init=None):
        self.in_features = check_positive_int(in_features, "Linear", "in_features")
        self.out_features = check_positive_int(out_features, "Linear", "out_features")
        dtype = check_float_dtype(dtype, "Linear")
        check_fits_in_memory((in_features, out_features), "Linear", "the weight")
        rng = as_rng(rng, "Linear")
        scheme = get_init(init, "Linear")
        if scheme is not None:
            self.weight = Parameter(initial_weight(scheme, (in_features, out_features), dtype, rng, "Linear"), "weight")
            self.bias = Parameter(np.zeros(out_features, dtype), "bias") if bias else None
            return
        bound = 1.0 / np.sqrt(in_features)
        self.weight = Parameter(rng.uniform(-bound, bound, (in_features, out_features)).astype(dtype), "weight")
        self.bias = Parameter(rng.uniform(-bound, bound, out_features).astype(dtype), "bias") if bias else None

    def extra_repr(self) -> str:
        return (f"in_features={self.in_features}, out_features={self.out_features}, "
                f"bias={self.bias is not None}, dtype={self.weight.dtype}")

    def forward(self, x):
        x = check_features(x, self, self.in_features, self.weight.dtype)
        self.cache = LinearCache(x)
        y = x @ self.weight.data
        if self.bias is not None:
            y += self.bias.data
        return y

    can_skip_input_gradient = True

    def backward(self, grad_out, input_gradient=True):
        x = self.cache.x
        grad_out = check_grad(grad_out, x.shape[:-1] + (self.out_features,), self, dtype=self.weight.dtype)
        if self.weight.requires_grad:
            self.weight.grad += x.reshape(-1, self.in_features).T @ grad_out.reshape(-1, self.out_features)
        if self.bias is not None and self.bias.requires_grad:
            self.bias.grad += grad_out.reshape(-1, self.out_features).sum(axis=0)
        return grad_out @ self.weight.data.T if input_gradient else None

