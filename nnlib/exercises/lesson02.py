"""Checks for lesson 02, activation functions. Reference values come from :mod:`nnlib.functional` and nnlib's layers.

The build exercises (a sigmoid layer, an ELU layer, maxout's backward) are checked three ways: against nnlib's layer
on float64 inputs of several shapes, by :func:`nnlib.gradcheck`, and plugged into a small MLP trained for a few SGD
steps, whose losses must be those of the same MLP with nnlib's layer.

When a learner's answer is wrong, each check also tries the typical mistakes (the function instead of its
derivative, a sign error, the wrong axis, a softmax that overflows, ...) and, if one of them reproduces the
learner's output exactly, names it in the hint.
"""

from __future__ import annotations

from collections.abc import Callable

import numpy as np

from .. import functional as F
from ..data import make_moons
from ..gradcheck import gradcheck
from ..layers import ELU, Linear, Maxout, Sigmoid
from ..losses import CrossEntropyLoss
from ..module import Module, Sequential
from ..optim import SGD
from ._core import FAILED, NOT_DONE, PASSED, Case, check_with_diagnosis
from .lesson01 import diagnose, named, report_stages

# Pre-activations (the notes' net) on both sides of 0, 0 itself, and a 2-D batch: shapes must be kept.
_NETS = [
    np.array([-4.0, -1.5, -0.5, 0.0, 0.5, 1.5, 4.0]),
    np.array(0.0),
    np.random.default_rng(2).normal(scale=3.0, size=(3, 4)),
]


def _elementwise_cases(reference: Callable) -> list[Case]:
    return [Case((net,), reference(net)) for net in _NETS]


# --- Exercise 2.1: the derivative of the sigmoid -----------------------------------------------------------

def check_sigmoid_prime(fn: Callable) -> None:
    """Exercise 2.1: ``fn(net)`` must return σ'(net) = a(1 − a) with a = σ(net), elementwise (same shape)."""
    mistakes = [
        (F.sigmoid, "that is σ(net) itself; its derivative is a * (1 - a) with a = sigmoid(net)."),
        (lambda net: net * (1 - net),
         "you computed net * (1 - net): apply the formula to a = sigmoid(net), not to net."),
        (lambda net: F.sigmoid(net) * (F.sigmoid(net) - 1),
         "sign error: a * (a - 1) = -a(1 - a). σ is increasing, so its derivative must be positive."),
        (lambda net: 1 - F.sigmoid(net),
         "that is e^(-net) / (1 + e^(-net)) = 1 - a: the denominator of the derivative is squared, giving a(1 - a)."),
    ]
    check_with_diagnosis("Exercise 2.1: sigmoid_prime", fn, _elementwise_cases(F.sigmoid_prime), mistakes,
                         "compute a = sigmoid(net) first, then return a * (1 - a).")


# --- Exercise 2.3: the derivative of tanh -------------------------------------------------------------------

def check_tanh_prime(fn: Callable) -> None:
    """Exercise 2.3: ``fn(net)`` must return tanh'(net) = 1 − tanh²(net), elementwise (same shape)."""
    mistakes = [
        (lambda net: 1 - net**2, "you computed 1 - net²: square tanh(net), not net: 1 - np.tanh(net) ** 2."),
        (lambda net: 1 + np.tanh(net) ** 2,
         "sign error: 1 + tanh² is larger than 1, but tanh' is at most 1. It is 1 - tanh²."),
        (np.tanh, "that is tanh itself; its derivative is 1 - tanh(net) ** 2."),
        (lambda net: (1 - np.tanh(net)) ** 2, "(1 - tanh)² is not 1 - tanh²: square tanh first, then subtract from 1."),
    ]
    check_with_diagnosis("Exercise 2.3: tanh_prime", fn, _elementwise_cases(F.tanh_prime), mistakes,
                         "t = np.tanh(net); return 1 - t ** 2.")


# --- Exercises 2.4 and 2.5: leaky ReLU and its derivative -----------------------------------------------------

_LEAKY_X = np.array([-3.0, -1.0, -0.25, 0.0, 0.25, 1.0, 3.0])


def _leaky_cases(reference: Callable) -> list[Case]:
    """The default slope (called without it), then explicit slopes; x = 0 is in every case."""
    batch = np.random.default_rng(3).normal(scale=2.0, size=(2, 5))
    args = [(_LEAKY_X,), (_LEAKY_X, 0.3), (np.column_stack([batch, np.zeros(2)]), 0.2)]
    return [Case(a, reference(*a)) for a in args]


def _leaky(x, slope=0.1):
    return F.leaky_relu(x, negative_slope=slope)


def _leaky_prime(x, slope=0.1):
    return F.leaky_relu_prime(x, negative_slope=slope)


def check_leaky_relu(fn: Callable) -> None:
    """Exercise 2.4: ``fn(x, slope=0.1)`` must return x where x > 0 and slope·x elsewhere (same shape)."""
    mistakes = [
        (lambda x, slope=0.1: F.relu(x),
         "that is ReLU, max(0, x): negative inputs must leak through as slope * x, not become 0."),
        (lambda x, slope=0.1: np.where(x > 0, slope * x, x),
         "the slope multiplies the negative inputs; positive inputs pass unchanged."),
        (lambda x, slope=0.1: _leaky(x, 0.01),
         "use the `slope` argument (default 0.1, the notes' max(0.1x, x)); do not hard-code 0.01."),
        (lambda x, slope=0.1: _leaky(x, 0.1),
         "use the `slope` argument: the check also calls leaky_relu(x, 0.3), where 0.1 is wrong."),
    ]
    check_with_diagnosis("Exercise 2.4: leaky_relu", fn, _leaky_cases(_leaky), mistakes,
                         "return np.where(x > 0, x, slope * x).")


def check_leaky_relu_prime(fn: Callable) -> None:
    """Exercise 2.5: ``fn(x, slope=0.1)`` must return 1 where x > 0 and slope elsewhere, x = 0 included."""
    mistakes = [
        (lambda x, slope=0.1: F.relu_prime(x),
         "that is ReLU's derivative: for x < 0 leaky ReLU's slope is `slope`, not 0 (that 0 is what kills units)."),
        (_leaky, "that is leaky ReLU itself; its derivative is 1 for x > 0 and slope for x < 0."),
        (lambda x, slope=0.1: np.where(x >= 0, 1.0, slope),
         "at x = 0 nnlib (like PyTorch) uses the left piece's slope: test x > 0, not x >= 0."),
        (lambda x, slope=0.1: _leaky_prime(x, 0.01),
         "use the `slope` argument (default 0.1); do not hard-code 0.01."),
        (lambda x, slope=0.1: _leaky_prime(x, 0.1),
         "use the `slope` argument: the check also calls leaky_relu_prime(x, 0.3), where 0.1 is wrong."),
    ]
    check_with_diagnosis("Exercise 2.5: leaky_relu_prime", fn, _leaky_cases(_leaky_prime), mistakes,
                         "return np.where(x > 0, 1.0, slope) (an array of x's shape).")


# --- Exercise 2.8: a numerically stable softmax ----------------------------------------------------------------

_SOFTMAX_INPUTS = [
    np.array([[1.0, 2.0, 3.0], [0.5, 0.5, -1.0]]),
    np.array([[1000.0, 1001.0, 999.0], [-1000.0, -1001.0, -1002.0]]),   # e^1000 overflows, e^-1000 underflows
    np.array([[-1000.0, 0.0, 1000.0], [2.0, -3.0, 0.0], [1.0, 1.0, 1.0]]),  # a row spanning 2000
]


def _naive_softmax(x):
    e = np.exp(x)
    return e / e.sum(axis=-1, keepdims=True)


def check_softmax(fn: Callable) -> None:
    """Exercise 2.8: ``fn(x)`` with x (N, C) must return the softmax of every row, finite even for |x| ~ 1000."""
    mistakes = [
        (_naive_softmax, "e^1000 overflows to inf (and e^-1000 underflows to 0), giving inf/inf or 0/0 = nan. "
                         "Subtract each row's max first: softmax(x) = softmax(x - max(x))."),
        (lambda x: _naive_softmax(x - x.min(axis=-1, keepdims=True)),
         "subtract the max, not the min: after x - min the largest exponent is max - min, which still overflows "
         "for a row like [-1000, 0, 1000]; after x - max every exponent is ≤ 0."),
        (lambda x: F.softmax(x, axis=0), "you normalised the columns: each ROW must sum to 1 (axis=-1)."),
        (lambda x: np.exp(x - x.max(axis=-1, keepdims=True)),
         "the outputs must sum to 1: divide by the row sums, e.sum(axis=-1, keepdims=True)."),
        (lambda x: _naive_softmax(x - x.max(axis=0, keepdims=True)),
         "take the max of each row (axis=-1, keepdims=True), not of each column."),
    ]
    cases = [Case((x,), F.softmax(x, axis=-1)) for x in _SOFTMAX_INPUTS]
    # A naive softmax overflows on purpose: silence NumPy's warnings, the check reports the nan itself.
    with np.errstate(over="ignore", under="ignore", invalid="ignore", divide="ignore"):
        check_with_diagnosis("Exercise 2.8: softmax", fn, cases, mistakes,
                             "m = x.max(axis=-1, keepdims=True); e = np.exp(x - m); "
                             "return e / e.sum(axis=-1, keepdims=True).")


# --- The build exercises: learner layers checked against nnlib's, gradchecked, and trained in an MLP -----------

LAYER_SHAPES = [(5,), (3, 4), (2, 3, 4)]
PLUG_IN_STEPS, PLUG_IN_LR = 5, 0.5


def _as_module(made) -> Module:
    """The learner's layer instance, or ValueError naming what came instead."""
    if not isinstance(made, Module):
        raise ValueError(f"expected a layer (an instance of an nnlib.Module subclass), got {type(made).__name__}: "
                         "pass your class itself, e.g. check(MySigmoid), and subclass nnlib.Module")
    return made


def _layer_inputs(shape, seed: int) -> tuple[np.ndarray, np.ndarray]:
    """float64 (x, grad_out) of ``shape``: x on both sides of 0 and exactly 0 in its first entry."""
    rng = np.random.default_rng(seed)
    x = rng.normal(scale=2.0, size=shape)
    x.flat[0] = 0.0
    return x, rng.normal(size=shape)


def _forward_backward(layer: Module, kind: str, x, grad_out):
    y = layer(x)
    return y if kind == "forward" else layer.backward(grad_out)


def _describe(setting: dict) -> str:
    return "".join(f", {key}={value}" for key, value in setting.items())


def _io_cases(make_reference: Callable, settings: list[dict]) -> list[Case]:
    """Forward cases first (a wrong forward is reported before its backward), on every shape and setting."""
    cases = []
    for kind in ("forward", "backward"):
        for setting in settings:
            for seed, shape in enumerate(LAYER_SHAPES):
                x, grad_out = _layer_inputs(shape, seed)
                expected = _forward_backward(make_reference(**setting), kind, x, grad_out)
                label = f"{kind}, x of shape {shape}{_describe(setting)}"
                cases.append(Case((kind, x, grad_out, setting), expected, label))
    return cases


def _elementwise_mistake(forward: Callable, backward: Callable) -> Callable:
    """A wrong layer's (kind, x, grad_out, setting) → output: forward(x, **setting), backward(x, y, g, **setting)."""
    def wrong(kind, x, grad_out, setting):
        y = forward(x, **setting)
        return y if kind == "forward" else backward(x, y, grad_out, **setting)
    return wrong


def _stage(run: Callable) -> tuple[str, str]:
    """``run()`` → (status, message); NotImplementedError means not done yet, any other error is a failure."""
    try:
        return run()
    except NotImplementedError:
        return NOT_DONE, "not implemented yet: replace each `raise NotImplementedError` line of your class."
    except Exception as err:  # a learner's bug is feedback, not a crash
        return FAILED, f"raised {type(err).__name__}: {err}"


def _gradcheck_stage(make_layer: Callable, make_inputs: Callable) -> Callable:
    """A stage: nnlib.gradcheck of the learner's layer (float64, tolerance 1e-7) on every input make_inputs gives."""
    def run():
        for label, inputs in make_inputs():
            errors = gradcheck(_as_module(make_layer()), *inputs, tol=None)
            worst = max(errors, key=errors.get)
            if not errors[worst] <= 1e-7:
                return FAILED, (f"{label}: relative error {errors[worst]:.1e} > 1e-7 for {worst}\n   Hint: backward "
                                "must return dL/dx = grad_out ⊙ f'(x) (and accumulate parameter gradients with +=).")
        return PASSED, "gradients match finite differences"
    return lambda: _stage(run)


def plug_in_losses(make_hidden: Callable, shared: bool = False) -> np.ndarray:
    """Cross-entropy losses (PLUG_IN_STEPS,) of a seeded 2-8-8-2 MLP trained by full-batch SGD on 64 moons.

    ``make_hidden(n_in, n_out, seed)`` returns the layers of one hidden layer (e.g. ``[Linear, activation]``).
    ``shared=True`` reuses the first hidden layer's activation instance in the second: the same layer object is
    then called twice per forward, which only a layer that keeps its cache in ``self.cache`` (a stack) survives.
    """
    X, y = make_moons(64, noise=0.2, rng=0, dtype=np.float64)
    first, second = make_hidden(2, 8, 0), make_hidden(8, 8, 1)
    if shared:
        second[-1] = first[-1]
    model = Sequential(*first, *second, Linear(8, 2, rng=2, dtype=np.float64))
    loss, optimizer, losses = CrossEntropyLoss(), SGD(model.parameters(), lr=PLUG_IN_LR), []
    for _ in range(PLUG_IN_STEPS):
        model.zero_grad()
        losses.append(loss(model(X), y))
        model.backward(loss.backward())
        optimizer.step()
    return np.array(losses)


def _activation_hidden(make_activation: Callable) -> Callable:
    def hidden(n_in, n_out, seed):
        return [Linear(n_in, n_out, rng=seed, dtype=np.float64), _as_module(make_activation())]
    return hidden


def _plug_in_stages(make_learner: Callable, make_reference: Callable, hidden: Callable, settings: list[dict],
                    name: str, reference_name: str) -> list[tuple[str, Callable]]:
    """The plug-in stages: the MLP with the learner's layer, then with one instance used for both hidden layers."""
    def losses(shared, setting):
        return plug_in_losses(hidden(lambda: make_learner(**setting)), shared)

    def stage(shared, hint):
        cases = [Case((shared, setting), plug_in_losses(hidden(lambda s=setting: make_reference(**s)), shared),
                      f"{PLUG_IN_STEPS} SGD losses{_describe(setting)}")
                 for setting in settings]
        return lambda: diagnose(named(losses, make_learner), cases, [], hint)

    cache_hint = (f"your {name} is right on single calls but not when one instance is used twice in a forward: "
                  "keep what backward needs in self.cache = ... (a stack: each call pushes, each backward pops), "
                  "not in another attribute such as self.out, which the second call overwrites.")
    return [(f"plug-in (a 2-8-8-2 MLP on make_moons, your {name} vs {reference_name})",
             stage(False, "the MLP's losses must be those of nnlib's layer: check forward and backward again.")),
            ("plug-in with one instance used twice", stage(True, cache_hint))]


def _check_activation(title: str, cls, reference: Callable, settings: list[dict], mistakes: list,
                      hint: str, summary: str) -> None:
    """The three checks of an elementwise activation build: vs nnlib's layer, gradcheck, plug-in."""
    def run(kind, x, grad_out, setting):
        return _forward_backward(_as_module(cls(**setting)), kind, x, grad_out)

    name, reference_name = getattr(cls, "__name__", "your layer"), f"nnlib.{reference().__class__.__name__}"

    def inputs():
        for setting in settings:
            for seed, shape in enumerate(LAYER_SHAPES):
                x = _layer_inputs(shape, 10 + seed)[0]
                x.flat[0] = 0.5  # away from a kink: finite differences cannot judge a derivative there
                yield f"x of shape {shape}{_describe(setting)}", (x,)

    stages = [(f"compared with {reference_name}",
               lambda: diagnose(named(run, cls), _io_cases(reference, settings), mistakes, hint)),
              ("gradcheck", _gradcheck_stage(lambda: cls(**settings[0]), inputs)),
              *_plug_in_stages(cls, reference, _activation_hidden, settings, name, reference_name)]
    report_stages(title, stages, f"{name} is correct: {summary} matches {reference_name} (forward and backward, "
                                f"{len(LAYER_SHAPES)} float64 shapes), passes gradcheck, and trains a 2-8-8-2 MLP "
                                f"exactly as {reference_name} does, also with one instance used twice.")


# --- Exercise 2.2: a sigmoid layer (build) ------------------------------------------------------------------

def check_my_sigmoid(cls) -> None:
    """Exercise 2.2: ``cls()`` is a Module: forward(net) = σ(net), caching; backward(g) = g ⊙ a(1 − a)."""
    sig = F.sigmoid
    mistakes = [
        (_elementwise_mistake(sig, lambda x, y, g: g * x * (1 - x)),
         "a(1 − a) is evaluated on the OUTPUT a = σ(net), not on net: read the output from self.cache."),
        (_elementwise_mistake(sig, lambda x, y, g: g * sig(y) * (1 - sig(y))),
         "the cached output is already a = σ(net): use y * (1 - y), not σ(y)(1 − σ(y))."),
        (_elementwise_mistake(sig, lambda x, y, g: y * (1 - y)),
         "multiply by grad_out: the chain rule gives dL/dnet = dL/da · a(1 − a)."),
        (_elementwise_mistake(sig, lambda x, y, g: g),
         "the factor ∂a/∂net = a(1 − a) is missing: backward returns grad_out * y * (1 - y)."),
        (_elementwise_mistake(sig, lambda x, y, g: g * y), "σ' = a(1 − a): the factor (1 − a) is missing."),
        (_elementwise_mistake(lambda x: 1 / (1 + np.exp(x)), lambda x, y, g: g * y * (1 - y)),
         "the sigmoid is 1 / (1 + e^(−net)): the exponent's sign is flipped."),
        (_elementwise_mistake(lambda x: x, lambda x, y, g: g), "forward must return σ(net), not net itself."),
    ]
    _check_activation("Exercise 2.2: MySigmoid", cls, Sigmoid, [{}], mistakes,
                      "forward: y = F.sigmoid(x); self.cache = ActivationCache(x, y); return y. "
                      "backward: x, y = self.cache; return grad_out * y * (1 - y).", "it")


# --- Exercise 2.6: an ELU layer (build) ----------------------------------------------------------------------

def _elu(x, alpha):
    return F.elu(x, alpha)


def check_my_elu(cls) -> None:
    """Exercise 2.6: ``cls(alpha)`` is a Module computing ELU; backward(g) = g ⊙ (1 if x > 0 else ELU(x) + α)."""
    def right(x, y, g, alpha):
        return g * np.where(x > 0, 1.0, y + alpha)

    def mistake(backward, forward=_elu):
        return _elementwise_mistake(forward, backward)

    mistakes = [
        (mistake(lambda x, y, g, alpha: g * (y + alpha)),
         "ELU' = ELU + α holds only for x ≤ 0; for x > 0 the slope is 1: np.where(x > 0, 1.0, y + alpha)."),
        (mistake(lambda x, y, g, alpha: g * np.where(x > 0, 1.0, np.exp(x))),
         "d/dx α(e^x − 1) = α·e^x: the factor α is missing (it shows for α ≠ 1)."),
        (mistake(lambda x, y, g, alpha: g * np.where(x > 0, 1.0, alpha * np.exp(y))),
         "α·e^x uses the input x (net), not the output y; or write it with the output: y + α."),
        (mistake(lambda x, y, g, alpha: g * np.where(x >= 0, 1.0, y + alpha)),
         "at x = 0 nnlib (like PyTorch) uses the left slope α: test x > 0, not x >= 0."),
        (mistake(lambda x, y, g, alpha: np.where(x > 0, 1.0, y + alpha)),
         "multiply by grad_out: the chain rule gives dL/dx = dL/dy · ELU'(x)."),
        (mistake(right, lambda x, alpha: np.where(x > 0, x, np.exp(x) - 1)),
         "the negative piece is α(e^x − 1): the factor α is missing."),
        (mistake(right, lambda x, alpha: np.where(x > 0, x, alpha * np.exp(x))),
         "the negative piece is α(e^x − 1): subtract 1, so that ELU(0) = 0 and ELU(x) → −α."),
    ]
    _check_activation("Exercise 2.6: MyELU", cls, ELU, [{"alpha": 1.0}, {"alpha": 0.5}], mistakes,
                      "forward: y = np.where(x > 0, x, alpha * (np.exp(np.minimum(x, 0)) - 1)); cache (x, y). "
                      "backward: return grad_out * np.where(x > 0, 1.0, y + alpha).", "for α = 1 and 0.5 it")


# --- Exercise 2.7: maxout's backward (build) ------------------------------------------------------------------

MAXOUT_SHAPES = [(4, 3, 2, 2), (6, 5, 3, 3), (1, 2, 4, 4)]  # (N, in_features, out_features, pieces)
PREFILLED_GRAD = 0.25  # the checks start every gradient at this value: backward must add to it


def _maxout_layers(cls, n_in, n_out, pieces, seed):
    layer = _as_module(cls(n_in, n_out, pieces, rng=seed, dtype=np.float64))
    for p in layer.parameters():
        p.grad[...] = PREFILLED_GRAD
    return layer


def _maxout_backward(cls, x, grad_out, pieces, seed):
    """(dL/dx, weight.grad, bias.grad) of ``cls(in, out, pieces)`` after one backward from prefilled gradients."""
    layer = _maxout_layers(cls, x.shape[1], grad_out.shape[1], pieces, seed)
    layer(x)
    grad_x = layer.backward(grad_out)
    return grad_x, layer.weight.grad, layer.bias.grad


def _maxout_variant(x, grad_out, pieces, seed, *, route="winner", accumulate=True):
    """nnlib's Maxout backward rewritten with the typical mistakes as switches (defaults: right)."""
    layer = Maxout(x.shape[1], grad_out.shape[1], pieces, rng=seed, dtype=np.float64)
    W, b = layer.weight.data, layer.bias.data
    z = x @ W + b[:, None, :]                                                    # (pieces, N, out)
    won = np.arange(pieces)[:, None, None] == z.argmax(axis=0)
    delta = {"winner": won * grad_out, "split": grad_out / pieces + 0 * z, "all": grad_out + 0 * z}[route]
    start = PREFILLED_GRAD if accumulate else 0.0
    return (delta @ W.transpose(0, 2, 1)).sum(axis=0), start + x.T @ delta, start + delta.sum(axis=1)


def check_maxout_backward(cls) -> None:
    """Exercise 2.7: ``cls`` subclasses nnlib.Maxout and overrides backward: gradients flow to the winner only."""
    parts = ("dL/dx", "weight.grad", "bias.grad")

    def run(part, x, grad_out, pieces, seed):
        return _maxout_backward(cls, x, grad_out, pieces, seed)[part]

    cases = []
    for seed, (n, n_in, n_out, pieces) in enumerate(MAXOUT_SHAPES):
        rng = np.random.default_rng(20 + seed)
        x, grad_out = rng.normal(size=(n, n_in)), rng.normal(size=(n, n_out))
        expected = _maxout_backward(Maxout, x, grad_out, pieces, seed)
        cases += [Case((part, x, grad_out, pieces, seed), expected[part],
                       f"{parts[part]}, x {x.shape}, {n_out} outputs, {pieces} pieces") for part in range(3)]

    def mistake(**switches):
        return lambda part, x, g, pieces, seed: _maxout_variant(x, g, pieces, seed, **switches)[part]

    mistakes = [
        (mistake(route="split"), "the gradient goes to the WINNING piece only (the others did not affect the "
                                 "output); it is not split among the pieces."),
        (mistake(route="all"), "only the winning piece gets the gradient: mask it with (np.arange(pieces)[:, None, "
                               "None] == winner) before the matrix products."),
        (mistake(accumulate=False), "accumulate with +=: self.weight.grad += ..., self.bias.grad += ... (the "
                                    "check starts them at 0.25; = would discard gradients already there)."),
    ]
    hint = ("delta = (np.arange(self.pieces)[:, None, None] == winner) * grad_out  # (pieces, N, out); "
            "weight.grad += x.T @ delta; bias.grad += delta.sum(axis=1); return (delta @ W.transpose(0, 2, 1)).sum(0)")

    def hidden(n_in, n_out, seed):
        return [_maxout_layers(cls, n_in, n_out, 2, seed)]

    def reference_hidden(n_in, n_out, seed):
        return [Maxout(n_in, n_out, 2, rng=seed, dtype=np.float64)]

    def plug_in():
        case = Case((), plug_in_losses(reference_hidden), f"{PLUG_IN_STEPS} SGD losses")
        return diagnose(named(lambda: plug_in_losses(hidden), cls), [case], [],
                        "the MLP's losses must be those of nnlib's Maxout: check the gradients again.")

    def inputs():
        yield "x (5, 3), 4 outputs, 3 pieces", (np.random.default_rng(1).normal(size=(5, 3)),)

    name = getattr(cls, "__name__", "your layer")
    stages = [("compared with nnlib.Maxout", lambda: diagnose(named(run, cls), cases, mistakes, hint)),
              ("gradcheck", _gradcheck_stage(lambda: _maxout_layers(cls, 3, 4, 3, 1), inputs)),
              ("plug-in (a 2-8-8-2 maxout MLP on make_moons)", plug_in)]
    report_stages("Exercise 2.7: maxout backward", stages,
                 f"{name} is correct: its gradients match nnlib.Maxout on {len(MAXOUT_SHAPES)} float64 shapes, pass "
                 "gradcheck, and train a 2-8-8-2 maxout MLP exactly as nnlib.Maxout does.")


# --- Exercise 2.9 (challenge): softmax backward without the Jacobian ---------------------------------------------

def check_softmax_backward(fn: Callable) -> None:
    """Exercise 2.9: ``fn(s, grad_s)`` with s, grad_s (N, C) returns dL/dx = s ⊙ (g − Σ g s) row by row."""
    rng = np.random.default_rng(29)
    scores = [rng.normal(size=(1, 4)), rng.normal(scale=2, size=(3, 5)), rng.normal(size=(6, 2))]
    cases = []
    for x in scores:
        s, g = F.softmax(x, axis=-1), rng.normal(size=x.shape)
        cases.append(Case((s, g), F.softmax_backward(s, g, axis=-1), f"s and grad_s of shape {x.shape}"))

    def dot(s, g, axis=-1):
        return (g * s).sum(axis=axis, keepdims=True)

    mistakes = [
        (lambda s, g: s * (dot(s, g) - g), "the sign is flipped: dL/dx_j = s_j (g_j − Σ_i g_i s_i)."),
        (lambda s, g: s * g, "the sum is missing: every x_j moves every s_i, so subtract Σ_i g_i s_i from g_j."),
        (lambda s, g: s * (1 - s) * g, "that uses only the Jacobian's diagonal s_j(1 − s_j); the off-diagonal "
                                       "terms −s_i s_j give s_j (g_j − Σ_i g_i s_i)."),
        (lambda s, g: g - dot(s, g), "multiply by s_j: dL/dx_j = s_j (g_j − Σ_i g_i s_i)."),
        (lambda s, g: s * (g - dot(s, g, axis=0)), "sum over each row (axis=-1, keepdims=True), not each column."),
    ]
    check_with_diagnosis("Exercise 2.9 (challenge): softmax_backward", fn, cases, mistakes,
                         "return s * (grad_s - (grad_s * s).sum(axis=-1, keepdims=True)).")
