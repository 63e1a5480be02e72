"""Checks for lesson 05, regularization and dropout.

Reference values come from nnlib: :class:`nnlib.L2Penalty` and :class:`nnlib.L1Penalty` for the penalty
gradients, :class:`nnlib.Dropout` (with a fixed keep-mask, or the same seed) for dropout, and
``L1Penalty(proximal=True)`` for the proximal step. nnlib has no early stopping, so this module holds the reference
loop, :func:`reference_early_stopping`.

When a learner's answer is wrong, each check also tries the typical mistakes (the ½ of the L2 penalty forgotten,
sign(0) taken as 1, dropout without its 1/(1 − p) rescaling, a backward that draws a new mask, restoring the last
weights instead of the best, ...) and, if one of them reproduces the learner's output exactly, names it in the hint.

The build exercises (the ``MyDropout`` layer, the early-stopping loop) are checked in stages: compared with the
reference, gradient-checked, then plugged into a model that trains. The first stage that fails is reported.
"""

from __future__ import annotations

from collections.abc import Callable

import numpy as np

from ..data import make_moons
from ..gradcheck import gradcheck
from ..layers import Dropout, Linear, ReLU
from ..losses import CrossEntropyLoss
from ..module import Module, Parameter, Sequential, no_grad
from ..optim import SGD, Adam
from ..regularization import L1Penalty, L2Penalty, Penalty
from ..training import evaluate, fit
from ._core import FAILED, NOT_DONE, PASSED, Case, check_with_diagnosis, compare, report

# --- shared machinery of the build checks ------------------------------------------------------------------


class WrongAnswer(Exception):
    """Raised by a stage of a build check: what differs (``problem``) and what to do about it (``hint``)."""

    def __init__(self, problem: str, hint: str):
        super().__init__(problem)
        self.problem, self.hint = problem, hint


def _run_stages(title: str, name: str, stages: list[tuple[str, Callable[[], None]]], passed: str,
                crash_hint: str) -> None:
    """Run each ``(label, stage)`` in order and report the first failure, or ``passed``. Never raises.

    A stage raises :class:`WrongAnswer` for a wrong result; NotImplementedError anywhere means ⏳, and any other
    exception from the learner's code is a ❌ naming it, with ``crash_hint``.
    """
    for label, stage in stages:
        try:
            stage()
        except NotImplementedError as err:
            which = "" if str(err).endswith(f"implement {name}") else f" ({err})"  # e.g. "(…: implement forward)"
            report(title, NOT_DONE, f"{name} is not implemented yet{which}: replace each `raise NotImplementedError` "
                                    "line.")
            return
        except WrongAnswer as wrong:
            report(title, FAILED, f"{label}: {wrong.problem}\n   Hint: {wrong.hint}")
            return
        except Exception as err:  # a learner's bug is feedback, not a crash
            report(title, FAILED, f"{label}: {type(err).__name__}: {err}\n   Hint: {crash_hint}")
            return
    report(title, PASSED, passed)


def _first_match(got, candidates: list[tuple[Callable[[], object], str]], fallback: str) -> str:
    """The hint of the first ``(make_wrong_result, hint)`` whose result equals ``got``; else ``fallback``."""
    for make, hint in candidates:
        if compare(make(), got, rtol=1e-9, atol=1e-12) is None:
            return hint
    return fallback


# --- Exercises 5.1 and 5.2: the L2 and L1 gradient terms ----------------------------------------------------


def _penalty_reference(penalty: Penalty, data_grad, w) -> np.ndarray:
    """data_grad + ∂R/∂w, as ``penalty.backward`` adds it to a layer's weight gradient (w's shape)."""
    shape = np.shape(w)
    w2 = np.reshape(w, (shape[0], -1) if len(shape) else (1, 1))
    layer = Linear(*w2.shape, bias=False, dtype=np.float64)
    layer.weight.data[...] = w2
    layer.weight.grad[...] = np.reshape(data_grad, w2.shape)
    penalty.backward(layer)
    return layer.weight.grad.reshape(shape).copy()


def _penalty_args(seed: int) -> list[tuple[np.ndarray, np.ndarray, float]]:
    """(data_grad, w, lam) triples; some weights are exactly 0 (where L1's sign(0) = 0 matters)."""
    rng = np.random.default_rng(seed)
    matrix = rng.normal(scale=2.0, size=(3, 2))
    matrix[1, 0] = 0.0
    return [
        (np.zeros(4), np.array([-2.0, -0.5, 0.0, 3.0]), 0.1),           # the penalty's gradient alone
        (np.array([0.3, -0.2, 0.1]), np.array([1.5, 0.25, -4.0]), 0.01),
        (rng.normal(size=(3, 2)), matrix, 0.5),                           # a layer's weight matrix
        (np.array([0.4, -0.7]), np.array([2.0, -3.0]), 0.0),            # λ = 0: no regularization
    ]


def check_l2_gradient(fn: Callable) -> None:
    """Exercise 5.1: ``fn(data_grad, w, lam)`` returns ∂(E + λ/2 Σ w²)/∂w = data_grad + λ w (w's shape)."""
    cases = [Case(a, _penalty_reference(L2Penalty(a[2]), *a[:2])) for a in _penalty_args(5)]
    mistakes = [
        (lambda g, w, lam: g + 2 * lam * w,
         "that is 2λw: R = λ/2 Σ w² has the ½ so that its derivative is λ/2 · 2w = λw."),
        (lambda g, w, lam: g + lam * np.sign(w), "λ sign(w) is the gradient of the L1 penalty λ Σ |w|; L2 gives λw."),
        (lambda g, w, lam: g - lam * w,
         "sign error: ∂R/∂w = +λw (R grows with |w|); the update w − η(… + λw) then pulls w towards 0."),
        (lambda g, w, lam: g + lam * w**2, "λw² is not the derivative: d(λ/2 · w²)/dw = λw."),
        (lambda g, w, lam: lam * w, "return the total gradient: the data gradient data_grad plus the penalty's λw."),
    ]
    check_with_diagnosis("Exercise 5.1: l2_gradient", fn, cases, mistakes,
                         "return data_grad + lam * w (elementwise, same shape as w).")


def check_l1_gradient(fn: Callable) -> None:
    """Exercise 5.2: ``fn(data_grad, w, lam)`` returns ∂(E + λ Σ |w|)/∂w = data_grad + λ sign(w), sign(0) = 0."""
    cases = [Case(a, _penalty_reference(L1Penalty(a[2]), *a[:2])) for a in _penalty_args(8)]
    mistakes = [
        (lambda g, w, lam: g + lam * w, "λw is the gradient of the L2 penalty; L1's λ Σ |w| gives λ sign(w)."),
        (lambda g, w, lam: g + lam * np.where(w >= 0, 1.0, -1.0),
         "sign(0) = 0: a weight that is exactly 0 gets no pull (np.sign(0.0) is 0.0; `w >= 0` makes it +1)."),
        (lambda g, w, lam: g + lam * np.where(w > 0, 1.0, -1.0),
         "sign(0) = 0: a weight that is exactly 0 gets no pull (np.sign(0.0) is 0.0; `w > 0` makes it −1)."),
        (lambda g, w, lam: g + lam * w / np.abs(w),
         "w / |w| is 0/0 = NaN at w = 0: use np.sign(w), which gives sign(0) = 0."),
        (lambda g, w, lam: g - lam * np.sign(w),
         "sign error: ∂R/∂w = +λ sign(w), so that the step w − η(… + λ sign(w)) pulls w towards 0."),
        (lambda g, w, lam: g + np.sign(w), "multiply sign(w) by the strength lam."),
        (lambda g, w, lam: lam * np.sign(w), "return the total gradient: data_grad plus the penalty's λ sign(w)."),
    ]
    with np.errstate(invalid="ignore", divide="ignore"):  # a NaN answer is reported by the check, not a warning
        check_with_diagnosis("Exercise 5.2: l1_gradient", fn, cases, mistakes,
                             "return data_grad + lam * np.sign(w) (elementwise, same shape as w).")


# --- Exercises 5.3 and 5.4: inverted dropout, forward and backward ------------------------------------------

def _dropout_args(seed: int) -> list[tuple[np.ndarray, np.ndarray, float]]:
    """(array, keep-mask of 0.0/1.0, p) triples; p = 0.5 alone could not tell 1/p from 1/(1 − p)."""
    rng = np.random.default_rng(seed)
    shapes_and_p = [((6,), 0.2), ((3, 4), 0.5), ((2, 3, 2), 0.75)]
    triples = []
    for shape, p in shapes_and_p:
        keep = (rng.random(shape) >= p).astype(np.float64)
        keep.flat[0], keep.flat[-1] = 1.0, 0.0          # at least one kept and one dropped unit
        triples.append((rng.normal(size=shape), keep, p))
    return triples


def _fixed_dropout(keep_mask, p) -> Dropout:
    layer = Dropout(p)
    layer.fix_mask(keep_mask)
    return layer


def check_dropout_forward(fn: Callable) -> None:
    """Exercise 5.3: ``fn(x, keep_mask, p)`` returns inverted dropout's training output m ⊙ x / (1 − p)."""
    cases = [Case((x, m, p), _fixed_dropout(m, p)(x)) for x, m, p in _dropout_args(6)]
    mistakes = [
        (lambda x, m, p: x * m, "rescale the kept units by 1 / (1 − p), so that the expected output equals x."),
        (lambda x, m, p: x * m / p, "divide by the keep probability 1 − p, not by the drop probability p."),
        (lambda x, m, p: x * m * (1 - p),
         "multiplying by (1 − p) shrinks the output twice; inverted dropout divides by (1 − p)."),
        (lambda x, m, p: x * (1 - m) / (1 - p),
         "the mask is inverted: keep_mask is 1 for the units that are KEPT, so multiply by keep_mask itself."),
        (lambda x, m, p: x / (1 - p), "apply the mask: the dropped units (keep_mask = 0) must output 0."),
    ]
    check_with_diagnosis("Exercise 5.3: dropout_forward", fn, cases, mistakes,
                         "return x * keep_mask / (1 - p).")


def _dropout_backward_reference(grad_out, keep_mask, p) -> np.ndarray:
    layer = _fixed_dropout(keep_mask, p)
    layer(np.zeros_like(grad_out))   # a training forward caches the mask that backward routes through
    return layer.backward(grad_out)


def check_dropout_backward(fn: Callable) -> None:
    """Exercise 5.4: ``fn(grad_out, keep_mask, p)`` returns ∂L/∂x = m ⊙ ∂L/∂y / (1 − p)."""
    cases = [Case((g, m, p), _dropout_backward_reference(g, m, p)) for g, m, p in _dropout_args(7)]
    mistakes = [
        (lambda g, m, p: g,
         "the gradient does not pass unchanged: y = m ⊙ x / (1 − p), so ∂y/∂x = m / (1 − p), elementwise."),
        (lambda g, m, p: g * m, "the forward scaled by 1 / (1 − p), so the backward must too: ∂y/∂x = m / (1 − p)."),
        (lambda g, m, p: g / (1 - p),
         "a dropped unit did not influence the loss, so its gradient is 0: multiply by keep_mask."),
        (lambda g, m, p: g * m / p, "divide by the keep probability 1 − p, not by the drop probability p."),
        (lambda g, m, p: g * (1 - m) / (1 - p), "the mask is inverted: the gradient flows through the KEPT units."),
    ]
    check_with_diagnosis("Exercise 5.4: dropout_backward", fn, cases, mistakes,
                         "return grad_out * keep_mask / (1 - p): the same scaling as the forward pass.")


# --- Exercise 5.5 (build): a Dropout layer, forward and backward ---------------------------------------------

DROPOUT_HOW = "y = x * m / (1 − p) with the keep-mask m = (self.rng.random(x.shape) >= self.p), drawn as nnlib.Dropout"
DROP_PROBABILITY_HINT = ("the keep-mask is (self.rng.random(x.shape) >= self.p): each unit is KEPT with probability "
                         "1 − p; `< self.p` keeps it with probability p.")


def _new_layer(cls, p: float, seed: int) -> Module:
    """``cls(p, seed)``, which must be an nnlib Module."""
    layer = cls(p, seed)
    if not isinstance(layer, Module):
        raise WrongAnswer(f"{getattr(cls, '__name__', cls)}(p, rng) made a {type(layer).__name__}, "
                          "not an nnlib Module", "write `class MyDropout(Module):` with forward and backward methods.")
    return layer


def _forward_hint(x, y, mask, p, previous_mask) -> str:
    """Name the mistake that turns nnlib's keep-mask ``mask`` into the learner's training output ``y``."""
    kept = 1 - mask
    candidates = [
        (lambda: x * mask, "rescale the kept units by 1 / (1 − p), so that the expected output equals x."),
        (lambda: x * mask / p, "divide by the keep probability 1 − p, not by the drop probability p."),
        (lambda: x * mask * (1 - p), "multiplying by (1 − p) shrinks the output twice; divide by (1 − p)."),
        (lambda: x * kept / (1 - p), DROP_PROBABILITY_HINT),
        (lambda: x * kept / p, DROP_PROBABILITY_HINT),
        (lambda: x * kept, DROP_PROBABILITY_HINT),
        (lambda: x, "in training mode (self.training is True) dropout drops units: apply the mask."),
        (lambda: x / (1 - p), "apply the mask: the dropped units must output 0."),
    ]
    if previous_mask is not None:
        candidates.append((lambda: x * previous_mask / (1 - p),
                           "draw a NEW mask at every training forward (not once, in __init__ or the first call)."))
    fallback = f"{DROPOUT_HOW}, one draw per forward, so that the same seed gives the same masks."
    return _first_match(y, candidates, fallback)


def _compare_forwards(cls) -> None:
    """Stage 1: train-mode outputs equal nnlib.Dropout's with the same seed (two forwards each); eval is identity."""
    rng = np.random.default_rng(55)
    for shape, p, seed in [((6,), 0.2, 0), ((3, 4), 0.5, 1), ((2, 3, 5), 0.75, 2), ((40,), 0.1, 3)]:
        mine, ref = _new_layer(cls, p, seed), Dropout(p, rng=seed)
        x = rng.normal(size=shape)
        previous = None
        for call in ("first", "second"):
            expected, y = ref(x), mine(x)
            problem = compare(expected, y, rtol=1e-12, atol=1e-12)
            if problem:
                raise WrongAnswer(f"{call} training forward, x of shape {shape}, p={p}: {problem}",
                                  _forward_hint(x, y, ref.mask, p, previous))
            previous = ref.mask
        _compare_eval_forward(mine, x, p)


def _compare_eval_forward(layer: Module, x: np.ndarray, p: float) -> None:
    """In eval mode the learner's layer must return x itself."""
    y = layer.eval()(x)
    problem = compare(x, y, rtol=0, atol=0)
    if problem:
        hint = _first_match(y, [(lambda: x * (1 - p), "inverted dropout already scaled in training: in eval mode "
                                 "return x itself, with no (1 − p) factor.")],
                            "in eval mode (self.training is False) dropout is the identity: return x unchanged.")
        raise WrongAnswer(f"eval-mode forward, x of shape {x.shape}, p={p}: {problem}", hint)


def _compare_backwards(cls) -> None:
    """Stage 2a: backward of a forward on ones (whose output is the scaled mask itself) is grad_out ⊙ that output."""
    rng = np.random.default_rng(56)
    p, x = 0.4, np.ones((5, 6))
    layer = _new_layer(cls, p, 5)
    scale = layer(x)                       # x = 1, so y = m / (1 − p): the scaled mask of this forward
    grad_out = rng.normal(size=x.shape)
    got = layer.backward(grad_out)
    problem = compare(grad_out * scale, got, rtol=1e-12, atol=1e-12)
    if problem:
        mask = (scale != 0).astype(np.float64)
        candidates = [
            (lambda: grad_out, "the gradient does not pass unchanged: ∂y/∂x = m / (1 − p), elementwise."),
            (lambda: grad_out * mask, "the forward scaled by 1 / (1 − p), so the backward must too."),
            (lambda: grad_out * mask / p, "divide by the keep probability 1 − p, not by the drop probability p."),
        ]
        fallback = ("backward used a different mask from its forward's: read the forward's scaled mask from "
                    "self.cache; never draw a mask in backward." if _is_masked(got, grad_out, p) else
                    "return grad_out * self.cache.scale, the scaled mask m / (1 − p) that forward stored.")
        raise WrongAnswer(f"training backward, p={p}, shape {x.shape}: {problem}",
                          _first_match(got, candidates, fallback))
    layer.eval()
    layer(x)
    problem = compare(grad_out, layer.backward(grad_out), rtol=0, atol=0)
    if problem:
        raise WrongAnswer(f"eval-mode backward: {problem}",
                          "in eval mode the forward is the identity, so backward returns grad_out unchanged.")


def _is_masked(got, grad_out, p) -> bool:
    """Whether ``got`` is grad_out ⊙ (some 0/1 mask) / (1 − p): a backward with a mask, maybe not its forward's."""
    got = np.asarray(got, dtype=np.float64) if got is not None else None
    if got is None or got.shape != grad_out.shape:
        return False
    ratio = got / grad_out
    return bool(np.all(np.isclose(ratio, 0) | np.isclose(ratio, 1 / (1 - p))))


class _SameMaskEveryCall(Module):
    """Wraps a dropout layer and reseeds its ``rng`` before each forward: one fixed function, for gradcheck."""

    def __init__(self, layer: Module, seed: int):
        self.layer, self.seed = layer, seed

    def forward(self, x):
        self.layer.rng = np.random.default_rng(self.seed)
        return self.layer(x)

    def backward(self, grad_out):
        return self.layer.backward(grad_out)


def _gradcheck_dropout(cls) -> None:
    """Stage 2b: nnlib.gradcheck of Linear → the learner's dropout (with the same mask at every call)."""
    model = Sequential(Linear(3, 5, rng=0, dtype=np.float64), _SameMaskEveryCall(_new_layer(cls, 0.3, 4), 4))
    x = np.random.default_rng(57).normal(size=(6, 3))
    errors = gradcheck(model, x, tol=None)
    worst = max(errors, key=errors.get)
    if not errors[worst] <= 1e-7:
        raise WrongAnswer(f"relative error {errors[worst]:.1e} for {worst} (above 1e-7)",
                          "backward must return grad_out * m / (1 − p) with the mask of its own forward (self.cache).")


def _mlp(dropout: Module) -> Sequential:
    """A float64 2-16-16-2 ReLU MLP with ``dropout`` after the first hidden layer."""
    return Sequential(Linear(2, 16, rng=0, dtype=np.float64), ReLU(), dropout,
                      Linear(16, 16, rng=1, dtype=np.float64), ReLU(), Linear(16, 2, rng=2, dtype=np.float64))


def _train_with_dropout(cls) -> None:
    """Stage 3: an MLP with the learner's dropout trains exactly like the same MLP with nnlib.Dropout."""
    X, y = make_moons(60, noise=0.3, rng=0, dtype=np.float64)
    X_val, y_val = make_moons(60, noise=0.3, rng=1, dtype=np.float64)
    runs = []
    for dropout in (Dropout(0.3, rng=7), _new_layer(cls, 0.3, 7)):
        model = _mlp(dropout)
        history = fit(model, CrossEntropyLoss(), SGD(model.parameters(), lr=0.1), X, y, epochs=4, batch_size=10,
                      rng=0, validation=(X_val, y_val))
        runs.append((history, model.state_dict()))
    (ref_history, ref_state), (history, state) = runs
    for metric, when in [("loss", "training loss"), ("val_loss", "validation loss (eval mode)")]:
        problem = compare(np.array(ref_history[metric]), np.array(history[metric]), rtol=1e-9, atol=1e-12)
        if problem:
            raise WrongAnswer(f"{when} per epoch: {problem}",
                              "fit switches model.train() and evaluate model.eval(): follow self.training, and draw "
                              "exactly one mask per training forward.")
    for name, value in ref_state.items():
        problem = compare(value, state[name], rtol=1e-9, atol=1e-12)
        if problem:
            raise WrongAnswer(f"parameter {name} after training: {problem}",
                              "backward must return grad_out * m / (1 − p) with its forward's mask.")


def check_my_dropout(cls: Callable) -> None:
    """Exercise 5.5: ``cls(p, rng)`` is an inverted-dropout Module equal to ``nnlib.Dropout(p, rng=rng)``.

    Three stages: (1) train- and eval-mode forwards against nnlib.Dropout with the same seed, on float64 inputs of
    four shapes; (2) backward against the forward's own mask, and nnlib.gradcheck of Linear → the layer;
    (3) an MLP with the layer trains (SGD, 4 epochs) exactly like the same MLP with nnlib.Dropout.
    """
    name = getattr(cls, "__name__", "your class")
    stages = [("1. compared with nnlib.Dropout", lambda: _compare_forwards(cls)),
              ("2. backward", lambda: _compare_backwards(cls)),
              ("2. gradcheck", lambda: _gradcheck_dropout(cls)),
              ("3. plugged into an MLP", lambda: _train_with_dropout(cls))]
    _run_stages("Exercise 5.5: MyDropout", name, stages,
                f"{name} matches nnlib.Dropout on 4 shapes (train and eval mode), passes gradcheck, and trains an MLP "
                "exactly like nnlib.Dropout.",
                crash_hint=f"{DROPOUT_HOW}; backward returns grad_out * self.cache.scale.")


# --- Exercise 5.6 (build): early stopping ---------------------------------------------------------------------

def reference_early_stopping(model, loss, optimizer, X, y, X_val, y_val, patience, max_epochs, batch_size=10,
                             rng=0, *, criterion="validation", restore="best", patience_offset=0, first_epoch=1):
    """Train one epoch at a time until the validation loss has not improved for ``patience`` epochs.

    Each epoch is ``fit(model, loss, optimizer, X, y, epochs=1, batch_size=batch_size, rng=generator)`` with one
    Generator ``np.random.default_rng(rng)`` for the whole run; then the validation loss is
    ``evaluate(model, loss, X_val, y_val)["loss"]``. The model ends with the weights of the best epoch.

    Returns:
        ``(best_epoch, val_losses)``: the 1-based epoch with the lowest validation loss (strictly lower than every
        earlier one), and the validation loss after each epoch that ran; training stopped after epoch
        ``best_epoch + patience`` or ``max_epochs``, whichever came first.

    The keyword switches reproduce the typical mistakes, for the check's diagnosis: ``criterion="training"`` or
    ``"fit's training loss"`` (watching the training loss), ``criterion="train mode"`` (a validation loss computed
    in training mode),
    ``restore="last"``, ``patience_offset=±1``, ``first_epoch=0``.
    """
    generator = np.random.default_rng(rng)
    best_loss, best_epoch, best_state, val_losses = np.inf, 0, model.state_dict(), []
    for epoch in range(1, max_epochs + 1):
        history = fit(model, loss, optimizer, X, y, epochs=1, batch_size=batch_size, rng=generator)
        if criterion == "train mode":
            with no_grad():
                val_losses.append(float(loss(model(X_val), y_val)))
        elif criterion == "fit's training loss":
            val_losses.append(history["loss"][-1])
        else:
            watched = (X_val, y_val) if criterion == "validation" else (X, y)
            val_losses.append(evaluate(model, loss, *watched)["loss"])
        if val_losses[-1] < best_loss:
            best_loss, best_epoch, best_state = val_losses[-1], epoch, model.state_dict()
        elif epoch - best_epoch >= patience + patience_offset:
            break
    if restore == "best":
        model.load_state_dict(best_state)
    return best_epoch - 1 + first_epoch, val_losses


def early_stopping_task(seed: int, p_drop: float) -> tuple:
    """(model, loss, optimizer, X, y, X_val, y_val): a 2-32-32-2 MLP on 40 noisy moons, which overfits fast."""
    X, y = make_moons(40, noise=0.35, rng=seed, dtype=np.float64)
    X_val, y_val = make_moons(200, noise=0.35, rng=seed + 100, dtype=np.float64)
    layers = [Linear(2, 32, rng=seed, dtype=np.float64), ReLU()]
    layers += [Dropout(p_drop, rng=seed)] if p_drop else []
    model = Sequential(*layers, Linear(32, 32, rng=seed + 1, dtype=np.float64), ReLU(),
                       Linear(32, 2, rng=seed + 2, dtype=np.float64))
    return model, CrossEntropyLoss(), Adam(model.parameters(), lr=0.03), X, y, X_val, y_val


# (seed, dropout p, patience, max_epochs): stops early with patience 3 and 8, runs out of epochs, dropout inside.
EARLY_STOPPING_RUNS = [(0, 0.0, 3, 60), (0, 0.0, 8, 60), (1, 0.0, 5, 4), (2, 0.3, 4, 60)]

EARLY_STOPPING_MISTAKES = [
    ({"restore": "last"},
     "the model ends with the LAST epoch's weights: keep best_state = model.state_dict() (a copy) whenever the "
     "validation loss improves, and model.load_state_dict(best_state) at the end (a reference to p.data would "
     "change with training)."),
    ({"patience_offset": 1}, "patience is off by one: stop once `patience` epochs in a row brought no improvement, "
                             "i.e. after epoch best_epoch + patience."),
    ({"patience_offset": -1}, "patience is off by one: stop once `patience` epochs in a row brought no improvement, "
                              "i.e. after epoch best_epoch + patience."),
    ({"criterion": "training"}, "watch the VALIDATION loss, evaluate(model, loss, X_val, y_val)['loss']; the "
                                "training loss keeps falling while the model overfits."),
    ({"criterion": "fit's training loss"}, "watch the VALIDATION loss, evaluate(model, loss, X_val, y_val)['loss'], "
                                           "not fit's training loss, which keeps falling while the model overfits."),
    ({"criterion": "train mode"}, "compute the validation loss with nnlib.evaluate: it runs the model in eval mode "
                                  "(dropout off) and stores no cache."),
    ({"first_epoch": 0}, "epochs count from 1: after the first epoch, best_epoch is 1."),
]


def _early_stopping_outcome(function, run) -> tuple[int, list, dict]:
    """(best_epoch, val_losses, final weights) of ``function`` on the task of ``run``."""
    seed, p_drop, patience, max_epochs = run
    model, *task = early_stopping_task(seed, p_drop)
    result = function(model, *task, patience, max_epochs)
    if not isinstance(result, tuple) or len(result) != 2:
        raise WrongAnswer(f"returned {type(result).__name__} {str(result)[:40]}",
                          "return the pair (best_epoch, val_losses).")
    best_epoch, val_losses = result
    return best_epoch, list(np.atleast_1d(np.asarray(val_losses, dtype=np.float64))), model.state_dict()


def _same_outcome(a, b) -> bool:
    return (a[0] == b[0] and len(a[1]) == len(b[1]) and np.allclose(a[1], b[1], rtol=1e-9, atol=1e-12)
            and all(np.allclose(a[2][k], b[2][k], rtol=1e-9, atol=1e-12) for k in a[2]))


def _early_stopping_hint(got, run) -> str:
    for switches, hint in EARLY_STOPPING_MISTAKES:
        wrong = _early_stopping_outcome(lambda *a, s=switches: reference_early_stopping(*a, **s), run)
        if (wrong[0], len(wrong[1])) == (got[0], len(got[1])) and all(
                np.allclose(wrong[2][k], got[2][k], rtol=1e-9, atol=1e-12) for k in got[2]):
            return hint
    return ("each epoch: fit(..., epochs=1, batch_size=batch_size, rng=rng), then evaluate on (X_val, y_val); "
            "remember the epoch and model.state_dict() whenever the loss is lower than every earlier one; stop when "
            "epoch − best_epoch reaches patience; load the best state at the end.")


def _compare_early_stopping(fn) -> None:
    """Stage 1: the learner's loop stops, returns and restores exactly like the reference on every run."""
    for run in EARLY_STOPPING_RUNS:
        expected, got = (_early_stopping_outcome(f, run) for f in (reference_early_stopping, fn))
        if _same_outcome(expected, got):
            continue
        seed, p_drop, patience, max_epochs = run
        where = f"patience={patience}, max_epochs={max_epochs}" + (f", dropout p={p_drop}" if p_drop else "")
        if len(got[1]) != len(expected[1]):
            problem = f"stopped after epoch {len(got[1])}, expected after epoch {len(expected[1])}"
        elif got[0] != expected[0]:
            problem = f"best_epoch {got[0]}, expected {expected[0]}"
        elif not np.allclose(got[1], expected[1], rtol=1e-9, atol=1e-12):
            problem = f"val_losses {compare(expected[1], got[1], 1e-9, 1e-12)}"
        else:
            problem = f"the final weights are not those of the best epoch {expected[0]}"
        raise WrongAnswer(f"{where}: {problem}", _early_stopping_hint(got, run))


def _restored_model_is_best(fn) -> None:
    """Stage 3: after the loop, the model's own validation loss is the lowest of the returned val_losses."""
    seed, p_drop, patience, max_epochs = EARLY_STOPPING_RUNS[-1]
    model, loss, optimizer, X, y, X_val, y_val = early_stopping_task(seed, p_drop)
    best_epoch, val_losses = fn(model, loss, optimizer, X, y, X_val, y_val, patience, max_epochs)
    final = evaluate(model, loss, X_val, y_val)["loss"]
    if not np.isclose(final, min(val_losses), rtol=1e-9, atol=1e-12):
        raise WrongAnswer(f"the returned model's validation loss is {final:.6f}, the lowest in val_losses "
                          f"{min(val_losses):.6f}", EARLY_STOPPING_MISTAKES[0][1])


def check_early_stopping(fn: Callable) -> None:
    """Exercise 5.6: ``fn(model, loss, optimizer, X, y, X_val, y_val, patience, max_epochs)`` trains with early
    stopping and returns ``(best_epoch, val_losses)``, the model holding the best epoch's weights.

    Compared with :func:`reference_early_stopping` on four seeded runs (stopping with patience 3 and 8, running out
    of epochs, a model with dropout), then the restored model's validation loss against the lowest reported one.
    """
    name = getattr(fn, "__name__", "your function")
    stages = [("1. compared with the reference loop", lambda: _compare_early_stopping(fn)),
              ("3. the restored model", lambda: _restored_model_is_best(fn))]
    _run_stages("Exercise 5.6: train_with_early_stopping", name, stages,
                f"{name} stops at the reference's epoch on {len(EARLY_STOPPING_RUNS)} runs (patience 3 and 8, out of "
                "epochs, with dropout) and restores the best epoch's weights.",
                crash_hint="train each epoch with fit(..., epochs=1, batch_size=batch_size, rng=rng) and compute the "
                           "validation loss with evaluate(model, loss, X_val, y_val)['loss'] (eval mode: dropout off); "
                           "return (best_epoch, val_losses).")


# --- Exercise 5.7 (challenge): the proximal L1 step ---------------------------------------------------------

def _soft_threshold(w, threshold) -> np.ndarray:
    return np.sign(w) * np.maximum(np.abs(w) - threshold, 0)


def _prox_reference(w, lr, lam) -> np.ndarray:
    """w after ``L1Penalty(lam, proximal=True).after_step`` with learning rate lr (w's shape)."""
    layer = Linear(*np.atleast_2d(w).shape, bias=False, dtype=np.float64)
    layer.weight.data[...] = np.atleast_2d(w)
    L1Penalty(lam, proximal=True).after_step(layer, lr)
    return layer.weight.data.reshape(np.shape(w)).copy()


def _after_prox(fn) -> Callable:
    """(w, lr, lam) → w's values after ``fn([Parameter(w)], lr, lam)``, which must update them in place."""
    def new_values(w, lr, lam):
        weight = Parameter(np.array(w, dtype=np.float64), "weight")
        fn([weight], lr, lam)
        return weight.data

    new_values.__name__ = getattr(fn, "__name__", "your function")
    return new_values


def _prox_cases() -> list[Case]:
    rng = np.random.default_rng(58)
    args = [(np.array([-0.5, -0.02, 0.0, 0.01, 0.3]), 0.1, 0.2),
            (rng.normal(scale=0.1, size=(4, 3)), 0.5, 0.1),
            (rng.normal(size=(2, 5)), 0.01, 10.0)]
    return [Case(a, _prox_reference(*a), f"w of shape {a[0].shape}, lr={a[1]}, lam={a[2]}") for a in args]


PROX_MISTAKES = [
    (lambda w, lr, lam: w - lr * lam * np.sign(w),
     "that is a subgradient step, w − ηλ sign(w): it overshoots 0 and never gives an exact zero. Soft-threshold: "
     "sign(w)·max(|w| − ηλ, 0)."),
    (lambda w, lr, lam: _soft_threshold(w, lam),
     "the threshold is ηλ (lr * lam): the proximal step of a gradient step of size lr."),
    (lambda w, lr, lam: w * (np.abs(w) > lr * lam),
     "that is hard thresholding: the surviving weights must also move ηλ towards 0, sign(w)·(|w| − ηλ)."),
    (lambda w, lr, lam: np.maximum(np.abs(w) - lr * lam, 0), "keep each weight's sign: multiply by np.sign(w)."),
    (lambda w, lr, lam: w,
     "update each weight IN PLACE, p.data[...] = …: rebinding a name changes nothing in the model."),
]


class _LearnerProximalL1(Penalty):
    """A penalty whose only action is the learner's ``fn(weights, lr, lam)`` after each optimizer step."""

    def __init__(self, strength: float, fn: Callable):
        super().__init__(strength)
        self.fn = fn

    def backward(self, model: Module) -> None:
        """The proximal form adds no gradient."""

    def after_step(self, model: Module, lr: float) -> None:
        self.fn(self.penalised(model), lr, self.strength)


def _sparse_task() -> tuple[np.ndarray, np.ndarray]:
    """200 points with 10 features, of which only the first 3 decide the class."""
    rng = np.random.default_rng(59)
    X = rng.normal(size=(200, 10))
    return X, (X[:, :3] @ np.array([1.0, -2.0, 1.5]) > 0).astype(np.int64)


def _train_with_prox(fn) -> None:
    """Stage 2: a softmax classifier trained with the learner's step ends exactly like L1Penalty(proximal=True)."""
    X, y = _sparse_task()
    weights = []
    for penalty in (L1Penalty(0.02, proximal=True), _LearnerProximalL1(0.02, fn)):
        model = Linear(10, 2, rng=0, dtype=np.float64)
        fit(model, CrossEntropyLoss(), SGD(model.parameters(), lr=0.5), X, y, epochs=10, batch_size=20, rng=0,
            penalty=penalty)
        weights.append(model.weight.data)
    problem = compare(weights[0], weights[1], rtol=1e-9, atol=1e-12)
    if problem:
        raise WrongAnswer(f"weights after 10 epochs of training: {problem}",
                          "soft-threshold every weight of the list after each step: sign(w)·max(|w| − lr·lam, 0).")


def check_proximal_l1_step(fn: Callable) -> None:
    """Exercise 5.7 (challenge): ``fn(weights, lr, lam)`` soft-thresholds each Parameter of ``weights`` in place.

    Checked on three arrays (exact zeros expected), then inside ``fit``: a softmax classifier trained with the
    learner's step after every SGD step must end with the weights of ``L1Penalty(lam, proximal=True)``.
    """
    name = getattr(fn, "__name__", "your function")
    values = _after_prox(fn)

    def on_arrays():
        cases = _prox_cases()
        for case in cases:
            got = values(*case.args)
            problem = compare(case.expected, got, rtol=1e-12, atol=1e-15)
            if problem:
                hint = _first_match(got, [(lambda w=w, a=case.args: w(*a), why) for w, why in PROX_MISTAKES],
                                    "p.data[...] = np.sign(p.data) * np.maximum(np.abs(p.data) - lr * lam, 0) "
                                    "for each p in weights.")
                raise WrongAnswer(f"{case.describe()}: {problem}", hint)

    stages = [("1. on arrays", on_arrays), ("2. inside fit", lambda: _train_with_prox(fn))]
    _run_stages("Exercise 5.7 (challenge): proximal_l1_step", name, stages,
                f"{name} soft-thresholds exactly (zeros included) and trains like L1Penalty(proximal=True).",
                crash_hint="weights is a list of nnlib Parameters: update each p.data in place.")
