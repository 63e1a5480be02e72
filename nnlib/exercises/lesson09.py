"""Checks for lesson 09, transfer learning. Reference values come from nnlib: ``Parameter.requires_grad`` read on
the learner's own models, :meth:`nnlib.Module.num_parameters` with ``trainable_only=True``, what a fresh
:class:`nnlib.Linear` head does (its output shape, dtype, trainable parameters and seeded initialisation), the
extractor ``model[:-1]`` run in eval mode under ``no_grad``, and :func:`nnlib.pretrained.adapt` for the recipe.

When a learner's answer is wrong, each check also tries the typical mistakes (only the weights frozen, the gradients
zeroed instead of frozen, the frozen parameters counted too, Parameter objects counted instead of numbers, in and out
features swapped, 10 classes hard-coded, the pretrained head reused, features taken in training mode, the extractor
left trainable while the new head trains, the same learning rate for fine-tuning, ...) and names the one it finds.
"""

from __future__ import annotations

import copy
import numbers
from collections.abc import Callable

import numpy as np

from ..layers import Conv2d, Dropout, Flatten, Linear, MaxPool2d, ReLU, Tanh
from ..module import Module, Sequential, no_grad
from ..pretrained import N_FEATURES, TARGET_DIGITS, adapt, load_digits_cnn, scanned_digits, train_steps
from ..training import accuracy
from ._core import FAILED, NOT_DONE, PASSED, Case, check_with_diagnosis, compare, evaluate, report
from .lesson03 import call_learner, failure, run_check


def _call(fn: Callable, *args):
    """``(status, result_or_message)``: NOT_DONE for the stub, FAILED with a message if ``fn`` raises."""
    name = getattr(fn, "__name__", "your function")
    try:
        return PASSED, fn(*args)
    except NotImplementedError:
        return NOT_DONE, f"{name} is not implemented yet: replace the `raise NotImplementedError` line."
    except Exception as err:  # a learner's bug is feedback, not a crash
        return FAILED, f"{name}({', '.join(map(str, args))}) raised {type(err).__name__}: {err}"


def _small_cnn(rng: int) -> Sequential:
    """A scaled-down lesson 06 CNN for 8×8 images: two convolutions, a head; weights and biases everywhere."""
    return Sequential(Conv2d(1, 4, 3, padding=1, rng=rng), ReLU(), MaxPool2d(2), Conv2d(4, 8, 3, padding=1, rng=rng),
                      ReLU(), MaxPool2d(2), Flatten(), Linear(32, 5, rng=rng))


# --- Exercise 9.1: freeze a module --------------------------------------------------------------------------

def _freeze_models() -> list[tuple[str, Module]]:
    """Fresh models, each with weights and biases in several layers; one nested, one a bare layer, one half frozen."""
    nested = Sequential(Linear(4, 8, rng=1), Tanh(), Sequential(Linear(8, 8, rng=2), ReLU()), Linear(8, 3, rng=3))
    half = Sequential(Linear(6, 4, rng=4), ReLU(), Linear(4, 2, rng=5))
    half[0].requires_grad_(False)
    return [("a CNN (Conv2d, Conv2d, Linear)", _small_cnn(0)), ("a Sequential nested in a Sequential", nested),
            ("a single Linear layer (not a Sequential)", Linear(5, 3, rng=6)),
            ("a model whose first layer is already frozen", half)]


def _why_trainable(model: Module, trainable: list[str]) -> str:
    """The hint for a model that still has trainable parameters after the learner's freeze (its grads were 1)."""
    names = [name for name, _ in model.named_parameters()]
    grads_cleared = any(p.grad is None or not np.any(p.grad) for p in model.parameters())
    if vars(model).get("requires_grad") is False:
        return ("you set `requires_grad` on the module object, which nothing reads: the flag lives on each "
                "Parameter. Loop: for p in module.parameters(): p.requires_grad = False.")
    if len(trainable) == len(names) and grads_cleared:
        return ("you cleared the gradients (that is zero_grad); freezing sets each Parameter's requires_grad to "
                "False, so that backward stops filling .grad and the optimizer skips the parameter.")
    if trainable and all(name.endswith("bias") for name in trainable):
        return "the biases are parameters too: freeze every Parameter of module.parameters(), not only the weights."
    first_layer = {name for name in names if name.split(".")[0] == names[0].split(".")[0]}
    if "." in names[0] and set(trainable) == set(names) - first_layer:
        return ("only the first layer is frozen: loop over ALL the parameters, module.parameters() (it walks every "
                "layer, nested ones included).")
    return "for p in module.parameters(): p.requires_grad = False — every layer, weights and biases, nested ones too."


def check_freeze(fn: Callable) -> None:
    """Exercise 9.1: ``fn(module)`` sets ``requires_grad = False`` on every parameter of ``module`` (in place, values
    unchanged) and returns ``module``."""
    title, name = "Exercise 9.1: freeze", getattr(fn, "__name__", "your function")
    models = _freeze_models()
    for label, model in models:
        state = model.state_dict()
        for param in model.parameters():
            param.grad[...] = 1.0                       # a "zero the gradients" answer then shows
        status, result = _call(fn, model)
        if status != PASSED:
            report(title, status, result)
            return
        trainable = [n for n, p in model.named_parameters() if getattr(p, "requires_grad", True) is not False]
        if trainable:
            copy_frozen = (isinstance(result, Module) and result is not model
                           and not any(p.requires_grad for p in result.parameters()))
            hint = ("you froze a copy: the model passed in must be frozen itself (in place), so work on `module`."
                    if copy_frozen else _why_trainable(model, trainable))
            report(title, FAILED, f"{name}({label}): still trainable: {', '.join(trainable)}.\n   Hint: {hint}")
            return
        changed = [n for n, p in model.named_parameters() if not np.array_equal(p.data, state[n])]
        if changed:
            report(title, FAILED, f"{name}({label}) changed the values of {', '.join(changed)}.\n   Hint: freezing "
                   "keeps the pretrained values as they are; only set requires_grad = False.")
            return
        if result is not model:
            report(title, FAILED, f"{name}({label}) froze every parameter but returned {type(result).__name__}, not "
                   "the module.\n   Hint: end with `return module` (as Module.requires_grad_ does), so that a frozen "
                   "model can be used in one line: extractor = freeze(model[:-1]).")
            return
    report(title, PASSED, f"{name} freezes every parameter and returns the module, on all {len(models)} test models.")


# --- Exercise 9.2: count the trainable parameters -----------------------------------------------------------

def _count_models() -> list[tuple[str, Module]]:
    cnn = _small_cnn(1)
    cnn[:-1].requires_grad_(False)
    mlp = Sequential(Linear(64, 32, rng=2), ReLU(), Linear(32, 10, rng=3))
    mlp[0].requires_grad_(False)
    biases_frozen = Sequential(Linear(3, 6, rng=4), Tanh(), Linear(6, 2, rng=5))
    for name, param in biases_frozen.named_parameters():
        param.requires_grad = not name.endswith("bias")
    return [("a CNN with its feature extractor frozen", cnn), ("an MLP 64-32-10 with its first layer frozen", mlp),
            ("an MLP with its biases frozen", biases_frozen), ("a trainable Linear(7, 4)", Linear(7, 4, rng=6)),
            ("a frozen Linear(7, 4)", Linear(7, 4, rng=7).requires_grad_(False))]


def check_count_trainable(fn: Callable) -> None:
    """Exercise 9.2: ``fn(model)`` returns the int number of trainable numbers (elements of the parameters with
    ``requires_grad``), what ``model.num_parameters(trainable_only=True)`` returns."""
    title = "Exercise 9.2: count_trainable"
    cases = [Case((model,), model.num_parameters(trainable_only=True), label=label) for label, model in _count_models()]
    if evaluate(fn, cases)[0] == PASSED:  # the right numbers: are they ints too?
        for case in cases:
            got = fn(*copy.deepcopy(case.args))        # copies: the learner's function may change the models
            if not isinstance(got, numbers.Integral):
                name = getattr(fn, "__name__", "your function")
                report(title, FAILED, f"{name}({case.describe()}) returned {got!r}, a {type(got).__name__}: a count "
                       "is an int.\n   Hint: add up p.size (an int) for the trainable parameters, e.g. with sum(...).")
                return

    def trainable(model):
        return [(name, p) for name, p in model.named_parameters() if p.requires_grad]

    mistakes = [
        (lambda m: m.num_parameters(), "you counted the frozen parameters too: skip every p whose requires_grad is "
         "False — only the trainable ones will change."),
        (lambda m: sum(p.size for p in m.parameters() if not p.requires_grad),
         "you counted the FROZEN parameters: requires_grad True means trainable."),
        (lambda m: len(trainable(m)), "you counted Parameter objects (whole arrays); count the numbers in them: "
         "a weight of shape (288, 5) holds p.size = 1440 trainable numbers."),
        (lambda m: sum(len(p.data) for _, p in trainable(m)), "len(p.data) counts only the first axis (the rows); "
         "p.size counts every element."),
        (lambda m: sum(p.size for name, p in trainable(m) if name.endswith("weight")),
         "the biases are parameters too: count every trainable Parameter, weights and biases."),
    ]
    check_with_diagnosis(title, fn, cases, mistakes,
                         "return sum(p.size for p in model.parameters() if p.requires_grad).")


# --- Exercise 9.3: a new head -------------------------------------------------------------------------------

HEAD_SIZES = [(288, 5), (16, 3), (64, 10), (7, 2)]  # (n_features, n_classes); the first is the lesson's


def _pretrained_head_weight() -> np.ndarray:
    return load_digits_cnn()[-1].weight.data


def _head_problem(head, n_features: int, n_classes: int) -> tuple[str, str] | None:
    """``(what was found, hint)`` for a head built for (n_features, n_classes) that is wrong; None if it is right."""
    layer = f"Linear(n_features, n_classes, rng=rng) = Linear({n_features}, {n_classes})"
    if head is None:
        return "returned None", f"did the function forget to `return` the layer? return {layer}."
    if not isinstance(head, Module):
        return f"returned a {type(head).__name__}", f"return an nnlib layer: {layer}."
    params = head.parameters()
    if any(p.dtype != np.float32 for p in params):
        return (f"has parameters of dtype {sorted({str(p.dtype) for p in params})}",
                "the extractor's features are float32, like every nnlib layer by default: do not pass dtype=.")
    weight = getattr(head, "weight", None)
    try:
        out = np.asarray(head(np.random.default_rng(9).normal(size=(4, n_features)).astype(np.float32)))
    except Exception as err:
        found = f"raised {type(err).__name__} on 4 feature vectors (4, {n_features}): {err}"
        if weight is not None and weight.shape == (n_classes, n_features) and n_classes != n_features:
            return found, (f"in and out are swapped (weight of shape {weight.shape}): the head maps the "
                           f"{n_features} features to {n_classes} class scores, {layer}.")
        return found, f"the head takes the {n_features} features of each image: {layer}."
    if out.shape != (4, n_classes):
        found = f"turns 4 feature vectors (4, {n_features}) into scores of shape {out.shape}, not (4, {n_classes})"
        if out.shape[-1:] == (10,) and n_classes != 10:
            return found, f"the number of classes is hard-coded to 10: use n_classes ({n_classes} here)."
        return found, f"{layer}."
    if not all(p.requires_grad for p in params):
        return "is frozen", "the new head is the one part that MUST train: leave requires_grad True."
    if head.num_parameters() == n_features * n_classes:
        return "has no bias", (f"a head is a full Linear layer, with one bias per class score ({n_classes} here), "
                               "as Linear has by default.")
    if head.num_parameters() != (n_features + 1) * n_classes:
        return (f"has {head.num_parameters()} parameters",
                f"{layer} has {n_features} × {n_classes} + {n_classes} = {(n_features + 1) * n_classes}.")
    return None


def _weights_of(head) -> list[np.ndarray]:
    return [p.data.copy() for p in head.parameters()]


def _same(a: list[np.ndarray], b: list[np.ndarray]) -> bool:
    return len(a) == len(b) and all(x.shape == y.shape and np.array_equal(x, y) for x, y in zip(a, b, strict=True))


def check_new_head(fn: Callable) -> None:
    """Exercise 9.3: ``fn(n_features, n_classes, rng)`` returns a fresh trainable ``Linear(n_features, n_classes)``
    (float32, with a bias), initialised from ``rng``: the same seed gives the same head, another seed another one."""
    title, name = "Exercise 9.3: new_head", getattr(fn, "__name__", "your function")
    for n_features, n_classes in HEAD_SIZES:
        call = f"{name}({n_features}, {n_classes}, rng=0)"
        heads = []
        for seed in (0, 1, 0):
            status, head = _call(fn, n_features, n_classes, seed)
            if status != PASSED:
                report(title, status, head)
                return
            heads.append(head)
        problem = _head_problem(heads[0], n_features, n_classes)
        if problem:
            report(title, FAILED, f"{call} {problem[0]}.\n   Hint: {problem[1]}")
            return
        first, other, again = (_weights_of(head) for head in heads)
        if (n_features, n_classes) == HEAD_SIZES[0] and np.array_equal(first[0], _pretrained_head_weight()):
            report(title, FAILED, f"{call} has the pretrained head's weights.\n   Hint: the pretrained head scores the "
                   "digits 0–4, the wrong classes; a new head starts from fresh random weights: "
                   "Linear(n_features, n_classes, rng=rng).")
            return
        if _same(first, other):
            report(title, FAILED, f"{call} and rng=1 give the same weights.\n   Hint: initialise from rng (fresh "
                   "random weights, not zeros, a copy or a fixed seed): Linear(n_features, n_classes, rng=rng).")
            return
        if not _same(first, again):
            report(title, FAILED, f"two calls {call} give different weights.\n   Hint: pass rng on to the layer, "
                   "Linear(n_features, n_classes, rng=rng), so that a seed always gives the same head.")
            return
    report(title, PASSED, f"{name} builds fresh, trainable, seeded heads of the right shape for all "
           f"{len(HEAD_SIZES)} sizes.")


# --- Exercise 9.4: extract the features once --------------------------------------------------------------

def _dropout_model() -> Sequential:
    """A small model whose extractor holds a Dropout: features taken in training mode come out random."""
    return Sequential(Flatten(), Linear(64, 16, rng=1), ReLU(), Dropout(0.5, rng=2), Linear(16, 3, rng=3))


def _extract_cases() -> list[tuple[str, Callable[[], Module], np.ndarray, int]]:
    """(label, model factory, images, batch_size): batch sizes that do not divide the number of images."""
    images = scanned_digits(TARGET_DIGITS, rng=9)[0][:40]
    small = np.random.default_rng(94).normal(size=(10, 1, 8, 8)).astype(np.float32)
    return [("the pretrained CNN, 40 images, batch_size=16", load_digits_cnn, images, 16),
            ("a model with Dropout in its extractor, 10 images, batch_size=4", _dropout_model, small, 4),
            ("the pretrained CNN, 40 images, batch_size=256", load_digits_cnn, images, 256)]


def _kept_caches(model: Module) -> bool:
    """Whether some layer of ``model`` still holds a cache, waiting for a backward."""
    for layer in model.modules():
        try:
            _ = layer.cache
        except RuntimeError:
            continue
        return True
    return False


def _extract_problem(model: Module, images, batch_size: int, got) -> str | None:
    """The hint for a wrong ``extract_features`` result on one case, or None if it is right."""
    model_copy = copy.deepcopy(model).eval()
    with no_grad():
        expected, scores = model_copy[:-1](images), model_copy(images)
    if isinstance(got, np.ndarray) and got.shape == scores.shape and np.allclose(got, scores, rtol=1e-5, atol=1e-6):
        return "those are the head's class scores: the features are what model[:-1] (every layer but the head) returns."
    if isinstance(got, np.ndarray) and got.ndim == 3:
        return "np.concatenate(batches) joins the batches along the rows; np.stack would add a batch axis."
    if isinstance(got, np.ndarray) and got.ndim == 2 and len(got) == len(images) - len(images) % batch_size:
        return ("the last batch is missing: range(0, len(X), batch_size) with X[i:i + batch_size] covers every row, "
                "the last batch being smaller.")
    if compare(expected, got, 1e-5, 1e-6) is None:
        return None
    if any(module.training for layer in model[:-1] for module in layer.modules()):
        return ("the extractor ran in training mode, where Dropout (and BatchNorm) behave randomly: call model.eval() "
                "before extracting features.")
    return EXTRACT_HINT


EXTRACT_HINT = ("features = model[:-1] in eval mode, under nnlib.no_grad(), batch by batch, joined along the rows "
                "with np.concatenate (np.stack would add a batch axis).")


def _check_extract_features(fn: Callable) -> str:
    name = getattr(fn, "__name__", "your function")
    cases = _extract_cases()
    for label, make_model, images, batch_size in cases:
        model = make_model()
        got = call_learner(f"{name}({label})", fn, model, images.copy(), batch_size, hint=EXTRACT_HINT)
        hint = _extract_problem(model, images, batch_size, got)
        if hint:
            shape = f"an array of shape {got.shape}" if isinstance(got, np.ndarray) else type(got).__name__
            raise failure(f"{name}({label}): wrong features (got {shape})", hint)
        if _kept_caches(model):
            raise failure(f"{name}({label}) gives the right features but left the layers' caches behind",
                          "run the extractor under `with nnlib.no_grad():` — otherwise every forward keeps what a "
                          "backward would need, and for thousands of images that memory adds up.")
    return f"{name} extracts the right features in eval mode, under no_grad, on {len(cases)} models and batch sizes."


def check_extract_features(fn: Callable) -> None:
    """Exercise 9.4: ``fn(model, X, batch_size)`` returns the features of every image, ``model[:-1]``'s output
    (N, F), computed in eval mode and under ``nnlib.no_grad()`` (no cache kept), batch by batch."""
    run_check("Exercise 9.4: extract_features", lambda: _check_extract_features(fn))


# --- Exercise 9.5: the transfer recipe as code -----------------------------------------------------------------

def _recipe(method, X, y, n_classes, steps, rng, fine_tune_lr, *, freeze=True, unfreeze=True, stage_2_lr=None,
            new_head=True, one_generator=True, head_first=True) -> Sequential:
    """``adapt``'s "frozen" and "fine-tune" methods, with switches that reproduce the typical mistakes."""
    seed, rng = rng, np.random.default_rng(rng)
    draw = (lambda: rng) if one_generator else (lambda: seed)
    model = load_digits_cnn()
    if new_head:
        model[-1] = Linear(N_FEATURES, n_classes, rng=draw())
    if head_first or method == "frozen":
        model[:-1].requires_grad_(not freeze)
        train_steps(model, X, y, 3e-3, steps, draw())
    if method == "fine-tune":
        model.requires_grad_(unfreeze)
        if not unfreeze:
            model[-1].requires_grad_(True)
        train_steps(model, X, y, stage_2_lr or fine_tune_lr, steps, draw())
    return model.eval()


TRANSFER_MISTAKES = [
    ({"freeze": False}, "the extractor was not frozen while the new head trained: model[:-1].requires_grad_(False) "
     "first. A random head sends large, random gradients into the pretrained features."),
    ({"unfreeze": False}, "stage 2 must unfreeze every layer, model.requires_grad_(True): otherwise fine-tuning only "
     "trains the head for longer."),
    ({"stage_2_lr": 3e-3}, "stage 2 trains at the lower fine_tune_lr: the pretrained features should be adjusted, not "
     "overwritten."),
    ({"new_head": False}, "replace the head, model[-1] = Linear(N_FEATURES, n_classes, rng=rng): the pretrained head "
     "scores the source digits 0–4."),
    ({"head_first": False}, "fine-tuning trains the new head first (extractor frozen), then every layer."),
    ({"one_generator": False}, "draw everything from ONE generator, rng = np.random.default_rng(rng), passed to the "
     "new head and to every train_steps call, as adapt does: one seed then fixes the head and all the batch orders."),
]
TRANSFER_HINT = ("rng = np.random.default_rng(rng); model = load_digits_cnn(); a new head Linear(N_FEATURES, "
                 "n_classes, rng=rng); freeze model[:-1]; train_steps(model, X, y, 3e-3, steps, rng); for "
                 "fine-tuning also model.requires_grad_(True) and train_steps(model, X, y, fine_tune_lr, steps, rng); "
                 "return model.eval().")


def _transfer_tasks():
    """(label, X, y, n_classes, steps, seed): tiny target tasks, so that the check takes a fraction of a second."""
    X, y = scanned_digits(TARGET_DIGITS, rng=95)
    three = y < 3
    take5 = np.concatenate([np.flatnonzero(y == c)[:5] for c in range(5)])
    take3 = np.concatenate([np.flatnonzero(three & (y == c))[:6] for c in range(3)])
    return [("digits 5–9, 5 images each, 8 steps, rng=0", X[take5], y[take5], 5, 8, 0),
            ("digits 5–7, 6 images each, 6 steps, rng=1", X[take3], y[take3], 3, 6, 1)]


def _different(a: dict, b: dict, names) -> list[str]:
    return [n for n in names if n not in a or n not in b or a[n].shape != b[n].shape or not np.array_equal(a[n], b[n])]


def _check_transfer(fn: Callable) -> str:
    name = getattr(fn, "__name__", "your function")
    checkpoint = load_digits_cnn().state_dict()
    extractor_names = [n for n in checkpoint if not n.startswith("7.")]
    test_X, test_y = scanned_digits(TARGET_DIGITS, rng=96)
    for label, X, y, n_classes, steps, seed in _transfer_tasks():
        for method in ("frozen", "fine-tune"):
            call = f'{name}("{method}", {label})'
            model = call_learner(call, fn, method, X.copy(), y.copy(), n_classes, steps, seed, 1e-3, hint=TRANSFER_HINT)
            if not isinstance(model, Sequential):
                raise failure(f"{call} returned {type(model).__name__}, not the trained Sequential", "end with "
                              "`return model.eval()`.")
            state = model.state_dict()
            expected = adapt(method, X, y, n_classes=n_classes, steps=steps, rng=seed, fine_tune_lr=1e-3)
            wrong = _different(expected.state_dict(), state, [*expected.state_dict(), *state])
            if wrong:
                found = [why for switches, why in TRANSFER_MISTAKES if not _different(
                    _recipe(method, X, y, n_classes, steps, seed, 1e-3, **switches).state_dict(), state, state)]
                raise failure(f"{call}: the weights differ from nnlib's adapt (first: {wrong[0]})",
                              found[0] if found else TRANSFER_HINT)
            moved = _different(checkpoint, state, extractor_names)
            if (method == "frozen") == bool(moved):   # cannot happen once the weights equal adapt's; a safeguard
                raise failure(f"{call}: the extractor {'moved' if moved else 'did not move'}", TRANSFER_HINT)
            if any(module.training for module in model.modules()):
                raise failure(f"{call} returned the model in training mode", "return model.eval(): the model is "
                              "trained, ready for predictions (Dropout or BatchNorm layers would still act as in "
                              "training).")
    keep = test_y < n_classes                      # the last task's classes
    with no_grad():
        yours, nnlib_s = (accuracy(m(test_X[keep]), test_y[keep]) for m in (model, expected))
    return (f"{name} gives bit for bit the weights of nnlib's adapt for both methods on {len(_transfer_tasks())} "
            f"tasks: the frozen extractor stays identical to the checkpoint, fine-tuning moves it; test accuracy "
            f"{yours:.2f}, adapt's {nnlib_s:.2f} (digits 5–7 after 6 steps).")


def check_transfer(fn: Callable) -> None:
    """Exercise 9.5: ``fn(method, X, y, n_classes, steps, rng, fine_tune_lr)`` trains a model by ``adapt``'s recipe
    for "frozen" and "fine-tune" and returns it in eval mode. Checked against ``nnlib.pretrained.adapt`` with the
    same seeds (the weights must agree bit for bit, so the test accuracy does too), with the frozen extractor
    bit-identical to the checkpoint."""
    run_check("Exercise 9.5: transfer", lambda: _check_transfer(fn))
