"""Checks for lesson 08, LSTM and GRU. Reference values come from nnlib: the cell state of an actual
:class:`nnlib.LSTM` forward, :meth:`nnlib.GRU.num_parameters`, and the last state of a one-step :class:`nnlib.GRU`.

When a learner's answer is wrong, each check also tries the typical mistakes (the gates swapped, the forget gate
forgotten, one bias instead of two, the reset gate in the wrong place, ...) and, if one of them reproduces the
learner's output exactly, names it in the hint.
"""

from __future__ import annotations

from collections.abc import Callable

import numpy as np

from ..functional import sigmoid
from ..layers import GRU, LSTM
from ._core import Case, check_with_diagnosis

# --- Exercise 8.1: the LSTM cell-state update -------------------------------------------------------------


def _lstm_cell_state(c_prev, i, f, g) -> np.ndarray:
    """nnlib's reference: c_1 of a one-step LSTM whose gates are exactly i, f, g (each (N, H)) and c_0 = c_prev.

    Sample n reads the one-hot input e_n, so row n of ``weight_ih`` holds its own pre-activations: σ⁻¹(i), σ⁻¹(f),
    tanh⁻¹(g) (and 0 for the output gate, which c does not use); every other weight and bias is zero.
    """
    n, h = c_prev.shape
    layer = LSTM(n, h, dtype=np.float64)
    for param in layer.parameters():
        param.data[:] = 0.0
    layer.weight_ih.data[:] = np.concatenate([np.log(i / (1 - i)), np.log(f / (1 - f)), np.arctanh(g),
                                              np.zeros_like(g)], axis=1)
    _, (_, c) = layer(np.eye(n)[:, None, :], (np.zeros((n, h)), c_prev))
    return c


def _gate_cases() -> list[Case]:
    rng = np.random.default_rng(81)
    cases = []
    for n, h in [(1, 3), (2, 4), (3, 5), (4, 2)]:
        c_prev = rng.normal(scale=2.0, size=(n, h))               # a cell state is not bounded by ±1
        i, f = rng.uniform(0.05, 0.95, size=(2, n, h))
        g = rng.uniform(-0.95, 0.95, size=(n, h))
        cases.append(Case((c_prev, i, f, g), _lstm_cell_state(c_prev, i, f, g),
                          label=f"c_prev, i, f, g of shape ({n}, {h})"))
    return cases


def check_lstm_cell_update(fn: Callable) -> None:
    """Exercise 8.1: ``fn(c_prev, i, f, g)`` (each (N, H)) returns the new cell state c_t = f ⊙ c_prev + i ⊙ g."""
    mistakes = [
        (lambda c, i, f, g: i * c + f * g, "the input and forget gates are swapped: the FORGET gate f scales the old "
         "cell state (f ⊙ c_prev), the INPUT gate i scales the new candidate (i ⊙ g)."),
        (lambda c, i, f, g: c + i * g, "the forget gate is missing: the old cell state is kept only in the proportion "
         "f, so c_t = f ⊙ c_prev + i ⊙ g (with f = 1 the cell could never forget)."),
        (lambda c, i, f, g: f * c + g, "the input gate is missing: the candidate g enters the cell only in the "
         "proportion i, c_t = f ⊙ c_prev + i ⊙ g."),
        (lambda c, i, f, g: f * c * i * g, "the two terms are ADDED, not multiplied: c_t = f ⊙ c_prev + i ⊙ g. The "
         "sum is what makes the cell path additive, and keeps the gradient alive."),
        (lambda c, i, f, g: np.tanh(f * c + i * g), "no tanh here: the cell state is the plain sum f ⊙ c_prev + i ⊙ g "
         "(tanh comes later, in h_t = o ⊙ tanh(c_t)). A squashing here would bring back the vanishing gradient."),
        (lambda c, i, f, g: f * c + (1 - f) * g, "that is the coupled (GRU-style) update, with 1 − f in place of the "
         "input gate; the LSTM has its own input gate: c_t = f ⊙ c_prev + i ⊙ g."),
    ]
    check_with_diagnosis("Exercise 8.1: lstm_cell_update", fn, _gate_cases(), mistakes,
                         "return f * c_prev + i * g (elementwise products, then a sum; no activation).")


# --- Exercise 8.2: the GRU's parameter count --------------------------------------------------------------

SIZES = [(2, 3), (8, 16), (1, 5), (10, 4), (16, 64), (3, 1)]  # (input_size, hidden_size), never equal


def check_gru_num_parameters(fn: Callable) -> None:
    """Exercise 8.2: ``fn(input_size, hidden_size)`` returns the number of parameters of ``nnlib.GRU`` (and of
    PyTorch's ``nn.GRU``): 3 (I·H + H² + 2H)."""
    cases = [Case((i, h), GRU(i, h).num_parameters(), label=f"input_size={i}, hidden_size={h}") for i, h in SIZES]
    mistakes = [
        (lambda i, h: 3 * (i * h + h * h + h), "one bias per gate is not enough: nnlib, like PyTorch, has two bias "
         "vectors, bias_ih and bias_hh, of 3H each (they matter separately in the candidate, where r multiplies "
         "only h W_hn + b_hn)."),
        (lambda i, h: 4 * (i * h + h * h + 2 * h), "that is the LSTM's count (4 gates: i, f, g, o). The GRU has "
         "3 blocks: the reset gate r, the update gate z and the candidate n."),
        (lambda i, h: 3 * (i * h + h * h), "the biases are missing: bias_ih and bias_hh hold 3H values each."),
        (lambda i, h: i * h + h * h + 2 * h, "that is a vanilla RNN's count: each of the GRU's three blocks (r, z, n) "
         "has its own input weights, hidden weights and two biases."),
        (lambda i, h: i * h + h * h + 6 * h, "the weights must be counted for each of the three blocks too: "
         "weight_ih is (I, 3H) and weight_hh is (H, 3H)."),
        (lambda i, h: 3 * (i * h + i * i + 2 * i), "input_size and hidden_size are swapped: the recurrent weights "
         "map h (H values) to 3H pre-activations, so weight_hh has H·3H entries."),
    ]
    check_with_diagnosis("Exercise 8.2: gru_num_parameters", fn, cases, mistakes,
                         "count the shapes: weight_ih (I, 3H), weight_hh (H, 3H), bias_ih (3H,), bias_hh (3H,).")


# --- Exercise 8.3: one GRU step by hand -------------------------------------------------------------------


def _gru_layer(input_size: int, hidden_size: int, seed: int) -> GRU:
    """A float64 GRU whose biases are all clearly non-zero (so that every bias mistake shows)."""
    layer = GRU(input_size, hidden_size, rng=seed, dtype=np.float64)
    layer.bias_ih.data += 0.5
    layer.bias_hh.data -= 0.3
    return layer


def _gru_cases() -> list[Case]:
    rng = np.random.default_rng(83)
    cases = []
    for seed, (n, i, h) in enumerate([(1, 2, 3), (2, 3, 4), (4, 5, 2), (3, 1, 6)]):
        layer = _gru_layer(i, h, seed)
        x, h_prev = rng.normal(size=(n, i)), rng.uniform(-1, 1, size=(n, h))
        _, expected = layer(x[:, None, :], h_prev)
        cases.append(Case((x, h_prev, layer), expected, label=f"x ({n}, {i}), h_prev ({n}, {h}), GRU({i}, {h})"))
    return cases


def _gru_variant(x, h_prev, layer, *, order=(0, 1), reset_inside=False, swap_z=False, use_bias_hh=True,
                 output="h"):
    """One GRU step with one deliberate deviation from PyTorch's equations (the typical mistakes)."""
    from_x = x @ layer.weight_ih.data + layer.bias_ih.data
    hidden_bias = layer.bias_hh.data if use_bias_hh else 0.0
    from_h = h_prev @ layer.weight_hh.data + hidden_bias
    x_r, x_z, x_n = np.split(from_x, 3, axis=1)
    h_r, h_z, h_n = np.split(from_h, 3, axis=1)
    gates = sigmoid(x_r + h_r), sigmoid(x_z + h_z)
    r, z = gates[order[0]], gates[order[1]]
    if reset_inside:  # Cho et al.'s original: the reset gate before the product, (r ⊙ h) W_hn + b_hn
        w_hn = np.split(layer.weight_hh.data, 3, axis=1)[2]
        b_hn = np.split(layer.bias_hh.data, 3)[2] if use_bias_hh else 0.0
        n = np.tanh(x_n + (r * h_prev) @ w_hn + b_hn)
    else:
        n = np.tanh(x_n + r * h_n)
    if swap_z:
        z = 1 - z
    return n if output == "n" else (1 - z) * n + z * h_prev


def check_gru_step(fn: Callable) -> None:
    """Exercise 8.3: ``fn(x, h_prev, layer)`` with x (N, I), h_prev (N, H) and an ``nnlib.GRU`` returns h_t (N, H),
    the state ``layer`` computes from them."""
    mistakes = [
        (lambda x, h, layer: _gru_variant(x, h, layer, swap_z=True), "z and 1 − z are swapped. In PyTorch's "
         "convention (and nnlib's) z is the share of the OLD state kept: h_t = (1 − z) ⊙ n + z ⊙ h_prev."),
        (lambda x, h, layer: _gru_variant(x, h, layer, order=(1, 0)), "the gates are in the wrong order: the columns "
         "of weight_ih and weight_hh are r, z, n (PyTorch's order), so the first block is the reset gate."),
        (lambda x, h, layer: _gru_variant(x, h, layer, reset_inside=True), "the reset gate multiplies (h_prev W_hn + "
         "b_hn) AFTER the product, not h_prev before it: n = tanh(x W_in + b_in + r ⊙ (h_prev W_hn + b_hn)). "
         "(Cho et al.'s original paper puts it inside; PyTorch and nnlib do not.)"),
        (lambda x, h, layer: _gru_variant(x, h, layer, use_bias_hh=False), "bias_hh is missing: every block adds "
         "both biases, b_ih and b_hh (the candidate's b_hn inside r ⊙ (·))."),
        (lambda x, h, layer: _gru_variant(x, h, layer, output="n"), "you returned the candidate n; the new state "
         "mixes it with the old one: h_t = (1 − z) ⊙ n + z ⊙ h_prev."),
    ]
    check_with_diagnosis("Exercise 8.3: gru_step", fn, _gru_cases(), mistakes,
                         "split x @ W_ih + b_ih and h_prev @ W_hh + b_hh into 3 blocks (r, z, n) with np.split(..., 3, "
                         "axis=1); r, z = σ(sums of their blocks); n = tanh(x-block + r ⊙ h-block); "
                         "h = (1 − z) ⊙ n + z ⊙ h_prev.")
