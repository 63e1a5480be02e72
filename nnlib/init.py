r"""Weight initialisation: PyTorch's ``torch.nn.init`` schemes, for nnlib's weight layouts.

Why the scale matters: a unit of a layer with :math:`n` inputs computes :math:`y = \sum_j w_j x_j`; with independent,
zero-mean weights and inputs,

.. math::
    \operatorname{Var}(y) = n \operatorname{Var}(w) \operatorname{Var}(x),

so the signal keeps its variance through many layers only when :math:`n \operatorname{Var}(w) \approx 1` (times a
correction for what the activation removes). Glorot & Bengio (2010) balance the forward and backward passes with
:math:`\operatorname{Var}(w) = 2 / (n_{in} + n_{out})`; He et al. (2015) keep the forward pass through ReLU, which
zeroes half the signal, with :math:`\operatorname{Var}(w) = 2 / n_{in}`.

Fans are read from nnlib's layouts: ``Linear.weight`` and recurrent weights (in, out) — fan_in = shape[0],
fan_out = shape[1], the same numbers PyTorch computes for its transposed (out, in) weights; ``Conv2d.weight``
(C_out, C, KH, KW) — fan_in = C·KH·KW, fan_out = C_out·KH·KW, as in PyTorch.

Every function takes ``weight`` — an array or :class:`~nnlib.module.Parameter` (its shape and dtype are used, its
values ignored) or a shape tuple (float32, or ``dtype``) — and returns NEW values of that shape and dtype, drawn with
the explicit ``rng``. Layers take a scheme's name or such a function as ``init=``.

Examples::

    >>> import numpy as np
    >>> from nnlib import init
    >>> w = init.xavier_uniform((300, 100), rng=0)
    >>> w.shape, w.dtype, bool(np.abs(w).max() <= np.sqrt(6 / 400))
    ((300, 100), dtype('float32'), True)
    >>> round(float(init.kaiming_normal((1000, 500), rng=0, dtype=np.float64).var() * 1000), 1)   # 2 / fan_in
    2.0
"""

from __future__ import annotations

import numbers

import numpy as np

from ._checks import InputError, as_rng, check_float_dtype, check_real
from .module import Parameter

__all__ = ["calculate_gain", "fans", "xavier_uniform", "xavier_normal", "kaiming_uniform", "kaiming_normal", "zeros",
           "orthogonal", "SCHEMES", "get", "initial_weight"]

_GAINS = {"linear": 1.0, "conv2d": 1.0, "sigmoid": 1.0, "tanh": 5 / 3, "relu": np.sqrt(2.0), "selu": 0.75}


def calculate_gain(nonlinearity: str = "leaky_relu", param: float | None = None) -> float:
    """PyTorch's ``calculate_gain``: the factor that restores the variance an activation removes.

    linear, conv2d, sigmoid: 1; tanh: 5/3; relu: √2; leaky_relu with slope a (``param``, default 0.01): √(2 / (1 + a²));
    selu: 3/4.
    """
    if nonlinearity == "leaky_relu":
        slope = 0.01 if param is None else check_real(param, "calculate_gain", "param (the negative slope)")
        return float(np.sqrt(2.0 / (1 + slope ** 2)))
    if nonlinearity not in _GAINS:
        raise InputError(f"calculate_gain: nonlinearity must be one of {sorted([*_GAINS, 'leaky_relu'])}, "
                         f"got {nonlinearity!r}")
    return float(_GAINS[nonlinearity])


def _shape_and_dtype(weight, dtype, who: str) -> tuple[tuple[int, ...], np.dtype]:
    if isinstance(weight, tuple) and all(isinstance(n, numbers.Integral) and not isinstance(n, bool) and n >= 0
                                         for n in weight):
        return tuple(int(n) for n in weight), check_float_dtype(np.float32 if dtype is None else dtype, who)
    data = weight.data if isinstance(weight, Parameter) else weight
    if not isinstance(data, np.ndarray):
        raise InputError(f"{who}: weight must be an array, a Parameter or a shape tuple of ints ≥ 0, "
                         f"got {type(weight).__name__}")
    return data.shape, check_float_dtype(data.dtype if dtype is None else dtype, who)


def fans(shape: tuple[int, ...], who: str = "fans") -> tuple[int, int]:
    """(fan_in, fan_out) of a weight of nnlib's layout: (in, out) for 2-D; (C_out, C, K...) for 3-D and more."""
    if len(shape) < 2:
        raise InputError(f"{who}: fans need a weight of at least 2 dimensions — (in, out) for Linear and recurrent "
                         f"weights, (C_out, C, KH, KW) for Conv2d — got shape {tuple(shape)}; a bias takes zeros")
    if len(shape) == 2:
        return shape[0], shape[1]
    receptive = int(np.prod(shape[2:]))
    return shape[1] * receptive, shape[0] * receptive


def _fan(shape, mode: str, who: str) -> int:
    if mode not in ("fan_in", "fan_out"):
        raise InputError(f"{who}: mode must be 'fan_in' (keeps the forward variance) or 'fan_out' (the backward's), "
                         f"got {mode!r}")
    fan = fans(shape, who)[0 if mode == "fan_in" else 1]
    if fan == 0:
        raise InputError(f"{who}: weight of shape {tuple(shape)} has {mode} 0; expected a non-empty weight")
    return fan


def _gain(gain, who: str) -> float:
    return check_real(gain, who, "gain", lambda v: v > 0, "a number > 0")


def xavier_uniform(weight, gain: float = 1.0, *, rng=None, dtype=None) -> np.ndarray:
    """Glorot uniform: U(−a, a) with a = gain·√(6 / (fan_in + fan_out)), so Var(w) = gain²·2 / (fan_in + fan_out)."""
    shape, dtype = _shape_and_dtype(weight, dtype, "xavier_uniform")
    fan_in, fan_out = fans(shape, "xavier_uniform")
    bound = _gain(gain, "xavier_uniform") * np.sqrt(6.0 / max(fan_in + fan_out, 1))
    return as_rng(rng, "xavier_uniform").uniform(-bound, bound, shape).astype(dtype)


def xavier_normal(weight, gain: float = 1.0, *, rng=None, dtype=None) -> np.ndarray:
    """Glorot normal: N(0, σ²) with σ = gain·√(2 / (fan_in + fan_out))."""
    shape, dtype = _shape_and_dtype(weight, dtype, "xavier_normal")
    fan_in, fan_out = fans(shape, "xavier_normal")
    std = _gain(gain, "xavier_normal") * np.sqrt(2.0 / max(fan_in + fan_out, 1))
    return as_rng(rng, "xavier_normal").normal(0.0, std, shape).astype(dtype)


def kaiming_uniform(weight, a: float = 0.0, mode: str = "fan_in", nonlinearity: str = "leaky_relu", *, rng=None,
                    dtype=None) -> np.ndarray:
    """He uniform: U(−b, b) with b = gain·√(3 / fan), gain = calculate_gain(nonlinearity, a); the defaults (leaky_relu
    with a = 0, i.e. ReLU) give Var(w) = 2 / fan_in."""
    shape, dtype = _shape_and_dtype(weight, dtype, "kaiming_uniform")
    bound = calculate_gain(nonlinearity, a) * np.sqrt(3.0 / _fan(shape, mode, "kaiming_uniform"))
    return as_rng(rng, "kaiming_uniform").uniform(-bound, bound, shape).astype(dtype)


def kaiming_normal(weight, a: float = 0.0, mode: str = "fan_in", nonlinearity: str = "leaky_relu", *, rng=None,
                   dtype=None) -> np.ndarray:
    """He normal: N(0, σ²) with σ = gain / √fan (defaults: σ² = 2 / fan_in)."""
    shape, dtype = _shape_and_dtype(weight, dtype, "kaiming_normal")
    std = calculate_gain(nonlinearity, a) / np.sqrt(_fan(shape, mode, "kaiming_normal"))
    return as_rng(rng, "kaiming_normal").normal(0.0, std, shape).astype(dtype)


def zeros(weight, *, rng=None, dtype=None) -> np.ndarray:
    """All zeros (any shape; ``rng`` is accepted so every scheme is called alike, and unused)."""
    shape, dtype = _shape_and_dtype(weight, dtype, "zeros")
    return np.zeros(shape, dtype)


def orthogonal(weight, gain: float = 1.0, *, rng=None, dtype=None) -> np.ndarray:
    """A (semi-)orthogonal matrix times gain (Saxe et al. 2013), PyTorch's construction: the Q of the QR decomposition
    of a standard normal matrix, signs fixed by R's diagonal so that Q is uniformly distributed.

    The weight is seen as a matrix (shape[0], everything else); its rows are orthonormal when it is wide, its columns
    when it is tall.
    """
    shape, dtype = _shape_and_dtype(weight, dtype, "orthogonal")
    if len(shape) < 2 or 0 in shape:
        raise InputError(f"orthogonal: weight must have at least 2 non-empty dimensions, got shape {tuple(shape)}")
    gain = _gain(gain, "orthogonal")
    rows, cols = shape[0], int(np.prod(shape[1:]))
    flat = as_rng(rng, "orthogonal").standard_normal((rows, cols))
    q, r = np.linalg.qr(flat if rows >= cols else flat.T)
    q *= np.sign(np.diag(r))
    if rows < cols:
        q = q.T
    return (gain * q).reshape(shape).astype(dtype)


SCHEMES = {f.__name__: f for f in (xavier_uniform, xavier_normal, kaiming_uniform, kaiming_normal, zeros, orthogonal)}


def get(init, who: str):
    """The scheme a layer's ``init=`` names (a key of ``SCHEMES``), or the callable itself; None stays None."""
    if init is None or callable(init):
        return init
    if isinstance(init, str) and init in SCHEMES:
        return SCHEMES[init]
    raise InputError(f"{who}: init must be one of {sorted(SCHEMES)} or a function (weight, *, rng) -> array, "
                     f"got {init!r}")


def initial_weight(init, shape: tuple[int, ...], dtype, rng: np.random.Generator, who: str) -> np.ndarray:
    """Values from ``init`` (a function, as :func:`get` returns) for a weight of ``shape`` and ``dtype``, checked."""
    values = np.asarray(init(np.empty(shape, dtype), rng=rng))
    if values.shape != tuple(shape):
        raise InputError(f"{who}: init returned shape {values.shape} for a weight of shape {tuple(shape)}; "
                         "expected the weight's own shape")
    if values.dtype.kind != "f" or not np.isfinite(values).all():
        raise InputError(f"{who}: init must return finite floating-point values, got dtype {values.dtype}")
    return values.astype(dtype, copy=False)
