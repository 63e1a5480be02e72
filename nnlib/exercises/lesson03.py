"""Checks for lesson 03, backpropagation by hand, on the 2-2-2 network of the slides and random 2-2-2 networks.

Reference values come from nnlib's own forward and backward (``Linear`` + ``Sigmoid`` + ``SquaredError``, float64),
never from the formulas under test. The notation is the slides': ``w1 .. w4`` input → hidden, ``w5 .. w8``
hidden → output, one bias ``b1`` shared by both hidden neurons and ``b2`` shared by both outputs, and the notes'
sign convention for the deltas, δ = (t − a)·a(1 − a) = −∂E/∂net.
"""

from __future__ import annotations

from collections.abc import Callable, Mapping

import numpy as np

from ..functional import sigmoid
from ..layers import Linear, Sigmoid
from ..losses import SquaredError
from ._core import Case, check_with_diagnosis

PARAMETERS = ("w1", "w2", "w3", "w4", "b1", "w5", "w6", "w7", "w8", "b2")
SLIDES = {"w1": 0.15, "w2": 0.20, "w3": 0.25, "w4": 0.30, "b1": 0.35,
          "w5": 0.40, "w6": 0.45, "w7": 0.50, "w8": 0.55, "b2": 0.60}
SLIDES_INPUTS, SLIDES_TARGETS = (0.05, 0.10), (0.01, 0.99)

# Where each weight sits in nnlib's (in, out) weight matrices: w1 goes from i1 to h1, so hidden.weight[0, 0].
HIDDEN_WEIGHTS = {"w1": (0, 0), "w2": (1, 0), "w3": (0, 1), "w4": (1, 1)}
OUTPUT_WEIGHTS = {"w5": (0, 0), "w6": (1, 0), "w7": (0, 1), "w8": (1, 1)}


def _networks() -> list[tuple[str, dict, tuple, tuple]]:
    """(label, params, inputs, targets): the slides' network, then two random 2-2-2 networks."""
    rng = np.random.default_rng(3)
    networks = [("the slides' network", dict(SLIDES), SLIDES_INPUTS, SLIDES_TARGETS)]
    for k in (1, 2):
        params = dict(zip(PARAMETERS, rng.uniform(-1, 1, len(PARAMETERS)).tolist(), strict=True))
        inputs, targets = tuple(rng.uniform(0, 1, 2).tolist()), tuple(rng.uniform(0, 1, 2).tolist())
        networks.append((f"random network {k}", params, inputs, targets))
    return networks


def layers_222(params: Mapping) -> tuple[Linear, Linear]:
    """The hidden and output float64 ``Linear(2, 2)`` layers holding ``params`` (named as in PARAMETERS).

    nnlib has one bias per neuron: both neurons of a layer get the slides' shared bias.
    """
    hidden, output = Linear(2, 2, dtype=np.float64), Linear(2, 2, dtype=np.float64)
    for layer, positions, bias in ((hidden, HIDDEN_WEIGHTS, "b1"), (output, OUTPUT_WEIGHTS, "b2")):
        for name, index in positions.items():
            layer.weight.data[index] = params[name]
        layer.bias.data[...] = params[bias]
    return hidden, output


def _backprop(params: Mapping, inputs, targets) -> dict:
    """One forward and backward pass through nnlib layers holding ``params``.

    Returns the hidden and output activations (2,), the output deltas δ_o = −∂E/∂net_o (2,) and
    ``grads``: ∂E/∂parameter for the ten names of PARAMETERS (a shared bias's gradient is the sum over the
    two neurons that use it).
    """
    hidden, output = layers_222(params)
    act_h, act_o, loss = Sigmoid(), Sigmoid(), SquaredError()
    out_h = act_h(hidden(np.array([inputs], dtype=np.float64)))
    out_o = act_o(output(out_h))
    loss(out_o, np.array([targets], dtype=np.float64))
    grad_net_o = act_o.backward(loss.backward())
    hidden.backward(act_h.backward(output.backward(grad_net_o)))
    grads = {name: float(hidden.weight.grad[i]) for name, i in HIDDEN_WEIGHTS.items()}
    grads |= {name: float(output.weight.grad[i]) for name, i in OUTPUT_WEIGHTS.items()}
    grads |= {"b1": float(hidden.bias.grad.sum()), "b2": float(output.bias.grad.sum())}
    return {"out_h": out_h[0], "out_o": out_o[0], "deltas_o": -grad_net_o[0], "grads": grads}


# --- Exercise 3.1: ∂E/∂w5 by the chain rule -----------------------------------------------------------------

def _dE_dw5_cases() -> list[Case]:
    cases = []
    for _, params, inputs, targets in _networks():
        result = _backprop(params, inputs, targets)
        args = (float(result["out_h"][0]), float(result["out_o"][0]), float(targets[0]))
        label = "out_h1={:.6f}, out_o1={:.6f}, target_o1={:.6f}".format(*args)
        cases.append(Case(args, result["grads"]["w5"], label))
    return cases


def check_dE_dw5(fn: Callable) -> None:
    """Exercise 3.1: ``fn(out_h1, out_o1, target_o1)`` returns ∂E/∂w5 = −(t − out_o1)·out_o1(1 − out_o1)·out_h1."""
    mistakes = [
        (lambda h, o, t: (t - o) * o * (1 - o) * h,
         "the sign is flipped: ∂E/∂out_o1 = −(target_o1 − out_o1). For the slides' network ∂E/∂w5 is positive "
         "(w5 must decrease)."),
        (lambda h, o, t: -(t - o) * h,
         "the middle factor ∂out_o1/∂net_o1 = out_o1·(1 − out_o1), the sigmoid's derivative, is missing."),
        (lambda h, o, t: -(t - o) * sigmoid(o) * (1 - sigmoid(o)) * h,
         "out_o1 is already σ(net_o1): ∂out_o1/∂net_o1 = out_o1·(1 − out_o1), not σ(out_o1)·(1 − σ(out_o1))."),
        (lambda h, o, t: -(t - o) * o * (1 - o),
         "the last factor ∂net_o1/∂w5 = out_h1 (what w5 multiplies) is missing."),
    ]
    check_with_diagnosis("Exercise 3.1: dE_dw5", fn, _dE_dw5_cases(), mistakes,
                         "multiply the three factors: −(target_o1 − out_o1) · out_o1·(1 − out_o1) · out_h1.")


# --- Exercise 3.2: the output deltas -------------------------------------------------------------------------

def _output_delta_cases() -> list[Case]:
    rng = np.random.default_rng(4)
    slides = _backprop(SLIDES, SLIDES_INPUTS, SLIDES_TARGETS)
    cases = [Case((slides["out_o"], np.array(SLIDES_TARGETS)), slides["deltas_o"], "the slides' outputs, shape (2,)")]
    for shape in [(4, 3), (1, 2)]:
        sig, loss = Sigmoid(), SquaredError()
        out, target = sig(rng.normal(0, 2, shape)), rng.uniform(0, 1, shape)
        loss(out, target)
        cases.append(Case((out, target), -sig.backward(loss.backward()), f"random outputs of shape {shape}"))
    return cases


def check_output_delta(fn: Callable) -> None:
    """Exercise 3.2: ``fn(out, target)`` returns δ = (target − out)·out·(1 − out), elementwise, out's shape."""
    mistakes = [
        (lambda a, t: (a - t) * a * (1 - a),
         "that is ∂E/∂net = −δ. The notes define δ_k = (t_k − a_k)·a_k(1 − a_k), target minus output, so that "
         "Δw = +ε δ a."),
        (lambda a, t: t - a, "multiply by the sigmoid's derivative ∂a/∂net = a(1 − a)."),
        (lambda a, t: (t - a) * (1 - a), "the sigmoid's derivative is a·(1 − a): the factor a is missing."),
        (lambda a, t: (t - a) * a, "the sigmoid's derivative is a·(1 − a): the factor (1 − a) is missing."),
    ]
    check_with_diagnosis("Exercise 3.2: output_delta", fn, _output_delta_cases(), mistakes,
                         "compute (target - out) * out * (1 - out), elementwise: the result has out's shape.")


# --- Exercise 3.3: a hidden weight, ∂E/∂w1 ------------------------------------------------------------------

def _dE_dw1_cases() -> list[Case]:
    cases = []
    for label, params, inputs, targets in _networks():
        result = _backprop(params, inputs, targets)
        args = (float(inputs[0]), float(result["out_h"][0]), result["deltas_o"], params["w5"], params["w7"])
        cases.append(Case(args, result["grads"]["w1"], label))
    return cases


def check_dE_dw1(fn: Callable) -> None:
    """Exercise 3.3: ``fn(i1, out_h1, deltas_o, w5, w7)`` returns ∂E/∂w1 = −(δ_o1 w5 + δ_o2 w7)·out_h1(1−out_h1)·i1."""
    def rule(i1, h, d, w5, w7, *, back=None, slope=True, last=None):
        back = d[0] * w5 + d[1] * w7 if back is None else back
        return -back * (h * (1 - h) if slope else 1.0) * (i1 if last is None else last)

    mistakes = [
        (lambda i1, h, d, w5, w7: rule(i1, h, d, w5, w7, back=d[0] * w5),
         "out_h1 feeds BOTH outputs: ∂E/∂out_h1 = −(δ_o1·w5 + δ_o2·w7), a sum over the two outputs."),
        (lambda i1, h, d, w5, w7: rule(i1, h, d, w5, w7, back=d[1] * w7),
         "out_h1 feeds BOTH outputs: ∂E/∂out_h1 = −(δ_o1·w5 + δ_o2·w7), a sum over the two outputs."),
        (lambda i1, h, d, w5, w7: -rule(i1, h, d, w5, w7),
         "the sign is flipped: with the notes' δ = −∂E/∂net, ∂E/∂w1 = −(δ_o1·w5 + δ_o2·w7)·out_h1(1 − out_h1)·i1."),
        (lambda i1, h, d, w5, w7: rule(i1, h, d, w5, w7, slope=False),
         "the factor ∂out_h1/∂net_h1 = out_h1·(1 − out_h1) is missing."),
        (lambda i1, h, d, w5, w7: rule(i1, h, d, w5, w7, last=h),
         "∂net_h1/∂w1 is the input i1 that w1 multiplies, not out_h1."),
    ]
    check_with_diagnosis("Exercise 3.3: dE_dw1", fn, _dE_dw1_cases(), mistakes,
                         "−(deltas_o[0] * w5 + deltas_o[1] * w7) * out_h1 * (1 - out_h1) * i1.")


# --- Exercise 3.4: one full step of backpropagation --------------------------------------------------------

def _step(params, eta, inputs, targets, *, sign=1.0, use_eta=True, new_output_weights=False, biases="sum"):
    """One hand-written backprop step, with switches that reproduce the typical mistakes (see check_update_all)."""
    p, (i1, i2), (t1, t2) = params, inputs, targets
    h1, h2 = sigmoid(p["w1"] * i1 + p["w2"] * i2 + p["b1"]), sigmoid(p["w3"] * i1 + p["w4"] * i2 + p["b1"])
    o1, o2 = sigmoid(p["w5"] * h1 + p["w6"] * h2 + p["b2"]), sigmoid(p["w7"] * h1 + p["w8"] * h2 + p["b2"])
    d_o1, d_o2 = (t1 - o1) * o1 * (1 - o1), (t2 - o2) * o2 * (1 - o2)
    lr = sign * (eta if use_eta else 1.0)
    new = dict(p)
    new |= {"w5": p["w5"] + lr * d_o1 * h1, "w6": p["w6"] + lr * d_o1 * h2,
            "w7": p["w7"] + lr * d_o2 * h1, "w8": p["w8"] + lr * d_o2 * h2}
    w = new if new_output_weights else p
    d_h1 = (d_o1 * w["w5"] + d_o2 * w["w7"]) * h1 * (1 - h1)
    d_h2 = (d_o1 * w["w6"] + d_o2 * w["w8"]) * h2 * (1 - h2)
    new |= {"w1": p["w1"] + lr * d_h1 * i1, "w2": p["w2"] + lr * d_h1 * i2,
            "w3": p["w3"] + lr * d_h2 * i1, "w4": p["w4"] + lr * d_h2 * i2}
    if biases == "sum":
        new |= {"b1": p["b1"] + lr * (d_h1 + d_h2), "b2": p["b2"] + lr * (d_o1 + d_o2)}
    elif biases == "first neuron":
        new |= {"b1": p["b1"] + lr * d_h1, "b2": p["b2"] + lr * d_o1}
    return new


def _update_cases() -> list[Case]:
    cases = []
    for (label, params, inputs, targets), eta in zip(_networks(), (0.5, 0.5, 0.1), strict=True):
        grads = _backprop(params, inputs, targets)["grads"]
        cases += [Case((params, eta, inputs, targets, name), params[name] - eta * grads[name],
                       f"{label}, eta={eta}: new {name}") for name in PARAMETERS]
    return cases


def check_update_all(fn: Callable) -> None:
    """Exercise 3.4: ``fn(params, eta, inputs, targets)`` returns the new parameter dict after one backprop step.

    Every case asks for one parameter of the returned dict, so a failure names it.
    """
    def new_value(params, eta, inputs, targets, name):
        result = fn(params, eta, inputs, targets)
        if result is None:
            return None
        if not isinstance(result, Mapping) or set(result) != set(PARAMETERS):
            got = f"a dict with the keys {sorted(result)}" if isinstance(result, Mapping) else type(result).__name__
            raise ValueError(f"return a dict with the keys {', '.join(PARAMETERS)}; got {got}")
        return result[name]

    new_value.__name__ = getattr(fn, "__name__", "your function")

    def mistake(**switches):
        return lambda params, eta, inputs, targets, name: _step(params, eta, inputs, targets, **switches)[name]

    mistakes = [
        (mistake(sign=-1.0), "the step goes uphill: w⁺ = w − η·∂E/∂w (with the notes' δ: w⁺ = w + η·δ·a)."),
        (mistake(new_output_weights=True),
         "the hidden deltas must use the OLD w5 … w8: compute every gradient first, then update all parameters."),
        (mistake(use_eta=False), "multiply every gradient by the learning rate eta."),
        (mistake(biases="none"),
         "update the biases too: ∂E/∂b1 = −(δ_h1 + δ_h2) and ∂E/∂b2 = −(δ_o1 + δ_o2). (The published example "
         "keeps them fixed; this function moves every parameter.)"),
        (mistake(biases="first neuron"),
         "b1 is shared by h1 and h2 (b2 by o1 and o2): its gradient is the SUM of both neurons' contributions, "
         "−(δ_h1 + δ_h2)."),
    ]
    check_with_diagnosis("Exercise 3.4: update_all", new_value, _update_cases(), mistakes,
                         "forward pass with the old parameters; output deltas; hidden deltas with the old w5 … w8; "
                         "then every parameter p ← p − eta·∂E/∂p.")
