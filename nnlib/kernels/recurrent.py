r"""Fast forward and backward loops for :class:`~nnlib.RNN`, :class:`~nnlib.LSTM` and :class:`~nnlib.GRU`.

The layers in :mod:`nnlib.layers.recurrent` run one step at a time, written as lesson 08 writes it; they call these
loops instead when :func:`nnlib.fast_kernels_enabled` is true. Each kernel computes the same arrays as the
reference (tests compare both roads in float64 to 1e-12) and fills the same cache fields, so a cache made by
either road can be read by the other's backward. What the kernels change, and why:

* **One input projection for all steps** (:func:`input_projection`): :math:`x_t W_{ih} + b` for every t in a single
  (N·T, I) × (I, G·H) product, rather than T small ones.
* **σ through tanh**: :math:`\sigma(u) = \tfrac12 + \tfrac12\tanh(u/2)`. With the sigmoid gates' columns of the
  weights and biases halved up front, one ``np.tanh`` per step activates all the gates at once (LSTM: i, f, g, o;
  GRU: r, z) and ``×½ + ½`` turns the sigmoid ones into σ. Halving the weights (I×G·H and H×G·H) costs less than
  halving the projected inputs, the largest array of the forward pass. (Commit 8a44a3b; scaling the weights rather
  than the projection, commit bfa2edb: LSTM 5.06 → 4.5 ms, GRU 4.68 → 4.2 ms forward + backward at T=50, N=32,
  I=16, H=64, float32.)
* **A C-ordered copy of** :math:`W_{hh}^\top` (:func:`transposed_weight_hh`) in every backward loop: with OpenBLAS
  the small per-step products (N, G·H) × (G·H, H) run twice as fast with it as with the transposed view
  (commit bfa2edb).
* **Views and ``out=``**: the fused gate arrays are split into per-gate views once per sequence, not once per
  step (forward −15–20 %, backward −15 %, commit 33e88f3), and every per-step operation writes into preallocated
  arrays (no temporaries in the recursion).
* **Backward factors once per sequence**: the factors that do not depend on the recursion are computed for all
  steps at once, in place. GRU: (1 − z)(1 − n²), r(1 − r)·(h W_hn + b_hn), (h_{t−1} − n) z(1 − z) (−11 % per
  forward + backward, commit fed7ae5). LSTM (:func:`lstm_backward_factors`): o(1 − tanh² c) and each gate's
  derivative times the factor it meets in c_t and h_t, so that a step is seven NumPy calls rather than eighteen, the
  δ of i, f and g being one broadcast product dc ⊙ (N, 3, H). callgrind: backward kernel 19.2 → 17.2 M instructions
  per sequence (−10 %); interleaved medians, 1 thread: 4.58 → 4.27 ms on a loaded machine (−7 %). (Commit 8a44a3b had
  found whole-sequence temporaries of the LSTM's gate derivatives slower; folding in each gate's partner factor as
  well is what removes enough calls from the loop to win.)

* **Whole-block constants** (issue 25): the LSTM's per-step ``tanh(z) · scale + shift`` uses (N, 4H) copies of the
  (4H,) scale and shift, made once per sequence, and :func:`input_projection` adds an (N, G·H) copy of the biases.
  Broadcasting a row over N rows makes NumPy run one inner loop per row; with the whole block it runs one per block
  (1.3 against 2.6 µs a call at N = 32, H = 64; the biases of all steps 53 against 92 µs). Results are the same to
  the bit. callgrind: LSTM forward + backward 57.1 → 56.1 M instructions (scale and shift), → 55.9 M (biases);
  interleaved medians, 1 thread, same process as torch 2.13 (T=50, N=32, I=16, H=64, float32): 5.79 → 5.29 ms,
  1.28 → 1.17× torch (scale and shift; nine runs on a shared machine: new/old 0.84–0.96, nnlib/torch 1.12–1.22
  in seven, 0.91 and 1.62 in two runs the machine's load disturbed). The same tiling of GRU's b_hn in its loop
  measured nothing (51.13 → 51.02 M instructions, new/old 0.94–1.01): not taken.
* **Not taken: feature-major steps** (issue 25). Keeping h_t, c_t as (H, N) and the gates as (4H, N) blocks,
  :math:`z_t^\top = W_{hh}^\top h_{t-1}^\top + (x_t W_{ih} + b)^\top`, makes each gate a contiguous block: an (H, N)
  product costs 0.9 µs against 1.7 µs on an (N, H) view of the (N, 4H) gates. But the layout must be converted
  where it meets the time-major world — x's projection, the output (N, T, H), dL/d(outputs), and δ and h_{t−1} for
  the parameter products over all N·T rows — and these transposing copies of power-of-two-strided arrays cost
  1.5–3.5 ns an element; per-step projection products (T of them) cost three times the single one. Measured, forward
  and backward both feature-major: 60.5 against 57.1 M instructions, 1.02–1.06× the time (interleaved A/B).
  The backward alone, fed time-major caches, spent 0.84 ms converting in and 1.44 ms converting δ out, against
  4.0 ms for the whole time-major backward (loaded machine, same process).

All arrays are time-major, (T, N, ·); ``hs`` and ``cs`` hold T + 1 states, ``hs[0]`` being the initial one.
The kernels assume what the layers check before calling them: shapes, the layer's dtype, finite values, and that
the gradients ``dh``/``dc`` they receive are the caller's own copies (they are updated in place).
"""

from __future__ import annotations

import numpy as np

__all__ = ["input_projection", "transposed_weight_hh", "rnn_forward", "rnn_backward", "lstm_forward",
           "lstm_backward_factors", "lstm_backward", "gru_forward", "gru_backward"]


def input_projection(layer, x: np.ndarray, scale=1, include_bias_hh=True) -> np.ndarray:
    """(x W_ih + b_ih + b_hh) · scale for every time step at once: (N, T, I) → time-major (T, N, G·H).

    ``scale`` and ``include_bias_hh`` may be per-column (G·H,) arrays. Scaling the weights and the biases costs less
    than scaling the result, the largest array of the forward pass.
    """
    projected = x.transpose(1, 0, 2) @ (layer.weight_ih.data * scale)
    if layer.bias_ih is not None:
        bias = (layer.bias_ih.data + layer.bias_hh.data * include_bias_hh) * scale
        projected += np.tile(bias, (x.shape[0], 1))  # (N, G·H), a step's block: one inner loop a step, not a row
    return projected


def transposed_weight_hh(layer) -> np.ndarray:
    """W_hhᵀ (G·H, H) as its own C-ordered array: the backward loop's small products run about twice as fast with it
    than with the transposed view (measured with OpenBLAS, T=50, N=32, H=64)."""
    return np.ascontiguousarray(layer.weight_hh.data.T)


# --- RNN ------------------------------------------------------------------------------------------------------

_ACTIVATE_IN_PLACE = {"tanh": lambda a: np.tanh(a, out=a), "relu": lambda a: np.maximum(a, 0, out=a)}


def rnn_forward(layer, x: np.ndarray, h0: np.ndarray) -> np.ndarray:
    """The states hs (T + 1, N, H) of an :class:`~nnlib.RNN` on x (N, T, I) from h0 (N, H).

    Speeds up: the input projection of all steps in one product; each step computed in its row of hs, in place.
    """
    n, t, _ = x.shape
    hs = np.empty((t + 1, n, layer.hidden_size), dtype=x.dtype)
    hs[0] = h0
    net = input_projection(layer, x)
    weight_hh = layer.weight_hh.data
    activate = _ACTIVATE_IN_PLACE[layer.nonlinearity]
    for step in range(t):
        np.matmul(hs[step], weight_hh, out=hs[step + 1])
        hs[step + 1] += net[step]
        activate(hs[step + 1])
    return hs


def rnn_backward(layer, hs: np.ndarray, grad_output: np.ndarray, dh: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    """δ_t = dL/d net_t for every step (T, N, H), and dL/dh_0 (N, H), of an :class:`~nnlib.RNN`.

    grad_output (T, N, H) is dL/d(outputs), time-major; dh (N, H) is dL/dh_T from later uses of the last state.
    Speeds up: the C-ordered W_hhᵀ.
    """
    delta = np.empty_like(hs[1:])
    weight_hh_t = transposed_weight_hh(layer)
    for step in reversed(range(len(delta))):
        dh += grad_output[step]
        delta[step] = dh * layer.activation_prime(hs[step + 1])
        dh = delta[step] @ weight_hh_t
    return delta, dh


# --- LSTM -----------------------------------------------------------------------------------------------------

def _gate_scale_and_shift(size: int, gates: int, tanh_gates: tuple, dtype) -> tuple[np.ndarray, np.ndarray]:
    """(gates·size,) arrays: scale ½ and shift ½ on the sigmoid gates' columns, 1 and 0 on those in ``tanh_gates``.

    ``tanh(u · scale) · scale + shift`` is then σ(u) on the sigmoid columns and tanh(u) on the others.
    """
    scale = np.full(gates * size, 0.5, dtype=dtype)
    for gate in tanh_gates:
        scale[gate * size:(gate + 1) * size] = 1
    return scale, np.where(scale == 1, 0, scale).astype(dtype)


def lstm_forward(layer, x: np.ndarray, h0: np.ndarray, c0: np.ndarray) -> tuple[np.ndarray, ...]:
    """hs, cs (T + 1, N, H), gates (T, N, 4H) — i, f, g, o side by side — and tanh(c_t) (T, N, H) of an
    :class:`~nnlib.LSTM` on x (N, T, I) from (h0, c0).

    Speeds up: the projection of all steps at once, one tanh for the four gates (σ through tanh), per-gate views
    made once, every per-step operation written into preallocated arrays.
    """
    n, t, _ = x.shape
    hs = np.empty((t + 1, n, layer.hidden_size), dtype=x.dtype)
    cs = np.empty_like(hs)
    hs[0], cs[0] = h0, c0
    scale, shift = _gate_scale_and_shift(layer.hidden_size, 4, (2,), x.dtype)  # g = tanh, i, f, o = σ
    gates = input_projection(layer, x, scale)  # (T, N, 4H): scaled pre-activations, replaced by the gates i, f, g, o
    weight_hh = layer.weight_hh.data * scale
    scale, shift = (np.tile(a, (n, 1)) for a in (scale, shift))  # (N, 4H) like z: one inner loop, 2× faster
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
    return hs, cs, gates, tanh_c


def lstm_backward_factors(cs: np.ndarray, gates: np.ndarray, tanh_c: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    r"""What the LSTM's backward multiplies its running gradients by, for every step at once.

    Returns ``to_gates`` (T, N, 4, H) and ``to_cell`` (T, N, H), so that one step back is

    .. math::
        dc_t \mathrel{+}= dh_t \odot \underbrace{o_t (1 - \tanh^2 c_t)}_{\text{to\_cell}}, \qquad
        \delta_t = \big[dc_t, dc_t, dc_t, dh_t\big] \odot
        \underbrace{\big[g\,\sigma'_i,\; c_{t-1}\,\sigma'_f,\; i\,(1 - g^2),\; \tanh c_t\,\sigma'_o\big]}_{
        \text{to\_gates}}

    with :math:`\sigma' = \sigma(1 - \sigma)`. None of these factors depends on the recursion, so a few passes over
    whole arrays replace ten small operations per step (see :func:`lstm_backward`).
    """
    to_gates = 1 - gates
    to_gates *= gates                                   # σ(1 − σ) for i, f, o (and g(1 − g), replaced next)
    to_gates = to_gates.reshape(*gates.shape[:2], 4, -1)
    i, f, g, o = (to_gates[:, :, gate] for gate in range(4))
    gate_i, _, gate_g, _ = np.split(gates, 4, axis=2)
    np.multiply(gate_g, gate_g, out=g)
    np.subtract(1, g, out=g)                            # tanh' = 1 − g²
    i *= gate_g                                         # c_t = f ⊙ c_{t−1} + i ⊙ g
    f *= cs[:-1]
    g *= gate_i
    o *= tanh_c                                         # h_t = o ⊙ tanh(c_t)
    to_cell = tanh_c * tanh_c
    np.subtract(1, to_cell, out=to_cell)
    to_cell *= gates[:, :, 3 * tanh_c.shape[2]:]
    return to_gates, to_cell


def lstm_backward(layer, cs: np.ndarray, gates: np.ndarray, tanh_c: np.ndarray, grad_output: np.ndarray,
                  dh: np.ndarray, dc: np.ndarray) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """dL/d(pre-activations of i, f, g, o) (T, N, 4H), dL/dh_0 and dL/dc_0 (N, H) of an :class:`~nnlib.LSTM`.

    cs, gates and tanh_c as :func:`lstm_forward` returns them; grad_output (T, N, H) time-major; dh, dc (N, H) are
    dL/dh_T and dL/dc_T. Speeds up: the factors that do not depend on the recursion computed for all steps at once
    (:func:`lstm_backward_factors`), so that a step is seven operations — i, f and g's δ in one broadcast product
    over (N, 3, H) — the C-ordered W_hhᵀ, and every result written in place.
    """
    to_gates, to_cell = lstm_backward_factors(cs, gates, tanh_c)
    grad_output = np.ascontiguousarray(grad_output)  # its steps as contiguous (N, H) blocks: −35 µs a sequence
    delta = np.empty_like(gates)
    by_gate = delta.reshape(to_gates.shape)  # (T, N, 4, H) view of delta
    _, f, _, _ = np.split(gates, 4, axis=2)
    from_h = np.empty_like(dh)
    weight_hh_t = transposed_weight_hh(layer)
    dc_by_gate = dc[:, None, :]
    for step in reversed(range(len(gates))):
        dh += grad_output[step]
        np.multiply(dh, to_cell[step], out=from_h)
        dc += from_h
        np.multiply(dc_by_gate, to_gates[step, :, :3], out=by_gate[step, :, :3])  # i, f, g
        np.multiply(dh, to_gates[step, :, 3], out=by_gate[step, :, 3])            # o
        dc *= f[step]  # the additive cell path: ∂c_t/∂c_{t−1} = f_t
        np.matmul(delta[step], weight_hh_t, out=dh)
    return delta, dh, dc


# --- GRU ------------------------------------------------------------------------------------------------------

def gru_forward(layer, x: np.ndarray, h0: np.ndarray) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """hs (T + 1, N, H), gates (T, N, 3H) — r, z, n side by side — and n_hidden = h_{t−1} W_hn + b_hn (T, N, H) of a
    :class:`~nnlib.GRU` on x (N, T, I) from h0.

    Speeds up: the projection of all steps at once, one tanh for r and z (σ through tanh), per-gate views made once,
    the state update h_t = n + z ⊙ (h_{t−1} − n) in place.
    """
    n, t, _ = x.shape
    size = layer.hidden_size
    hs = np.empty((t + 1, n, size), dtype=x.dtype)
    hs[0] = h0
    b_hh = np.zeros(3 * size, x.dtype) if layer.bias_hh is None else layer.bias_hh.data
    scale, _ = _gate_scale_and_shift(size, 3, (2,), x.dtype)  # r, z = σ, n = tanh
    # (T, N, 3H), scaled: r and z add both biases; n's b_hn sits inside r ⊙ (·), so it is added in the loop
    from_x = input_projection(layer, x, scale, include_bias_hh=scale < 1)
    weight_hh = layer.weight_hh.data * scale
    n_hidden = np.empty((t, n, size), dtype=x.dtype)  # h W_hn + b_hn, which r multiplies: kept for backward
    gates = np.empty_like(from_x)                      # (T, N, 3H): r, z, n
    r, z, candidate = np.split(gates, 3, axis=2)       # views (T, N, H), made once: cheaper than per step
    x_rz, x_n, r_z = from_x[:, :, :2 * size], from_x[:, :, 2 * size:], gates[:, :, :2 * size]
    for step in range(t):
        from_h = hs[step] @ weight_hh
        rz, n_t, h = r_z[step], candidate[step], hs[step + 1]
        np.add(x_rz[step], from_h[:, :2 * size], out=rz)
        np.tanh(rz, out=rz)
        rz *= 0.5
        rz += 0.5
        np.add(from_h[:, 2 * size:], b_hh[2 * size:], out=n_hidden[step])
        np.multiply(r[step], n_hidden[step], out=n_t)
        n_t += x_n[step]
        np.tanh(n_t, out=n_t)
        np.subtract(hs[step], n_t, out=h)  # h_t = n + z ⊙ (h_{t−1} − n)
        h *= z[step]
        h += n_t
    return hs, gates, n_hidden


def gru_backward(layer, hs: np.ndarray, gates: np.ndarray, n_hidden: np.ndarray, grad_output: np.ndarray,
                 dh: np.ndarray) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """dL/d(x W_ih + b_ih) and dL/d(h W_hh + b_hh) (T, N, 3H), and dL/dh_0 (N, H), of a :class:`~nnlib.GRU`.

    The two δ differ in n's block only, which r multiplies on the hidden side. hs, gates and n_hidden as
    :func:`gru_forward` returns them; grad_output (T, N, H) time-major; dh (N, H) is dL/dh_T. Speeds up: the
    factors that do not depend on the recursion computed for all steps at once, in place; ``out=`` products in the
    loop; the C-ordered W_hhᵀ.
    """
    size = layer.hidden_size
    r, z, candidate = np.split(gates, 3, axis=2)
    to_n = 1 - z                                   # dL/d(n's pre-activation) = dh ⊙ (1 − z)(1 − n²)
    to_n *= 1 - candidate * candidate
    to_r = 1 - r                                   # dL/d(r's pre-activation) = that ⊙ n_hidden r(1 − r)
    to_r *= r
    to_r *= n_hidden
    to_z = hs[:-1] - candidate                     # dL/d(z's pre-activation) = dh ⊙ (h_{t−1} − n) z(1 − z)
    to_z *= z
    to_z *= 1 - z
    d_ih = np.empty_like(gates)
    d_hh = np.empty_like(gates)
    d_r, d_z, d_n = np.split(d_ih, 3, axis=2)
    d_hn = d_hh[:, :, 2 * size:]
    from_later = np.empty_like(dh)
    weight_hh_t = transposed_weight_hh(layer)
    for step in reversed(range(len(gates))):
        dh += grad_output[step]
        np.multiply(dh, to_n[step], out=d_n[step])
        np.multiply(d_n[step], to_r[step], out=d_r[step])
        np.multiply(dh, to_z[step], out=d_z[step])
        d_hh[step, :, :2 * size] = d_ih[step, :, :2 * size]
        np.multiply(d_n[step], r[step], out=d_hn[step])
        np.matmul(d_hh[step], weight_hh_t, out=from_later)
        dh *= z[step]  # h_t = (1 − z) ⊙ n + z ⊙ h_{t−1}
        dh += from_later
    return d_ih, d_hh, dh
