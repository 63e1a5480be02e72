"""Lesson 09 checks: ✅ for a right answer, ❌ naming the typical mistake, ⏳ for an unsolved stub."""

import copy

import numpy as np
import pytest
from exercise_helpers import failure_hint, run, todo

from nnlib import Linear, Sequential
from nnlib.exercises import check_count_trainable, check_freeze, check_new_head
from nnlib.pretrained import load_digits_cnn


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


@pytest.mark.parametrize(("check", "fn"), [
    (check_freeze, freeze), (check_freeze, freeze_with_nnlib), (check_count_trainable, count_trainable),
    (check_count_trainable, count_trainable_with_numpy), (check_new_head, new_head),
    (check_new_head, new_head_in_a_sequential),
])
def test_right_answer_passes_and_stub_waits(check, fn, capsys):
    out = run(check, fn, capsys)
    assert out.startswith("✅ Exercise 9.") and out.count("\n") == 1, out
    out = run(check, todo, capsys)
    assert out.startswith("⏳ Exercise 9.") and "not implemented" in out


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
    assert out.startswith("❌ Exercise 9.1") and "raised AttributeError" in out
    out = run(check_freeze, lambda m: [setattr(p, "requires_grad", 0) for p in m.parameters()] and m, capsys)
    assert out.startswith("❌ Exercise 9.1") and "requires_grad must be True or False" in out


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
    assert out.startswith("❌ Exercise 9.2") and "expected" in out and hint in out.partition("Hint: ")[2]


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
    assert out.startswith("❌ Exercise 9.3") and "raised TypeError" in out
