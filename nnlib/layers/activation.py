r"""Activation layers: the elementwise nonlinearities, Softmax, and Maxout.

Each elementwise layer applies :math:`a = f(net)` and backpropagates with the chain rule

.. math::
    \frac{\partial L}{\partial net} = \frac{\partial L}{\partial a} \odot f'(net)

— the notes' :math:`\delta = \frac{\partial E}{\partial out}\cdot\frac{\partial out}{\partial net}`. The math lives
in :mod:`nnlib.functional`; these classes add caching and input checks. Parameter-free layers accept float32 or
float64 and keep that dtype.
"""

from __future__ import annotations

import numbers
from typing import NamedTuple

import numpy as np

from .. import functional as F
from .._checks import (
    InputError,
    as_rng,
    check_array,
    check_axis,
    check_features,
    check_fits_in_memory,
    check_float_dtype,
    check_grad,
    check_positive_int,
    check_real,
)
from ..module import Module, Parameter

__all__ = ["Sigmoid", "Tanh", "ReLU", "LeakyReLU", "ELU", "Softplus", "Softmax", "Maxout"]


class ActivationCache(NamedTuple):
    """What an activation keeps for backward."""

    x: np.ndarray  #: the input, the notes' net
    y: np.ndarray  #: the output, the notes' out


class _Activation(Module):
    """Base of the parameter-free activations: ``forward`` caches ``(x, y)``, ``backward`` = grad_out ⊙ f'.

    Subclasses define ``_f(x)`` and ``_derivative(x, y)`` (elementwise), or override ``_vjp`` (Softmax).
    """

    def forward(self, x):
        """x: any shape, float32 or float64 → y: same shape and dtype."""
        x = check_array(x, self)
        y = self._f(x)
        self.cache = ActivationCache(x, y)
        return y

    def backward(self, grad_out):
        """grad_out: dL/dy, the shape and dtype of y → dL/dx, same shape and dtype (grad_out is not modified)."""
        x, y = self.cache
        grad_out = check_grad(grad_out, y.shape, self, output_dtype=y.dtype)
        return self._vjp(grad_out, x, y)

    def _vjp(self, grad_out, x, y):
        return grad_out * self._derivative(x, y)

    def _f(self, x):
        raise NotImplementedError

    def _derivative(self, x, y):
        raise NotImplementedError


class Sigmoid(_Activation):
    r"""Logistic activation, the notes' :math:`out = 1/(1+e^{-net})`.

    .. math::
        a = \sigma(net), \qquad \frac{\partial a}{\partial net} = a\,(1 - a)

    The derivative reuses the cached output ``a``, exactly as the notes write it.
    """

    def _f(self, x):
        return F.sigmoid(x)

    def _derivative(self, x, y):
        return y * (1 - y)


class Tanh(_Activation):
    r"""Hyperbolic tangent.

    .. math::
        a = \tanh(net), \qquad \frac{\partial a}{\partial net} = 1 - a^2
    """

    def _f(self, x):
        return F.tanh(x)

    def _derivative(self, x, y):
        return 1 - y * y


class ReLU(_Activation):
    r"""Rectified linear unit.

    .. math::
        a = \max(0, net), \qquad \frac{\partial a}{\partial net} = [net > 0]
    """

    def _f(self, x):
        return F.relu(x)

    def _derivative(self, x, y):
        return F.relu_prime(x)


class LeakyReLU(_Activation):
    r"""Leaky ReLU with slope ``negative_slope`` for :math:`net \le 0` (the notes' :math:`\max(0.1x, x)` is 0.1).

    .. math::
        a = \begin{cases} net & net > 0 \\ \alpha\, net & net \le 0 \end{cases}, \qquad
        \frac{\partial a}{\partial net} = \begin{cases} 1 & net > 0 \\ \alpha & net \le 0 \end{cases}
    """

    def __init__(self, negative_slope: float = 0.01):
        self.negative_slope = check_real(negative_slope, "LeakyReLU", "negative_slope")

    def extra_repr(self) -> str:
        return f"negative_slope={self.negative_slope}"

    def _f(self, x):
        return F.leaky_relu(x, self.negative_slope)

    def _derivative(self, x, y):
        return F.leaky_relu_prime(x, self.negative_slope)


class ELU(_Activation):
    r"""Exponential linear unit.

    .. math::
        a = \begin{cases} net & net > 0 \\ \alpha(e^{net} - 1) & net \le 0 \end{cases}, \qquad
        \frac{\partial a}{\partial net} = \begin{cases} 1 & net > 0 \\ \alpha e^{net} & net \le 0 \end{cases}
    """

    def __init__(self, alpha: float = 1.0):
        self.alpha = check_real(alpha, "ELU", "alpha")

    def extra_repr(self) -> str:
        return f"alpha={self.alpha}"

    def _f(self, x):
        return F.elu(x, self.alpha)

    def _derivative(self, x, y):
        return F.elu_prime(x, self.alpha)


class Softplus(_Activation):
    r"""Softplus, a smooth ReLU.

    .. math::
        a = \log(1 + e^{net}), \qquad \frac{\partial a}{\partial net} = \sigma(net)
    """

    def _f(self, x):
        return F.softplus(x)

    def _derivative(self, x, y):
        return F.softplus_prime(x)


class Softmax(_Activation):
    r"""Softmax along ``axis`` (default: the last, the class axis of batch-first scores).

    .. math::
        s_i = \frac{e^{x_i}}{\sum_j e^{x_j}}, \qquad
        \frac{\partial L}{\partial x_j} = s_j \Big(g_j - \sum_i g_i s_i\Big), \quad g = \frac{\partial L}{\partial s}

    Shapes: x any with ``axis`` in range → s same. For classification prefer feeding the logits to
    :class:`nnlib.losses.CrossEntropyLoss`, which is more stable than Softmax followed by a log.
    """

    def __init__(self, axis: int = -1):
        if isinstance(axis, bool) or not isinstance(axis, numbers.Integral):
            raise InputError(f"Softmax: axis must be an int, got {axis!r}")
        self.axis = int(axis)

    def extra_repr(self) -> str:
        return f"axis={self.axis}"

    def _f(self, x):
        check_axis(x, self.axis, self)
        return F.softmax(x, self.axis)

    def _vjp(self, grad_out, x, y):
        return F.softmax_backward(y, grad_out, self.axis)


class MaxoutCache(NamedTuple):
    """What :class:`Maxout` keeps for backward."""

    x: np.ndarray       #: the input (N, ..., in_features)
    winner: np.ndarray  #: (1, M, out_features): the winning piece p* of each output, M = the rows of x


class Maxout(Module):
    r"""Maxout unit, the notes' :math:`\max(w_1^\top x + b_1,\ w_2^\top x + b_2)` with ``pieces`` linear pieces.

    Each output feature ``k`` is the maximum over pieces ``p`` of an affine map of the input:

    .. math::
        z_{pk} = \sum_j x_j\, W_{pjk} + b_{pk}, \qquad y_k = \max_p z_{pk}

    Shapes:
        x: (N, in_features), or (N, ..., in_features).
        weight: (pieces, in_features, out_features); ``weight[p]`` is piece p's Linear weight (the notes' w_p).
        bias: (pieces, out_features); ``bias[p]`` is the notes' b_p.
        y: (N, ..., out_features)

    Backward: the gradient flows only through the winning piece :math:`p^*` of each output; on ties it goes
    to the first maximum (as ``torch.max`` does). With :math:`\delta_{pk} = [p = p^*_k]\, g_k`:

    .. math::
        \frac{\partial L}{\partial W_p} = x^\top \delta_p, \qquad
        \frac{\partial L}{\partial b_p} = \sum_n \delta_{p}, \qquad
        \frac{\partial L}{\partial x} = \sum_p \delta_p W_p^\top

    Initialisation: uniform in ±1/√in_features, like :class:`~nnlib.layers.Linear`.
    """

    def __init__(self, in_features: int, out_features: int, pieces: int = 2, *, rng=None, dtype=np.float32):
        self.in_features = check_positive_int(in_features, "Maxout", "in_features")
        self.out_features = check_positive_int(out_features, "Maxout", "out_features")
        self.pieces = check_positive_int(pieces, "Maxout", "pieces")
        dtype = check_float_dtype(dtype, "Maxout")
        check_fits_in_memory((pieces, in_features, out_features), "Maxout", "the weight")
        rng = as_rng(rng, "Maxout")
        bound = 1.0 / np.sqrt(in_features)
        self.weight = Parameter(rng.uniform(-bound, bound, (pieces, in_features, out_features)).astype(dtype),
                                "weight")
        self.bias = Parameter(rng.uniform(-bound, bound, (pieces, out_features)).astype(dtype), "bias")

    def extra_repr(self) -> str:
        return (f"in_features={self.in_features}, out_features={self.out_features}, pieces={self.pieces}, "
                f"dtype={self.weight.dtype}")

    def forward(self, x):
        """x: (N, ..., in_features) → y: (N, ..., out_features), the parameters' dtype."""
        x = check_features(x, self, self.in_features, self.weight.dtype)
        x2 = x.reshape(-1, self.in_features)
        z = x2 @ self.weight.data + self.bias.data[:, None, :]  # (pieces, M, out)
        winner = np.argmax(z, axis=0)[None]  # (1, M, out): first maximum on ties
        self.cache = MaxoutCache(x, winner)
        return np.take_along_axis(z, winner, axis=0)[0].reshape(x.shape[:-1] + (self.out_features,))

    def backward(self, grad_out):
        """grad_out: (N, ..., out_features) → dL/dx: (N, ..., in_features); accumulates weight/bias grads."""
        x, winner = self.cache
        x2 = x.reshape(-1, self.in_features)
        grad_out = check_grad(grad_out, x.shape[:-1] + (self.out_features,), self, dtype=self.weight.dtype)
        delta = np.zeros((self.pieces,) + winner.shape[1:], dtype=grad_out.dtype)
        np.put_along_axis(delta, winner, grad_out.reshape(winner.shape), axis=0)  # (pieces, M, out)
        if self.weight.requires_grad:
            self.weight.grad += x2.T @ delta
        if self.bias.requires_grad:
            self.bias.grad += delta.sum(axis=1)
        grad_x = (delta @ self.weight.data.transpose(0, 2, 1)).sum(axis=0)
        return grad_x.reshape(x.shape)
