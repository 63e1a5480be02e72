"""Lesson 10 checks: ✅ for a right answer, ❌ naming the typical mistake, ⏳ for an unsolved stub."""

import numpy as np
import pytest
from exercise_helpers import run, todo

from nnlib import functional as F
from nnlib.exercises import check_attention_weights, check_causal_mask, check_scaled_scores, check_split_heads
from nnlib.exercises.lesson10 import _scores


def softmax_rows(s, axis=-1):
    e = np.exp(s - s.max(axis=axis, keepdims=True))
    return e / e.sum(axis=axis, keepdims=True)


def attention_weights(q, k):
    return softmax_rows(q @ k.T / np.sqrt(q.shape[-1]))


def attention_weights_without_max_shift(q, k):
    e = np.exp(q @ k.T / np.sqrt(k.shape[1]))
    return e / e.sum(axis=1, keepdims=True)


def scaled_scores(q, k):
    return q @ np.swapaxes(k, -1, -2) / np.sqrt(q.shape[-1])


def scaled_scores_einsum(q, k):
    return np.einsum("...qd,...kd->...qk", q, k) / q.shape[-1] ** 0.5


def causal_mask(T):
    return np.tril(np.ones((T, T), dtype=bool))


def causal_mask_by_comparison(T):
    return np.arange(T)[None, :] <= np.arange(T)[:, None]


def split_heads(x, h):
    n, t, e = x.shape
    return x.reshape(n, t, h, e // h).transpose(0, 2, 1, 3)


def split_heads_by_slicing(x, h):
    size = x.shape[-1] // h
    return np.stack([x[..., j * size:(j + 1) * size] for j in range(h)], axis=1)


@pytest.mark.parametrize(("check", "fn"), [
    (check_attention_weights, attention_weights), (check_attention_weights, attention_weights_without_max_shift),
    (check_scaled_scores, scaled_scores), (check_scaled_scores, scaled_scores_einsum),
    (check_causal_mask, causal_mask), (check_causal_mask, causal_mask_by_comparison),
    (check_split_heads, split_heads), (check_split_heads, split_heads_by_slicing),
])
def test_right_answer_passes_and_stub_waits(check, fn, capsys):
    out = run(check, fn, capsys)
    assert out.startswith("✅ Exercise 10.") and "correct" in out
    out = run(check, todo, capsys)
    assert out.startswith("⏳ Exercise 10.") and "not implemented" in out


def test_references_agree_with_nnlib():
    rng = np.random.default_rng(0)
    q, k = rng.normal(size=(2, 3, 4, 8)), rng.normal(size=(2, 3, 5, 8))
    np.testing.assert_allclose(F.softmax(_scores(q, k)), F.scaled_dot_product_attention(q, k, k)[1], rtol=1e-12)
    x = rng.normal(size=(2, 3, 8))
    np.testing.assert_array_equal(F.split_heads(x, 2), split_heads(x, 2))


def sqrt_d(q):
    return np.sqrt(q.shape[-1])


@pytest.mark.parametrize(("fn", "hint"), [
    (lambda q, k: softmax_rows(q @ k.T), "scaling is missing"),
    (lambda q, k: softmax_rows(q @ k.T / q.shape[-1]), "you divided by d_k"),
    (lambda q, k: softmax_rows(q @ k.T / sqrt_d(q), axis=0), "wrong axis"),
    (lambda q, k: q @ k.T / sqrt_d(q), "these are the scaled scores"),
    (lambda q, k: softmax_rows(k @ q.T / sqrt_d(q), axis=0), "transposed"),
    (lambda q, k: softmax_rows((q @ k.T / sqrt_d(q)).ravel()).reshape(len(q), len(k)), "each query's row"),
    (lambda q, k: softmax_rows(q @ k.T / np.sqrt(len(k))), "compute the scores q @ k.T / np.sqrt(d_k)"),
    (lambda q, k: softmax_rows(q @ k.T * sqrt_d(q)), "compute the scores q @ k.T / np.sqrt(d_k)"),
])
def test_attention_weights_mistakes_get_specific_hints(fn, hint, capsys):
    out = run(check_attention_weights, fn, capsys)
    assert out.startswith("❌ Exercise 10.1") and hint in out.partition("Hint: ")[2]


def raw(q, k):
    return q @ np.swapaxes(k, -1, -2)


@pytest.mark.parametrize(("fn", "hint"), [
    (raw, "scaling is missing"),
    (lambda q, k: raw(q, k) / q.shape[-1], "not by d_k"),
    (lambda q, k: raw(q, k) / np.sqrt(k.shape[-2]), "number of keys"),
    (lambda q, k: raw(q, k) / np.sqrt(q.shape[0]), "q.shape[0] is the first axis"),
    (lambda q, k: q @ k.T / np.sqrt(q.shape[-1]), "swapaxes(k, -1, -2) transposes each"),   # fine in 2-D only
    (lambda q, k: raw(q, k) * np.sqrt(q.shape[-1]), "q @ np.swapaxes(k, -1, -2) / np.sqrt(q.shape[-1])"),
])
def test_scaled_scores_mistakes_get_specific_hints(fn, hint, capsys):
    out = run(check_scaled_scores, fn, capsys)
    assert out.startswith("❌ Exercise 10.2") and hint in out.partition("Hint: ")[2]


def test_scaled_scores_with_k_T_is_caught_on_a_batch(capsys):
    out = run(check_scaled_scores, lambda q, k: q @ k.T / np.sqrt(q.shape[-1]), capsys)
    assert "raised ValueError" in out and "(2, 3, 9)" in out


def ones(t):
    return np.ones((t, t), dtype=bool)


@pytest.mark.parametrize(("fn", "hint"), [
    (lambda t: np.triu(ones(t), 1), "INVERSE mask"),
    (lambda t: np.triu(ones(t)), "upper triangle"),
    (lambda t: np.tril(ones(t), -1), "diagonal is missing"),
    (ones, "no mask at all"),
    (lambda t: np.eye(t, dtype=bool), "np.tril(np.ones((T, T), dtype=bool))"),
])
def test_causal_mask_mistakes_get_specific_hints(fn, hint, capsys):
    out = run(check_causal_mask, fn, capsys)
    assert out.startswith("❌ Exercise 10.3") and hint in out.partition("Hint: ")[2]


@pytest.mark.parametrize("fn", [
    lambda t: np.tril(np.ones((t, t))),
    lambda t: np.tril(np.ones((t, t), dtype=int)),
])
def test_causal_mask_must_be_boolean(fn, capsys):
    out = run(check_causal_mask, fn, capsys)
    assert out.startswith("❌ Exercise 10.3") and "must be boolean" in out and "dtype=bool" in out


@pytest.mark.parametrize(("fn", "hint"), [
    (lambda x, h: x.reshape(x.shape[0], h, x.shape[1], -1), "scrambled"),
    (lambda x, h: x.reshape(*x.shape[:2], h, -1), "head axis must come before the time axis"),
    (lambda x, h: x.reshape(*x.shape[:2], -1, h).transpose(0, 3, 1, 2), "interleave"),
    (lambda x, h: x.reshape(*x.shape[:2], h, -1).transpose(0, 2, 3, 1), "last two axes are swapped"),
    (lambda x, h: x.reshape(x.shape[0], x.shape[1], h, -1).transpose(2, 0, 1, 3), "x.reshape(N, T, h, E // h)"),
])
def test_split_heads_mistakes_get_specific_hints(fn, hint, capsys):
    out = run(check_split_heads, fn, capsys)
    assert out.startswith("❌ Exercise 10.4") and hint in out.partition("Hint: ")[2]


def test_answers_that_mutate_their_inputs_still_pass(capsys):
    def in_place_weights(q, k):
        result = attention_weights(q, k)
        q *= 0
        return result

    def in_place_split(x, h):
        result = split_heads(x, h).copy()
        x[...] = 0
        return result

    # twice: the checks' own cases must not be altered by a learner's in-place edits
    outs = [run(check, fn, capsys)[0] for check, fn in [(check_attention_weights, in_place_weights),
                                                         (check_split_heads, in_place_split)] for _ in range(2)]
    assert outs == ["✅"] * 4
