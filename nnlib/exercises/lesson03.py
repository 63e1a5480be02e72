"""Checks for lesson 03, backpropagation by hand, on the 2-2-2 network of the slides and random 2-2-2 networks.

Reference values come from nnlib's own forward and backward (``Linear`` + ``Sigmoid`` + ``SquaredError``, float64),
never from the formulas under test. The notation is the slides': ``w1 .. w4`` input → hidden, ``w5 .. w8``
hidden → output, one bias ``b1`` shared by both hidden neurons and ``b2`` shared by both outputs, and the notes'
sign convention for the deltas, δ = (t − a)·a(1 − a) = −∂E/∂net.

The build exercises (3.6, 3.7: the learner's ``Linear`` module) are checked three ways: against nnlib's ``Linear`` on
random float64 inputs, by ``nnlib.gradcheck``, and plugged into the slides' 2-2-2 network, whose first SGD step must
give the published new weights.
"""

from __future__ import annotations

from collections.abc import Callable, Mapping
from typing import Any

import numpy as np

from ..functional import sigmoid
from ..gradcheck import gradcheck
from ..layers import Linear, Sigmoid
from ..losses import SquaredError
from ..module import Module, Parameter, Sequential
from ..optim import SGD
from ._core import FAILED, NOT_DONE, PASSED, Case, check_with_diagnosis, compare, report

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


# --- Shared machinery of the build exercises: run a learner's class, never raise ----------------------------
# (public because lesson 04's checks use it too; it would sit well in _core)

PUBLISHED_NEW_WEIGHTS = {"w1": 0.149780716, "w2": 0.19956143, "w3": 0.24975114, "w4": 0.29950229,
                         "w5": 0.35891648, "w6": 0.408666186, "w7": 0.511301270, "w8": 0.561370121}
PUBLISHED_TOLERANCE = 5e-9  # the worked example publishes 8 or 9 decimals


class Verdict(Exception):
    """Raised inside a check to stop at the first problem: ``Verdict(status, message)``, reported by the caller."""

    def __init__(self, status: str, message: str):
        super().__init__(message)
        self.status, self.message = status, message


def failure(message: str, hint: str) -> Verdict:
    return Verdict(FAILED, f"{message}\n   Hint: {hint}")


def call_learner(what: str, function: Callable, *args, hint: str):
    """``function(*args)``; NotImplementedError becomes ⏳, any other exception ❌ naming ``what`` and ``hint``."""
    try:
        return function(*args)
    except NotImplementedError:
        raise Verdict(NOT_DONE, f"{what} is not implemented yet: replace the `raise NotImplementedError` line.") \
            from None
    except Verdict:
        raise
    except Exception as err:  # a learner's bug is feedback, not a crash
        raise failure(f"{what} raised {type(err).__name__}: {err}", hint) from None


def run_check(title: str, body: Callable[[], str]) -> None:
    """Report ``body()``'s success message as ✅, or the Verdict it raises."""
    try:
        status, message = PASSED, body()
    except Verdict as verdict:
        status, message = verdict.status, verdict.message
    report(title, status, message)


def same(expected, got, rtol: float = 1e-9, atol: float = 1e-12) -> bool:
    return compare(expected, got, rtol, atol) is None


def matching_mistake(got, mistakes: list[tuple[Any, str]]) -> str | None:
    """The explanation of the first ``(value, why)`` whose value ``got`` equals: the typical mistake made."""
    return next((why for value, why in mistakes if value is not None and same(value, got)), None)


# --- Exercise 3.5: the squared error's gradient -------------------------------------------------------------

def _squared_error_grad_cases() -> list[Case]:
    rng = np.random.default_rng(35)
    slides_out = _backprop(SLIDES, SLIDES_INPUTS, SLIDES_TARGETS)["out_o"]
    pairs = [(slides_out, np.array(SLIDES_TARGETS), "the slides' outputs, shape (2,)")]
    pairs += [(rng.uniform(0, 1, shape), rng.uniform(0, 1, shape), f"random outputs of shape {shape}")
              for shape in [(4, 3), (1, 2)]]
    cases = []
    for out, target, label in pairs:
        loss = SquaredError()
        loss(out, target)
        cases.append(Case((out, target), loss.backward(), label))
    return cases


def check_squared_error_grad(fn: Callable) -> None:
    """Exercise 3.5: ``fn(out, target)`` returns ∂E/∂out = −(target − out) for E = Σ ½(target − out)², out's shape."""
    mistakes = [
        (lambda a, t: t - a, "the sign is flipped: ∂E/∂out = −(target − out) = out − target. When the output is "
                             "too big the error grows with it, so the gradient is positive."),
        (lambda a, t: -2 * (t - a), "the ½ in E = Σ ½(target − out)² cancels the 2 of the square's derivative."),
        (lambda a, t: -(t - a) / a.shape[0], "E is a SUM over the outputs and the batch, not a mean: do not divide "
                                             "by the batch size."),
        (lambda a, t: 0.5 * (t - a) ** 2, "that is the error itself, elementwise; its derivative is −(target − out)."),
    ]
    check_with_diagnosis("Exercise 3.5: squared_error_grad", fn, _squared_error_grad_cases(), mistakes,
                         "return out - target (that is −(target − out)), elementwise: the result has out's shape.")


# --- Exercises 3.6 and 3.7: the learner's Linear layer ------------------------------------------------------

LINEAR_SHAPES = [((5, 3), 3), ((4, 3), 2), ((1, 2), 4), ((2, 3, 4), 3)]  # (x's shape, out_features); square first
LINEAR_HINT = ("forward: self.cache = MyLinearCache(x); return x @ self.weight.data + self.bias.data. backward: "
               "flatten the leading axes, weight.grad += x2dᵀ δ2d, bias.grad += δ2d.sum(axis=0), return δ Wᵀ.")


def _learner_linear(layer_class, in_features: int, out_features: int, reference: Linear) -> Module:
    """``layer_class(in, out)`` holding ``reference``'s float64 weight and bias; a Verdict when it cannot."""
    name = getattr(layer_class, "__name__", "your class")
    layer = call_learner(f"{name}({in_features}, {out_features})", layer_class, in_features, out_features,
                  hint="pass the class itself (MyLinear, not MyLinear(...)); its __init__ takes "
                       "(in_features, out_features).")
    if not isinstance(layer, Module):
        raise failure(f"{name}({in_features}, {out_features}) is a {type(layer).__name__}, not an nnlib Module",
                    "write `class MyLinear(Module):` so that layer(x) runs forward and the layer fits in Sequential.")
    for attr, shape in (("weight", (in_features, out_features)), ("bias", (out_features,))):
        param = getattr(layer, attr, None)
        if not isinstance(param, Parameter) or param.shape != shape:
            raise failure(f"{name}({in_features}, {out_features}).{attr} is {param!r}",
                        f"keep __init__ as given: {attr} is a Parameter of shape {shape}.")
        param.data = np.array(getattr(reference, attr).data, dtype=np.float64)
        param.grad = np.zeros_like(param.data)
    return layer


def _linear_pair(layer_class, x_shape, out_features, seed):
    """(learner layer, nnlib float64 Linear) with the same random parameters, and an input x of ``x_shape``."""
    rng = np.random.default_rng(seed)
    reference = Linear(x_shape[-1], out_features, dtype=np.float64, rng=rng)
    reference.bias.data[...] = rng.normal(size=out_features)  # non-zero, so a forgotten bias shows
    return _learner_linear(layer_class, x_shape[-1], out_features, reference), reference, rng.normal(size=x_shape)


def _forward(layer: Module, x, name: str):
    return call_learner(f"{name}.forward (x of shape {x.shape})", layer, x.copy(), hint=LINEAR_HINT)


def _check_linear_forward(layer_class) -> str:
    name = getattr(layer_class, "__name__", "your class")
    for k, (x_shape, out_features) in enumerate(LINEAR_SHAPES):
        layer, reference, x = _linear_pair(layer_class, x_shape, out_features, seed=360 + k)
        got, expected = _forward(layer, x, name), reference(x)
        W, b = reference.weight.data, reference.bias.data
        problem = compare(expected, got, 1e-9, 1e-12)
        if problem:
            hint = matching_mistake(got, [
                (x @ W, "the bias is missing: y = x @ W + b."),
                (x @ W.T + b if W.shape[0] == W.shape[1] else None,
                 "weight has shape (in_features, out_features) and weight[j, k] = w_jk: y = x @ W, no transpose."),
            ]) or LINEAR_HINT
            raise failure(f"{name}.forward on x of shape {x_shape}: {problem}", hint)
        try:
            cache = layer.cache
        except RuntimeError:
            raise failure(f"{name}.forward stored no cache", "end forward's bookkeeping with self.cache = "
                        "MyLinearCache(x): backward reads x back from self.cache.") from None
        if not same(x, getattr(cache, "x", None), 0, 0):
            raise failure(f"{name}.forward's cache has no field x holding the input (got {cache!r:.80})",
                        "store the input: self.cache = MyLinearCache(x).")
    return (f"{name}.forward is correct: it matches nnlib.Linear on {len(LINEAR_SHAPES)} input shapes (leading axes "
            "included) and caches x.")


def check_linear_forward(layer_class) -> None:
    """Exercise 3.6: ``layer_class(in, out)`` is a Module whose forward is y = x W + b and caches x (nnlib's Linear)."""
    run_check("Exercise 3.6: MyLinear.forward", lambda: _check_linear_forward(layer_class))


def _backward_mistakes(x, W, grad_out):
    """{gradient name: [(what a typical mistake returns, why)]} for one case of MyLinear.backward."""
    x2d, g2d = x.reshape(-1, W.shape[0]), grad_out.reshape(-1, W.shape[1])
    square = W.shape[0] == W.shape[1]
    return {
        "the returned dL/dx": [(grad_out @ W if square else None,
                                "the transpose is missing: dL/dx = δ Wᵀ (shape (N, in)), not δ W.")],
        "weight.grad": [((g2d.T @ x2d) if square else None,
                         "weight.grad is xᵀ δ, shape (in, out) like the weight; δᵀ x is its transpose."),
                        (-(x2d.T @ g2d), "sign: backward receives ∂L/∂y and adds +xᵀ δ; the minus belongs to the "
                                         "update step, not to the gradient.")],
        "bias.grad": [(g2d.mean(axis=0), "bias.grad is the SUM of δ over the batch, not the mean."),
                      (g2d[0], "bias.grad sums δ over EVERY example of the batch: δ2d.sum(axis=0).")],
    }


def _backward_once(layer, x, grad_out, name):
    """Forward and backward on the learner's layer: (dL/dx, weight.grad copy, bias.grad copy)."""
    _forward(layer, x, name)
    sent = grad_out.copy()
    dx = call_learner(f"{name}.backward (x of shape {x.shape})", layer.backward, sent, hint=(
        "with leading axes, flatten them first: x.reshape(-1, in_features), grad_out.reshape(-1, out_features)."
        if x.ndim > 2 else LINEAR_HINT))
    if not same(grad_out, sent, 0, 0):
        raise failure(f"{name}.backward changed grad_out in place",
                    "never modify the incoming gradient: build new arrays (δ @ W.T creates one).")
    return dx, layer.weight.grad.copy(), layer.bias.grad.copy()


def _check_backward_values(layer_class, name) -> None:
    for k, (x_shape, out_features) in enumerate(LINEAR_SHAPES):
        layer, reference, x = _linear_pair(layer_class, x_shape, out_features, seed=370 + k)
        grad_out = np.random.default_rng(k).normal(size=x_shape[:-1] + (out_features,))
        got = dict(zip(("the returned dL/dx", "weight.grad", "bias.grad"), _backward_once(layer, x, grad_out, name),
                       strict=True))
        reference(x)
        expected = {"the returned dL/dx": reference.backward(grad_out), "weight.grad": reference.weight.grad,
                    "bias.grad": reference.bias.grad}
        mistakes = _backward_mistakes(x, reference.weight.data, grad_out)
        for what, value in expected.items():
            problem = compare(value, got[what], 1e-9, 1e-12)
            if problem:
                raise failure(f"{name}.backward on x of shape {x_shape}: {what}: {problem}",
                            matching_mistake(got[what], mistakes[what]) or LINEAR_HINT)


def _check_accumulation(layer_class, name) -> None:
    """Two forward/backward rounds: the parameter gradients must be the SUM of both rounds' (as with a shared layer)."""
    layer, reference, x = _linear_pair(layer_class, (4, 3), 2, seed=377)
    rng = np.random.default_rng(378)
    x2, g1, g2 = rng.normal(size=(4, 3)), rng.normal(size=(4, 2)), rng.normal(size=(4, 2))
    _backward_once(layer, x, g1, name)
    _, weight_grad, bias_grad = _backward_once(layer, x2, g2, name)
    expected = (x.T @ g1 + x2.T @ g2, (g1 + g2).sum(axis=0))
    if not (same(expected[0], weight_grad) and same(expected[1], bias_grad)):
        second_only = same(x2.T @ g2, weight_grad) or same(g2.sum(axis=0), bias_grad)
        raise failure(f"after two backward passes {name}'s weight.grad / bias.grad are not the sum of both passes",
                    "accumulate with +=, never assign with =: a layer used twice (or a batch split in two) must "
                    "add up its gradients, and zero_grad() resets them." if second_only else LINEAR_HINT)


def _check_gradcheck(layer_class, name) -> None:
    layer, _, x = _linear_pair(layer_class, (3, 2, 4), 3, seed=379)
    errors = call_learner(f"gradcheck({name})", lambda: gradcheck(layer, x, tol=None), hint=LINEAR_HINT)
    worst = max(errors, key=errors.get)
    if not errors[worst] <= 1e-7:
        raise failure(f"gradcheck({name}): relative error {errors[worst]:.1e} for {worst} (limit 1e-7)", LINEAR_HINT)


def _slides_network(layer_class) -> Sequential:
    """The slides' 2-2-2 network built from ``layer_class`` and nnlib's Sigmoid, holding the slides' parameters."""
    hidden, output = layers_222(SLIDES)
    return Sequential(_learner_linear(layer_class, 2, 2, hidden), Sigmoid(),
                      _learner_linear(layer_class, 2, 2, output), Sigmoid())


def _train(model: Sequential, loss_grad: Callable | None, steps: int, weights_only: bool, name: str) -> list:
    """``steps`` steps of SGD(lr=0.5) on the slides' example; the error before each step and the final weights."""
    X, T = np.array([SLIDES_INPUTS]), np.array([SLIDES_TARGETS])
    params = [model[0].weight, model[2].weight] if weights_only else model.parameters()
    optimizer, loss, errors = SGD(params, lr=0.5), SquaredError(), []
    for _ in range(steps):
        model.zero_grad()
        out = call_learner(f"the 2-2-2 network's forward with your {name}", model, X, hint=LINEAR_HINT)
        errors.append(loss(out, T))
        grad = loss.backward() if loss_grad is None else loss_grad(out, T)
        call_learner(f"the 2-2-2 network's backward with your {name}", model.backward, grad, hint=LINEAR_HINT)
        optimizer.step()
    return [errors, model[0].weight.data.copy(), model[2].weight.data.copy()]


def _check_loss_grad(loss_grad: Callable) -> None:
    """The plug-in uses the learner's squared_error_grad: make sure it is right first (Exercise 3.5)."""
    out, target = np.array([[0.75, 0.77]]), np.array([SLIDES_TARGETS])
    got = call_learner("squared_error_grad (Exercise 3.5)", loss_grad, out.copy(), target.copy(),
                hint="make Exercise 3.5 pass first: the 2-2-2 step uses your squared_error_grad.")
    if not same(out - target, got):
        raise failure("the 2-2-2 step uses your squared_error_grad, which does not return −(target − out)",
                    "make Exercise 3.5 pass first.")


def _check_plug_in(layer_class, loss_grad, name) -> None:
    """One step of the slides' network from the learner's layers gives the published w⁺; 5 more follow nnlib's."""
    if loss_grad is not None:
        _check_loss_grad(loss_grad)
    _, W1, W2 = _train(_slides_network(layer_class), loss_grad, 1, weights_only=True, name=name)
    new = {n: W1[i] for n, i in HIDDEN_WEIGHTS.items()} | {n: W2[i] for n, i in OUTPUT_WEIGHTS.items()}
    wrong = [n for n, value in PUBLISHED_NEW_WEIGHTS.items() if not abs(new[n] - value) <= PUBLISHED_TOLERANCE]
    if wrong:
        n = wrong[0]
        raise failure(f"one step of the slides' 2-2-2 network built from {name} gives {n}⁺ = {new[n]:.9f}, "
                    f"published {PUBLISHED_NEW_WEIGHTS[n]}", LINEAR_HINT)
    hidden, output = layers_222(SLIDES)
    expected = _train(Sequential(hidden, Sigmoid(), output, Sigmoid()), None, 6, weights_only=False, name="")
    got = _train(_slides_network(layer_class), loss_grad, 6, weights_only=False, name=name)
    for what, e, g in zip(("errors", "hidden weights", "output weights"), expected, got, strict=True):
        problem = compare(e, g, 1e-9, 1e-12)
        if problem:
            raise failure(f"6 training steps (biases trained) with {name}: the {what} leave nnlib's path: {problem}",
                        LINEAR_HINT)


def _check_linear_backward(layer_class, loss_grad) -> str:
    name = getattr(layer_class, "__name__", "your class")
    _check_backward_values(layer_class, name)
    _check_accumulation(layer_class, name)
    _check_gradcheck(layer_class, name)
    _check_plug_in(layer_class, loss_grad, name)
    loss = "and your squared_error_grad " if loss_grad is not None else ""
    return (f"{name}.backward is correct: it matches nnlib.Linear on {len(LINEAR_SHAPES)} input shapes, accumulates "
            f"with +=, and passes gradcheck; the 2-2-2 network built from it {loss}reproduces the published "
            "w1⁺ … w8⁺ in one step and follows nnlib's errors for 6 more.")


def check_linear_backward(layer_class, loss_grad: Callable | None = None) -> None:
    """Exercise 3.7: ``layer_class``'s backward checked three ways, each reported on its own.

    1. against nnlib's ``Linear`` on random float64 inputs of 4 shapes (leading axes included), plus two backward
       passes that must ADD UP; 2. ``nnlib.gradcheck``; 3. plug-in: the slides' 2-2-2 network built from
       ``layer_class`` and nnlib's ``Sigmoid`` (and ``loss_grad(out, target)`` as ∂E/∂out, when given) takes one
       SGD step (η = 0.5, biases fixed) to the published w1⁺ … w8⁺, then 6 steps (biases trained) along nnlib's path.
    """
    run_check("Exercise 3.7: MyLinear.backward", lambda: _check_linear_backward(layer_class, loss_grad))


# --- Exercise 3.8 (challenge): backpropagation for any depth, in matrix form -------------------------------

def _mlp_backprop_reference(X, T, weights, biases):
    """∂E/∂W and ∂E/∂b of a sigmoid MLP with E = Σ ½(T − A)², by nnlib's layers (float64)."""
    layers = []
    for W, b in zip(weights, biases, strict=True):
        linear = Linear(*W.shape, dtype=np.float64)
        linear.weight.data[...], linear.bias.data[...] = W, b
        layers += [linear, Sigmoid()]
    model, loss = Sequential(*layers), SquaredError()
    loss(model(X), T)
    model.backward(loss.backward())
    return tuple(linear.weight.grad for linear in layers[::2]), tuple(linear.bias.grad for linear in layers[::2])


def _mlp_backprop(X, T, weights, biases, *, sign=1.0, hidden_slope=True, reverse=False):
    """A hand-written matrix backprop, with switches that reproduce the typical mistakes (see check_mlp_backprop)."""
    A = [X]
    for W, b in zip(weights, biases, strict=True):
        A.append(sigmoid(A[-1] @ W + b))
    grad_net = -(T - A[-1]) * A[-1] * (1 - A[-1])
    grads_W, grads_b = [], []
    for layer in range(len(weights) - 1, -1, -1):
        grads_W.insert(0, sign * A[layer].T @ grad_net)
        grads_b.insert(0, sign * grad_net.sum(axis=0))
        slope = A[layer] * (1 - A[layer]) if hidden_slope else 1.0
        grad_net = (grad_net @ weights[layer].T) * slope
    if reverse:
        grads_W, grads_b = grads_W[::-1], grads_b[::-1]
    return tuple(grads_W), tuple(grads_b)  # tuples: compare() matches them item by item


def _mlp_cases() -> list[Case]:
    rng = np.random.default_rng(38)
    hidden, output = layers_222(SLIDES)
    cases = [((np.array([SLIDES_INPUTS]), np.array([SLIDES_TARGETS]), [hidden.weight.data, output.weight.data],
               [hidden.bias.data, output.bias.data]), "the slides' 2-2-2 network")]
    for sizes, n in [((3, 2), 4), ((3, 4, 5, 2), 6), ((2, 3, 3, 3, 1), 5)]:
        weights = [rng.normal(size=shape) for shape in zip(sizes[:-1], sizes[1:], strict=True)]
        biases = [rng.normal(size=k) for k in sizes[1:]]
        args = (rng.normal(size=(n, sizes[0])), rng.uniform(size=(n, sizes[-1])), weights, biases)
        cases.append((args, f"a {'-'.join(map(str, sizes))} network, batch of {n}"))
    return [Case(args, _mlp_backprop_reference(*args), label) for args, label in cases]


def check_mlp_backprop(fn: Callable) -> None:
    """Exercise 3.8 (challenge): ``fn(X, T, weights, biases)`` returns ``(grads_W, grads_b)``, the lists of ∂E/∂W_l
    and ∂E/∂b_l of a sigmoid MLP of any depth with E = Σ ½(T − A)², layer order kept."""
    mistakes = [
        (lambda *a: _mlp_backprop(*a, sign=-1.0), "those are the notes' δ-rule changes per unit of ε, −∂E/∂W: "
                                                  "return the gradients ∂E/∂W = −A_{l−1}ᵀ δ_l."),
        (lambda *a: _mlp_backprop(*a, hidden_slope=False), "the hidden layers' sigmoid slope is missing: "
                                                           "δ_{l−1} = (δ_l W_lᵀ) ⊙ A_{l−1}(1 − A_{l−1})."),
        (lambda *a: _mlp_backprop(*a, reverse=True), "the lists are reversed: grads_W[0] belongs to weights[0], the "
                                                     "input layer (backward runs last to first; insert at the front)."),
    ]
    check_with_diagnosis("Exercise 3.8 (challenge): mlp_backprop", fn, _mlp_cases(), mistakes,
                         "forward: keep every A_l; then from the last layer back: grad_W_l = A_{l−1}ᵀ g, "
                         "grad_b_l = Σ_n g, g ← (g W_lᵀ) ⊙ A_{l−1}(1 − A_{l−1}), starting from g = −(T − A)⊙A(1 − A).")
