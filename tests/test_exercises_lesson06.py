"""Lesson 06 checks: ✅ for a right answer, ❌ naming the typical mistake, ⏳ for an unsolved stub."""

import math
from typing import NamedTuple

import numpy as np
import pytest
from exercise_helpers import failure_hint, run, solution_code, todo

from nnlib import Module, Parameter
from nnlib.exercises import (
    check_col2im,
    check_conv2d_backward,
    check_conv2d_forward,
    check_conv_output_size,
    check_correlate2d,
    check_maxpool_backward,
)
from nnlib.functional import col2im as nnlib_col2im


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


class Cache(NamedTuple):
    x_padded: np.ndarray


def conv_class(mistake: str = "") -> type:
    """A learner's Conv2d layer written with loops: right, or with one typical ``mistake`` (see the hint tables)."""
    class MyConv2d(Module):
        def __init__(self, in_channels, out_channels, kernel_size, stride=1, padding=0):
            self.stride, self.padding = stride, padding
            self.weight = Parameter(np.zeros((out_channels, in_channels, kernel_size, kernel_size)), "weight")
            self.bias = Parameter(np.zeros(out_channels), "bias")

        def windows(self, x_padded, shape):
            """(i, j, slice of the window) for every output position; the stride may be forgotten."""
            s, k = (1 if mistake == "stride ignored" else self.stride), self.weight.shape[2]
            for i, j in np.ndindex(*shape):
                yield i, j, (slice(None), slice(None), slice(i * s, i * s + k), slice(j * s, j * s + k))

        def forward(self, x):
            if mistake == "forward stub":
                raise NotImplementedError
            p, k, s = (0 if mistake == "no padding" else self.padding), self.weight.shape[2], self.stride
            x_padded = np.pad(x, ((0, 0), (0, 0), (p, p), (p, p)))
            shape = ((x_padded.shape[2] - k) // s + 1, (x_padded.shape[3] - k) // s + 1)
            w = self.weight.data[:, :, ::-1, ::-1] if mistake == "flipped" else self.weight.data
            y = np.zeros((x.shape[0], w.shape[0], *shape))
            for i, j, window in self.windows(x_padded, shape) if mistake != "forward stride" else []:
                y[:, :, i, j] = np.einsum("ncpq,ocpq->no", x_padded[window], w)
            if mistake == "forward stride":
                y = np.zeros((x.shape[0], w.shape[0], x_padded.shape[2] - k + 1, x_padded.shape[3] - k + 1))
                for i, j in np.ndindex(*y.shape[2:]):
                    y[:, :, i, j] = np.einsum("ncpq,ocpq->no", x_padded[:, :, i:i + k, j:j + k], w)
            if mistake == "one channel":
                y = np.zeros_like(y)
                for i, j, window in self.windows(x_padded, shape):
                    y[:, :, i, j] = np.einsum("npq,opq->no", x_padded[window][:, 0], w[:, 0])
            if mistake != "no cache":
                self.cache = Cache(x_padded)
            return y if mistake == "no bias" else y + self.bias.data[:, None, None]

        def backward(self, grad_out):
            if mistake == "backward stub":
                raise NotImplementedError
            x_padded, p = self.cache.x_padded, self.padding
            w = self.weight.data[:, :, ::-1, ::-1] if mistake == "dx flipped" else self.weight.data
            dx, dw = np.zeros_like(x_padded), np.zeros_like(self.weight.data)
            for i, j, window in self.windows(x_padded, grad_out.shape[2:]):
                delta = grad_out[:1, :, i, j] if mistake == "dW first sample" else grad_out[:, :, i, j]
                dw += np.einsum("no,ncpq->ocpq", delta, x_padded[:len(delta)][window])
                dx[window] += np.einsum("no,ocpq->ncpq", grad_out[:, :, i, j], w)
            dw = {"dW mean": dw / len(x_padded), "dW flipped": dw[:, :, ::-1, ::-1]}.get(mistake, dw)
            db = {"db mean": grad_out.mean(axis=(0, 2, 3)), "db first sample": grad_out[0].sum(axis=(1, 2)),
                  "db batch mean": grad_out.sum(axis=(0, 2, 3)) / len(grad_out)}.get(mistake,
                                                                                     grad_out.sum(axis=(0, 2, 3)))
            if mistake == "assign":
                self.weight.grad, self.bias.grad = dw, db
            else:
                self.weight.grad += dw
                self.bias.grad += db
            if mistake == "grad_out in place":
                grad_out[...] = 0
            h, w_ = x_padded.shape[2:]
            return dx if mistake == "padding kept" else dx[:, :, p:h - p, p:w_ - p]

    return MyConv2d


def col2im(cols, x_shape, k, stride, padding):
    """The challenge with np.add.at: every column entry added onto the pixel it was read from."""
    n, c, h, w = x_shape
    out_h, out_w = (h + 2 * padding - k) // stride + 1, (w + 2 * padding - k) // stride + 1
    i, j, p, q = np.meshgrid(np.arange(out_h), np.arange(out_w), np.arange(k), np.arange(k), indexing="ij")
    padded = np.zeros((n, c, h + 2 * padding, w + 2 * padding))
    values = cols.reshape(n, c, k, k, out_h, out_w).transpose(0, 1, 4, 5, 2, 3)    # (N, C, H', W', K, K)
    np.add.at(padded, (slice(None), slice(None), i * stride + p, j * stride + q), values)
    return padded[:, :, padding:padding + h, padding:padding + w]


@pytest.mark.parametrize(("check", "fn", "exercise"), [
    (check_conv_output_size, conv_output_size, "6.1"), (check_correlate2d, correlate2d, "6.2"),
    (check_correlate2d, correlate2d_vectorized, "6.2"), (check_maxpool_backward, maxpool_backward, "6.3"),
    (check_conv2d_forward, conv_class(), "6.4"), (check_conv2d_backward, conv_class(), "6.4"),
    (check_col2im, col2im, "6.5"), (check_col2im, nnlib_col2im, "6.5"),
])
def test_right_answer_passes_and_stub_waits(check, fn, exercise, capsys):
    out = run(check, fn, capsys)
    assert out.startswith(f"✅ correct — Exercise {exercise}") and "correct" in out and out.count("\n") == 1
    out = run(check, todo, capsys)
    assert out.startswith(f"⏳ to do — Exercise {exercise}") and "not implemented" in out


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
    assert out.startswith("❌ not yet — Exercise 6.1") and "expected" in out and hint in out.partition("Hint: ")[2]


@pytest.mark.parametrize("fn", [
    lambda h, k, s, p: np.floor((h + 2 * p - k) / s) + 1,
    lambda h, k, s, p: float((h + 2 * p - k) // s + 1),
])
def test_conv_output_size_must_be_an_int(fn, capsys):
    out = run(check_conv_output_size, fn, capsys)
    assert out.startswith("❌ not yet — Exercise 6.1") and "must be an int" in out and "floor division" in out


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
    assert out.startswith("❌ not yet — Exercise 6.2") and "expected" in out and hint in out.partition("Hint: ")[2]


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
    assert out.startswith("❌ not yet — Exercise 6.3") and "expected" in out and hint in out.partition("Hint: ")[2]


def test_maxpool_cases_include_ties(capsys):
    out = run(check_maxpool_backward, lambda x, g, k: route(x, g, k, last_maximum), capsys)
    assert "with ties" in out


def test_a_crashing_answer_is_reported_not_raised(capsys):
    out = run(check_correlate2d, lambda x, w: x @ w, capsys)   # (5, 5) @ (3, 3) raises
    assert out.startswith("❌ not yet — Exercise 6.2") and "raised ValueError" in out


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


@pytest.mark.parametrize(("mistake", "hint"), [
    ("flipped", "you flipped the kernel"),
    ("no bias", "the bias is missing"),
    ("forward stride", "the stride is ignored"),
    ("no padding", "the padding is missing"),
    ("one channel", "sum over the input channels c too"),
    ("no cache", "self.cache = MyConv2dCache(x_padded)"),
])
def test_conv2d_forward_mistakes_get_specific_hints(mistake, hint, capsys):
    assert hint in failure_hint(check_conv2d_forward, conv_class(mistake), capsys, "6.4")


@pytest.mark.parametrize(("mistake", "hint"), [
    ("padding kept", "dL/dx still has the padding"),
    ("dx flipped", "dL/dx used the kernel flipped"),
    ("stride ignored", "the stride is ignored in backward"),
    ("dW first sample", "weight.grad sums over EVERY sample"),
    ("dW mean", "weight.grad is the SUM over the batch, not the mean"),
    ("dW flipped", "weight.grad is flipped"),
    ("db batch mean", "bias.grad is the SUM of δ over the batch, not the mean"),
    ("db mean", "SUM of δ over the samples and positions, not the mean"),
    ("db first sample", "bias.grad sums δ over EVERY sample"),
    ("assign", "accumulate with +=, never assign with ="),
    ("grad_out in place", "never modify the incoming gradient"),
])
def test_conv2d_backward_mistakes_get_specific_hints(mistake, hint, capsys):
    assert hint in failure_hint(check_conv2d_backward, conv_class(mistake), capsys, "6.4")


@pytest.mark.parametrize(("mistake", "waiting"), [("forward stub", ["forward", "backward"]),
                                                  ("backward stub", ["backward"])])
def test_the_lesson_stubs_of_my_conv2d_wait(mistake, waiting, capsys):
    for check, method in [(check_conv2d_forward, "forward"), (check_conv2d_backward, "backward")]:
        out = run(check, conv_class(mistake), capsys)
        assert out.startswith("⏳ to do — Exercise 6.4" if method in waiting else "✅ correct — Exercise 6.4"), out


def raises_value_error(*args, **kwargs):
    """A wrong answer whatever the exercise."""
    raise ValueError("wrong")


@pytest.mark.parametrize("check", [check_conv2d_forward, check_conv2d_backward])
@pytest.mark.parametrize(("wrong", "message"), [
    (raises_value_error, "raised ValueError"),
    (dict, "raised TypeError"),
    (lambda *args, **kwargs: object(), "not an nnlib Module"),
    (lambda c, c_out, k, stride, padding: conv_class()(c_out, c, k, stride, padding), "keep __init__ as given"),
])
def test_my_conv2d_checks_report_a_wrong_kind_of_answer(check, wrong, message, capsys):
    out = run(check, wrong, capsys)
    assert out.startswith("❌ not yet — Exercise 6.4") and message in out and out.count("\n") == 2


@pytest.mark.parametrize("mistake", ["dW mean", "dx flipped"])
def test_the_plug_in_cnn_alone_catches_a_wrong_backward(mistake, capsys, monkeypatch):
    """With the unit checks switched off, training the small CNN still names the wrong layer (the third check)."""
    from nnlib.exercises import lesson06

    for unit_check in ("_check_conv_backward_values", "_check_conv_accumulation", "_check_conv_gradcheck"):
        monkeypatch.setattr(lesson06, unit_check, lambda *args: None)
    out = run(check_conv2d_backward, conv_class(mistake), capsys)
    assert out.startswith("❌ not yet — Exercise 6.4") and "Adam steps of a small CNN built from MyConv2d" in out, out


@pytest.mark.parametrize(("check", "exercise"), [
    (check_conv_output_size, "6.1"), (check_correlate2d, "6.2"), (check_maxpool_backward, "6.3"), (check_col2im, "6.5"),
])
@pytest.mark.parametrize("wrong", [raises_value_error, lambda *args: "an array"])
def test_function_checks_report_a_wrong_kind_of_answer(check, exercise, wrong, capsys):
    out = run(check, wrong, capsys)
    assert out.startswith(f"❌ not yet — Exercise {exercise}") and out.count("\n") == 2, out


def overwriting_col2im(cols, x_shape, k, stride, padding):
    """Fancy-index assignment: a pixel read by several windows keeps one of their values."""
    n, c, h, w = x_shape
    out_h, out_w = (h + 2 * padding - k) // stride + 1, (w + 2 * padding - k) // stride + 1
    i, j, p, q = np.meshgrid(np.arange(out_h), np.arange(out_w), np.arange(k), np.arange(k), indexing="ij")
    padded = np.zeros((n, c, h + 2 * padding, w + 2 * padding))
    values = cols.reshape(n, c, k, k, out_h, out_w).transpose(0, 1, 4, 5, 2, 3)
    padded[:, :, i * stride + p, j * stride + q] += values
    return padded[:, :, padding:padding + h, padding:padding + w]


@pytest.mark.parametrize(("fn", "hint"), [
    (overwriting_col2im, "overlapping windows overwrite each other"),
    (lambda cols, x_shape, k, s, p: np.minimum(col2im(cols, x_shape, k, s, p), 0.5), "for every kernel offset"),
    (lambda cols, x_shape, k, s, p: np.pad(col2im(cols, x_shape, k, s, p), [(0, 0), (0, 0), (p, p), (p, p)]),
     "cut the padding off"),
    (lambda cols, x_shape, k, s, p: col2im(cols, x_shape, k, s, p)[..., ::-1, ::-1], "rotated by 180°"),
    (lambda cols, x_shape, k, s, p: -col2im(cols, x_shape, k, s, p), "for every kernel offset (p, q)"),
])
def test_col2im_mistakes_get_specific_hints(fn, hint, capsys):
    assert hint in failure_hint(check_col2im, fn, capsys, "6.5")


def test_my_conv2d_matches_torch(torch):
    x = np.random.default_rng(0).normal(size=(2, 3, 7, 6))
    layer = conv_class()(3, 4, 3, stride=2, padding=1)
    layer.weight.data = np.random.default_rng(1).normal(size=(4, 3, 3, 3))
    layer.bias.data = np.random.default_rng(2).normal(size=4)
    layer.weight.grad, layer.bias.grad = np.zeros((4, 3, 3, 3)), np.zeros(4)
    tx = torch.tensor(x, requires_grad=True)
    tw, tb = (torch.tensor(p.data, requires_grad=True) for p in (layer.weight, layer.bias))
    ty = torch.nn.functional.conv2d(tx, tw, tb, stride=2, padding=1)
    grad_out = np.random.default_rng(3).normal(size=ty.shape)
    ty.backward(torch.tensor(grad_out))
    np.testing.assert_allclose(layer(x), ty.detach().numpy(), rtol=1e-10)
    np.testing.assert_allclose(layer.backward(grad_out), tx.grad.numpy(), rtol=1e-10)
    np.testing.assert_allclose(layer.weight.grad, tw.grad.numpy(), rtol=1e-10)
    np.testing.assert_allclose(layer.bias.grad, tb.grad.numpy(), rtol=1e-10)


def test_the_solutions_conv2d_trains_the_small_cnn_and_its_col2im_passes(capsys):
    code = solution_code("06_convolution_and_cnns", ("MyConv2dCache", "MyConv2d", "col2im"),
                         {"np": np, "NamedTuple": NamedTuple, "Module": Module, "Parameter": Parameter})
    check_conv2d_forward(code["MyConv2d"])
    check_conv2d_backward(code["MyConv2d"])
    check_col2im(code["col2im"])
    forward, backward, challenge = capsys.readouterr().out.splitlines()
    assert forward.startswith("✅ correct — Exercise 6.4") and challenge.startswith("✅ correct — Exercise 6.5")
    assert backward.startswith("✅ correct — Exercise 6.4") and "exactly as with nnlib's Conv2d" in backward
