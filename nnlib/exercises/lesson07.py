"""Checks for lesson 07, recurrent networks and backpropagation through time (BPTT).

Reference values come from :class:`nnlib.RNN` itself (float64, a one-step sequence with the learner's weights set),
never from the formulas under test. The layout is nnlib's: row vectors times (in, out) matrices,
``h_t = tanh(x_t @ W_ih + h_prev @ W_hh + b)``, and δ_t = ∂L/∂net_t (nnlib's sign; the notes' δ is its negative).

When a learner's answer is wrong, each check also tries the typical mistakes (the recurrent term forgotten, the
sigmoid instead of tanh, W_hh transposed, tanh' taken at the wrong step, the outer product reversed, ...) and, if one
of them reproduces the learner's output exactly, names it in the hint.
"""

from __future__ import annotations

from collections.abc import Callable

import numpy as np

from ..data import make_noisy_sine
from ..functional import sigmoid, softmax
from ..gradcheck import gradcheck
from ..layers import RNN, Linear
from ..losses import MSELoss
from ..models import SequenceModel
from ..module import Module, Parameter
from ..optim import Adam, clip_grad_norm
from ._core import FAILED, NOT_DONE, PASSED, Case, check_with_diagnosis, compare, report


def _rnn(W_ih, W_hh, b=None) -> RNN:
    """A float64 nnlib RNN holding the given weights; ``b`` goes to bias_ih (bias_hh = 0)."""
    layer = RNN(W_ih.shape[0], W_hh.shape[0], dtype=np.float64)
    layer.weight_ih.data[...], layer.weight_hh.data[...] = W_ih, W_hh
    layer.bias_ih.data[...] = 0.0 if b is None else b
    layer.bias_hh.data[...] = 0.0
    return layer


# --- Exercise 7.1: one step of the recurrence ------------------------------------------------------------------

def _step_cases() -> list[Case]:
    rng = np.random.default_rng(7)
    cases = []
    for n, i, h, first_step in [(2, 3, 4, False), (1, 2, 2, False), (5, 1, 3, False), (3, 4, 3, True)]:
        x_t, W_ih, W_hh, b = (rng.normal(size=s) for s in [(n, i), (i, h), (h, h), (h,)])
        h_prev = np.zeros((n, h)) if first_step else rng.uniform(-1, 1, (n, h))
        _, h_t = _rnn(W_ih, W_hh, b)(x_t[:, None, :], h_prev)
        label = f"x_t {x_t.shape}, h_prev {h_prev.shape}" + (" (zeros: the first step)" if first_step else "")
        cases.append(Case((x_t, h_prev, W_ih, W_hh, b), h_t, label))
    return cases


def check_rnn_step(fn: Callable) -> None:
    """Exercise 7.1: ``fn(x_t, h_prev, W_ih, W_hh, b)`` returns h_t = tanh(x_t W_ih + h_prev W_hh + b) (N, H)."""
    def step(x, h, W_ih, W_hh, b, *, act=np.tanh, recurrent=True, transpose=False, bias=True):
        net = x @ W_ih + (h @ (W_hh.T if transpose else W_hh) if recurrent else 0) + (b if bias else 0)
        return act(net)

    mistakes = [
        (lambda *a: step(*a, recurrent=False),
         "the recurrent term h_prev @ W_hh is missing: without it the network has no memory of earlier steps."),
        (lambda *a: step(*a, act=sigmoid), "the vanilla RNN squashes with tanh (outputs in (−1, 1)), not the sigmoid."),
        (lambda *a: step(*a, act=lambda z: z), "apply the activation: h_t = tanh(net_t), not net_t itself."),
        (lambda *a: step(*a, transpose=True),
         "W_hh is transposed: nnlib multiplies row vectors by (in, out) matrices, h_prev @ W_hh — not h_prev @ W_hh.T "
         "(the column-vector formula W_hh h_prev written with nnlib's matrices)."),
        (lambda *a: step(*a, bias=False), "the bias b is missing: net_t = x_t @ W_ih + h_prev @ W_hh + b."),
    ]
    check_with_diagnosis("Exercise 7.1: rnn_step", fn, _step_cases(), mistakes,
                         "h_t = np.tanh(x_t @ W_ih + h_prev @ W_hh + b): (N, I) @ (I, H) + (N, H) @ (H, H) + (H,) "
                         "gives (N, H).")


# --- Exercise 7.2: one step of BPTT -----------------------------------------------------------------------------

def _bptt_cases() -> list[Case]:
    """Each case: nnlib's forward one step from h_prev, then its backward from dh_t.

    With W_ih = identity (I = H), nnlib's dL/dx equals δ_t = dL/d net_t, so all three answers come from nnlib.
    """
    rng = np.random.default_rng(8)
    cases = []
    for n, h in [(3, 4), (1, 2), (4, 3)]:
        W_hh, h_prev = rng.normal(0, 0.8, (h, h)), rng.uniform(-1, 1, (n, h))
        layer = _rnn(np.eye(h), W_hh, rng.normal(0, 0.5, h))
        _, h_t = layer(rng.normal(0, 0.5, (n, 1, h)), h_prev)
        dh_t = rng.normal(size=(n, h))
        delta, dh_prev = layer.backward(None, dh_t)
        label = f"dh_t {dh_t.shape}, W_hh {W_hh.shape}"
        cases.append(Case((dh_t, h_t, h_prev, W_hh), (delta[:, 0], dh_prev, layer.weight_hh.grad.copy()), label))
    return cases


def check_bptt_step(fn: Callable) -> None:
    """Exercise 7.2: ``fn(dh_t, h_t, h_prev, W_hh)`` returns ``(delta_t, dh_prev, dW_hh)``.

    δ_t = dh_t ⊙ (1 − h_t²) (N, H); dh_prev = δ_t W_hhᵀ (N, H); dW_hh = h_prevᵀ δ_t (H, H).
    """
    def step(dh, h, h_prev, W, *, slope=None, transpose=True, outer=None):
        delta = dh * (1 - h**2 if slope is None else slope(h, h_prev))
        dW = h_prev.T @ delta if outer is None else outer(h, h_prev, delta)
        return delta, delta @ (W.T if transpose else W), dW

    mistakes = [
        (lambda *a: step(*a, slope=lambda h, h_prev: 1.0),
         "tanh's derivative is missing: δ_t = dh_t ⊙ (1 − h_t²) before going back through W_hh."),
        (lambda *a: step(*a, slope=lambda h, h_prev: 1 - h_prev**2),
         "tanh' belongs to the step that produced h_t: use 1 − h_t², not 1 − h_prev²."),
        (lambda *a: step(*a, slope=lambda h, h_prev: 1 - np.tanh(h) ** 2),
         "h_t is already tanh(net_t): its derivative is 1 − h_t², not 1 − tanh(h_t)²."),
        (lambda *a: step(*a, transpose=False),
         "going back through net_t = h_prev @ W_hh + … multiplies by W_hh's transpose: dh_prev = delta_t @ W_hh.T."),
        (lambda *a: step(*a, outer=lambda h, h_prev, d: d.T @ h_prev),
         "the outer product is reversed: dW_hh has W_hh's layout (from unit, to unit), so it is h_prev.T @ delta_t, "
         "not delta_t.T @ h_prev."),
        (lambda *a: step(*a, outer=lambda h, h_prev, d: h.T @ d),
         "W_hh multiplies h_prev in the forward step, so dW_hh = h_prev.T @ delta_t (not h_t.T @ delta_t)."),
    ]
    check_with_diagnosis("Exercise 7.2: bptt_step", fn, _bptt_cases(), mistakes,
                         "delta_t = dh_t * (1 - h_t**2); dh_prev = delta_t @ W_hh.T; dW_hh = h_prev.T @ delta_t; "
                         "return the three as a tuple.")


# --- Build checks: shared machinery (lesson 08 uses it too) ----------------------------------------------------

class Failure(Exception):
    """One stage of a build check failed: what differs (``problem``) and the ``hint`` naming the likely mistake."""

    def __init__(self, problem: str, hint: str):
        super().__init__(problem)
        self.problem, self.hint = problem, hint


def run_build_check(title: str, stages: list[Callable[[], str]], hint: str) -> None:
    """Run a build exercise's stages in order and print one verdict; never raises (except under grading).

    Each stage returns a short phrase for the ✅ line, or raises :class:`Failure`. ``NotImplementedError`` (the
    stub) prints ⏳; any other exception from the learner's code is feedback, with ``hint`` as its hint line.
    """
    notes = []
    for stage in stages:
        try:
            notes.append(stage())
        except NotImplementedError:
            verdict = (NOT_DONE, "not implemented yet: replace each `raise NotImplementedError` line with your code.")
            break
        except Failure as failure:
            verdict = (FAILED, f"{failure.problem}\n   Hint: {failure.hint}")
            break
        except Exception as err:  # a learner's bug is feedback, not a crash
            verdict = (FAILED, f"raised {type(err).__name__}: {' '.join(str(err).split())[:200]}\n   Hint: {hint}")
            break
    else:
        verdict = (PASSED, "correct: " + "; ".join(note for note in notes if note) + ".")
    report(title, *verdict)


def require_subclass(cls, base: type, name: str, methods: tuple[str, ...]) -> None:
    """Raise :class:`Failure` unless ``cls`` (the learner's class ``name``) derives from ``base`` and defines its own
    ``methods`` rather than inheriting nnlib's."""
    if not (isinstance(cls, type) and issubclass(cls, base)):
        kind = f"the class {cls.__name__}" if isinstance(cls, type) else f"a {type(cls).__name__}"
        raise Failure(f"expected a class derived from nnlib.{base.__name__}, got {kind}",
                      f"pass the class itself: `class {name}({base.__name__}): ...`, then the check with {name}.")
    inherited = [method for method in methods if getattr(cls, method) is getattr(base, method)]
    if inherited:
        raise Failure(f"{cls.__name__} uses nnlib's own {' and '.join(inherited)}",
                      f"write {', '.join(methods)} in {name} yourself: the exercise replaces nnlib's code.")


def first_difference(expected: dict, got: dict, rtol: float = 1e-7, atol: float = 1e-10) -> str | None:
    """The first quantity (in ``expected``'s order) where ``got`` differs, as "name: how"; None when all match."""
    for name, value in expected.items():
        problem = compare(value, got.get(name), rtol, atol)
        if problem:
            return f"{name}: {problem}"
    return None


def diagnose(got: list[dict], variants: list[dict], mistakes: list[tuple[str, str]]) -> str | None:
    """The hint of the first mistake whose results (one dict per case in ``variants[k][mistake]``) ``got`` matches."""
    for mistake, why in mistakes:
        pairs = zip(variants, got, strict=True)
        if all(first_difference(variant[mistake], result) is None for variant, result in pairs):
            return why
    return None


def compare_with_reference(results: list[dict], expected: list[dict], labels: list[str],
                           variants: Callable[[int], dict], mistakes: list[tuple[str, str]],
                           hint_for: Callable[[str], str]) -> None:
    """Raise :class:`Failure` at the first case where ``results`` differ from ``expected``.

    The hint names the first mistake of ``mistakes`` whose variant (``variants(k)[mistake]`` for case k)
    reproduces every result, else ``hint_for(quantity)`` for the first quantity that differs.
    """
    for result, reference, label in zip(results, expected, labels, strict=True):
        problem = first_difference(reference, result)
        if problem:
            why = diagnose(results, [variants(k) for k in range(len(results))], mistakes)
            raise Failure(f"{label}: {problem}", why or hint_for(problem.partition(":")[0]))


def gradcheck_stage(layer: Module, *inputs) -> str:
    """``nnlib.gradcheck`` of the learner's layer; raise :class:`Failure` naming the worst gradient above 1e-6."""
    errors = gradcheck(layer, *inputs, tol=None)
    worst = max(errors, key=errors.get)
    if not errors[worst] <= 1e-6:
        raise Failure(f"gradcheck: the gradient of {worst!r} differs from finite differences (relative error "
                      f"{errors[worst]:.1e})", "backward must return the exact derivative of what forward computes: "
                      "compare your backward with the derivation, quantity by quantity.")
    return f"gradcheck passes (worst relative error {errors[worst]:.0e})"


def training_losses(model: Module, loss_fn: Module, optimizer, data: list[tuple]) -> list[float]:
    """Train ``model`` one optimizer step per (x, y) batch of ``data``; the loss of each step."""
    losses = []
    for x, y in data:
        model.zero_grad()
        losses.append(float(loss_fn(model(x), y)))
        model.backward(loss_fn.backward())
        optimizer.step()
    return losses


def same_training(mine: list[float], reference: list[float], what: str, hint: str) -> str:
    """Raise :class:`Failure` unless two loss trajectories agree; else a phrase for the ✅ line."""
    problem = compare(np.array(reference), np.array(mine, dtype=np.float64), 1e-6, 1e-9)
    if problem:
        raise Failure(f"plug-in: {what} trained differently from nnlib's layer: losses {problem}", hint)
    return (f"plug-in: {what} trains exactly like nnlib's layer ({len(mine)} steps, "
            f"loss {mine[0]:.3f} → {mine[-1]:.3f})")


# --- Exercise 7.3 (build): an RNN layer with full BPTT ----------------------------------------------------------

RNN_CASES = [  # (N, T, I, H, h0 given, grad_h_n given), N ≠ T and I ≠ H so that a mixed-up axis shows
    (2, 5, 3, 4, False, False), (3, 4, 2, 5, True, True), (1, 6, 4, 3, True, False), (4, 2, 1, 2, False, True),
]
RNN_QUANTITIES = ("output", "h_n", "dx", "dh0", "weight_ih.grad", "weight_hh.grad", "bias_ih.grad", "bias_hh.grad")


def rnn_case_inputs(k: int) -> dict:
    """Case k of RNN_CASES: x, h0, grad_output, grad_h_n and the gradients already in the parameters (float64)."""
    n, t, i, h, with_h0, with_grad_h_n = RNN_CASES[k]
    rng = np.random.default_rng(700 + k)
    return {"x": rng.normal(size=(n, t, i)), "h0": rng.uniform(-1, 1, (n, h)) if with_h0 else None,
            "grad_output": rng.normal(size=(n, t, h)), "grad_h_n": rng.normal(size=(n, h)) if with_grad_h_n else None,
            "prefill": {name: rng.normal(size=shape) for name, shape in
                        [("weight_ih", (i, h)), ("weight_hh", (h, h)), ("bias_ih", (h,)), ("bias_hh", (h,))]}}


def run_rnn_layer(layer: Module, inputs: dict) -> dict:
    """Forward and backward of ``layer`` on one case: every quantity of RNN_QUANTITIES (params' grads prefilled)."""
    for name, value in inputs["prefill"].items():
        getattr(layer, name).grad[...] = value
    grad_output = inputs["grad_output"].copy()
    output, h_n = layer(inputs["x"].copy(), None if inputs["h0"] is None else inputs["h0"].copy())
    dx, dh0 = layer.backward(grad_output, None if inputs["grad_h_n"] is None else inputs["grad_h_n"].copy())
    if not np.array_equal(grad_output, inputs["grad_output"]):
        raise Failure("backward modified grad_output in place",
                      "never write into an incoming gradient: dh = dh + grad_output[:, t] makes a new array, "
                      "grad_output[:, t] += ... changes the caller's.")
    return {"output": output, "h_n": h_n, "dx": dx, "dh0": dh0,
            **{f"{name}.grad": getattr(layer, name).grad.copy() for name in inputs["prefill"]}}


def rnn_bptt(layer: RNN, inputs: dict, mistake: str = "") -> dict:
    """Forward and BPTT of a tanh RNN written out with NumPy, with one deliberate ``mistake`` (see RNN_MISTAKES)."""
    W_ih, W_hh, b_ih, b_hh = (p.data for p in (layer.weight_ih, layer.weight_hh, layer.bias_ih, layer.bias_hh))
    x, g = inputs["x"], inputs["grad_output"]
    n, t_len, _ = x.shape
    h0 = np.zeros((n, W_hh.shape[0])) if inputs["h0"] is None or mistake == "h0 ignored" else inputs["h0"]
    hs = [h0]
    for t in range(t_len):
        hs.append(np.tanh(x[:, t] @ W_ih + b_ih + hs[-1] @ W_hh + (0 if mistake == "no bias_hh" else b_hh)))
    output = np.stack(hs[1:], axis=1)
    if mistake == "time-major output":
        output = output.transpose(1, 0, 2)
    elif mistake == "output with h0":
        output = np.stack(hs, axis=1)
    use_grad_h_n = inputs["grad_h_n"] is not None and mistake != "grad_h_n ignored"
    dh = inputs["grad_h_n"] if use_grad_h_n else np.zeros_like(h0)
    dx = np.zeros_like(x)
    grads = {name: value.copy() for name, value in inputs["prefill"].items()}
    if mistake == "overwrite the grads":
        grads = {name: np.zeros_like(value) for name, value in grads.items()}
    for t in reversed(range(t_len)):
        h_t, h_prev = hs[t + 1], hs[t]
        dh = dh if mistake == "no output gradient" else dh + g[:, t]
        slope = {"no tanh'": 1.0, "tanh' of h_t again": 1 - np.tanh(h_t) ** 2,
                 "tanh' of h_prev": 1 - h_prev**2}.get(mistake, 1 - h_t**2)
        delta = dh * slope
        multiplied = h_t if mistake == "dW_hh with h_t" else h_prev  # what W_hh multiplies: h_{t−1}
        steps = {"weight_ih": x[:, t].T @ delta, "weight_hh": multiplied.T @ delta,
                 "bias_ih": delta.sum(axis=0), "bias_hh": 0 * delta.sum(axis=0) if mistake == "no bias_hh grad"
                 else delta.sum(axis=0)}
        for name, value in steps.items():
            grads[name] = value if mistake == "= per step" else grads[name] + value
        dx[:, t] = delta @ W_ih.T
        dh = {"no W_hh transpose": delta @ W_hh, "no way back": np.zeros_like(delta),
              "no W_hh on the way back": delta}.get(mistake, delta @ W_hh.T)
    return {"output": output, "h_n": hs[-1], "dx": dx, "dh0": dh, **{f"{k}.grad": v for k, v in grads.items()}}


RNN_MISTAKES = [
    ("h0 ignored", "forward must start from h0 when it is given (zeros only when h0 is None)."),
    ("no bias_hh", "net_t adds both biases: x_t @ W_ih + b_ih + h_prev @ W_hh + b_hh."),
    ("time-major output", "the output is batch-first, (N, T, H): stack the states along axis 1 (or transpose "
     "hs[1:] with .transpose(1, 0, 2))."),
    ("output with h0", "the output holds h_1 … h_T, one state per input step: leave out h_0."),
    ("no output gradient", "add the gradient arriving from the output at each step: dh = dh + grad_output[:, t], "
     "then δ_t = dh ⊙ (1 − h_t²) — the term ∂L_t/∂h_t of the recursion."),
    ("no way back", "carry the gradient back through time: after step t, dh = δ_t @ W_hh.T is what h_{t−1} "
     "receives from step t (the recursion's second term); without it BPTT is truncated to one step."),
    ("no W_hh on the way back", "going back one step multiplies by the Jacobian's W_hhᵀ: dh = δ_t @ W_hh.T, not δ_t."),
    ("no W_hh transpose", "going back through net_t = h_{t−1} @ W_hh + … multiplies by W_hh's transpose: "
     "dh = δ_t @ W_hh.T."),
    ("no tanh'", "tanh's derivative is missing: δ_t = dh ⊙ (1 − h_t²)."),
    ("tanh' of h_t again", "h_t is already tanh(net_t): tanh'(net_t) = 1 − h_t², not 1 − tanh(h_t)²."),
    ("tanh' of h_prev", "tanh' belongs to the step that produced h_t: use 1 − h_t² (hs[t + 1]), not 1 − h_{t−1}²."),
    ("dW_hh with h_t", "W_hh multiplies h_{t−1} at step t: dW_hh += h_{t−1}ᵀ δ_t (hs[t] with hs[0] = h_0), "
     "not h_tᵀ δ_t."),
    ("= per step", "the shared weights' gradient is a SUM over time: add every step's contribution with +=, "
     "don't overwrite it at each step."),
    ("overwrite the grads", "accumulate into each Parameter's grad with += (it may already hold other "
     "contributions, e.g. from a previous batch or a shared use); don't assign it."),
    ("no bias_hh grad", "both biases enter net_t the same way: bias_ih.grad and bias_hh.grad each get Σ_t δ_t."),
    ("grad_h_n ignored", "backward must start from dh = grad_h_n when it is given (zeros when it is None)."),
]

RNN_HINTS = {
    "output": "forward: h_t = tanh(x_t @ W_ih + b_ih + h_{t−1} @ W_hh + b_hh) from h_0 = h0; return (all states "
              "(N, T, H), h_T).",
    "dx": "dx[:, t] = δ_t @ W_ih.T, with δ_t = (dh + grad_output[:, t]) ⊙ (1 − h_t²).",
    "dh0": "dh0 is the dh left after the loop (t = 1 … T walked in reverse): δ_1 @ W_hh.T.",
}


def rnn_hint(quantity: str) -> str:
    """The fallback hint for the first quantity of the build that differs from nnlib."""
    if quantity in ("output", "h_n"):
        return RNN_HINTS["output"]
    return RNN_HINTS.get(quantity, "the parameter gradients are sums over time: dW_ih += x_tᵀ δ_t, dW_hh += "
                         "h_{t−1}ᵀ δ_t, both biases += δ_t summed over the batch, for every t.")


def rnn_layer_pair(cls: type, input_size: int, hidden_size: int, seed: int) -> tuple[Module, RNN]:
    """The learner's layer and nnlib's, float64, with the same initial parameters (the same seed)."""
    return cls(input_size, hidden_size, rng=seed, dtype=np.float64), RNN(input_size, hidden_size, rng=seed,
                                                                         dtype=np.float64)


def rnn_reference_stage(cls: type) -> str:
    """Stage 1: every output and gradient against nnlib.RNN on the RNN_CASES."""
    results, expected, variants = [], [], []
    for k, (_, _, i, h, _, _) in enumerate(RNN_CASES):
        mine, reference = rnn_layer_pair(cls, i, h, seed=k)
        inputs = rnn_case_inputs(k)
        results.append(run_rnn_layer(mine, inputs))
        expected.append(run_rnn_layer(reference, inputs))
        variants.append({mistake: rnn_bptt(reference, inputs, mistake) for mistake, _ in RNN_MISTAKES})
    labels = [f"x {np.shape(rnn_case_inputs(k)['x'])}, h0 {'given' if c[4] else 'None'}, grad_h_n "
              f"{'given' if c[5] else 'None'}" for k, c in enumerate(RNN_CASES)]
    compare_with_reference(results, expected, labels, variants.__getitem__, RNN_MISTAKES, rnn_hint)
    return f"outputs, dx, dh0 and all 4 parameter gradients equal nnlib.RNN's on {len(RNN_CASES)} random sequences"


def sine_batches() -> list[tuple]:
    """Eight float64 mini-batches (x (8, 12, 1), y (8, 12, 1)) of the noisy-sine task: 4 batches, twice."""
    X, y = make_noisy_sine(32, 12, rng=0, dtype=np.float64)
    return [(X[s:s + 8], y[s:s + 8]) for s in range(0, 32, 8)] * 2


def rnn_plug_in_stage(cls: type) -> str:
    """Stage 3: a SequenceModel with the learner's RNN trains on the noisy sine exactly like one with nnlib's."""
    losses = []
    for layer in rnn_layer_pair(cls, 1, 8, seed=3):
        model = SequenceModel(layer, Linear(8, 1, rng=4, dtype=np.float64))
        losses.append(training_losses(model, MSELoss(), Adam(model.parameters(), lr=0.05), sine_batches()))
    return same_training(losses[0], losses[1], "SequenceModel(your RNN, Linear) on the noisy sine",
                         "the checks on random sequences passed, so look at what training adds: several "
                         "backward calls in a row (accumulate with += and let zero_grad reset), and float64 inputs.")


def check_rnn_layer(cls) -> None:
    """Exercise 7.3: ``cls`` is the learner's ``MyRNN(nnlib.RNN)`` with its own ``forward(x, h0=None)`` →
    ``(output (N, T, H), h_n (N, H))`` and ``backward(grad_output, grad_h_n=None)`` → ``(dx, dh0)``.

    Three checks: (1) every output and gradient against nnlib.RNN on random float64 sequences of several shapes;
    (2) ``nnlib.gradcheck``; (3) plug-in: inside a SequenceModel it trains on the noisy sine like nnlib's RNN.
    """
    def gradcheck_rnn() -> str:
        rng = np.random.default_rng(73)
        return gradcheck_stage(cls(3, 4, rng=5, dtype=np.float64), rng.normal(size=(2, 3, 3)),
                               rng.uniform(-1, 1, (2, 4)))

    run_build_check("Exercise 7.3: MyRNN", [
        lambda: require_subclass(cls, RNN, "MyRNN", ("forward", "backward")),
        lambda: rnn_reference_stage(cls), gradcheck_rnn, lambda: rnn_plug_in_stage(cls),
    ], "forward loops over t keeping every state; backward walks t = T … 1: dh = dh + grad_output[:, t], "
       "δ_t = dh ⊙ (1 − h_t²), the parameters' grads += each step's share, dx[:, t] = δ_t @ W_ih.T, dh = δ_t @ W_hh.T.")


# --- Exercise 7.4: gradient clipping by the global norm ------------------------------------------------------------

CLIP_CASES = [  # (gradients of each parameter, max_norm)
    (([3.0, 4.0], [0.0, 12.0]), 1.0),                               # the lesson's example: global norm 13
    (([[0.5, -1.0], [2.0, 0.0]], [1.5], [-3.0, 0.5, 1.0]), 2.0),     # norm 4.3: clipped
    (([0.3, -0.4], [[0.0, 1.2]]), 5.0),                             # norm 1.3 < 5: left alone
]


def clipped(clip: Callable, grads: tuple, max_norm: float) -> tuple:
    """(returned value, every parameter's grad afterwards) when ``clip(params, max_norm)`` runs on Parameters whose
    grads are ``grads``."""
    params = [Parameter(np.zeros(np.shape(g))) for g in grads]
    for param, grad in zip(params, grads, strict=True):
        param.grad[...] = grad
    returned = clip(params, max_norm)
    return (returned, *(param.grad for param in params))


def clip_variant(grads: tuple, max_norm: float, mistake: str = "") -> tuple:
    """What a clipping function with one typical ``mistake`` leaves: (returned norm, grads)."""
    arrays = [np.array(g, dtype=np.float64) for g in grads]
    norm = np.sqrt(sum(np.sum(a * a) for a in arrays))
    if mistake == "per parameter":
        return (norm, *(a * min(1.0, max_norm / np.linalg.norm(a)) for a in arrays))
    if mistake == "by value":
        return (norm, *(np.clip(a, -max_norm, max_norm) for a in arrays))
    scale = max_norm / norm if (norm > max_norm or mistake == "always") else 1.0
    new = arrays if mistake == "not in place" else [a * scale for a in arrays]
    return (norm * scale if mistake == "norm after" else norm, *new)


def check_clip_grad_norm(fn: Callable) -> None:
    """Exercise 7.4: ``fn(params, max_norm)`` scales every ``param.grad`` in place by max_norm / ‖g‖ when the global
    norm ‖g‖ = √(Σ_p ‖g_p‖²) exceeds max_norm, and returns ‖g‖ (before clipping), like ``nnlib.clip_grad_norm``."""
    def run(grads, max_norm):
        return clipped(fn, grads, max_norm)

    run.__name__ = getattr(fn, "__name__", "your function")
    cases = [Case((grads, max_norm), clipped(clip_grad_norm, grads, max_norm),
                  f"{len(grads)} parameters, max_norm={max_norm}") for grads, max_norm in CLIP_CASES]
    mistakes = [
        (lambda grads, c: clip_variant(grads, c, "per parameter"), "one norm for ALL parameters together: "
         "‖g‖ = √(Σ_p ‖g_p‖²), and one common factor c / ‖g‖ — clipping each parameter on its own changes the "
         "gradient's direction."),
        (lambda grads, c: clip_variant(grads, c, "by value"), "that is clipping by value (np.clip): this exercise "
         "rescales the whole gradient, keeping its direction."),
        (lambda grads, c: clip_variant(grads, c, "always"), "clip only when the norm exceeds max_norm: a smaller "
         "gradient is left as it is (it must not be scaled UP to max_norm)."),
        (lambda grads, c: clip_variant(grads, c, "not in place"), "the parameters' grads are unchanged: scale them in "
         "place, param.grad *= scale (a new array in a local variable reaches no optimizer)."),
        (lambda grads, c: clip_variant(grads, c, "norm after"), "return the norm BEFORE clipping (worth logging: its "
         "spikes show the explosions), not the clipped one."),
    ]
    check_with_diagnosis("Exercise 7.4: clip_by_global_norm", run, cases, mistakes,
                         "total = np.sqrt(sum(np.sum(p.grad**2) for p in params)); if total > max_norm, multiply "
                         "every p.grad by max_norm / total; return total.")


# --- Exercise 7.5: sampling temperature ------------------------------------------------------------------------------

def temperature_cases() -> list[Case]:
    rng = np.random.default_rng(75)
    cases = [Case((np.array([2.0, 1.0, 0.1]), 1.0), softmax(np.array([2.0, 1.0, 0.1])), "logits [2, 1, 0.1], τ = 1")]
    for shape, tau, scale in [((5,), 0.5, 3.0), ((3, 4), 2.0, 2.0), ((2, 6), 0.1, 1.0), ((4,), 0.05, 60.0)]:
        logits = rng.normal(0, scale, shape)
        cases.append(Case((logits, tau), softmax(logits / tau), f"logits of shape {shape} (scale {scale}), τ = {tau}"))
    return cases


def check_temperature_softmax(fn: Callable) -> None:
    """Exercise 7.5: ``fn(logits, temperature)`` returns softmax(logits / temperature) over the last axis."""
    def stable(z):
        e = np.exp(z - z.max(axis=-1, keepdims=True))
        return e / e.sum(axis=-1, keepdims=True)

    mistakes = [
        (lambda z, tau: stable(z * tau), "DIVIDE the logits by the temperature: a low τ sharpens the distribution "
         "(z / τ grows), a high τ flattens it."),
        (lambda z, tau: stable(z), "the temperature is missing: softmax(logits / temperature)."),
        (lambda z, tau: np.exp(z / tau) / np.exp(z / tau).sum(axis=-1, keepdims=True), "exp overflows for large "
         "logits / τ: subtract the maximum first, exp(z − max z) — the same probabilities, no inf."),
        (lambda z, tau: np.exp(z / tau - (z / tau).max()) / np.exp(z / tau - (z / tau).max()).sum(),
         "normalise each row on its own: softmax over the LAST axis (sum with axis=-1, keepdims=True)."),
        (lambda z, tau: np.exp(z / tau - (z / tau).max(axis=-1, keepdims=True)), "normalise: divide by the sum, "
         "so that the probabilities add up to 1."),
    ]
    with np.errstate(over="ignore", invalid="ignore"):  # the overflow mistake is reproduced, not warned about
        check_with_diagnosis("Exercise 7.5: temperature_softmax", fn, temperature_cases(), mistakes,
                             "z = logits / temperature; e = np.exp(z - z.max(axis=-1, keepdims=True)); "
                             "return e / e.sum(axis=-1, keepdims=True).")


# --- Exercise 7.6 (challenge): truncated BPTT on long sequences --------------------------------------------------

def truncated_reference(model: SequenceModel, loss_fn: Module, optimizer, x, y, window: int, mistake: str = ""):
    """Truncated BPTT: one optimizer step per window, the state carried forward; one typical ``mistake``."""
    losses, state = [], None
    stop = x.shape[1] - x.shape[1] % window if mistake == "tail dropped" else x.shape[1]
    for start in range(0, stop, window):
        if mistake != "no zero_grad":
            model.zero_grad()
        losses.append(float(loss_fn(model(x[:, start:start + window], state), y[:, start:start + window])))
        model.backward(loss_fn.backward())
        if mistake != "one step at the end":
            optimizer.step()
        state = None if mistake == "state reset" else model.state
    if mistake == "one step at the end":
        optimizer.step()
    return losses


def truncated_run(train: Callable, window: int) -> tuple:
    """(losses, all parameters afterwards) when ``train`` runs on a fixed long noisy sine and a fresh float64 model."""
    X, y = make_noisy_sine(6, 48, rng=76, dtype=np.float64)
    model = SequenceModel(RNN(1, 8, rng=0, dtype=np.float64), Linear(8, 1, rng=1, dtype=np.float64))
    losses = train(model, MSELoss(), Adam(model.parameters(), lr=0.02), X, y, window)
    weights = np.concatenate([p.data.ravel() for p in model.parameters()])
    return (None if losses is None else np.asarray(losses, dtype=np.float64), weights)


def check_truncated_bptt(fn: Callable) -> None:
    """Exercise 7.6 (challenge): ``fn(model, loss_fn, optimizer, x, y, window)`` trains on windows of ``window`` steps
    (the last one may be shorter), carrying the state forward, one optimizer step per window; returns the losses."""
    def run(window):
        return truncated_run(fn, window)

    def mistake(name):
        return lambda window: truncated_run(lambda *args: truncated_reference(*args, mistake=name), window)

    run.__name__ = getattr(fn, "__name__", "your function")
    cases = [Case((w,), truncated_run(truncated_reference, w), f"a sequence of 48 steps, window={w}") for w in (12, 10)]
    mistakes = [
        (mistake("state reset"), "carry the state over: each window starts from the previous window's last state, "
         "model(x_window, model.state) — only the gradient is cut, not the memory."),
        (mistake("no zero_grad"), "call model.zero_grad() before each window's backward: otherwise every step also "
         "applies the gradients of all earlier windows."),
        (mistake("one step at the end"), "one optimizer step per window: that is what makes truncated BPTT cheap "
         "and frequent."),
        (mistake("tail dropped"), "the last window may be shorter: range(0, T, window) and x[:, start:start + window] "
         "cover every step."),
    ]
    check_with_diagnosis("Exercise 7.6 (challenge): truncated_bptt", run, cases, mistakes,
                         "state = None; for each start in range(0, T, window): zero_grad, loss of model(x_window, "
                         "state), backward, optimizer.step(), state = model.state; collect the float losses.")
