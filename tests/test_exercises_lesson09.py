"""Lesson 09 checks: ✅ for a right answer, ❌ naming the typical mistake, ⏳ for an unsolved stub."""

import copy

import numpy as np
import pytest
from exercise_helpers import failure_hint, run, todo

import nnlib
from nnlib import Adam, CrossEntropyLoss, Linear, Sequential, fit
from nnlib.exercises import check_count_trainable, check_extract_features, check_freeze, check_new_head, check_transfer
from nnlib.pretrained import N_FEATURES, load_digits_cnn


def freeze(module):
    for param in module.parameters():
        param.requires_grad = False
    return module


def freeze_with_nnlib(module):
    return module.requires_grad_(False)


def count_trainable(model):
    return sum(p.size for p in model.parameters() if p.requires_grad)


def count_trainable_with_numpy(model):
    return int(np.sum([p.data.size for p in model.parameters() if p.requires_grad], dtype=np.int64))


def new_head(n_features, n_classes, rng):
    return Linear(n_features, n_classes, rng=rng)


def new_head_in_a_sequential(n_features, n_classes, rng):
    return Sequential(Linear(n_features, n_classes, rng=np.random.default_rng(rng)))


def extract_features(model, X, batch_size=256):
    extractor = model[:-1].eval()
    with nnlib.no_grad():
        batches = [extractor(X[i:i + batch_size]) for i in range(0, len(X), batch_size)]
    return np.concatenate(batches)


def extract_features_with_predict(model, X, batch_size=256):
    return nnlib.predict(model[:-1], X, batch_size=batch_size)


def train_steps(model, X, y, lr, steps, rng):
    fit(model, CrossEntropyLoss(), Adam(model.parameters(), lr=lr), X, y, epochs=max(1, round(steps * 16 / len(X))),
        batch_size=16, rng=rng)


def transfer(method, X, y, n_classes=5, steps=200, rng=0, fine_tune_lr=1e-3, *, freeze=True, unfreeze=True,
             stage_2_lr=None, new_head=True, seeds_everywhere=False, head_first=True, eval_mode=True):
    """The recipe (what adapt does for "frozen" and "fine-tune"), with the typical mistakes as switches."""
    generator = np.random.default_rng(rng)
    draw = (lambda: rng) if seeds_everywhere else (lambda: generator)
    model = load_digits_cnn()
    if new_head:
        model[-1] = Linear(N_FEATURES, n_classes, rng=draw())
    if head_first or method == "frozen":
        model[:-1].requires_grad_(not freeze)
        train_steps(model, X, y, 3e-3, steps, draw())
    if method == "fine-tune":
        model.requires_grad_(True)
        if not unfreeze:
            model[:-1].requires_grad_(False)
        train_steps(model, X, y, stage_2_lr or fine_tune_lr, steps, draw())
    return model.eval() if eval_mode else model


def transfer_with_trainable_only(method, X, y, n_classes=5, steps=200, rng=0, fine_tune_lr=1e-3):
    """The same recipe, the optimizer built on the trainable parameters only (as adapt does): the same weights."""
    rng = np.random.default_rng(rng)
    model = load_digits_cnn()
    model[-1] = Linear(N_FEATURES, n_classes, rng=rng)
    for stage, lr in enumerate([3e-3, fine_tune_lr][:2 if method == "fine-tune" else 1]):
        model[:-1].requires_grad_(stage == 1)
        trainable = [p for p in model.parameters() if p.requires_grad]
        fit(model, CrossEntropyLoss(), Adam(trainable, lr=lr), X, y, epochs=max(1, round(steps * 16 / len(X))),
            batch_size=16, rng=rng)
    return model.eval()


@pytest.mark.parametrize(("check", "fn", "exercise"), [
    (check_freeze, freeze, "9.1"), (check_freeze, freeze_with_nnlib, "9.1"),
    (check_count_trainable, count_trainable, "9.2"), (check_count_trainable, count_trainable_with_numpy, "9.2"),
    (check_new_head, new_head, "9.3"), (check_new_head, new_head_in_a_sequential, "9.3"),
    (check_extract_features, extract_features, "9.4"), (check_extract_features, extract_features_with_predict, "9.4"),
    (check_transfer, transfer, "9.5"), (check_transfer, transfer_with_trainable_only, "9.5"),
])
def test_right_answer_passes_and_stub_waits(check, fn, exercise, capsys):
    out = run(check, fn, capsys)
    assert out.startswith(f"✅ correct — Exercise {exercise}:") and out.count("\n") == 1, out
    out = run(check, todo, capsys)
    assert out.startswith(f"⏳ to do — Exercise {exercise}:") and "not implemented" in out and out.count("\n") == 1, out


# --- 9.1 freeze ---------------------------------------------------------------------------------------------

def freeze_weights_only(module):
    for name, param in module.named_parameters():
        if name.endswith("weight"):
            param.requires_grad = False
    return module


def freeze_first_layer_only(module):
    params = list(module.named_parameters())
    first = params[0][0].split(".")[0]
    for name, param in params:
        if name.split(".")[0] == first:
            param.requires_grad = False
    return module


def zero_grads_instead(module):
    module.zero_grad()
    return module


def grads_to_none(module):
    for param in module.parameters():
        param.grad = None
    return module


def flag_on_the_module(module):
    module.requires_grad = False
    return module


def freeze_a_copy(module):
    return freeze(copy.deepcopy(module))


def toggle(module):
    for param in module.parameters():
        param.requires_grad = not param.requires_grad
    return module


def freeze_and_reset(module):
    for param in module.parameters():
        param.requires_grad = False
        param.data[...] = 0.0
    return module


@pytest.mark.parametrize(("fn", "hint"), [
    (freeze_weights_only, "the biases are parameters too"),
    (freeze_first_layer_only, "only the first layer is frozen"),
    (zero_grads_instead, "you cleared the gradients"),
    (grads_to_none, "you cleared the gradients"),
    (flag_on_the_module, "the flag lives on each Parameter"),
    (freeze_a_copy, "you froze a copy"),
    (toggle, "for p in module.parameters(): p.requires_grad = False"),
    (freeze_and_reset, "keeps the pretrained values"),
    (lambda module: freeze(module) and None, "return module"),
    (lambda module: list(freeze(module).parameters()), "return module"),
])
def test_freeze_mistakes_get_specific_hints(fn, hint, capsys):
    assert hint in failure_hint(check_freeze, fn, capsys, "9.1")


def test_freeze_reports_a_crash_and_a_non_bool_flag(capsys):
    def layers_only(module):        # fails on a bare Linear: it has no .layers
        for layer in module.layers:
            for param in layer.parameters():
                param.requires_grad = False
        return module

    out = run(check_freeze, layers_only, capsys)
    assert out.startswith("❌ not yet — Exercise 9.1") and "raised AttributeError" in out
    out = run(check_freeze, lambda m: [setattr(p, "requires_grad", 0) for p in m.parameters()] and m, capsys)
    assert out.startswith("❌ not yet — Exercise 9.1") and "requires_grad must be True or False" in out


# --- 9.2 count_trainable ------------------------------------------------------------------------------------

@pytest.mark.parametrize(("fn", "hint"), [
    (lambda m: m.num_parameters(), "you counted the frozen parameters too"),
    (lambda m: sum(p.size for p in m.parameters()), "you counted the frozen parameters too"),
    (lambda m: sum(p.size for p in m.parameters() if not p.requires_grad), "you counted the FROZEN parameters"),
    (lambda m: len([p for p in m.parameters() if p.requires_grad]), "you counted Parameter objects"),
    (lambda m: sum(len(p.data) for p in m.parameters() if p.requires_grad), "len(p.data) counts only the first axis"),
    (lambda m: sum(p.size for n, p in m.named_parameters() if p.requires_grad and n.endswith("weight")),
     "the biases are parameters too"),
    (lambda m: count_trainable(m) + 1, "sum(p.size for p in model.parameters() if p.requires_grad)"),
])
def test_count_trainable_mistakes_get_specific_hints(fn, hint, capsys):
    out = run(check_count_trainable, fn, capsys)
    assert out.startswith("❌ not yet — Exercise 9.2") and "expected" in out and hint in out.partition("Hint: ")[2]


def test_count_trainable_must_be_an_int(capsys):
    hint = failure_hint(check_count_trainable, lambda m: float(count_trainable(m)), capsys, "9.2")
    assert "p.size" in hint


def test_count_trainable_does_not_let_the_learner_change_the_models(capsys):
    def count_then_unfreeze(model):
        result = count_trainable(model)
        model.requires_grad_(True)
        return result

    assert [run(check_count_trainable, count_then_unfreeze, capsys)[0] for _ in range(2)] == ["✅"] * 2


# --- 9.3 new_head -------------------------------------------------------------------------------------------

def without_bias(n_features, n_classes, rng):
    return Linear(n_features, n_classes, bias=False, rng=rng)


def zero_head(n_features, n_classes, rng):
    head = Linear(n_features, n_classes, rng=rng)
    for param in head.parameters():
        param.data[...] = 0.0
    return head


ONE_HEAD = {}


def one_shared_head(n_features, n_classes, rng):
    return ONE_HEAD.setdefault((n_features, n_classes), Linear(n_features, n_classes, rng=0))


@pytest.mark.parametrize(("fn", "hint"), [
    (lambda f, c, rng: Linear(c, f, rng=rng), "in and out are swapped"),
    (lambda f, c, rng: Linear(f, 10, rng=rng), "hard-coded to 10"),
    (lambda f, c, rng: load_digits_cnn()[-1], "the pretrained head scores the digits 0–4"),
    (lambda f, c, rng: Linear(f, c, rng=rng).requires_grad_(False), "MUST train"),
    (without_bias, "one bias per class score"),
    (lambda f, c, rng: Linear(f, c, rng=rng, dtype=np.float64), "do not pass dtype="),
    (lambda f, c, rng: Linear(f, c, rng=0), "not zeros, a copy or a fixed seed"),
    (zero_head, "not zeros, a copy or a fixed seed"),
    (one_shared_head, "not zeros, a copy or a fixed seed"),
    (lambda f, c, rng: Linear(f, c), "so that a seed always gives the same head"),
    (lambda f, c, rng: None, "forget to `return`"),
    (lambda f, c, rng: np.zeros((f, c)), "return an nnlib layer"),
    (lambda f, c, rng: Linear(f, 5, rng=rng), "Linear(16, 3)"),
    (lambda f, c, rng: Sequential(Linear(f, c, rng=rng), Linear(c, c, rng=rng)), "288 × 5 + 5 = 1445"),
])
def test_new_head_mistakes_get_specific_hints(fn, hint, capsys):
    assert hint in failure_hint(check_new_head, fn, capsys, "9.3")


def test_new_head_reports_a_crash(capsys):
    out = run(check_new_head, lambda f, c, rng: Linear(f, c, rng="seed"), capsys)
    assert out.startswith("❌ not yet — Exercise 9.3") and "raised TypeError" in out


# --- 9.4 extract_features -----------------------------------------------------------------------------------

def extract_in_train_mode(model, X, batch_size=256):
    with nnlib.no_grad():
        return np.concatenate([model[:-1](X[i:i + batch_size]) for i in range(0, len(X), batch_size)])


def extract_without_no_grad(model, X, batch_size=256):
    extractor = model[:-1].eval()
    return np.concatenate([extractor(X[i:i + batch_size]) for i in range(0, len(X), batch_size)])


def extract_dropping_the_last_batch(model, X, batch_size=256):
    starts = range(0, len(X) - batch_size + 1, batch_size)
    return extract_features(model, X[:max(starts, default=0) + batch_size] if starts else X, batch_size)


def extract_stacked(model, X, batch_size=256):
    return np.stack([extract_features(model, X[i:i + batch_size]) for i in range(0, len(X), batch_size)])


@pytest.mark.parametrize(("fn", "hint"), [
    (lambda model, X, batch_size=256: nnlib.predict(model, X), "the head's class scores"),
    (extract_in_train_mode, "ran in training mode"),
    (extract_without_no_grad, "with nnlib.no_grad()"),
    (extract_dropping_the_last_batch, "the last batch is missing"),
    (extract_stacked, "np.stack would add a batch axis"),
    (lambda model, X, batch_size=256: 2 * extract_features(model, X, batch_size), "model[:-1] in eval mode"),
    (lambda model, X, batch_size=256: extract_features(model, X, batch_size)[:, :-1], "model[:-1] in eval mode"),
])
def test_extract_features_mistakes_get_specific_hints(fn, hint, capsys):
    assert hint in failure_hint(check_extract_features, fn, capsys, "9.4")


# --- 9.5 transfer ------------------------------------------------------------------------------------------------

@pytest.mark.parametrize(("switches", "hint"), [
    ({"freeze": False}, "the extractor was not frozen"),
    ({"unfreeze": False}, "stage 2 must unfreeze every layer"),
    ({"stage_2_lr": 3e-3}, "the lower fine_tune_lr"),
    ({"new_head": False}, "replace the head"),
    ({"head_first": False}, "trains the new head first"),
    ({"seeds_everywhere": True}, "ONE generator"),
    ({"eval_mode": False}, "return model.eval()"),
    ({"stage_2_lr": 1e-4}, "rng = np.random.default_rng(rng); model = load_digits_cnn()"),
])
def test_transfer_mistakes_get_specific_hints(switches, hint, capsys):
    def wrong(method, X, y, n_classes=5, steps=200, rng=0, fine_tune_lr=1e-3):
        return transfer(method, X, y, n_classes, steps, rng, fine_tune_lr, **switches)

    assert hint in failure_hint(check_transfer, wrong, capsys, "9.5")


@pytest.mark.parametrize("fn", [
    lambda method, X, y, *args: transfer(method, X, y, *args).state_dict(),
    lambda method, X, y, *args: None,
])
def test_transfer_must_return_the_model(fn, capsys):
    assert "return model.eval()" in failure_hint(check_transfer, fn, capsys, "9.5")


def value_error(*args, **kwargs):
    raise ValueError("a wrong answer whatever the exercise")


@pytest.mark.parametrize(("check", "exercise"), [
    (check_freeze, "9.1"), (check_count_trainable, "9.2"), (check_new_head, "9.3"), (check_extract_features, "9.4"),
    (check_transfer, "9.5")])
@pytest.mark.parametrize("wrong", [value_error, Linear, 42])
def test_a_raising_or_wrong_kind_of_answer_is_a_failure_not_a_crash(check, exercise, wrong, capsys):
    out = run(check, wrong, capsys)
    assert out.startswith(f"❌ not yet — Exercise {exercise}:"), out
