r"""Weight penalties: a term :math:`R(w)` added to the training loss to prefer simpler models.

The notes: "L2 regularization: complexity = sum of squares of weights" (with a squared-error loss this is ridge
regression) leads to small weights; "L1 regularization leads to many zero weights (sparsity)".

.. math::
    L2:\ R = \frac{\lambda}{2} \sum w^2,\ \ \frac{\partial R}{\partial w} = \lambda w \qquad
    L1:\ R = \lambda \sum |w|,\ \ \frac{\partial R}{\partial w} = \lambda\, \operatorname{sign}(w)

(:math:`\operatorname{sign}(0) = 0`, the subgradient PyTorch's autograd picks for ``abs``.) With plain SGD the
L2 gradient is exactly ``SGD(weight_decay=λ)``. By default biases are not penalised: a bias shifts a
boundary without making the model more complex.
"""

from __future__ import annotations

import numpy as np

from ._checks import InputError, check_real
from .module import Module, Parameter

__all__ = ["L1Penalty", "L2Penalty", "Penalty"]


class Penalty:
    """Base class: ``penalty(model)`` is R(w) as a float, ``penalty.backward(model)`` adds ∂R/∂w to each ``.grad``.

    Args:
        strength: :math:`\\lambda \\ge 0`.
        include_biases: also penalise parameters whose name ends in ``bias``.

    Only parameters with ``requires_grad`` are penalised (a frozen parameter cannot change anyway).
    """

    def __init__(self, strength: float, *, include_biases: bool = False):
        who = type(self).__name__
        self.strength = check_real(strength, who, "strength", lambda v: v >= 0, "a number >= 0")
        if not isinstance(include_biases, bool):
            raise InputError(f"{who}: include_biases must be True or False, got {include_biases!r}")
        self.include_biases = include_biases

    def __repr__(self) -> str:
        return f"{type(self).__name__}(strength={self.strength}, include_biases={self.include_biases})"

    def penalised(self, model: Module) -> list[Parameter]:
        """The parameters this penalty acts on."""
        if not isinstance(model, Module):
            raise InputError(f"{type(self).__name__}: expected an nnlib Module, got {type(model).__name__}")
        return [p for name, p in model.named_parameters()
                if p.requires_grad and (self.include_biases or not name.endswith("bias"))]

    def __call__(self, model: Module) -> float:
        return float(sum(self._value(p.data) for p in self.penalised(model)))

    def backward(self, model: Module) -> None:
        for p in self.penalised(model):
            p.grad += self._gradient(p.data).astype(p.grad.dtype, copy=False)

    def after_step(self, model: Module, lr: float) -> None:
        """Called by :func:`nnlib.training.fit` after each optimizer step; nothing to do for a plain penalty."""

    def _value(self, w: np.ndarray) -> float:
        raise NotImplementedError

    def _gradient(self, w: np.ndarray) -> np.ndarray:
        raise NotImplementedError


class L2Penalty(Penalty):
    r""":math:`R = \frac{\lambda}{2} \sum w^2`, gradient :math:`\lambda w`: pulls each weight to 0 in proportion."""

    def _value(self, w):
        return 0.5 * self.strength * float(np.vdot(w, w))

    def _gradient(self, w):
        return self.strength * w


class L1Penalty(Penalty):
    r""":math:`R = \lambda \sum |w|`, gradient :math:`\lambda\,\operatorname{sign}(w)`: the same pull on every weight.

    A subgradient step overshoots 0 and makes small weights hover around it. With ``proximal=True`` the penalty
    adds no gradient; instead, after each optimizer step with learning rate :math:`\eta`, every penalised weight
    is soft-thresholded, :math:`w \leftarrow \operatorname{sign}(w)\max(|w| - \eta\lambda, 0)` (the proximal step
    of ISTA), which sets small weights to exactly 0.
    """

    def __init__(self, strength: float, *, include_biases: bool = False, proximal: bool = False):
        super().__init__(strength, include_biases=include_biases)
        if not isinstance(proximal, bool):
            raise InputError(f"L1Penalty: proximal must be True or False, got {proximal!r}")
        self.proximal = proximal

    def __repr__(self) -> str:
        return super().__repr__()[:-1] + f", proximal={self.proximal})"

    def _value(self, w):
        return self.strength * float(np.abs(w).sum())

    def _gradient(self, w):
        return self.strength * np.sign(w)

    def backward(self, model: Module) -> None:
        if not self.proximal:  # the proximal form acts in after_step instead
            super().backward(model)

    def after_step(self, model: Module, lr: float) -> None:
        if self.proximal:
            for p in self.penalised(model):
                shrunk = np.abs(p.data) - lr * self.strength
                p.data[...] = np.sign(p.data) * np.maximum(shrunk, 0)
