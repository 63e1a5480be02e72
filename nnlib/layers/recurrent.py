r"""Recurrent layers: RNN, LSTM and GRU, batch-first, with backpropagation through time (BPTT).

Every layer reads a sequence x (N, T, I) and an optional initial state, and returns the whole output sequence
(N, T, H) and the last state — PyTorch's ``batch_first=True`` convention with one layer. ``backward`` takes
dL/d(outputs) and, optionally, dL/d(last state), and returns dL/dx and dL/d(initial state).

The weights use nnlib's ``x @ W`` layout (PyTorch's transposed) with the gates side by side, in PyTorch's order:
``weight_ih`` (I, G·H), ``weight_hh`` (H, G·H), ``bias_ih`` and ``bias_hh`` (G·H,) with G = 1 (RNN), 4 (LSTM, gates
i, f, g, o) or 3 (GRU, gates r, z, n). Two biases, as in PyTorch, so parameter counts match its modules.

BPTT, the idea shared by all three: the forward loop runs ``step`` once per time step and keeps every state; the
backward loop walks time in reverse with ``step_backward``, carrying dL/dh_t back one step at a time
(:math:`\partial h_t / \partial h_{t-1}` is one step's Jacobian); the parameter gradients, sums over time, are then
each one matrix product over all N·T rows at once.

Each layer's ``step`` is the step lesson 08 writes by hand. With :func:`nnlib.fast_kernels_enabled` (the default),
forward and backward run the tuned loops of :mod:`nnlib.kernels.recurrent` instead, which compute the same numbers
and fill the same cache.
"""

from __future__ import annotations

from typing import NamedTuple

import numpy as np

from .._checks import (
    InputError,
    as_rng,
    check_array,
    check_fits_in_memory,
    check_float_dtype,
    check_grad,
    check_positive_int,
)
from ..functional import relu, sigmoid, tanh
from ..init import get as get_init
from ..init import initial_weight
from ..kernels import fast_kernels_enabled
from ..kernels import recurrent as kernels
from ..module import Module, Parameter

__all__ = ["RecurrentLayer", "RNN", "LSTM", "GRU", "RNNCache", "LSTMCache", "GRUCache"]


class RNNCache(NamedTuple):
    """What :class:`RNN` keeps for backward. States are time-major: ``hs[t]`` is :math:`h_t` for the whole batch."""

    x: np.ndarray   #: the input, batch-first (N, T, I)
    hs: np.ndarray  #: every state, time-major (T + 1, N, H): hs[0] = h_0, hs[t] = h_t


class LSTMCache(NamedTuple):
    """What :class:`LSTM` keeps for backward; everything but ``x`` is time-major."""

    x: np.ndarray       #: the input, batch-first (N, T, I)
    hs: np.ndarray      #: hidden states (T + 1, N, H): hs[0] = h_0, hs[t] = h_t
    cs: np.ndarray      #: cell states (T + 1, N, H): cs[0] = c_0, cs[t] = c_t
    gates: np.ndarray   #: i_t, f_t, g_t, o_t side by side (T, N, 4H): ``np.split(gates, 4, axis=2)``
    tanh_c: np.ndarray  #: tanh(c_t) (T, N, H), t = 1 … T


class GRUCache(NamedTuple):
    """What :class:`GRU` keeps for backward; everything but ``x`` is time-major."""

    x: np.ndarray         #: the input, batch-first (N, T, I)
    hs: np.ndarray        #: states (T + 1, N, H): hs[0] = h_0, hs[t] = h_t
    gates: np.ndarray     #: r_t, z_t, n_t side by side (T, N, 3H): ``np.split(gates, 3, axis=2)``
    n_hidden: np.ndarray  #: h_{t−1} W_hn + b_hn (T, N, H), the part of n's pre-activation that r_t multiplies


_TORCH_ONLY = {
    "batch_first": "nnlib's recurrent layers are always batch-first: x is (N, T, features); drop batch_first",
    "num_layers": "nnlib's recurrent layers have one layer; stack several in your own model",
    "bidirectional": "nnlib's recurrent layers run forward in time only",
    "dropout": "put an nnlib Dropout between stacked layers instead",
    "proj_size": "nnlib's LSTM has no projection",
}


def _refuse_torch_options(who: str, options: dict) -> None:
    """PyTorch's constructor options that nnlib does not take, refused by name with what to do instead."""
    for name in options:
        advice = _TORCH_ONLY.get(name, "see the layer's docstring for the arguments it takes")
        raise InputError(f"{who}: unexpected argument {name}={options[name]!r}: {advice}")


class RecurrentLayer(Module):
    """Base of :class:`RNN`, :class:`LSTM` and :class:`GRU`: construction, input checks, parameter gradients.

    Subclasses define ``gates`` (G), ``step`` and ``step_backward``.

    Initialisation is PyTorch's default (every parameter uniform in ±1/√H) unless ``init`` names a scheme of
    :mod:`nnlib.init` or is a function ``(weight, *, rng) -> values``: both weights, (I, G·H) and (H, G·H), then take
    its values and the biases start at zero.
    """

    gates = 1

    def __init__(self, input_size: int, hidden_size: int, bias: bool = True, *, rng=None, dtype=np.float32,
                 init=None, **torch_options):
        who = type(self).__name__
        _refuse_torch_options(who, torch_options)
        self.input_size = check_positive_int(input_size, who, "input_size")
        self.hidden_size = check_positive_int(hidden_size, who, "hidden_size")
        dtype = check_float_dtype(dtype, who)
        rng = as_rng(rng, who)
        width = self.gates * hidden_size
        check_fits_in_memory((input_size + hidden_size, width), who, "the weights")
        scheme = get_init(init, who)
        if scheme is not None:  # both weights from the scheme, (I, G·H) and (H, G·H); biases at zero
            self.weight_ih = Parameter(initial_weight(scheme, (input_size, width), dtype, rng, who), "weight_ih")
            self.weight_hh = Parameter(initial_weight(scheme, (hidden_size, width), dtype, rng, who), "weight_hh")
            self.bias_ih = Parameter(np.zeros(width, dtype), "bias_ih") if bias else None
            self.bias_hh = Parameter(np.zeros(width, dtype), "bias_hh") if bias else None
            return
        bound = 1.0 / np.sqrt(hidden_size)  # PyTorch's default: every parameter uniform in ±1/√H

        def uniform(*shape):
            return rng.uniform(-bound, bound, shape).astype(dtype)

        self.weight_ih = Parameter(uniform(input_size, width), "weight_ih")
        self.weight_hh = Parameter(uniform(hidden_size, width), "weight_hh")
        self.bias_ih = Parameter(uniform(width), "bias_ih") if bias else None
        self.bias_hh = Parameter(uniform(width), "bias_hh") if bias else None

    @property
    def dtype(self) -> np.dtype:
        return self.weight_ih.dtype

    def extra_repr(self) -> str:
        return (f"{self.input_size}, {self.hidden_size}, bias={self.bias_ih is not None}, "
                f"dtype={self.dtype}")

    def _biases(self) -> tuple:
        """(b_ih, b_hh), each (G·H,) — or (0, 0) for a layer built with ``bias=False``."""
        if self.bias_ih is None:
            return 0, 0
        return self.bias_ih.data, self.bias_hh.data

    # --- checks ---------------------------------------------------------------------------------------
    def _check_x(self, x) -> np.ndarray:
        x = check_array(x, self, dtype=self.dtype, finite=True)
        if x.ndim != 3 or x.shape[2] != self.input_size or 0 in x.shape:
            raise InputError(f"{self}: input must have shape (N, T, {self.input_size}) (batch, time, features) "
                             f"with N, T ≥ 1, got {x.shape}"
                             + (" — add the batch axis with x[None]" if x.ndim == 2 else ""))
        return x

    def _state(self, state, batch: int, name: str) -> np.ndarray:
        """An initial state (N, H) — zeros when ``state`` is None."""
        if state is None:
            return np.zeros((batch, self.hidden_size), dtype=self.dtype)
        return check_array(state, self, name=name, shape=(batch, self.hidden_size), dtype=self.dtype,
                           finite=True)

    def _check_grads(self, grad_output, grads_last: tuple, shape: tuple, names=("grad_h_n",)):
        """dL/d(outputs) as time-major (T, N, H) and copies of the last-state gradients; zeros for each None."""
        n, t = shape
        h = self.hidden_size
        if grad_output is None:
            grad_output = np.zeros((t, n, h), dtype=self.dtype)
        else:
            grad_output = check_grad(grad_output, (n, t, h), self, dtype=self.dtype).transpose(1, 0, 2)
        last = [np.zeros((n, h), dtype=self.dtype) if g is None else
                check_array(g, self, name=name, shape=(n, h), dtype=self.dtype).copy()
                for g, name in zip(grads_last, names, strict=True)]
        return grad_output, last

    # --- parameter gradients, all time steps at once ----------------------------------------------------
    def _accumulate(self, x: np.ndarray, h_prev: np.ndarray, d_ih: np.ndarray, d_hh: np.ndarray) -> np.ndarray:
        r"""Add :math:`\sum_t` of each parameter's gradient and return dL/dx (N, T, I).

        x (N, T, I) is the input and h_prev (T, N, H) each step's previous state; d_ih and d_hh (T, N, G·H) are
        dL/d(the pre-activations) on the input side and on the hidden side (the same array except in the GRU):
        :math:`\partial L/\partial W_{ih} = \sum_t x_t^\top \delta_t`,
        :math:`\partial L/\partial W_{hh} = \sum_t h_{t-1}^\top \delta_t`,
        :math:`\partial L/\partial b = \sum_t \delta_t`, :math:`\partial L/\partial x_t = \delta_t W_{ih}^\top`.
        """
        x_tm = x.transpose(1, 0, 2)
        rows = x_tm.shape[0] * x_tm.shape[1]
        width = self.gates * self.hidden_size
        d_ih_rows, d_hh_rows = d_ih.reshape(rows, width), d_hh.reshape(rows, width)
        for param, inputs, delta in ((self.weight_ih, x_tm, d_ih_rows), (self.weight_hh, h_prev, d_hh_rows)):
            if param.requires_grad:
                param.grad += inputs.reshape(rows, -1).T @ delta
        if self.bias_ih is not None and (self.bias_ih.requires_grad or self.bias_hh.requires_grad):
            sum_ih = d_ih_rows.sum(axis=0)
            sum_hh = sum_ih if d_hh is d_ih else d_hh_rows.sum(axis=0)  # RNN, LSTM: one δ, one sum
            for param, delta_sum in ((self.bias_ih, sum_ih), (self.bias_hh, sum_hh)):
                if param.requires_grad:
                    param.grad += delta_sum
        return (d_ih @ self.weight_ih.data.T).transpose(1, 0, 2)


class RNN(RecurrentLayer):
    r"""The vanilla (Elman) recurrent layer, PyTorch's ``nn.RNN(batch_first=True)``.

    .. math::
        h_t = \tanh(net_t), \qquad net_t = x_t W_{ih} + b_{ih} + h_{t-1} W_{hh} + b_{hh}

    ``nonlinearity="relu"`` uses ReLU instead of tanh.

    BPTT: with :math:`\delta_t = \partial L / \partial net_t = (\partial L/\partial h_t) \odot \tanh'(net_t)`, the
    gradient flowing back one step is :math:`\partial L / \partial h_{t-1} \mathrel{+}= \delta_t W_{hh}^\top`, and
    :math:`\partial L / \partial W_{hh} = \sum_t h_{t-1}^\top \delta_t`.

    Shapes: x (N, T, I), h0 (N, H) or None → (output (N, T, H), h_n (N, H)).
    ``backward(grad_output, grad_h_n=None)`` → (dL/dx (N, T, I), dL/dh0 (N, H)). Cache: :class:`RNNCache`.

    Examples::

        >>> import numpy as np, nnlib
        >>> rnn = nnlib.RNN(3, 4, rng=0, dtype=np.float64)
        >>> output, h_n = rnn(np.ones((2, 5, 3)))
        >>> output.shape, rnn.cache.hs.shape
        ((2, 5, 4), (6, 2, 4))
    """

    def __init__(self, input_size: int, hidden_size: int, nonlinearity: str = "tanh", bias: bool = True, *,
                 rng=None, dtype=np.float32, init=None, **torch_options):
        _refuse_torch_options("RNN", torch_options)
        if nonlinearity not in ("tanh", "relu"):
            raise InputError(f"RNN: nonlinearity must be 'tanh' or 'relu', got {nonlinearity!r}")
        self.nonlinearity = nonlinearity
        super().__init__(input_size, hidden_size, bias, rng=rng, dtype=dtype, init=init)

    def extra_repr(self) -> str:
        return super().extra_repr().replace(", bias", f", nonlinearity={self.nonlinearity!r}, bias")

    def activation(self, net: np.ndarray) -> np.ndarray:
        """The layer's nonlinearity, tanh or ReLU, elementwise."""
        return tanh(net) if self.nonlinearity == "tanh" else relu(net)

    def activation_prime(self, h: np.ndarray) -> np.ndarray:
        """The activation's derivative, written with its output h: 1 − h² for tanh, [h > 0] for ReLU."""
        return 1 - h * h if self.nonlinearity == "tanh" else (h > 0).astype(h.dtype)

    def step(self, x_t: np.ndarray, h_prev: np.ndarray) -> np.ndarray:
        """One step, lesson 07's ``rnn_step``: x_t (N, I), h_prev (N, H) → h_t (N, H)."""
        b_ih, b_hh = self._biases()
        return self.activation(x_t @ self.weight_ih.data + b_ih + h_prev @ self.weight_hh.data + b_hh)

    def step_backward(self, grad_h: np.ndarray, h_t: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
        """Back through one step, lesson 07's ``bptt_step`` without dL/dW_hh (summed over all steps afterwards):
        dL/dh_t and h_t (N, H) → δ_t = dL/d net_t (N, H) and dL/dh_{t−1} (N, H)."""
        delta = grad_h * self.activation_prime(h_t)
        return delta, delta @ self.weight_hh.data.T

    def forward(self, x, h0=None):
        x = self._check_x(x)
        h0 = self._state(h0, x.shape[0], "h0")
        if fast_kernels_enabled():
            hs = kernels.rnn_forward(self, x, h0)
        else:
            hs = [h0]
            for t in range(x.shape[1]):
                hs.append(self.step(x[:, t], hs[-1]))
            hs = np.stack(hs)
        self.cache = RNNCache(x, hs)
        return hs[1:].transpose(1, 0, 2).copy(), hs[-1].copy()

    def backward(self, grad_output, grad_h_n=None):
        x, hs = self.cache
        grad_output, (dh,) = self._check_grads(grad_output, (grad_h_n,), x.shape[:2])
        if fast_kernels_enabled():
            delta, dh = kernels.rnn_backward(self, hs, grad_output, dh)
        else:
            delta = np.empty_like(hs[1:])  # δ_t = dL/d net_t, (T, N, H)
            for t in reversed(range(x.shape[1])):
                delta[t], dh = self.step_backward(dh + grad_output[t], hs[t + 1])
        return self._accumulate(x, hs[:-1], delta, delta), dh


class LSTM(RecurrentLayer):
    r"""Long short-term memory, PyTorch's ``nn.LSTM(batch_first=True)``; gates in PyTorch's order i, f, g, o.

    .. math::
        \begin{aligned}
        i_t &= \sigma(x_t W_{ii} + h_{t-1} W_{hi} + b_i) &\quad& \text{input gate}\\
        f_t &= \sigma(x_t W_{if} + h_{t-1} W_{hf} + b_f) && \text{forget gate}\\
        g_t &= \tanh(x_t W_{ig} + h_{t-1} W_{hg} + b_g) && \text{candidate}\\
        o_t &= \sigma(x_t W_{io} + h_{t-1} W_{ho} + b_o) && \text{output gate}\\
        c_t &= f_t \odot c_{t-1} + i_t \odot g_t && \text{cell state: an additive path}\\
        h_t &= o_t \odot \tanh(c_t)
        \end{aligned}

    Backward through the cell path: :math:`\partial L/\partial c_{t-1} = (\partial L/\partial c_t) \odot f_t`, a
    product of forget gates rather than of weight matrices — why gradients survive long sequences.

    Shapes: x (N, T, I), state (h0, c0) each (N, H), or None → (output (N, T, H), (h_n, c_n)).
    ``backward(grad_output, (grad_h_n, grad_c_n)=None)`` → (dL/dx, (dL/dh0, dL/dc0)). Cache: :class:`LSTMCache`.
    """

    gates = 4

    def step(self, x_t: np.ndarray, h_prev: np.ndarray, c_prev: np.ndarray) -> tuple:
        """One step, lesson 08's ``lstm_step``: x_t (N, I), h_prev, c_prev (N, H) → h_t, c_t (N, H) and the gates
        (i, f, g, o), each (N, H)."""
        b_ih, b_hh = self._biases()
        z = x_t @ self.weight_ih.data + b_ih + h_prev @ self.weight_hh.data + b_hh
        z_i, z_f, z_g, z_o = np.split(z, 4, axis=1)
        i, f, g, o = sigmoid(z_i), sigmoid(z_f), tanh(z_g), sigmoid(z_o)
        c = f * c_prev + i * g
        return o * tanh(c), c, (i, f, g, o)

    def step_backward(self, grad_h, grad_c, c_prev, gates, tanh_c) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
        r"""Back through one step: dL/dh_t, dL/dc_t (from later steps), c_{t−1}, the gates (N, 4H) and tanh(c_t)
        → δ_t = dL/d(pre-activations of i, f, g, o) (N, 4H), dL/dh_{t−1} and dL/dc_{t−1} (N, H)."""
        i, f, g, o = np.split(gates, 4, axis=1)
        grad_c = grad_c + grad_h * o * (1 - tanh_c * tanh_c)  # h_t = o ⊙ tanh(c_t)
        d_i = grad_c * g * i * (1 - i)                        # c_t = f ⊙ c_{t−1} + i ⊙ g, then σ' = σ(1 − σ)
        d_f = grad_c * c_prev * f * (1 - f)
        d_g = grad_c * i * (1 - g * g)                        # tanh' = 1 − g²
        d_o = grad_h * tanh_c * o * (1 - o)
        delta = np.concatenate([d_i, d_f, d_g, d_o], axis=1)
        return delta, delta @ self.weight_hh.data.T, grad_c * f  # the additive cell path: ∂c_t/∂c_{t−1} = f_t

    def forward(self, x, state=None):
        x = self._check_x(x)
        h0, c0 = (None, None) if state is None else self._unpack(state, "state")
        h0, c0 = self._state(h0, x.shape[0], "h0"), self._state(c0, x.shape[0], "c0")
        if fast_kernels_enabled():
            cache = LSTMCache(x, *kernels.lstm_forward(self, x, h0, c0))
        else:
            hs, cs, gates = [h0], [c0], []
            for t in range(x.shape[1]):
                h, c, step_gates = self.step(x[:, t], hs[-1], cs[-1])
                hs.append(h)
                cs.append(c)
                gates.append(np.concatenate(step_gates, axis=1))
            cs = np.stack(cs)
            cache = LSTMCache(x, np.stack(hs), cs, np.stack(gates), tanh(cs[1:]))
        self.cache = cache
        hs, cs = cache.hs, cache.cs
        return hs[1:].transpose(1, 0, 2).copy(), (hs[-1].copy(), cs[-1].copy())

    def backward(self, grad_output, grad_state=None):
        x, hs, cs, gates, tanh_c = self.cache
        grad_state = (None, None) if grad_state is None else self._unpack(grad_state, "grad_state")
        grad_output, (dh, dc) = self._check_grads(grad_output, grad_state, x.shape[:2], ("grad_h_n", "grad_c_n"))
        if fast_kernels_enabled():
            delta, dh, dc = kernels.lstm_backward(self, cs, gates, tanh_c, grad_output, dh, dc)
        else:
            delta = np.empty_like(gates)  # dL/d(pre-activations of i, f, g, o), (T, N, 4H)
            for t in reversed(range(x.shape[1])):
                delta[t], dh, dc = self.step_backward(dh + grad_output[t], dc, cs[t], gates[t], tanh_c[t])
        return self._accumulate(x, hs[:-1], delta, delta), (dh, dc)

    def _unpack(self, pair, name: str) -> tuple:
        if not isinstance(pair, (tuple, list)) or len(pair) != 2:
            raise InputError(f"{self}: {name} must be a pair (h, c) of arrays (N, {self.hidden_size}), "
                             f"got {type(pair).__name__}")
        return tuple(pair)


class GRU(RecurrentLayer):
    r"""Gated recurrent unit, PyTorch's ``nn.GRU(batch_first=True)``; gates in PyTorch's order r, z, n.

    .. math::
        \begin{aligned}
        r_t &= \sigma(x_t W_{ir} + b_{ir} + h_{t-1} W_{hr} + b_{hr}) &\quad& \text{reset gate}\\
        z_t &= \sigma(x_t W_{iz} + b_{iz} + h_{t-1} W_{hz} + b_{hz}) && \text{update gate}\\
        n_t &= \tanh\big(x_t W_{in} + b_{in} + r_t \odot (h_{t-1} W_{hn} + b_{hn})\big) && \text{candidate}\\
        h_t &= (1 - z_t) \odot n_t + z_t \odot h_{t-1}
        \end{aligned}

    The reset gate multiplies the hidden side of the candidate only, so the input and hidden sides of the n gate
    get different gradients: ``step_backward`` returns two δ arrays.

    Shapes: x (N, T, I), h0 (N, H) or None → (output (N, T, H), h_n (N, H)).
    ``backward(grad_output, grad_h_n=None)`` → (dL/dx (N, T, I), dL/dh0 (N, H)). Cache: :class:`GRUCache`.
    """

    gates = 3

    def step(self, x_t: np.ndarray, h_prev: np.ndarray) -> tuple:
        """One step, lesson 08's ``gru_step``: x_t (N, I), h_prev (N, H) → h_t (N, H), the gates (r, z, n), each
        (N, H), and h_n = h_prev W_hn + b_hn (N, H), which r multiplies."""
        b_ih, b_hh = self._biases()
        x_r, x_z, x_n = np.split(x_t @ self.weight_ih.data + b_ih, 3, axis=1)
        h_r, h_z, h_n = np.split(h_prev @ self.weight_hh.data + b_hh, 3, axis=1)
        r, z = sigmoid(x_r + h_r), sigmoid(x_z + h_z)
        n = tanh(x_n + r * h_n)
        return (1 - z) * n + z * h_prev, (r, z, n), h_n

    def step_backward(self, grad_h, h_prev, gates, h_n) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
        """Back through one step: dL/dh_t, h_{t−1}, the gates (N, 3H) and h_n = h_{t−1} W_hn + b_hn → dL/d(x W_ih +
        b_ih) and dL/d(h W_hh + b_hh) (N, 3H), and dL/dh_{t−1} (N, H)."""
        r, z, n = np.split(gates, 3, axis=1)
        d_n = grad_h * (1 - z) * (1 - n * n)       # h_t = (1 − z) ⊙ n + z ⊙ h_{t−1}, then tanh' = 1 − n²
        d_z = grad_h * (h_prev - n) * z * (1 - z)  # σ' = σ(1 − σ)
        d_r = d_n * h_n * r * (1 - r)              # n's pre-activation holds r ⊙ h_n
        d_ih = np.concatenate([d_r, d_z, d_n], axis=1)
        d_hh = np.concatenate([d_r, d_z, d_n * r], axis=1)
        return d_ih, d_hh, grad_h * z + d_hh @ self.weight_hh.data.T

    def forward(self, x, h0=None):
        x = self._check_x(x)
        h0 = self._state(h0, x.shape[0], "h0")
        if fast_kernels_enabled():
            cache = GRUCache(x, *kernels.gru_forward(self, x, h0))
        else:
            hs, gates, n_hidden = [h0], [], []
            for t in range(x.shape[1]):
                h, step_gates, h_n = self.step(x[:, t], hs[-1])
                hs.append(h)
                gates.append(np.concatenate(step_gates, axis=1))
                n_hidden.append(h_n)
            cache = GRUCache(x, np.stack(hs), np.stack(gates), np.stack(n_hidden))
        self.cache = cache
        hs = cache.hs
        return hs[1:].transpose(1, 0, 2).copy(), hs[-1].copy()

    def backward(self, grad_output, grad_h_n=None):
        x, hs, gates, n_hidden = self.cache
        grad_output, (dh,) = self._check_grads(grad_output, (grad_h_n,), x.shape[:2])
        if fast_kernels_enabled():
            d_ih, d_hh, dh = kernels.gru_backward(self, hs, gates, n_hidden, grad_output, dh)
        else:
            d_ih, d_hh = np.empty_like(gates), np.empty_like(gates)  # dL/d(x W_ih + b_ih), dL/d(h W_hh + b_hh)
            for t in reversed(range(x.shape[1])):
                d_ih[t], d_hh[t], dh = self.step_backward(dh + grad_output[t], hs[t], gates[t], n_hidden[t])
        return self._accumulate(x, hs[:-1], d_ih, d_hh), dh
