"""Checks for lesson 08, LSTM and GRU. Reference values come from nnlib: the cell state of an actual
:class:`nnlib.LSTM` forward, :meth:`nnlib.GRU.num_parameters`, and the last state of a one-step :class:`nnlib.GRU`.

When a learner's answer is wrong, each check also tries the typical mistakes (the gates swapped, the forget gate
forgotten, one bias instead of two, the reset gate in the wrong place, ...) and, if one of them reproduces the
learner's output exactly, names it in the hint.
"""

from __future__ import annotations

from collections.abc import Callable

import numpy as np

from ..data import make_delayed_recall
from ..functional import sigmoid
from ..kernels import use_fast_kernels
from ..layers import GRU, LSTM, Embedding, Linear
from ..losses import CrossEntropyLoss
from ..models import SequenceModel
from ..optim import Adam
from ._core import Case, check_with_diagnosis
from .lesson07 import (
    Failure,
    compare_with_reference,
    gradcheck_stage,
    require_subclass,
    run_build_check,
    same_training,
    training_losses,
)

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


# --- Exercise 8.2: open the forget gate ---------------------------------------------------------------------

FORGET_CASES = [(3, 4, 1.0, 0), (2, 5, 4.0, 1), (1, 2, -2.0, 2)]  # (input_size, hidden_size, b, seed)


def gate_bias_sums(open_gate: Callable, input_size: int, hidden_size: int, b: float, seed: int) -> np.ndarray:
    """bias_ih + bias_hh (4H,) of a fresh float64 LSTM after ``open_gate(layer, b)``: what each gate sees."""
    layer = LSTM(input_size, hidden_size, rng=seed, dtype=np.float64)
    open_gate(layer, b)
    return layer.bias_ih.data + layer.bias_hh.data


def set_block(block: int | None, *, both: bool = False, keep_hh: bool = False) -> Callable:
    """An ``open_gate(layer, b)`` that writes b into gate block ``block`` (0 = i, 1 = f, 2 = g, 3 = o; None = all) of
    bias_ih and 0 into bias_hh's (right for block 1) — or b into bias_ih only (``keep_hh``), or into both (``both``)."""
    def open_gate(layer, value):
        h = layer.hidden_size
        part = slice(block * h, (block + 1) * h) if block is not None else slice(None)
        layer.bias_ih.data[part] = value
        if not keep_hh:
            layer.bias_hh.data[part] = value if both else 0.0
    return open_gate


def check_open_forget_gate(fn: Callable) -> None:
    """Exercise 8.2: ``fn(layer, b)`` sets an ``nnlib.LSTM``'s forget-gate bias so that bias_ih + bias_hh is exactly
    b on the forget gate's block [H:2H] and unchanged elsewhere (in place; the return value is ignored)."""
    def run(input_size, hidden_size, b, seed):
        return gate_bias_sums(fn, input_size, hidden_size, b, seed)

    def mistake(**options):
        return lambda i, h, b, seed: gate_bias_sums(set_block(**options), i, h, b, seed)

    run.__name__ = getattr(fn, "__name__", "your function")
    cases = [Case(args, gate_bias_sums(set_block(1), *args), f"LSTM({args[0]}, {args[1]}), b = {args[2]}")
             for args in FORGET_CASES]
    mistakes = [
        (mistake(block=0), "that is the INPUT gate's block: the gates sit side by side in PyTorch's order i, f, "
         "g, o, so the forget gate is the second block, [H:2H]."),
        (mistake(block=2), "that is the candidate g's block: the forget gate is the second of i, f, g, o, "
         "[H:2H]."),
        (mistake(block=3), "that is the OUTPUT gate's block: the forget gate is the second of i, f, g, o, "
         "[H:2H]."),
        (mistake(block=1, keep_hh=True), "the gate sees bias_ih + bias_hh: setting bias_ih alone leaves "
         "bias_hh's random values in the sum; set bias_hh's forget block to 0."),
        (mistake(block=1, both=True), "the gate sees the SUM bias_ih + bias_hh: with b in both it gets 2b. "
         "Put b in one and 0 in the other."),
        (mistake(block=None), "only the forget gate's block changes, [H:2H]: the other gates keep their biases."),
    ]
    check_with_diagnosis("Exercise 8.2: open_forget_gate", run, cases, mistakes,
                         "H = layer.hidden_size; layer.bias_ih.data[H:2 * H] = b; layer.bias_hh.data[H:2 * H] = 0.")


# --- Exercise 8.3: the GRU's parameter count --------------------------------------------------------------

SIZES = [(2, 3), (8, 16), (1, 5), (10, 4), (16, 64), (3, 1)]  # (input_size, hidden_size), never equal


def check_gru_num_parameters(fn: Callable) -> None:
    """Exercise 8.3: ``fn(input_size, hidden_size)`` returns the number of parameters of ``nnlib.GRU`` (and of
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
    check_with_diagnosis("Exercise 8.3: gru_num_parameters", fn, cases, mistakes,
                         "count the shapes: weight_ih (I, 3H), weight_hh (H, 3H), bias_ih (3H,), bias_hh (3H,).")


# --- Exercise 8.4: one GRU step by hand -------------------------------------------------------------------


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
    """Exercise 8.4: ``fn(x, h_prev, layer)`` with x (N, I), h_prev (N, H) and an ``nnlib.GRU`` returns h_t (N, H),
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
    check_with_diagnosis("Exercise 8.4: gru_step", fn, _gru_cases(), mistakes,
                         "split x @ W_ih + b_ih and h_prev @ W_hh + b_hh into 3 blocks (r, z, n) with np.split(..., 3, "
                         "axis=1); r, z = σ(sums of their blocks); n = tanh(x-block + r ⊙ h-block); "
                         "h = (1 − z) ⊙ n + z ⊙ h_prev.")


# --- Exercise 8.5 (build): the LSTM cell, one step forward and one step back ---------------------------------

LSTM_CASES = [(2, 3, 4), (3, 2, 5), (1, 4, 3), (4, 1, 2)]  # (N, I, H), I ≠ H so that a mixed-up matrix shows
GATES = "ifgo"


def lstm_step_inputs(k: int) -> dict:
    """Case k: x_t, h_prev, c_prev and the gradients arriving at h_t and c_t (float64)."""
    n, i, h = LSTM_CASES[k]
    rng = np.random.default_rng(850 + k)
    return {"x_t": rng.normal(size=(n, i)), "h_prev": rng.uniform(-1, 1, (n, h)), "c_prev": rng.normal(0, 1.5, (n, h)),
            "grad_h": rng.normal(size=(n, h)), "grad_c": rng.normal(size=(n, h))}


def step_results(step_output) -> dict:
    """The named results of ``step``: h, c and each gate; :class:`Failure` unless it is (h, c, (i, f, g, o))."""
    try:
        h, c, gates = step_output
        gates = dict(zip(GATES, gates, strict=True))
    except (TypeError, ValueError) as err:
        raise Failure(f"step returned {type(step_output).__name__}, which is not (h, c, (i, f, g, o)) ({err})",
                      "return three things: h_t, c_t and the tuple of the four gates (i, f, g, o), like nnlib's "
                      "LSTM.step — forward keeps the gates for backward.") from None
    return {"h": h, "c": c, **{f"gate {name}": gate for name, gate in gates.items()}}


def backward_results(output, blocks: str) -> dict:
    """The named results of an LSTM or GRU ``step_backward``: δ per gate block, then the state gradients."""
    names = ("delta", "dh_prev", "dc_prev") if blocks == GATES else ("d_ih", "d_hh", "dh_prev")
    try:
        values = dict(zip(names, output, strict=True))
    except (TypeError, ValueError):
        raise Failure(f"step_backward returned {type(output).__name__}, not the {len(names)} arrays "
                      f"({', '.join(names)})", f"return the tuple ({', '.join(names)}) like nnlib's step_backward.") \
            from None
    results = {}
    for name in names:
        value = np.asarray(values[name], dtype=np.float64)
        if name in ("delta", "d_ih", "d_hh") and value.ndim == 2 and value.shape[1] % len(blocks) == 0:
            for gate, block in zip(blocks, np.split(value, len(blocks), axis=1), strict=True):
                results[f"{name} of gate {gate}"] = block
        else:
            results[name] = value
    return results


def lstm_forward_variant(layer: LSTM, inputs: dict, mistake: str = "") -> tuple:
    """nnlib's LSTM step forward written out, with one deliberate forward ``mistake``: (h, c, (i, f, g, o))."""
    W_ih, W_hh, b_ih, b_hh = (p.data for p in (layer.weight_ih, layer.weight_hh, layer.bias_ih, layer.bias_hh))
    z = inputs["x_t"] @ W_ih + b_ih + inputs["h_prev"] @ W_hh + (0 if mistake == "no bias_hh" else b_hh)
    blocks = dict(zip("ifog" if mistake == "order i, f, o, g" else GATES, np.split(z, 4, axis=1), strict=True))
    i, f, o = (sigmoid(blocks[name]) for name in "ifo")
    g = sigmoid(blocks["g"]) if mistake == "sigmoid candidate" else np.tanh(blocks["g"])
    c = f * inputs["c_prev"] + i * g
    return o * (c if mistake == "h without tanh" else np.tanh(c)), c, (i, f, g, o)


def lstm_step_variant(layer: LSTM, inputs: dict, mistake: str = "") -> dict:
    """Forward and back through one LSTM step with one deliberate ``mistake`` (see LSTM_MISTAKES); the backward
    gets the right forward quantities, as in the check."""
    _, c, (i, f, g, o) = lstm_forward_variant(layer, inputs)
    c_prev, grad_h, grad_c, tanh_c = inputs["c_prev"], inputs["grad_h"], inputs["grad_c"], np.tanh(c)
    prime = (lambda s: sigmoid(s) * (1 - sigmoid(s))) if mistake == "σ' of the gate value" else (lambda s: s * (1 - s))
    from_h = grad_h * o * (1 if mistake == "no tanh' on the h path" else 1 - tanh_c**2)
    total_c = from_h if mistake == "incoming grad_c ignored" else grad_c + from_h
    d = {"i": total_c * g * prime(i), "f": total_c * c_prev * prime(f),
         "g": total_c * i * (g * (1 - g) if mistake == "σ' for the candidate" else 1 - g**2),
         "o": grad_h * (c if mistake == "o with c" else tanh_c) * prime(o)}
    delta = np.concatenate([d[name] for name in GATES], axis=1)
    dc_prev = {"dc_prev without f": total_c, "dc_prev without the h path": grad_c * f}.get(mistake, total_c * f)
    return {**step_results(lstm_forward_variant(layer, inputs, mistake)),
            **backward_results((delta, delta @ layer.weight_hh.data.T, dc_prev), GATES)}


LSTM_MISTAKES = [
    ("order i, f, o, g", "the blocks are in PyTorch's order i, f, g, o (the candidate g third, the output gate o "
     "last); i, f, o, g is CS231n's order."),
    ("no bias_hh", "every gate adds both biases: x_t @ W_ih + b_ih + h_prev @ W_hh + b_hh."),
    ("sigmoid candidate", "the candidate g is squashed with tanh (values in (−1, 1)); only i, f and o are sigmoids."),
    ("h without tanh", "the output is h_t = o ⊙ tanh(c_t): squash the cell state before the output gate."),
    ("no tanh' on the h path", "on the way from h_t to c_t, multiply by tanh's derivative: grad_c += grad_h ⊙ o ⊙ "
     "(1 − tanh(c_t)²), using the given tanh_c."),
    ("incoming grad_c ignored", "c_t receives gradient from two places: grad_c (from step t + 1's cell path) PLUS "
     "grad_h ⊙ o ⊙ (1 − tanh_c²) (through h_t): add them."),
    ("σ' of the gate value", "the gates are already σ(z): σ'(z) = i ⊙ (1 − i) (and f(1 − f), o(1 − o)), not "
     "σ(i)(1 − σ(i))."),
    ("σ' for the candidate", "g is a tanh: its derivative is 1 − g², not g(1 − g)."),
    ("o with c", "h_t = o ⊙ tanh(c_t), so δ_o = grad_h ⊙ tanh(c_t) ⊙ o(1 − o): tanh(c_t), not c_t."),
    ("dc_prev without f", "going back along the cell path multiplies by the forget gate: dc_prev = grad_c ⊙ f "
     "(∂c_t/∂c_{t−1} = diag(f_t))."),
    ("dc_prev without the h path", "dc_prev = (total gradient at c_t) ⊙ f, where the total includes the part that "
     "came through h_t, grad_h ⊙ o ⊙ (1 − tanh_c²) — add it before multiplying by f."),
]


def lstm_hint(quantity: str) -> str:
    """The fallback hint for the first quantity of the LSTM build that differs from nnlib."""
    if quantity in ("h", "c") or quantity.startswith("gate"):
        return ("z = x_t @ W_ih + b_ih + h_prev @ W_hh + b_hh; split it in 4 (i, f, g, o); i, f, o = σ(·), "
                "g = tanh(·); c = f ⊙ c_prev + i ⊙ g; h = o ⊙ tanh(c); return h, c, (i, f, g, o).")
    return ("grad_c = grad_c + grad_h ⊙ o ⊙ (1 − tanh_c²); δ_i = grad_c ⊙ g ⊙ i(1 − i), δ_f = grad_c ⊙ c_prev ⊙ "
            "f(1 − f), δ_g = grad_c ⊙ i ⊙ (1 − g²), δ_o = grad_h ⊙ tanh_c ⊙ o(1 − o); delta = the four side by side; "
            "dh_prev = delta @ W_hh.T; dc_prev = grad_c ⊙ f.")


def run_lstm_step(layer: LSTM, inputs: dict) -> dict:
    """``layer.step`` then ``layer.step_backward`` on one case, with nnlib's own forward quantities for the backward."""
    x_t, h_prev, c_prev = (inputs[name].copy() for name in ("x_t", "h_prev", "c_prev"))
    results = step_results(layer.step(x_t, h_prev, c_prev))
    reference = LSTM.step(layer, inputs["x_t"], inputs["h_prev"], inputs["c_prev"])  # the backward's inputs
    gates, tanh_c = np.concatenate(reference[2], axis=1), np.tanh(reference[1])
    grads = layer.step_backward(inputs["grad_h"].copy(), inputs["grad_c"].copy(), inputs["c_prev"].copy(),
                                gates, tanh_c)
    return {**results, **backward_results(grads, GATES)}


def lstm_reference_stage(cls: type) -> str:
    """Stage 1: step and step_backward against nnlib's on the LSTM_CASES."""
    results, expected, variants, labels = [], [], [], []
    for k, (n, i, h) in enumerate(LSTM_CASES):
        reference, inputs = LSTM(i, h, rng=k, dtype=np.float64), lstm_step_inputs(k)
        results.append(run_lstm_step(cls(i, h, rng=k, dtype=np.float64), inputs))
        expected.append(run_lstm_step(reference, inputs))
        variants.append({mistake: lstm_step_variant(reference, inputs, mistake) for mistake, _ in LSTM_MISTAKES})
        labels.append(f"x_t ({n}, {i}), states ({n}, {h})")
    compare_with_reference(results, expected, labels, variants.__getitem__, LSTM_MISTAKES, lstm_hint)
    return (f"step and step_backward equal nnlib.LSTM's (h, c, 4 gates, δ of each gate, dh_prev, dc_prev) on "
            f"{len(LSTM_CASES)} random batches")


def recall_batches() -> list[tuple]:
    """Eight mini-batches (ids (16, 7), y (16,)) of the delayed-recall task (delay 6): 4 batches, twice."""
    ids, y = make_delayed_recall(64, 6, rng=8)
    return [(ids[s:s + 16], y[s:s + 16]) for s in range(0, 64, 16)] * 2


def recall_plug_in_stage(cls: type, reference: type) -> str:
    """Stage 3: delayed recall with the learner's layer (its step, on nnlib's reference loop) against nnlib's."""
    losses = []
    with use_fast_kernels(False):  # the fast kernels would bypass step and step_backward
        for layer_class in (cls, reference):
            model = SequenceModel(layer_class(4, 8, rng=6, dtype=np.float64), Linear(8, 4, rng=7, dtype=np.float64),
                                  Embedding(8, 4, rng=8, dtype=np.float64), last_step=True)
            losses.append(training_losses(model, CrossEntropyLoss(), Adam(model.parameters(), lr=0.05),
                                          recall_batches()))
    return same_training(losses[0], losses[1], f"SequenceModel(Embedding, your {reference.__name__}, Linear) on "
                         "delayed recall", "the step checks passed, so look at what a sequence adds: every step "
                         "must use only its arguments and the layer's parameters (no state kept on self).")


def layer_gradcheck_stage(cls: type, state_pair: bool) -> str:
    """Stage 2: ``nnlib.gradcheck`` of a whole learner layer (forward and backward through its steps), 3 steps."""
    rng = np.random.default_rng(86)
    x, h0, c0 = rng.normal(size=(2, 3, 3)), rng.uniform(-1, 1, (2, 2)), rng.normal(size=(2, 2))
    with use_fast_kernels(False):
        return gradcheck_stage(cls(3, 2, rng=9, dtype=np.float64), x, (h0, c0) if state_pair else h0)


def check_lstm_cell(cls) -> None:
    """Exercise 8.5: ``cls`` is the learner's ``MyLSTM(nnlib.LSTM)`` with its own ``step(x_t, h_prev, c_prev)`` →
    ``(h, c, (i, f, g, o))`` and ``step_backward(grad_h, grad_c, c_prev, gates, tanh_c)`` →
    ``(delta (N, 4H), dh_prev, dc_prev)``, the API of nnlib's LSTM, whose forward and backward loops call them.

    Three checks: (1) both methods against nnlib.LSTM's on random float64 inputs of several shapes; (2)
    ``nnlib.gradcheck`` of the layer running on them; (3) plug-in: it trains on delayed recall like nnlib's LSTM.
    """
    run_build_check("Exercise 8.5: MyLSTM", [
        lambda: require_subclass(cls, LSTM, "MyLSTM", ("step", "step_backward")),
        lambda: lstm_reference_stage(cls), lambda: layer_gradcheck_stage(cls, state_pair=True),
        lambda: recall_plug_in_stage(cls, LSTM),
    ], lstm_hint("delta"))


# --- Exercise 8.6 (challenge): the GRU step backward ----------------------------------------------------------

def gru_step_inputs(k: int) -> dict:
    """Case k of LSTM_CASES's shapes: x_t, h_prev and the gradient arriving at h_t (float64)."""
    n, i, h = LSTM_CASES[k]
    rng = np.random.default_rng(860 + k)
    return {"x_t": rng.normal(size=(n, i)), "h_prev": rng.uniform(-1, 1, (n, h)), "grad_h": rng.normal(size=(n, h))}


def run_gru_step_backward(layer: GRU, inputs: dict) -> dict:
    """``layer.step_backward`` on one case, fed with nnlib's own forward step."""
    _, gates, h_n = GRU.step(layer, inputs["x_t"], inputs["h_prev"])
    output = layer.step_backward(inputs["grad_h"].copy(), inputs["h_prev"].copy(), np.concatenate(gates, axis=1),
                                 h_n.copy())
    return backward_results(output, "rzn")


def gru_backward_variant(layer: GRU, inputs: dict, mistake: str = "") -> dict:
    """nnlib's GRU step backward written out with one deliberate ``mistake`` (see GRU_MISTAKES)."""
    grad_h, h_prev = inputs["grad_h"], inputs["h_prev"]
    _, (r, z, n), h_n = GRU.step(layer, inputs["x_t"], h_prev)
    d_n = grad_h * (1 - z) * (1 if mistake == "no tanh'" else 1 - n**2)
    d_z = grad_h * ((n - h_prev) if mistake == "z sign" else (h_prev - n)) * z * (1 - z)
    d_r = d_n * (h_prev if mistake == "r with h_prev" else h_n) * r * (1 - r)
    d_ih = np.concatenate([d_r, d_z, d_n], axis=1)
    d_hh = d_ih if mistake == "no r on the hidden side" else np.concatenate([d_r, d_z, d_n * r], axis=1)
    direct = 0 if mistake == "no direct path" else grad_h * z
    return backward_results((d_ih, d_hh, direct + d_hh @ layer.weight_hh.data.T), "rzn")


GRU_MISTAKES = [
    ("no direct path", "h_t = (1 − z) ⊙ n + z ⊙ h_prev also depends on h_prev DIRECTLY: dh_prev = grad_h ⊙ z + "
     "d_hh @ W_hh.T."),
    ("no r on the hidden side", "the reset gate multiplies the hidden side of the candidate, r ⊙ (h W_hn + b_hn): "
     "its block of d_hh is δ_n ⊙ r, while d_ih's is δ_n."),
    ("z sign", "∂h_t/∂z = h_prev − n (z keeps the OLD state): δ_z = grad_h ⊙ (h_prev − n) ⊙ z(1 − z)."),
    ("r with h_prev", "r multiplies h_n = h_prev @ W_hn + b_hn (the argument given), not h_prev: δ_r = δ_n ⊙ h_n ⊙ "
     "r(1 − r)."),
    ("no tanh'", "n = tanh(·): δ_n = grad_h ⊙ (1 − z) ⊙ (1 − n²)."),
]


def gru_hint(quantity: str) -> str:
    return ("δ_n = grad_h ⊙ (1 − z) ⊙ (1 − n²); δ_z = grad_h ⊙ (h_prev − n) ⊙ z(1 − z); δ_r = δ_n ⊙ h_n ⊙ r(1 − r); "
            "d_ih = [δ_r, δ_z, δ_n], d_hh = [δ_r, δ_z, δ_n ⊙ r]; dh_prev = grad_h ⊙ z + d_hh @ W_hh.T.")


def gru_reference_stage(cls: type) -> str:
    """Stage 1: step_backward against nnlib's GRU on random cases."""
    results, expected, variants, labels = [], [], [], []
    for k, (n, i, h) in enumerate(LSTM_CASES):
        reference, inputs = _gru_layer(i, h, k), gru_step_inputs(k)
        mine = cls(i, h, rng=k, dtype=np.float64)
        for mine_param, param in zip(mine.parameters(), reference.parameters(), strict=True):
            mine_param.data[...] = param.data
        results.append(run_gru_step_backward(mine, inputs))
        expected.append(run_gru_step_backward(reference, inputs))
        variants.append({mistake: gru_backward_variant(reference, inputs, mistake) for mistake, _ in GRU_MISTAKES})
        labels.append(f"x_t ({n}, {i}), h_prev ({n}, {h})")
    compare_with_reference(results, expected, labels, variants.__getitem__, GRU_MISTAKES, gru_hint)
    return f"step_backward equals nnlib.GRU's (d_ih, d_hh per gate, dh_prev) on {len(LSTM_CASES)} random batches"


def check_gru_step_backward(cls) -> None:
    """Exercise 8.6 (challenge): ``cls`` is the learner's ``MyGRU(nnlib.GRU)`` with its own ``step_backward(grad_h,
    h_prev, gates, h_n)`` → ``(d_ih, d_hh, dh_prev)``; checked against nnlib, by gradcheck and on delayed recall."""
    run_build_check("Exercise 8.6 (challenge): MyGRU", [
        lambda: require_subclass(cls, GRU, "MyGRU", ("step_backward",)),
        lambda: gru_reference_stage(cls), lambda: layer_gradcheck_stage(cls, state_pair=False),
        lambda: recall_plug_in_stage(cls, GRU),
    ], gru_hint(""))
