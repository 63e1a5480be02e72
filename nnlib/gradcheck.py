r"""Numerical gradients by centred differences, and the relative error that compares them.

.. math::
    \frac{\partial f}{\partial x_i} \approx \frac{f(x + \epsilon e_i) - f(x - \epsilon e_i)}{2\epsilon},
    \qquad
    \text{rel\_error}(a, n) = \frac{\lVert a - n \rVert}{\max(\lVert a \rVert + \lVert n \rVert, \text{tiny})}

Always in float64: in float32 the rounding error of f swamps the O(ε²) truncation error.
"""

from __future__ import annotations

from collections.abc import Callable

import numpy as np

from ._checks import InputError, as_rng
from .module import Module, no_grad


class GradcheckError(AssertionError):
    """Analytic and numerical gradients disagree beyond the tolerance."""


def relative_error(analytic, numerical, floor: float = 0.0) -> float:
    """‖a − n‖ / max(‖a‖ + ‖n‖, floor): 0 when equal, 1 when unrelated; 0 when both are exactly zero.

    A ``floor`` > 0 compares tiny gradients absolutely: a gradient that is exactly zero in theory comes out of
    finite differences as rounding noise (~1e-10), which relative to itself would be an error of 1.
    """
    a = np.asarray(analytic, dtype=np.float64)
    n = np.asarray(numerical, dtype=np.float64)
    if a.shape != n.shape:
        raise InputError(f"relative_error: shapes differ, analytic {a.shape} vs numerical {n.shape}")
    scale = max(np.linalg.norm(a) + np.linalg.norm(n), floor)
    return 0.0 if scale == 0 else float(np.linalg.norm(a - n) / scale)


def _require_float64(x: np.ndarray, who: str) -> None:
    if x.dtype != np.float64:
        raise InputError(f"{who}: gradient checks need float64 arrays (float32 rounding swamps the "
                         f"finite differences), got {x.dtype}; build layers with dtype=np.float64")


def numerical_gradient(f: Callable[[], float], x: np.ndarray, eps: float = 1e-6) -> np.ndarray:
    """dF/dx for a scalar function ``f()`` that reads ``x``; ``x`` is nudged in place and restored.

    Shapes: x any shape (float64) → gradient of the same shape.
    """
    _require_float64(x, "numerical_gradient")
    grad = np.empty_like(x)
    flat_x, flat_grad = x.reshape(-1), grad.reshape(-1)  # views: nudging flat_x nudges x
    if not np.shares_memory(flat_x, x):
        raise InputError("numerical_gradient: x must be contiguous so that it can be nudged in place")
    for i in range(flat_x.size):
        original = flat_x[i]
        flat_x[i] = original + eps
        f_plus = float(f())
        flat_x[i] = original - eps
        f_minus = float(f())
        flat_x[i] = original
        flat_grad[i] = (f_plus - f_minus) / (2 * eps)
    return grad


def check_derivative(f: Callable, f_prime: Callable, x, eps: float = 1e-6) -> float:
    """Relative error between ``f_prime(x)`` and the centred difference of an elementwise ``f``.

    Shapes: x any shape; f and f_prime map it elementwise to the same shape.
    """
    x = np.asarray(x, dtype=np.float64)
    numerical = (f(x + eps) - f(x - eps)) / (2 * eps)
    return relative_error(f_prime(x), numerical)


def check_gradient(f: Callable, grad_f: Callable, x, eps: float = 1e-6) -> float:
    """Relative error between ``grad_f(x)`` and the numerical gradient of a scalar function ``f(x)``."""
    x = np.array(x, dtype=np.float64)
    return relative_error(grad_f(x.copy()), numerical_gradient(lambda: f(x), x, eps))


_FLOOR = 1e-2  # see gradcheck's docstring


def tree_leaves(tree) -> list:
    """The arrays of a nested tuple/list, depth first: ``(x, (h, c))`` → ``[x, h, c]``."""
    if isinstance(tree, (tuple, list)):
        return [leaf for item in tree for leaf in tree_leaves(item)]
    return [tree]


def _copy_tree(tree, make: Callable):
    """A tree of the same structure with ``make(leaf)`` at every leaf."""
    if isinstance(tree, (tuple, list)):
        return tuple(_copy_tree(item, make) for item in tree)
    return make(tree)


def gradcheck(module: Module, *inputs, rng=0, eps: float = 1e-6, tol: float | None = 1e-7) -> dict[str, float]:
    """Compare a module's backward with centred differences, for its inputs and every parameter.

    The scalar checked is ``L = Σ G ⊙ module(*inputs)`` with a fixed random G (for a loss, whose output
    is already a scalar, G = 1). Inputs that backward returns a gradient for are checked (a loss returns
    one for its prediction only); every trainable parameter is checked.

    Layers with several outputs, such as a recurrent layer's ``(output, state)``, get one G per output, passed
    to ``backward`` in the same structure; inputs and returned gradients may be nested pairs too (an LSTM's
    ``(h0, c0)``) and are matched leaf by leaf.

    Gradients with a norm below 1e-2 are compared absolutely (``relative_error``'s floor): an exactly-zero
    gradient, such as that of the key projection's bias in attention, must then agree with finite differences to
    tol · 1e-2.

    Returns:
        ``{"input0": err, ..., "weight": err, ...}`` relative errors (inputs numbered by leaf, parameter names
        dotted).
    Raises:
        GradcheckError: when ``tol`` is given and some error exceeds it (the message lists them all).
    """
    inputs = _copy_tree(inputs, lambda x: np.array(x) if np.asarray(x).dtype.kind == "f" else np.asarray(x))
    leaves = tree_leaves(inputs)
    for i, x in enumerate(leaves):
        if x.dtype.kind == "f":
            _require_float64(x, f"gradcheck({type(module).__name__}) input {i}")
    params = [(name, p) for name, p in module.named_parameters() if p.requires_grad]
    for name, p in params:
        _require_float64(p.data, f"gradcheck({type(module).__name__}) parameter {name!r}")

    output = module(*inputs)
    draw = as_rng(rng)
    upstream = _copy_tree(output, lambda y: draw.standard_normal(np.shape(y)) if np.ndim(y) else 1.0)

    def scalar_loss() -> float:
        with no_grad():  # thousands of evaluations: store no cache
            outputs = tree_leaves(module(*inputs))
        return float(sum(np.sum(g * y) for g, y in zip(tree_leaves(upstream), outputs, strict=True)))

    module.zero_grad()
    module(*inputs)
    analytic_inputs = module.backward(*upstream) if isinstance(output, tuple) else module.backward(upstream)
    errors = {f"input{i}": relative_error(g, numerical_gradient(scalar_loss, leaves[i], eps), _FLOOR)
              for i, g in enumerate(tree_leaves(analytic_inputs)[:len(leaves)]) if g is not None}
    analytic_params = {name: p.grad.copy() for name, p in params}
    for name, p in params:
        errors[name] = relative_error(analytic_params[name], numerical_gradient(scalar_loss, p.data, eps), _FLOOR)

    failed = {k: v for k, v in errors.items() if tol is not None and not v <= tol}
    if failed:
        table = ", ".join(f"{k}: {v:.2e}" for k, v in failed.items())
        raise GradcheckError(f"gradcheck({module}): relative error above {tol:g} for {table}")
    return errors
