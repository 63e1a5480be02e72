r"""Losses: ``forward(pred, target)`` returns a Python float, ``backward(grad_out=1.0)`` returns dL/dpred.

Each loss is a sum (or mean) of per-item terms :math:`\ell_i`; ``backward`` returns

.. math::
    \frac{\partial L}{\partial p} = \text{grad\_out} \cdot c \cdot \frac{\partial \sum_i \ell_i}{\partial p},
    \qquad c = \begin{cases} 1/n & \text{reduction="mean"} \\ 1 & \text{reduction="sum"} \end{cases}

with pred's (:math:`p`'s) shape and dtype. The classification losses take raw scores (logits) and are computed through
log-softmax / log1p, so they stay finite for logits of any size.
"""

from __future__ import annotations

from typing import NamedTuple

import numpy as np

from . import functional as F
from ._checks import DTypeError, InputError, as_array, check_array, check_finite
from .module import Module

__all__ = ["Loss", "SquaredError", "MSELoss", "CrossEntropyLoss", "BCEWithLogitsLoss"]

REDUCTIONS = ("mean", "sum")


class LossCache(NamedTuple):
    """What a loss keeps for backward."""

    pred: np.ndarray  #: the model output it was given
    target: np.ndarray  #: the checked target
    count: int  #: how many terms the mean divides by


class Loss(Module):
    r"""Base of every loss: validation, the reduction, and the grad_out scaling of ``backward``.

    Subclasses define ``_check_target(pred, target)``, ``_terms(pred, target)`` (the per-item losses
    :math:`\ell_i`, any shape) and ``_grad(pred, target)`` (d Σℓ / d pred, pred's shape).
    """

    def __init__(self, reduction: str = "mean"):
        if reduction not in REDUCTIONS:
            raise InputError(f"{type(self).__name__}: reduction must be 'mean' or 'sum', got {reduction!r}")
        self.reduction = reduction

    def extra_repr(self) -> str:
        return f"reduction={self.reduction!r}"

    def forward(self, pred, target) -> float:
        """pred: the model output (see the subclass), target: matching labels/values → the loss, a float."""
        pred = check_array(pred, self, name="pred (the model output)", finite=True)
        if pred.size == 0:
            raise InputError(f"{self}: pred (the model output) must hold at least one item, got shape {pred.shape}")
        target = self._check_target(pred, target)
        terms = self._terms(pred, target)
        self.cache = LossCache(pred, target, terms.size)
        total = terms.sum()
        return float(total / terms.size if self.reduction == "mean" else total)

    def backward(self, grad_out=1.0) -> np.ndarray:
        """grad_out: dL_total/dL, a scalar → dL_total/dpred with pred's (:math:`p`'s) shape and dtype."""
        pred, target, count = self.cache
        if np.ndim(grad_out) != 0 or np.asarray(grad_out).dtype.kind not in "iuf":
            raise InputError(f"{self}: grad_out must be a real scalar (the loss is a scalar), got {grad_out!r}")
        scale = float(grad_out) / count if self.reduction == "mean" else float(grad_out)
        return self._grad(pred, target) * pred.dtype.type(scale)

    def _check_target(self, pred, target):
        raise NotImplementedError

    def _terms(self, pred, target):
        raise NotImplementedError

    def _grad(self, pred, target):
        raise NotImplementedError


class _RegressionLoss(Loss):
    """Targets are real values with pred's shape; integer/boolean targets are converted to pred's dtype."""

    def _check_target(self, pred, target):
        target = as_array(target, self, "target", "a real-valued array")
        if target.dtype.kind not in "iubf":
            raise DTypeError(f"{self}: target must be a real-valued array, got dtype {target.dtype}")
        if target.shape != pred.shape:
            raise InputError(f"{self}: target must have the prediction's shape {pred.shape}, got {target.shape} "
                             f"(no broadcasting: reshape one of them explicitly)")
        check_finite(target, self, "target")
        with np.errstate(over="ignore"):  # an overflow is reported below, with the culprit
            converted = target.astype(pred.dtype, copy=False)
        if converted is not target and not np.isfinite(converted).all():
            raise InputError(f"{self}: target holds values beyond the range of pred's dtype {pred.dtype} (largest "
                             f"|target| = {np.abs(target).max():.3g}); rescale the targets, or use a float64 model")
        return converted


class SquaredError(_RegressionLoss):
    r"""The notes' squared error, summed over every element (no reduction option):

    .. math::
        E_{total} = \sum_k \tfrac{1}{2}(t_k - a_k)^2, \qquad \frac{\partial E}{\partial a_k} = -(t_k - a_k)

    Shapes: pred (any), target (same) → a float. Equals ``0.5 * MSELoss(reduction="sum")``.
    """

    def __init__(self):
        super().__init__("sum")

    def extra_repr(self) -> str:
        return ""

    def _terms(self, pred, target):
        return 0.5 * (target - pred) ** 2

    def _grad(self, pred, target):
        return pred - target


class MSELoss(_RegressionLoss):
    r"""Mean (or summed) squared error, PyTorch's ``nn.MSELoss``.

    .. math::
        L = \frac{1}{n}\sum_i (p_i - t_i)^2, \qquad \frac{\partial L}{\partial p_i} = \frac{2}{n}(p_i - t_i)

    (without the :math:`1/n` for ``reduction="sum"``). Shapes: pred (any), target (same) → a float.
    """

    def _terms(self, pred, target):
        return (pred - target) ** 2

    def _grad(self, pred, target):
        return 2 * (pred - target)


class BCEWithLogitsLoss(_RegressionLoss):
    r"""Binary cross-entropy on logits :math:`x` (sigmoid folded in), PyTorch's ``nn.BCEWithLogitsLoss``.

    .. math::
        \ell = -\big[t \log\sigma(x) + (1 - t)\log(1 - \sigma(x))\big]
             = \max(x, 0) - x\,t + \log\!\left(1 + e^{-|x|}\right),
        \qquad \frac{\partial \ell}{\partial x} = \sigma(x) - t

    Shapes: logits (any), targets in [0, 1] (same shape) → a float.
    """

    def _check_target(self, pred, target):
        target = super()._check_target(pred, target)
        if target.size and (target.min() < 0 or target.max() > 1):
            raise InputError(f"{self}: targets must be probabilities in [0, 1], got values in "
                             f"[{target.min():g}, {target.max():g}]")
        return target

    def _terms(self, pred, target):
        return np.maximum(pred, 0) - pred * target + np.log1p(np.exp(-np.abs(pred)))

    def _grad(self, pred, target):
        return F.sigmoid(pred) - target


class CrossEntropyLoss(Loss):
    r"""Softmax cross-entropy from logits, PyTorch's ``nn.CrossEntropyLoss`` with the class axis LAST.

    .. math::
        \ell_n = -\log \operatorname{softmax}(x_n)_{y_n} = \operatorname{logsumexp}(x_n) - x_{n, y_n},
        \qquad \frac{\partial \ell_n}{\partial x_n} = \operatorname{softmax}(x_n) - \operatorname{onehot}(y_n)

    Shapes: logits (N, C) or (N, ..., C); labels (N,) or (N, ...), integers in [0, C) → a float.
    (PyTorch puts the class axis second, (N, C, ...); move it with ``np.moveaxis`` when comparing. With as many
    classes as steps, (N, C, T) logits have the shape nnlib expects and cannot be refused: mind the layout.)
    """

    def _check_target(self, pred, target):
        if pred.ndim < 2:
            raise InputError(f"{self}: logits must have shape (N, C) or (N, ..., C), got {pred.shape}")
        target = as_array(target, self, "target", "an array of integer class labels")
        if target.dtype.kind not in "iu":
            raise DTypeError(f"{self}: target must hold integer class labels, got dtype {target.dtype}"
                             + (" — convert it with .astype(np.int64)" if target.dtype.kind in "fb" else ""))
        if target.shape != pred.shape[:-1]:
            raise InputError(f"{self}: target must have shape {pred.shape[:-1]} (the logits' shape without the "
                             f"class axis), got {target.shape}")
        n_classes = pred.shape[-1]
        if target.size and (target.min() < 0 or target.max() >= n_classes):
            raise InputError(f"{self}: class labels must be in [0, {n_classes}), got values in "
                             f"[{target.min()}, {target.max()}]")
        return target

    def _terms(self, pred, target):
        self._log_probs = F.log_softmax(pred)  # kept: its exponential is the softmax that backward needs
        rows = self._log_probs.reshape(-1, pred.shape[-1])
        return -rows[np.arange(len(rows)), target.ravel()]

    def _grad(self, pred, target):
        grad = np.exp(self._log_probs)
        rows = grad.reshape(-1, pred.shape[-1])
        rows[np.arange(len(rows)), target.ravel()] -= 1
        return grad
