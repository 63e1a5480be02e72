"""Lesson 06 checks: ✅ for a right answer, ❌ naming the typical mistake, ⏳ for an unsolved stub."""

import math

import numpy as np
import pytest
from exercise_helpers import run, todo

from nnlib.exercises import check_conv_output_size, check_correlate2d, check_maxpool_backward


def conv_output_size(size, kernel, stride=1, padding=0):
    return (size + 2 * padding - kernel) // stride + 1


def correlate2d(image, kernel):
    kh, kw = kernel.shape
    out = np.zeros((image.shape[0] - kh + 1, image.shape[1] - kw + 1))
    for i in range(out.shape[0]):
        for j in range(out.shape[1]):
            out[i, j] = np.sum(image[i:i + kh, j:j + kw] * kernel)
    return out


def correlate2d_vectorized(image, kernel):
    windows = np.lib.stride_tricks.sliding_window_view(image, kernel.shape)
    return np.einsum("ijpq,pq->ij", windows, kernel)


def maxpool_backward(x, grad_out, k):
    dx = np.zeros_like(x)
    for i in range(grad_out.shape[0]):
        for j in range(grad_out.shape[1]):
            window = x[i * k:(i + 1) * k, j * k:(j + 1) * k]
            p, q = np.unravel_index(np.argmax(window), window.shape)
            dx[i * k + p, j * k + q] += grad_out[i, j]
    return dx


@pytest.mark.parametrize(("check", "fn"), [
    (check_conv_output_size, conv_output_size), (check_correlate2d, correlate2d),
    (check_correlate2d, correlate2d_vectorized), (check_maxpool_backward, maxpool_backward),
])
def test_right_answer_passes_and_stub_waits(check, fn, capsys):
    out = run(check, fn, capsys)
    assert out.startswith("✅ Exercise 6.") and "correct" in out
    out = run(check, todo, capsys)
    assert out.startswith("⏳ Exercise 6.") and "not implemented" in out


@pytest.mark.parametrize(("fn", "hint"), [
    (lambda h, k, s, p: (h + 2 * p - k) // s, "forgot the + 1"),
    (lambda h, k, s, p: (h + p - k) // s + 1, "BOTH sides"),
    (lambda h, k, s, p: (h - k) // s + 1, "padding is missing"),
    (lambda h, k, s, p: h + 2 * p - k + 1, "stride is missing"),
    (lambda h, k, s, p: math.ceil((h + 2 * p - k) / s) + 1, "round DOWN"),
    (lambda h, k, s, p: (h + 2 * p - k) / s + 1, "true division"),
    (lambda h, k, s, p: (h - 2 * p + k) // s + 1, "return (size + 2 * padding - kernel) // stride + 1"),
])
def test_conv_output_size_mistakes_get_specific_hints(fn, hint, capsys):
    out = run(check_conv_output_size, fn, capsys)
    assert out.startswith("❌ Exercise 6.1") and "expected" in out and hint in out.partition("Hint: ")[2]


@pytest.mark.parametrize("fn", [
    lambda h, k, s, p: np.floor((h + 2 * p - k) / s) + 1,
    lambda h, k, s, p: float((h + 2 * p - k) // s + 1),
])
def test_conv_output_size_must_be_an_int(fn, capsys):
    out = run(check_conv_output_size, fn, capsys)
    assert out.startswith("❌ Exercise 6.1") and "must be an int" in out and "floor division" in out


def pad_then_correlate(image, kernel, padding):
    return correlate2d(np.pad(image, [(p, p) for p in padding]), kernel)


@pytest.mark.parametrize(("fn", "hint"), [
    (lambda x, w: correlate2d(x, w[::-1, ::-1]), "you flipped the kernel"),
    (lambda x, w: pad_then_correlate(x, w, [(s - 1) // 2 for s in w.shape]), "that is a 'same' output"),
    (lambda x, w: pad_then_correlate(x, w, [s - 1 for s in w.shape]), "that is a 'full' output"),
    (lambda x, w: correlate2d(x, w).T, "transposed"),
    (lambda x, w: correlate2d(x, w[::-1]), "out[i, j] = np.sum(image[i:i + KH, j:j + KW] * kernel)"),
    (lambda x, w: correlate2d(x, w) + 1.0, "out[i, j] = np.sum(image[i:i + KH, j:j + KW] * kernel)"),
])
def test_correlate2d_mistakes_get_specific_hints(fn, hint, capsys):
    out = run(check_correlate2d, fn, capsys)
    assert out.startswith("❌ Exercise 6.2") and "expected" in out and hint in out.partition("Hint: ")[2]


def windows_of(x, k):
    """(H/k, W/k, k, k) view of the non-overlapping k×k windows of x (H, W)."""
    h, w = x.shape
    return x.reshape(h // k, k, w // k, k).transpose(0, 2, 1, 3)


def route(x, grad_out, k, choose):
    """δ of each window times choose(window) (k, k), assembled back to (H, W)."""
    dx = np.zeros_like(x)
    for i, j in np.ndindex(grad_out.shape):
        dx[i * k:(i + 1) * k, j * k:(j + 1) * k] = grad_out[i, j] * choose(windows_of(x, k)[i, j])
    return dx


def last_maximum(window):
    flat = window.ravel()
    mask = np.zeros(flat.size)
    mask[flat.size - 1 - np.argmax(flat[::-1])] = 1.0
    return mask.reshape(window.shape)


@pytest.mark.parametrize(("fn", "hint"), [
    (lambda x, g, k: route(x, g, k, lambda w: (w == w.max()).astype(float)), "FIRST maximum only"),
    (lambda x, g, k: route(x, g, k, last_maximum), "not the last one"),
    (lambda x, g, k: route(x, g, k, lambda w: np.full(w.shape, 1 / k**2)), "average pooling's backward"),
    (lambda x, g, k: route(x, g, k, lambda w: np.ones(w.shape)), "must not be copied to every input"),
    (lambda x, g, k: maxpool_backward(x, g, k) / k**2, "not δ/k²"),
    (lambda x, g, k: maxpool_backward(x, -g, k), "find the first maximum with np.argmax"),
])
def test_maxpool_backward_mistakes_get_specific_hints(fn, hint, capsys):
    out = run(check_maxpool_backward, fn, capsys)
    assert out.startswith("❌ Exercise 6.3") and "expected" in out and hint in out.partition("Hint: ")[2]


def test_maxpool_cases_include_ties(capsys):
    out = run(check_maxpool_backward, lambda x, g, k: route(x, g, k, last_maximum), capsys)
    assert "with ties" in out


def test_a_crashing_answer_is_reported_not_raised(capsys):
    out = run(check_correlate2d, lambda x, w: x @ w, capsys)   # (5, 5) @ (3, 3) raises
    assert out.startswith("❌ Exercise 6.2") and "raised ValueError" in out


def test_answers_that_mutate_their_inputs_still_pass(capsys):
    def in_place_correlate(image, kernel):
        result = correlate2d(image, kernel)
        image[...] = 0.0
        return result

    def in_place_backward(x, grad_out, k):
        result = maxpool_backward(x, grad_out, k)
        grad_out *= 0
        return result

    # twice: the checks' own cases must not be altered by a learner's in-place edits
    outs = [run(check, fn, capsys)[0] for check, fn in [(check_correlate2d, in_place_correlate),
                                                         (check_maxpool_backward, in_place_backward)] for _ in range(2)]
    assert outs == ["✅"] * 4
