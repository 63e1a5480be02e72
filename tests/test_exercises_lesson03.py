"""Lesson 03 checks: ✅ for a right answer, ❌ naming the typical mistake, ⏳ for an unsolved stub."""

import numpy as np
import pytest
from exercise_helpers import failure_hint, run, todo

from nnlib.exercises import check_dE_dw1, check_dE_dw5, check_output_delta, check_update_all
from nnlib.exercises.lesson03 import PARAMETERS, SLIDES, SLIDES_INPUTS, SLIDES_TARGETS
from nnlib.functional import sigmoid


def dE_dw5(out_h1, out_o1, target_o1):
    return -(target_o1 - out_o1) * out_o1 * (1 - out_o1) * out_h1


def output_delta(out, target):
    return (target - out) * out * (1 - out)


def dE_dw1(i1, out_h1, deltas_o, w5, w7):
    return -(deltas_o[0] * w5 + deltas_o[1] * w7) * out_h1 * (1 - out_h1) * i1


def step(params, eta, inputs, targets, *, sign=1.0, use_eta=True, new_output_weights=False, biases="sum"):
    """An independent step written with the lesson's batch matrix form (W[i, j] from input i to neuron j)."""
    p, lr = params, sign * (eta if use_eta else 1.0)
    W1, W2 = np.array([[p["w1"], p["w3"]], [p["w2"], p["w4"]]]), np.array([[p["w5"], p["w7"]], [p["w6"], p["w8"]]])
    x, t = np.array(inputs), np.array(targets)
    a_h = sigmoid(x @ W1 + p["b1"])
    a_o = sigmoid(a_h @ W2 + p["b2"])
    delta_o = (t - a_o) * a_o * (1 - a_o)
    W2_new = W2 + lr * np.outer(a_h, delta_o)
    delta_h = (delta_o @ (W2_new if new_output_weights else W2).T) * a_h * (1 - a_h)
    W1_new = W1 + lr * np.outer(x, delta_h)
    new = dict(zip(["w1", "w3", "w2", "w4"], W1_new.ravel().tolist(), strict=True))
    new |= dict(zip(["w5", "w7", "w6", "w8"], W2_new.ravel().tolist(), strict=True))
    take = {"sum": np.sum, "first neuron": lambda d: d[0], "none": lambda d: 0.0}[biases]
    return new | {"b1": p["b1"] + lr * take(delta_h), "b2": p["b2"] + lr * take(delta_o)}


def update_all(params, eta, inputs=SLIDES_INPUTS, targets=SLIDES_TARGETS):
    return step(params, eta, inputs, targets)


@pytest.mark.parametrize(("check", "fn", "exercise"), [
    (check_dE_dw5, dE_dw5, "3.1"), (check_output_delta, output_delta, "3.2"), (check_dE_dw1, dE_dw1, "3.3"),
    (check_update_all, update_all, "3.4"),
])
def test_right_answer_passes_and_stub_waits(check, fn, exercise, capsys):
    out = run(check, fn, capsys)
    assert out.startswith(f"✅ Exercise {exercise}") and "correct" in out and out.count("\n") == 1
    out = run(check, todo, capsys)
    assert out.startswith(f"⏳ Exercise {exercise}") and "not implemented" in out


def test_update_all_matches_the_published_new_weights():
    new = update_all(dict(SLIDES), 0.5)
    published = {"w1": 0.149780716, "w2": 0.19956143, "w3": 0.24975114, "w4": 0.29950229,
                 "w5": 0.35891648, "w6": 0.408666186, "w7": 0.511301270, "w8": 0.561370121}
    for name, value in published.items():
        assert abs(new[name] - value) < 5e-9, name


@pytest.mark.parametrize(("fn", "hint"), [
    (lambda h, o, t: (t - o) * o * (1 - o) * h, "sign is flipped"),
    (lambda h, o, t: -(t - o) * h, "sigmoid's derivative, is missing"),
    (lambda h, o, t: -(t - o) * sigmoid(o) * (1 - sigmoid(o)) * h, "out_o1 is already σ(net_o1)"),
    (lambda h, o, t: -(t - o) * o * (1 - o), "out_h1 (what w5 multiplies) is missing"),
    (lambda h, o, t: -(t - o) * o * (1 - o) * h * 0.5, "multiply the three factors"),
])
def test_dE_dw5_mistakes_get_specific_hints(fn, hint, capsys):
    assert hint in failure_hint(check_dE_dw5, fn, capsys, "3.1")


@pytest.mark.parametrize(("fn", "hint"), [
    (lambda a, t: (a - t) * a * (1 - a), "that is ∂E/∂net = −δ"),
    (lambda a, t: t - a, "multiply by the sigmoid's derivative"),
    (lambda a, t: (t - a) * (1 - a), "the factor a is missing"),
    (lambda a, t: (t - a) * a, "the factor (1 − a) is missing"),
    (lambda a, t: np.sum((t - a) * a * (1 - a), axis=-1), "the result has out's shape"),
])
def test_output_delta_mistakes_get_specific_hints(fn, hint, capsys):
    assert hint in failure_hint(check_output_delta, fn, capsys, "3.2")


def test_output_delta_checks_a_batch_and_reports_its_shape(capsys):
    out = run(check_output_delta, lambda a, t: ((t - a) * a * (1 - a)).ravel(), capsys)
    assert out.startswith("❌ Exercise 3.2") and "expected shape (4, 3), got shape (12,)" in out


@pytest.mark.parametrize(("fn", "hint"), [
    (lambda i1, h, d, w5, w7: -(d[0] * w5) * h * (1 - h) * i1, "out_h1 feeds BOTH outputs"),
    (lambda i1, h, d, w5, w7: -(d[1] * w7) * h * (1 - h) * i1, "out_h1 feeds BOTH outputs"),
    (lambda i1, h, d, w5, w7: (d[0] * w5 + d[1] * w7) * h * (1 - h) * i1, "sign is flipped"),
    (lambda i1, h, d, w5, w7: -(d[0] * w5 + d[1] * w7) * i1, "out_h1·(1 − out_h1) is missing"),
    (lambda i1, h, d, w5, w7: -(d[0] * w5 + d[1] * w7) * h * (1 - h) * h, "not out_h1"),
    (lambda i1, h, d, w5, w7: -(d[0] * w7 + d[1] * w5) * h * (1 - h) * i1, "−(deltas_o[0] * w5"),
])
def test_dE_dw1_mistakes_get_specific_hints(fn, hint, capsys):
    assert hint in failure_hint(check_dE_dw1, fn, capsys, "3.3")


@pytest.mark.parametrize(("switches", "hint"), [
    ({"sign": -1.0}, "the step goes uphill"),
    ({"new_output_weights": True}, "OLD w5 … w8"),
    ({"use_eta": False}, "learning rate eta"),
    ({"biases": "none"}, "update the biases too"),
    ({"biases": "first neuron"}, "SUM of both neurons' contributions"),
])
def test_update_all_mistakes_get_specific_hints(switches, hint, capsys):
    def wrong(params, eta, inputs, targets):
        return step(params, eta, inputs, targets, **switches)

    assert hint in failure_hint(check_update_all, wrong, capsys, "3.4")


def test_update_all_names_the_wrong_parameter(capsys):
    def wrong_w6(params, eta, inputs, targets):
        return step(params, eta, inputs, targets) | {"w6": params["w6"]}

    out = run(check_update_all, wrong_w6, capsys)
    assert out.startswith("❌ Exercise 3.4") and "new w6" in out
    assert "forward pass with the old parameters" in out.partition("Hint: ")[2]


@pytest.mark.parametrize(("result", "message"), [
    ({}, "got a dict with the keys []"),
    ([0.0] * 10, "got list"),
    ({name: 0.0 for name in PARAMETERS if name != "b2"}, "keys w1, w2, w3, w4, b1, w5, w6, w7, w8, b2"),
])
def test_update_all_wrong_return_type_is_reported(result, message, capsys):
    out = run(check_update_all, lambda *args: result, capsys)
    assert out.startswith("❌ Exercise 3.4") and "raised ValueError" in out and message in out


def test_update_all_forgotten_return_is_named(capsys):
    out = run(check_update_all, lambda *args: None, capsys)
    assert out.startswith("❌ Exercise 3.4") and "forget to `return`" in out


def test_update_all_that_mutates_its_params_still_passes(capsys):
    def in_place(params, eta, inputs, targets):
        params.update(step(params, eta, inputs, targets))
        return params

    # twice: the check's own cases must not be altered by a learner's in-place update
    assert [run(check_update_all, in_place, capsys)[0] for _ in range(2)] == ["✅", "✅"]


def test_a_learner_exception_is_feedback_not_a_crash(capsys):
    out = run(check_dE_dw1, lambda i1, h, d, w5, w7: d["o1"], capsys)
    assert out.startswith("❌ Exercise 3.3") and "raised" in out
