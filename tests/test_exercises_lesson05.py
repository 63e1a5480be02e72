"""Lesson 05 checks: ✅ for a right answer, ❌ naming the typical mistake, ⏳ for an unsolved stub."""

import numpy as np
import pytest
from exercise_helpers import run, todo

from nnlib.exercises import check_dropout_backward, check_dropout_forward, check_l2_gradient


def l2_gradient(data_grad, w, lam):
    return data_grad + lam * w


def dropout_forward(x, keep_mask, p):
    return x * keep_mask / (1 - p)


def dropout_backward(grad_out, keep_mask, p):
    return grad_out * keep_mask / (1 - p)


@pytest.mark.parametrize(("check", "fn"), [
    (check_l2_gradient, l2_gradient), (check_dropout_forward, dropout_forward),
    (check_dropout_backward, dropout_backward),
])
def test_right_answer_passes_and_stub_waits(check, fn, capsys):
    out = run(check, fn, capsys)
    assert out.startswith("✅ Exercise 5.") and "correct" in out
    out = run(check, todo, capsys)
    assert out.startswith("⏳ Exercise 5.") and "not implemented" in out


@pytest.mark.parametrize(("fn", "hint"), [
    (lambda g, w, lam: g + 2 * lam * w, "that is 2λw"),
    (lambda g, w, lam: g + lam * np.sign(w), "L1 penalty"),
    (lambda g, w, lam: g - lam * w, "sign error"),
    (lambda g, w, lam: g + lam * w**2, "λw² is not the derivative"),
    (lambda g, w, lam: lam * w, "total gradient"),
    (lambda g, w, lam: g + w, "return data_grad + lam * w"),
])
def test_l2_gradient_mistakes_get_specific_hints(fn, hint, capsys):
    out = run(check_l2_gradient, fn, capsys)
    assert out.startswith("❌ Exercise 5.1") and "expected" in out and hint in out.partition("Hint: ")[2]


@pytest.mark.parametrize(("fn", "hint"), [
    (lambda x, m, p: x * m, "rescale the kept units"),
    (lambda x, m, p: x * m / p, "not by the drop probability"),
    (lambda x, m, p: x * m * (1 - p), "shrinks the output twice"),
    (lambda x, m, p: x * (1 - m) / (1 - p), "the mask is inverted"),
    (lambda x, m, p: x / (1 - p), "apply the mask"),
    (lambda x, m, p: x * m / (1 + p), "return x * keep_mask / (1 - p)"),
])
def test_dropout_forward_mistakes_get_specific_hints(fn, hint, capsys):
    out = run(check_dropout_forward, fn, capsys)
    assert out.startswith("❌ Exercise 5.2") and "expected" in out and hint in out.partition("Hint: ")[2]


@pytest.mark.parametrize(("fn", "hint"), [
    (lambda g, m, p: g, "does not pass unchanged"),
    (lambda g, m, p: g * m, "the backward must too"),
    (lambda g, m, p: g / (1 - p), "multiply by keep_mask"),
    (lambda g, m, p: g * m / p, "not by the drop probability"),
    (lambda g, m, p: g * (1 - m) / (1 - p), "the mask is inverted"),
    (lambda g, m, p: -g * m / (1 - p), "the same scaling as the forward pass"),
])
def test_dropout_backward_mistakes_get_specific_hints(fn, hint, capsys):
    out = run(check_dropout_backward, fn, capsys)
    assert out.startswith("❌ Exercise 5.3") and "expected" in out and hint in out.partition("Hint: ")[2]


def test_a_crashing_answer_is_reported_not_raised(capsys):
    out = run(check_dropout_forward, lambda x, m, p: x[m], capsys)   # indexing with a float mask raises
    assert out.startswith("❌ Exercise 5.2") and "raised IndexError" in out


def test_answers_that_mutate_their_inputs_still_pass(capsys):
    def in_place_forward(x, keep_mask, p):
        x *= keep_mask
        x /= 1 - p
        return x

    def in_place_l2(data_grad, w, lam):
        data_grad += lam * w
        return data_grad

    # twice: the checks' own cases must not be altered by a learner's in-place update
    outs = [run(check, fn, capsys)[0] for check, fn in [(check_dropout_forward, in_place_forward),
                                                         (check_l2_gradient, in_place_l2)] for _ in range(2)]
    assert outs == ["✅"] * 4
