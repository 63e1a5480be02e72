r"""Recurrent layers: RNN, LSTM and GRU, batch-first, with backpropagation through time (BPTT).

Every layer reads a sequence x (N, T, I) and an optional initial state, and returns the whole output sequence
(N, T, H) and the last state — PyTorch's ``batch_first=True`` convention with one layer. ``backward`` takes
dL/d(outputs) and, optionally, dL/d(last state), and returns dL/dx and dL/d(initial state).

The weights use nnlib's ``x @ W`` layout (PyTorch's transposed) with the gates side by side, in PyTorch's order:
``weight_ih`` (I, G·H), ``weight_hh`` (H, G·H), ``bias_ih`` and ``bias_hh`` (G·H,) with G = 1 (RNN), 4 (LSTM, gates
i, f, g, o) or 3 (GRU, gates r, z, n). Two biases, as in PyTorch, so parameter counts match its modules.

BPTT, the idea shared by all three: the forward loop stores every state; the backward loop walks time in reverse,
carrying dL/dh_t back one step at a time (:math:`\partial h_t / \partial h_{t-1}` is one step's Jacobian); the
parameter gradients, sums over time, are then each one matrix product over all N·T rows at once.
"""

from __future__ import annotations

import numpy as np

from .._checks import InputError, as_rng, check_array, check_float_dtype, check_grad, check_positive_int
from ..module import Module, Parameter

__all__ = ["RNN", "LSTM", "GRU"]


class _Recurrent(Module):
    """Shared construction, input checks and parameter gradients; subclasses define the cell."""

    gates = 1

    def __init__(self, input_size: int, hidden_size: int, bias: bool = True, *, rng=None, dtype=np.float32):
        who = type(self).__name__
        self.input_size = check_positive_int(input_size, who, "input_size")
        self.hidden_size = check_positive_int(hidden_size, who, "hidden_size")
        dtype = check_float_dtype(dtype, who)
        rng = as_rng(rng, who)
        width = self.gates * hidden_size
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

    def _input_projection(self, x: np.ndarray, scale=1, include_bias_hh=True) -> np.ndarray:
        """(x W_ih + b_ih + b_hh) · scale for every time step at once: (N, T, I) → time-major (T, N, G·H).

        ``scale`` and ``include_bias_hh`` may be per-column (G·H,) arrays. Scaling the weights and the biases costs
        less than scaling the result, the largest array of the forward pass.
        """
        projected = x.transpose(1, 0, 2) @ (self.weight_ih.data * scale)
        if self.bias_ih is not None:
            projected += (self.bias_ih.data + self.bias_hh.data * include_bias_hh) * scale
        return projected

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

    def _transposed_weight_hh(self) -> np.ndarray:
        """W_hhᵀ (G·H, H) as its own C-ordered array: the backward loop's small products run about twice as fast
        with it than with the transposed view (measured with OpenBLAS)."""
        return np.ascontiguousarray(self.weight_hh.data.T)

    # --- parameter gradients, all time steps at once ----------------------------------------------------
    def _accumulate(self, x_tm: np.ndarray, h_prev: np.ndarray, d_ih: np.ndarray, d_hh: np.ndarray) -> np.ndarray:
        """Add Σ_t of each parameter's gradient and return dL/dx (N, T, I).

        x_tm (T, N, I) and h_prev (T, N, H) are each step's inputs; d_ih and d_hh (T, N, G·H) are dL/d(the
        pre-activations) on the input side and on the hidden side (the same array except in the GRU).
        """
        rows = x_tm.shape[0] * x_tm.shape[1]
        width = self.gates * self.hidden_size
        d_ih_rows, d_hh_rows = d_ih.reshape(rows, width), d_hh.reshape(rows, width)
        for param, inputs, delta in ((self.weight_ih, x_tm, d_ih_rows), (self.weight_hh, h_prev, d_hh_rows)):
            if param.requires_grad:
                param.grad += inputs.reshape(rows, -1).T @ delta
        for param, delta in ((self.bias_ih, d_ih_rows), (self.bias_hh, d_hh_rows)):
            if param is not None and param.requires_grad:
                param.grad += delta.sum(axis=0)
        return (d_ih @ self.weight_ih.data.T).transpose(1, 0, 2)


class RNN(_Recurrent):
    r"""The vanilla (Elman) recurrent layer, PyTorch's ``nn.RNN(batch_first=True)``.

    .. math::
        h_t = \tanh(x_t W_{ih} + b_{ih} + h_{t-1} W_{hh} + b_{hh})

    ``nonlinearity="relu"`` uses ReLU instead of tanh.

    BPTT: with :math:`\delta_t = \partial L / \partial net_t = (\partial L/\partial h_t) \odot \tanh'(net_t)`, the
    gradient flowing back one step is :math:`\partial L / \partial h_{t-1} \mathrel{+}= \delta_t W_{hh}^\top`, and
    :math:`\partial L / \partial W_{hh} = \sum_t h_{t-1}^\top \delta_t`.

    Shapes: x (N, T, I), h0 (N, H) or None → (output (N, T, H), h_n (N, H)).
    ``backward(grad_output, grad_h_n=None)`` → (dL/dx (N, T, I), dL/dh0 (N, H)).
    """

    def __init__(self, input_size: int, hidden_size: int, nonlinearity: str = "tanh", bias: bool = True, *,
                 rng=None, dtype=np.float32):
        if nonlinearity not in ("tanh", "relu"):
            raise InputError(f"RNN: nonlinearity must be 'tanh' or 'relu', got {nonlinearity!r}")
        self.nonlinearity = nonlinearity
        super().__init__(input_size, hidden_size, bias, rng=rng, dtype=dtype)

    def extra_repr(self) -> str:
        return super().extra_repr().replace(", bias", f", nonlinearity={self.nonlinearity!r}, bias")

    def _activate(self, net: np.ndarray) -> np.ndarray:
        return np.tanh(net) if self.nonlinearity == "tanh" else np.maximum(net, 0)

    def _activation_prime(self, h: np.ndarray) -> np.ndarray:
        """The activation's derivative, written with its output h: 1 − h² for tanh, [h > 0] for ReLU."""
        return 1 - h * h if self.nonlinearity == "tanh" else (h > 0).astype(h.dtype)

    def forward(self, x, h0=None):
        x = self._check_x(x)
        n, t, _ = x.shape
        hs = np.empty((t + 1, n, self.hidden_size), dtype=self.dtype)  # hs[0] = h0, hs[k] = h_k (time-major)
        hs[0] = self._state(h0, n, "h0")
        net = self._input_projection(x)
        for step in range(t):
            hs[step + 1] = self._activate(net[step] + hs[step] @ self.weight_hh.data)
        self._cache = (x, hs)
        return hs[1:].transpose(1, 0, 2).copy(), hs[-1].copy()

    def backward(self, grad_output, grad_h_n=None):
        x, hs = self._saved()
        grad_output, (dh,) = self._check_grads(grad_output, (grad_h_n,), x.shape[:2])
        delta = np.empty_like(hs[1:])  # δ_t = dL/d net_t, (T, N, H)
        weight_hh_t = self._transposed_weight_hh()
        for step in reversed(range(x.shape[1])):
            dh += grad_output[step]
            delta[step] = dh * self._activation_prime(hs[step + 1])
            dh = delta[step] @ weight_hh_t
        return self._accumulate(x.transpose(1, 0, 2), hs[:-1], delta, delta), dh


class LSTM(_Recurrent):
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
    ``backward(grad_output, (grad_h_n, grad_c_n)=None)`` → (dL/dx, (dL/dh0, dL/dc0)).
    """

    gates = 4

    def forward(self, x, state=None):
        x = self._check_x(x)
        n, t, _ = x.shape
        h0, c0 = (None, None) if state is None else self._unpack(state, "state")
        hs = np.empty((t + 1, n, self.hidden_size), dtype=self.dtype)
        cs = np.empty_like(hs)
        hs[0], cs[0] = self._state(h0, n, "h0"), self._state(c0, n, "c0")
        # σ(u) = ½ + ½ tanh(u/2): with the i, f, o columns of the pre-activation halved, one tanh activates all
        # four gates; then ×½ + ½ turns those three into sigmoids and leaves g = tanh as it is.
        scale, shift = self._gate_scale_and_shift()
        gates = self._input_projection(x, scale)  # (T, N, 4H): scaled pre-activations, replaced by the gates i, f, g, o
        weight_hh = self.weight_hh.data * scale
        i, f, g, o = np.split(gates, 4, axis=2)  # views (T, N, H) of each gate, made once: cheaper than per step
        tanh_c = np.empty_like(hs[1:])
        input_times_candidate = np.empty_like(hs[0])
        for step in range(t):
            z = gates[step]
            z += hs[step] @ weight_hh
            np.tanh(z, out=z)
            z *= scale
            z += shift
            np.multiply(f[step], cs[step], out=cs[step + 1])
            np.multiply(i[step], g[step], out=input_times_candidate)
            cs[step + 1] += input_times_candidate
            np.tanh(cs[step + 1], out=tanh_c[step])
            np.multiply(o[step], tanh_c[step], out=hs[step + 1])
        self._cache = (x, hs, cs, tanh_c, gates)
        return hs[1:].transpose(1, 0, 2).copy(), (hs[-1].copy(), cs[-1].copy())

    def _gate_scale_and_shift(self) -> tuple[np.ndarray, np.ndarray]:
        """(4H,) arrays: ½ for the sigmoid gates i, f, o and 1 for g; shift ½ for i, f, o and 0 for g."""
        size = self.hidden_size
        scale = np.full(4 * size, 0.5, dtype=self.dtype)
        scale[2 * size:3 * size] = 1
        return scale, np.where(scale == 1, 0, scale).astype(self.dtype)

    def _gates_prime(self, gates: np.ndarray) -> np.ndarray:
        """The activations' derivatives, from the gates (N, 4H): σ' = σ(1 − σ) for i, f, o and 1 − g² for g."""
        prime = gates * (1 - gates)
        g = gates[:, 2 * self.hidden_size:3 * self.hidden_size]
        prime[:, 2 * self.hidden_size:3 * self.hidden_size] = 1 - g * g
        return prime

    def backward(self, grad_output, grad_state=None):
        x, hs, cs, tanh_c, gates = self._saved()
        grad_state = (None, None) if grad_state is None else self._unpack(grad_state, "grad_state")
        grad_output, (dh, dc) = self._check_grads(grad_output, grad_state, x.shape[:2], ("grad_h_n", "grad_c_n"))
        delta = np.empty_like(gates)  # dL/d(pre-activations of i, f, g, o), (T, N, 4H)
        i, f, g, o = np.split(gates, 4, axis=2)
        d_i, d_f, d_g, d_o = np.split(delta, 4, axis=2)
        weight_hh_t = self._transposed_weight_hh()
        for step in reversed(range(x.shape[1])):
            dh += grad_output[step]
            dc += dh * o[step] * (1 - tanh_c[step] * tanh_c[step])  # h_t = o ⊙ tanh(c_t)
            # dL/d(each gate) from c_t = f ⊙ c_{t−1} + i ⊙ g and h_t = o ⊙ tanh(c_t) ...
            np.multiply(dc, g[step], out=d_i[step])
            np.multiply(dc, cs[step], out=d_f[step])
            np.multiply(dc, i[step], out=d_g[step])
            np.multiply(dh, tanh_c[step], out=d_o[step])
            # ... then through its activation, to its pre-activation
            delta[step] *= self._gates_prime(gates[step])
            dc *= f[step]  # the additive cell path: ∂c_t/∂c_{t−1} = f_t
            dh = delta[step] @ weight_hh_t
        return self._accumulate(x.transpose(1, 0, 2), hs[:-1], delta, delta), (dh, dc)

    def _unpack(self, pair, name: str) -> tuple:
        if not isinstance(pair, (tuple, list)) or len(pair) != 2:
            raise InputError(f"{self}: {name} must be a pair (h, c) of arrays (N, {self.hidden_size}), "
                             f"got {type(pair).__name__}")
        return tuple(pair)


class GRU(_Recurrent):
    r"""Gated recurrent unit, PyTorch's ``nn.GRU(batch_first=True)``; gates in PyTorch's order r, z, n.

    .. math::
        \begin{aligned}
        r_t &= \sigma(x_t W_{ir} + b_{ir} + h_{t-1} W_{hr} + b_{hr}) &\quad& \text{reset gate}\\
        z_t &= \sigma(x_t W_{iz} + b_{iz} + h_{t-1} W_{hz} + b_{hz}) && \text{update gate}\\
        n_t &= \tanh\big(x_t W_{in} + b_{in} + r_t \odot (h_{t-1} W_{hn} + b_{hn})\big) && \text{candidate}\\
        h_t &= (1 - z_t) \odot n_t + z_t \odot h_{t-1}
        \end{aligned}

    The reset gate multiplies the hidden side of the candidate only, so the input and hidden sides of the n gate
    get different gradients: ``_accumulate`` receives two δ arrays.

    Shapes: x (N, T, I), h0 (N, H) or None → (output (N, T, H), h_n (N, H)).
    ``backward(grad_output, grad_h_n=None)`` → (dL/dx (N, T, I), dL/dh0 (N, H)).
    """

    gates = 3

    def forward(self, x, h0=None):
        x = self._check_x(x)
        n, t, _ = x.shape
        size = self.hidden_size
        hs = np.empty((t + 1, n, size), dtype=self.dtype)
        hs[0] = self._state(h0, n, "h0")
        b_hh = np.zeros(3 * size, self.dtype) if self.bias_hh is None else self.bias_hh.data
        # σ(u) = ½ + ½ tanh(u/2): the r and z columns of both pre-activations are halved up front, so one tanh,
        # one ×½ and one +½ per step activate both gates.
        scale = np.where(np.arange(3 * size) < 2 * size, 0.5, 1).astype(self.dtype)
        # (T, N, 3H), scaled: r and z add both biases; n's b_hn sits inside r ⊙ (·), so it is added in the loop
        from_x = self._input_projection(x, scale, include_bias_hh=scale < 1)
        weight_hh = self.weight_hh.data * scale
        h_hat = np.empty((t, n, size), dtype=self.dtype)     # h W_hn + b_hn, which r multiplies: kept for backward
        gates = np.empty_like(from_x)                        # (T, N, 3H): r, z, n
        r, z, candidate = np.split(gates, 3, axis=2)         # views (T, N, H), made once: cheaper than per step
        x_rz, x_n, r_z = from_x[:, :, :2 * size], from_x[:, :, 2 * size:], gates[:, :, :2 * size]
        for step in range(t):
            from_h = hs[step] @ weight_hh
            rz, n_t, h = r_z[step], candidate[step], hs[step + 1]
            np.add(x_rz[step], from_h[:, :2 * size], out=rz)
            np.tanh(rz, out=rz)
            rz *= 0.5
            rz += 0.5
            np.add(from_h[:, 2 * size:], b_hh[2 * size:], out=h_hat[step])
            np.multiply(r[step], h_hat[step], out=n_t)
            n_t += x_n[step]
            np.tanh(n_t, out=n_t)
            np.subtract(hs[step], n_t, out=h)  # h_t = n + z ⊙ (h_{t−1} − n)
            h *= z[step]
            h += n_t
        self._cache = (x, hs, gates, h_hat)
        return hs[1:].transpose(1, 0, 2).copy(), hs[-1].copy()

    def backward(self, grad_output, grad_h_n=None):
        x, hs, gates, h_hat = self._saved()
        grad_output, (dh,) = self._check_grads(grad_output, (grad_h_n,), x.shape[:2])
        size = self.hidden_size
        r, z, candidate = np.split(gates, 3, axis=2)
        # The factors that do not depend on the recursion, for all steps at once (in place: no big temporaries).
        to_n = 1 - z                                   # dL/d(n's pre-activation) = dh ⊙ (1 − z)(1 − n²)
        to_n *= 1 - candidate * candidate
        to_r = 1 - r                                   # dL/d(r's pre-activation) = that ⊙ h_hat r(1 − r)
        to_r *= r
        to_r *= h_hat
        to_z = hs[:-1] - candidate                     # dL/d(z's pre-activation) = dh ⊙ (h_{t−1} − n) z(1 − z)
        to_z *= z
        to_z *= 1 - z
        d_ih = np.empty_like(gates)  # dL/d(x W_ih + b_ih), gates r, z, n
        d_hh = np.empty_like(gates)  # dL/d(h W_hh + b_hh): the same except n's, which r multiplies
        d_r, d_z, d_n = np.split(d_ih, 3, axis=2)
        d_hn = d_hh[:, :, 2 * size:]
        from_later = np.empty_like(dh)
        weight_hh_t = self._transposed_weight_hh()
        for step in reversed(range(x.shape[1])):
            dh += grad_output[step]
            np.multiply(dh, to_n[step], out=d_n[step])
            np.multiply(d_n[step], to_r[step], out=d_r[step])
            np.multiply(dh, to_z[step], out=d_z[step])
            d_hh[step, :, :2 * size] = d_ih[step, :, :2 * size]
            np.multiply(d_n[step], r[step], out=d_hn[step])
            np.matmul(d_hh[step], weight_hh_t, out=from_later)
            dh *= z[step]  # h_t = (1 − z) ⊙ n + z ⊙ h_{t−1}
            dh += from_later
        return self._accumulate(x.transpose(1, 0, 2), hs[:-1], d_ih, d_hh), dh
