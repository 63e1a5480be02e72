r"""Optimizers: the rule that turns a gradient into a weight change.

Every optimizer here is a variation on the notes' gradient-descent step, with learning rate :math:`\eta`
(the notes also write it :math:`\varepsilon`) and :math:`g = \partial E / \partial w`:

.. math::
    w^{+} = w - \eta\, \frac{\partial E}{\partial w}

The update rules are PyTorch's exactly (``torch.optim.SGD``, ``RMSprop``, ``Adam`` and ``AdamW``), so a model trained
with nnlib and with PyTorch from the same start follows the same path. Updates are written in place into
``Parameter.data`` (no new arrays), parameters with ``requires_grad=False`` are skipped, and every
parameter keeps its own state arrays (momentum buffer, moment estimates) in ``optimizer.state``.
"""

from __future__ import annotations

import operator
from collections.abc import Iterable

import numpy as np

from ._checks import InputError, check_real
from .kernels import fast_kernels_enabled
from .kernels.optim import FlatMoments, adam_step_all
from .module import Parameter

__all__ = ["Optimizer", "SGD", "RMSprop", "Adam", "AdamW", "grad_norm", "clip_grad_norm", "clip_grad_value"]


def _parameter_list(params, who: str) -> list[Parameter]:
    """``params`` (e.g. ``model.parameters()``) as a list of distinct Parameters, or an error naming ``who``."""
    if isinstance(params, Parameter):
        raise InputError(f"{who}: params must be an iterable of Parameters (e.g. model.parameters()), "
                         f"got a single Parameter; wrap it in a list: [{params.name or 'param'}]")
    try:
        params = list(params)
    except TypeError as err:
        raise InputError(f"{who}: params must be an iterable of Parameters (e.g. model.parameters()), "
                         f"got {type(params).__name__}") from err
    for i, param in enumerate(params):
        if not isinstance(param, Parameter):
            raise InputError(f"{who}: params[{i}] must be a Parameter, got {type(param).__name__}; "
                             "pass model.parameters()")
    if not params:
        raise InputError(f"{who}: got an empty list of parameters — nothing to optimize")
    unique = {id(p): p for p in params}  # a parameter listed twice must still be counted once
    return list(unique.values())


class Optimizer:
    """Base class: holds the parameters, their per-parameter state, and the learning rate.

    Args:
        params: an iterable of :class:`~nnlib.module.Parameter`, typically ``model.parameters()``.
        lr: the learning rate :math:`\\eta > 0`; may be changed between steps (``opt.lr = 0.01``).

    Subclasses implement ``_update(param, state)``, which changes ``param.data`` in place.
    """

    def __init__(self, params: Iterable[Parameter], lr: float):
        self.params = self._collect(params)
        self.lr = lr
        self.state: list[dict] = [{} for _ in self.params]

    def _set_lr(self, value: float) -> None:
        self._lr = check_real(value, self._who(), "lr", lambda v: v > 0, "a number > 0")

    # The getter is a C attribute lookup (read at every step), not a Python function.
    lr = property(operator.attrgetter("_lr"), _set_lr,
                  doc="The learning rate η; checked whenever it is set (``opt.lr = 0.01`` between steps).")

    def check_grads(self) -> None:
        """Refuse a gradient that is not shaped like its parameter (a hand-set ``param.grad`` would broadcast)."""
        for i, param in enumerate(self.params):
            if param.requires_grad and param.grad.shape != param.data.shape:
                raise InputError(f"{self._who()}: params[{i}] ({param.name or 'unnamed'}) has a gradient of shape "
                                 f"{param.grad.shape} but the parameter has shape {param.data.shape}; write into it "
                                 "(param.grad[...] = g) instead of replacing it, or call zero_grad()")

    def _who(self) -> str:
        return type(self).__name__

    def _collect(self, params) -> list[Parameter]:
        return _parameter_list(params, self._who())

    def zero_grad(self) -> None:
        """Reset the gradient of every parameter to zero (layers accumulate into it)."""
        for param in self.params:
            param.zero_grad()

    def step(self) -> None:
        """Apply one update to every parameter with ``requires_grad`` true."""
        self.check_grads()
        for param, state in zip(self.params, self.state, strict=True):
            if param.requires_grad:
                self._update(param, state)

    def _update(self, param: Parameter, state: dict) -> None:
        raise NotImplementedError(f"{self._who()} does not implement _update")

    def _hyper_repr(self) -> str:
        return f"lr={self.lr}"

    def __repr__(self) -> str:
        return f"{self._who()}({self._hyper_repr()}, {len(self.params)} parameters)"


class SGD(Optimizer):
    r"""Stochastic gradient descent, with optional momentum, dampening, Nesterov momentum and weight decay.

    With :math:`g_t = \partial E / \partial w + \lambda w` (``weight_decay`` :math:`\lambda`), momentum
    :math:`\mu`, dampening :math:`\tau` and the buffer :math:`b` (PyTorch's rule; the first step sets
    :math:`b_1 = g_1`):

    .. math::
        b_t = \mu\, b_{t-1} + (1 - \tau)\, g_t, \qquad
        w^{+} = w - \eta\, b_t \quad\text{or, with Nesterov,}\quad w^{+} = w - \eta\,(g_t + \mu\, b_t)

    With ``momentum=0`` this is the notes' plain step :math:`w^{+} = w - \eta\, \partial E / \partial w`.
    """

    def __init__(self, params, lr: float, momentum: float = 0.0, dampening: float = 0.0, nesterov: bool = False,
                 weight_decay: float = 0.0):
        super().__init__(params, lr)
        who = self._who()
        self.momentum = check_real(momentum, who, "momentum", lambda v: v >= 0, "a number >= 0")
        self.dampening = check_real(dampening, who, "dampening", lambda v: 0 <= v <= 1, "a number in [0, 1]")
        self.weight_decay = _check_weight_decay(weight_decay, who)
        if not isinstance(nesterov, bool):
            raise InputError(f"{who}: nesterov must be True or False, got {nesterov!r}")
        if nesterov and (self.momentum == 0 or self.dampening != 0):
            raise InputError(f"{who}: nesterov=True needs momentum > 0 and dampening = 0, "
                             f"got momentum={momentum!r}, dampening={dampening!r}")
        self.nesterov = nesterov

    def _hyper_repr(self) -> str:
        return (f"lr={self.lr}, momentum={self.momentum}, dampening={self.dampening}, "
                f"nesterov={self.nesterov}, weight_decay={self.weight_decay}")

    def _update(self, param: Parameter, state: dict) -> None:
        g = param.grad + self.weight_decay * param.data if self.weight_decay else param.grad
        if self.momentum:
            if "momentum_buffer" not in state:
                state["momentum_buffer"] = g.copy()
            else:
                buf = state["momentum_buffer"]
                buf *= self.momentum
                buf += (1 - self.dampening) * g
            buf = state["momentum_buffer"]
            g = g + self.momentum * buf if self.nesterov else buf
        param.data -= self.lr * g


class Adam(Optimizer):
    r"""Adam: per-weight step sizes from running averages of the gradient and of its square.

    With :math:`g_t = \partial E / \partial w + \lambda w` at step :math:`t` (counted per parameter, from 1):

    .. math::
        m_t = \beta_1 m_{t-1} + (1 - \beta_1)\, g_t, \qquad
        v_t = \beta_2 v_{t-1} + (1 - \beta_2)\, g_t^2

        \hat m_t = \frac{m_t}{1 - \beta_1^t}, \qquad \hat v_t = \frac{v_t}{1 - \beta_2^t}, \qquad
        w^{+} = w - \eta\, \frac{\hat m_t}{\sqrt{\hat v_t} + \epsilon}

    (Lesson 04 writes :math:`s_t` for :math:`v_t`.) ``weight_decay`` adds :math:`\lambda w` to the gradient
    (PyTorch's ``Adam``); :class:`AdamW` decouples it.

    ``state[i]`` holds parameter i's ``step`` t and its moment estimates ``exp_avg`` (m) and ``exp_avg_sq`` (v),
    shaped like the parameter. When all parameters share a dtype, those arrays are views of two flat buffers,
    ``flat_moments`` (a :class:`~nnlib.kernels.optim.FlatMoments`, else None), so that the fast kernel can update
    every parameter in one pass; the numbers are the same on both paths.
    """

    decoupled = False  # AdamW: the weight decay shrinks the weights instead of joining the gradient

    def __init__(self, params, lr: float = 1e-3, betas: tuple[float, float] = (0.9, 0.999), eps: float = 1e-8,
                 weight_decay: float = 0.0):
        super().__init__(params, lr)
        who = self._who()
        if not isinstance(betas, (tuple, list)) or len(betas) != 2:
            raise InputError(f"{who}: betas must be a pair (beta1, beta2), got {betas!r}")
        self.betas = tuple(check_real(b, who, f"betas[{i}]", lambda v: 0 <= v < 1, "a number in [0, 1)")
                           for i, b in enumerate(betas))
        self.eps = check_real(eps, who, "eps", lambda v: v > 0,
                              "a number > 0 (with eps = 0 a weight whose gradient is 0 becomes 0/0 = NaN)")
        self.weight_decay = _check_weight_decay(weight_decay, who)
        self.flat_moments = FlatMoments.attach(self.params, self.state)
        if self.flat_moments is None:  # mixed dtypes: each parameter keeps its own moment arrays
            for param, state in zip(self.params, self.state, strict=True):
                state.update(step=0, exp_avg=np.zeros_like(param.data), exp_avg_sq=np.zeros_like(param.data))

    def _hyper_repr(self) -> str:
        return f"lr={self.lr}, betas={self.betas}, eps={self.eps}, weight_decay={self.weight_decay}"

    def _update(self, param: Parameter, state: dict) -> None:
        """One step on one parameter: the equations above, line by line (m, v updated in place in ``state``)."""
        beta1, beta2 = self.betas
        if self.decoupled:                                        # AdamW: w ← w (1 − ηλ)
            param.data *= 1 - self.lr * self.weight_decay
        l2 = self.weight_decay and not self.decoupled
        g = param.grad + self.weight_decay * param.data if l2 else param.grad   # g_t = ∂E/∂w (+ λw)
        state["step"] += 1
        t, m, v = state["step"], state["exp_avg"], state["exp_avg_sq"]
        m[...] = beta1 * m + (1 - beta1) * g                      # m_t = β1 m_{t−1} + (1 − β1) g_t
        v[...] = beta2 * v + (1 - beta2) * g**2                   # v_t = β2 v_{t−1} + (1 − β2) g_t²
        v_hat = v / (1 - beta2**t)                                # v̂_t = v_t / (1 − β2^t)
        eta_m_hat = self.lr / (1 - beta1**t) * m                  # η m̂_t, with m̂_t = m_t / (1 − β1^t)
        param.data -= eta_m_hat / (np.sqrt(v_hat) + self.eps)     # w⁺ = w − η m̂_t / (√v̂_t + ε)

    def step(self) -> None:
        """Apply one update to every parameter with ``requires_grad`` true.

        With fast kernels on (:func:`~nnlib.use_fast_kernels`), when every parameter is trainable and all have
        taken the same number of steps, the rule runs once on all of them laid end to end
        (:func:`~nnlib.kernels.optim.adam_step_all`); otherwise :meth:`_update` runs on each. Same numbers.
        """
        flat = self.flat_moments
        if fast_kernels_enabled() and flat is not None and flat.applies(self.params, self.state):
            self.check_grads()
            adam_step_all(self, flat)
        else:
            super().step()


class AdamW(Adam):
    r"""Adam with *decoupled* weight decay (Loshchilov & Hutter): the decay shrinks the weights directly,
    outside the adaptive step, instead of entering the gradient:

    .. math::
        w \leftarrow w\,(1 - \eta\lambda), \qquad \text{then Adam's step with } g_t = \partial E / \partial w

    In ``Adam(weight_decay=λ)`` the term :math:`\lambda w` is divided by :math:`\sqrt{\hat v_t}` like the rest of
    the gradient, so weights with large gradients are barely decayed; here every weight shrinks by the same
    factor. PyTorch's default ``weight_decay=0.01``.
    """

    decoupled = True

    def __init__(self, params, lr: float = 1e-3, betas: tuple[float, float] = (0.9, 0.999), eps: float = 1e-8,
                 weight_decay: float = 0.01):
        super().__init__(params, lr, betas, eps, weight_decay)


class RMSprop(Optimizer):
    r"""RMSProp: divide the gradient by a running root-mean-square of recent gradients (Hinton's rule).

    With :math:`g_t = \partial E / \partial w + \lambda w` and smoothing constant :math:`\alpha`:

    .. math::
        v_t = \alpha\, v_{t-1} + (1 - \alpha)\, g_t^2, \qquad w^{+} = w - \eta\, \frac{g_t}{\sqrt{v_t} + \epsilon}

    ``centered=True`` divides by an estimate of the gradient's standard deviation instead,
    :math:`\sqrt{v_t - \bar g_t^2}` with :math:`\bar g_t` the running mean of :math:`g`; ``momentum`` :math:`\mu`
    keeps a buffer :math:`b_t = \mu b_{t-1} + g_t / (\sqrt{v_t} + \epsilon)` and steps by :math:`\eta b_t`.
    PyTorch's ``torch.optim.RMSprop`` exactly, including :math:`v_0 = 0` (no bias correction, unlike Adam).
    """

    def __init__(self, params, lr: float = 0.01, alpha: float = 0.99, eps: float = 1e-8, weight_decay: float = 0.0,
                 momentum: float = 0.0, centered: bool = False):
        super().__init__(params, lr)
        who = self._who()
        self.alpha = check_real(alpha, who, "alpha", lambda v: 0 <= v < 1, "a number in [0, 1)")
        self.eps = check_real(eps, who, "eps", lambda v: v > 0,
                              "a number > 0 (with eps = 0 a weight whose gradient is 0 becomes 0/0 = NaN)")
        self.weight_decay = _check_weight_decay(weight_decay, who)
        self.momentum = check_real(momentum, who, "momentum", lambda v: v >= 0, "a number >= 0")
        if not isinstance(centered, bool):
            raise InputError(f"{who}: centered must be True or False, got {centered!r}")
        self.centered = centered

    def _hyper_repr(self) -> str:
        return (f"lr={self.lr}, alpha={self.alpha}, eps={self.eps}, weight_decay={self.weight_decay}, "
                f"momentum={self.momentum}, centered={self.centered}")

    def _update(self, param: Parameter, state: dict) -> None:
        g = param.grad + self.weight_decay * param.data if self.weight_decay else param.grad
        if not state:
            state["square_avg"] = np.zeros_like(param.data)
        v = state["square_avg"]
        v *= self.alpha
        v += (1 - self.alpha) * np.square(g)
        if self.centered:
            mean = state.setdefault("grad_avg", np.zeros_like(param.data))
            mean *= self.alpha
            mean += (1 - self.alpha) * g
            denom = np.sqrt(v - np.square(mean))
        else:
            denom = np.sqrt(v)
        denom += self.eps
        step = g / denom
        if self.momentum:
            buf = state.setdefault("momentum_buffer", np.zeros_like(param.data))
            buf *= self.momentum
            buf += step
            step = buf
        param.data -= self.lr * step


RMSProp = RMSprop  # the spelling of the lecture notes and of most textbooks


def _check_weight_decay(value, who: str) -> float:
    return check_real(value, who, "weight_decay", lambda v: v >= 0, "a number >= 0")


# --- gradient clipping -----------------------------------------------------------------------------------

def grad_norm(params: Iterable[Parameter]) -> float:
    r"""The global L2 norm of all trainable gradients, :math:`\sqrt{\sum_p \lVert g_p \rVert^2}`, in float64."""
    params = _parameter_list(params, "grad_norm")
    return float(np.sqrt(sum(float(np.sum(np.square(p.grad, dtype=np.float64))) for p in params if p.requires_grad)))


def clip_grad_norm(params: Iterable[Parameter], max_norm: float) -> float:
    r"""Scale all gradients together so that their global L2 norm is at most ``max_norm`` (``clip_grad_norm_``).

    .. math::
        \lVert g \rVert = \sqrt{\textstyle\sum_p \lVert g_p \rVert^2}, \qquad
        g_p \leftarrow g_p \cdot \frac{\text{max\_norm}}{\lVert g \rVert + 10^{-6}}
        \quad \text{when } \lVert g \rVert > \text{max\_norm}

    One factor for every parameter keeps the gradient's direction; only its length is capped — the remedy for
    exploding gradients in recurrent networks. Frozen parameters (``requires_grad=False``) are left out.
    Returns the total norm *before* clipping (worth logging: spikes show the explosions).
    """
    params = [p for p in _parameter_list(params, "clip_grad_norm") if p.requires_grad]
    max_norm = check_real(max_norm, "clip_grad_norm", "max_norm", lambda v: v > 0, "a number > 0")
    total = grad_norm(params)
    scale = max_norm / (total + 1e-6)
    if scale < 1:
        for param in params:
            param.grad *= scale
    return total


def clip_grad_value(params: Iterable[Parameter], clip_value: float) -> None:
    """Clip every gradient entry to [−clip_value, clip_value] in place (``clip_grad_value_``).

    Unlike :func:`clip_grad_norm` this changes the gradient's direction. Frozen parameters are left out.
    """
    params = _parameter_list(params, "clip_grad_value")
    clip_value = check_real(clip_value, "clip_grad_value", "clip_value", lambda v: v > 0, "a number > 0")
    for param in params:
        if param.requires_grad:
            np.clip(param.grad, -clip_value, clip_value, out=param.grad)
