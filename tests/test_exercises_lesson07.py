"""Lesson 07 checks: ✅ for a right answer, ❌ naming the typical mistake, ⏳ for an unsolved stub."""

import numpy as np
import pytest
from exercise_helpers import failure_hint, run, todo

from nnlib.exercises import check_bptt_step, check_rnn_step
from nnlib.functional import sigmoid


def rnn_step(x_t, h_prev, W_ih, W_hh, b):
    return np.tanh(x_t @ W_ih + h_prev @ W_hh + b)


def rnn_step_per_example(x_t, h_prev, W_ih, W_hh, b):
    """The same step written with explicit sums, one example and one unit at a time."""
    h_t = np.empty((x_t.shape[0], W_hh.shape[1]))
    for n in range(x_t.shape[0]):
        for j in range(W_hh.shape[1]):
            h_t[n, j] = np.tanh(sum(x_t[n, i] * W_ih[i, j] for i in range(W_ih.shape[0]))
                                + sum(h_prev[n, k] * W_hh[k, j] for k in range(W_hh.shape[0])) + b[j])
    return h_t


def bptt_step(dh_t, h_t, h_prev, W_hh):
    delta_t = dh_t * (1 - h_t**2)
    return delta_t, delta_t @ W_hh.T, h_prev.T @ delta_t


def bptt_step_einsum(dh_t, h_t, h_prev, W_hh):
    delta_t = dh_t * (1 - h_t**2)
    return delta_t, np.einsum("nj,kj->nk", delta_t, W_hh), np.einsum("nk,nj->kj", h_prev, delta_t)


@pytest.mark.parametrize(("check", "fn", "exercise"), [
    (check_rnn_step, rnn_step, "7.1"), (check_rnn_step, rnn_step_per_example, "7.1"),
    (check_bptt_step, bptt_step, "7.2"), (check_bptt_step, bptt_step_einsum, "7.2"),
])
def test_right_answer_passes_and_stub_waits(check, fn, exercise, capsys):
    out = run(check, fn, capsys)
    assert out.startswith(f"✅ Exercise {exercise}") and "correct" in out and out.count("\n") == 1
    out = run(check, todo, capsys)
    assert out.startswith(f"⏳ Exercise {exercise}") and "not implemented" in out


@pytest.mark.parametrize(("fn", "hint"), [
    (lambda x, h, W_ih, W_hh, b: np.tanh(x @ W_ih + b), "recurrent term h_prev @ W_hh is missing"),
    (lambda x, h, W_ih, W_hh, b: sigmoid(x @ W_ih + h @ W_hh + b), "not the sigmoid"),
    (lambda x, h, W_ih, W_hh, b: x @ W_ih + h @ W_hh + b, "apply the activation"),
    (lambda x, h, W_ih, W_hh, b: np.tanh(x @ W_ih + h @ W_hh.T + b), "W_hh is transposed"),
    (lambda x, h, W_ih, W_hh, b: np.tanh(x @ W_ih + (W_hh @ h.T).T + b), "W_hh is transposed"),
    (lambda x, h, W_ih, W_hh, b: np.tanh(x @ W_ih + h @ W_hh), "bias b is missing"),
    (lambda x, h, W_ih, W_hh, b: np.maximum(x @ W_ih + h @ W_hh + b, 0), "h_t = np.tanh(x_t @ W_ih"),
    (lambda x, h, W_ih, W_hh, b: np.tanh(x @ W_ih + h @ W_hh + b)[:, None], "h_t = np.tanh(x_t @ W_ih"),
])
def test_rnn_step_mistakes_get_specific_hints(fn, hint, capsys):
    assert hint in failure_hint(check_rnn_step, fn, capsys, "7.1")


def test_rnn_step_wrong_shape_is_named(capsys):
    out = run(check_rnn_step, lambda x, h, W_ih, W_hh, b: np.tanh(x @ W_ih + h @ W_hh + b)[:, None], capsys)
    assert "expected shape (2, 4), got shape (2, 1, 4)" in out


def test_rnn_step_column_vector_layout_raises_and_is_reported(capsys):
    out = run(check_rnn_step, lambda x, h, W_ih, W_hh, b: np.tanh(W_ih @ x + W_hh @ h + b), capsys)
    assert out.startswith("❌ Exercise 7.1") and "raised ValueError" in out


def with_delta(rule):
    """A bptt_step whose δ_t is computed by ``rule(dh_t, h_t, h_prev)``; the rest is right."""
    def fn(dh_t, h_t, h_prev, W_hh):
        delta_t = rule(dh_t, h_t, h_prev)
        return delta_t, delta_t @ W_hh.T, h_prev.T @ delta_t
    return fn


@pytest.mark.parametrize(("fn", "hint"), [
    (with_delta(lambda dh, h, hp: dh), "tanh's derivative is missing"),
    (with_delta(lambda dh, h, hp: dh * (1 - hp**2)), "not 1 − h_prev²"),
    (with_delta(lambda dh, h, hp: dh * (1 - np.tanh(h) ** 2)), "not 1 − tanh(h_t)²"),
    (lambda dh, h, hp, W: (dh * (1 - h**2), dh * (1 - h**2) @ W, hp.T @ (dh * (1 - h**2))), "W_hh's transpose"),
    (lambda dh, h, hp, W: (dh * (1 - h**2), dh * (1 - h**2) @ W.T, (dh * (1 - h**2)).T @ hp), "reversed"),
    (lambda dh, h, hp, W: (dh * (1 - h**2), dh * (1 - h**2) @ W.T, h.T @ (dh * (1 - h**2))), "not h_t.T @ delta_t"),
    (with_delta(lambda dh, h, hp: -dh * (1 - h**2)), "delta_t = dh_t * (1 - h_t**2)"),
    (lambda dh, h, hp, W: (dh * (1 - h**2), dh * (1 - h**2) @ W.T), "delta_t = dh_t * (1 - h_t**2)"),
])
def test_bptt_step_mistakes_get_specific_hints(fn, hint, capsys):
    assert hint in failure_hint(check_bptt_step, fn, capsys, "7.2")


def test_bptt_step_that_mutates_its_inputs_still_passes(capsys):
    def in_place(dh_t, h_t, h_prev, W_hh):
        dh_t *= 1 - h_t**2
        return dh_t, dh_t @ W_hh.T, h_prev.T @ dh_t

    # twice: the check's own cases must not be altered by a learner's in-place update
    assert [run(check_bptt_step, in_place, capsys)[0] for _ in range(2)] == ["✅", "✅"]
