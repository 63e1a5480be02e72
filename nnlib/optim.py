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

from collections.abc import Iterable

import numpy as np

from ._checks import InputError, check_real
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
        self.lr = check_real(lr, self._who(), "lr", lambda v: v > 0, "a number > 0")
        self.state: list[dict] = [{} for _ in self.params]

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

    ``weight_decay`` adds :math:`\lambda w` to the gradient (PyTorch's ``Adam``); :class:`AdamW` decouples it.
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
        self.eps = check_real(eps, who, "eps", lambda v: v >= 0, "a number >= 0")
        self.weight_decay = _check_weight_decay(weight_decay, who)
        self._flat_moments = (_FlatMoments(self.params, self.state)
                              if len({p.dtype for p in self.params}) == 1 else None)
        if self._flat_moments is None:  # mixed dtypes: each parameter keeps its own moment arrays
            for param, state in zip(self.params, self.state, strict=True):
                state.update(step=0, exp_avg=np.zeros_like(param.data), exp_avg_sq=np.zeros_like(param.data))

    def _hyper_repr(self) -> str:
        return f"lr={self.lr}, betas={self.betas}, eps={self.eps}, weight_decay={self.weight_decay}"

    def _update(self, param: Parameter, state: dict) -> None:
        self._decay([param])
        state["step"] += 1
        g = param.grad + self.weight_decay * param.data if self._l2_term() else param.grad
        param.data -= self._adam_step(state["exp_avg"], state["exp_avg_sq"], g, state["step"])

    def _l2_term(self) -> bool:
        """Whether :math:`g_t` includes :math:`\\lambda w` (Adam with weight decay)."""
        return bool(self.weight_decay) and not self.decoupled

    def _decay(self, params: list[Parameter]) -> None:
        """AdamW's decoupled decay, :math:`w \\leftarrow w\\,(1 - \\eta\\lambda)`; nothing for Adam."""
        if self.decoupled and self.weight_decay:
            for param in params:
                param.data *= 1 - self.lr * self.weight_decay

    def _adam_step(self, m: np.ndarray, v: np.ndarray, g: np.ndarray, t: int) -> np.ndarray:
        """Update the moment estimates ``m`` and ``v`` in place with ``g``; return the step
        :math:`\\eta\\, \\hat m_t / (\\sqrt{\\hat v_t} + \\epsilon)` to subtract from the weights. Shapes: all alike."""
        beta1, beta2 = self.betas
        m *= beta1
        m += (1 - beta1) * g
        v *= beta2
        v += (1 - beta2) * np.square(g)
        denom = np.sqrt(v / (1 - beta2**t))
        denom += self.eps
        return (self.lr / (1 - beta1**t)) * m / denom

    def step(self) -> None:
        """Apply one update to every parameter with ``requires_grad`` true.

        When every parameter is trainable and all have taken the same number of steps, the rule runs once on all
        of them laid end to end (:class:`_FlatMoments`): a dozen NumPy calls per step instead of a dozen per
        parameter, which is most of a small model's training time. The numbers are the same either way.
        """
        flat = self._flat_moments
        if flat is None or not flat.can_update(self.params, self.state):
            return super().step()
        self._decay(self.params)
        t = self.state[0]["step"] + 1
        g = flat.gather([p.grad for p in self.params])
        if self._l2_term():
            g += self.weight_decay * np.concatenate([p.data.ravel() for p in self.params])
        flat.subtract_from(self.params, self._adam_step(flat.exp_avg, flat.exp_avg_sq, g, t))
        for state in self.state:
            state["step"] = t


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


class _FlatMoments:
    """Adam's moment estimates of all parameters in two flat buffers; each parameter's state holds views of them.

    Buffers: exp_avg and exp_avg_sq of shape (Σ sizes,); parameter i occupies ``slices[i]``.
    """

    def __init__(self, params: list[Parameter], states: list[dict]):
        ends = np.cumsum([p.size for p in params])
        self.slices = [slice(end - p.size, end) for p, end in zip(params, ends, strict=True)]
        self.exp_avg, self.exp_avg_sq = np.zeros(ends[-1], params[0].dtype), np.zeros(ends[-1], params[0].dtype)
        self._gathered = np.empty_like(self.exp_avg)
        for param, state, part in zip(params, states, self.slices, strict=True):
            state.update(step=0, exp_avg=self.exp_avg[part].reshape(param.shape),
                         exp_avg_sq=self.exp_avg_sq[part].reshape(param.shape))

    @staticmethod
    def can_update(params: list[Parameter], states: list[dict]) -> bool:
        """True when every parameter is trainable and all have taken the same number of steps."""
        first = states[0]["step"]
        return all(p.requires_grad for p in params) and all(s["step"] == first for s in states)

    def gather(self, arrays: list[np.ndarray]) -> np.ndarray:
        """The arrays (one per parameter) laid end to end, (Σ sizes,), in a buffer reused at every call."""
        return np.concatenate([a.ravel() for a in arrays], out=self._gathered)

    def subtract_from(self, params: list[Parameter], step: np.ndarray) -> None:
        """``param.data -= step[its slice]`` for every parameter; step (Σ sizes,)."""
        for param, part in zip(params, self.slices, strict=True):
            param.data -= step[part].reshape(param.shape)


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
        self.eps = check_real(eps, who, "eps", lambda v: v >= 0, "a number >= 0")
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
