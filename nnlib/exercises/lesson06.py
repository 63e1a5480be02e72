"""Checks for lesson 06, convolution and CNNs. Reference values come from nnlib: the output height of an actual
:class:`nnlib.Conv2d`, :func:`nnlib.functional.conv2d_naive`, and :class:`nnlib.MaxPool2d`'s backward.

When a learner's answer is wrong, each check also tries the typical mistakes (the +1 of the size formula
forgotten, the kernel flipped, a 'same' instead of a 'valid' output, δ sent to every tied maximum, ...) and, if one
of them reproduces the learner's output exactly, names it in the hint.

The build exercise (6.4: the learner's ``MyConv2d`` module, forward and backward with loops) is checked three ways:
against nnlib's ``Conv2d`` on random float64 inputs of several shapes, strides and paddings; by ``nnlib.gradcheck``;
and plugged into a small CNN whose training on digits must follow the same CNN built from nnlib's ``Conv2d``.
"""

from __future__ import annotations

import math
import numbers
from collections.abc import Callable
from typing import Any

import numpy as np

from ..data import load_digits
from ..functional import col2im, conv2d_naive, pad2d
from ..gradcheck import gradcheck
from ..layers import Conv2d, Flatten, Linear, MaxPool2d, ReLU
from ..losses import CrossEntropyLoss
from ..module import Module, Parameter, Sequential
from ..optim import Adam
from ._core import FAILED, PASSED, Case, check_with_diagnosis, compare, evaluate, report
from .lesson03 import call_learner, failure, matching_mistake, run_check, same

# --- Exercise 6.1: the output size of a convolution -------------------------------------------------------

SIZE_ARGS = [  # (size, kernel, stride, padding); several with H + 2P − K not a multiple of S
    (32, 3, 1, 1), (28, 5, 1, 0), (8, 3, 2, 1), (7, 3, 2, 0), (224, 7, 2, 3), (10, 4, 3, 0), (5, 5, 1, 0), (6, 2, 2, 2),
]


def _conv_height(size, kernel, stride, padding) -> int:
    """The height of what an nnlib Conv2d really outputs for an input of height ``size`` (and width 1)."""
    layer = Conv2d(1, 1, (kernel, 1), stride=(stride, 1), padding=(padding, 0), bias=False, dtype=np.float64)
    return layer(np.zeros((1, 1, size, 1))).shape[2]


def _size_cases() -> list[Case]:
    return [Case(a, _conv_height(*a), label=f"size={a[0]}, kernel={a[1]}, stride={a[2]}, padding={a[3]}")
            for a in SIZE_ARGS]


def check_conv_output_size(fn: Callable) -> None:
    """Exercise 6.1: ``fn(size, kernel, stride, padding)`` returns the int ⌊(size + 2·padding − kernel)/stride⌋ + 1."""
    title, cases = "Exercise 6.1: conv_output_size", _size_cases()
    if evaluate(fn, cases)[0] == PASSED:  # the right numbers: are they ints too?
        name = getattr(fn, "__name__", "your function")
        for case in cases:
            got = fn(*case.args)
            if not isinstance(got, numbers.Integral):
                report(title, FAILED, f"{name}({case.describe()}) returned {got}, a {type(got).__name__}: a size "
                       "must be an int (it becomes an array's shape).\n   Hint: use floor division // (not /), "
                       "e.g. (size + 2 * padding - kernel) // stride + 1.")
                return
    mistakes = [
        (lambda h, k, s, p: (h + 2 * p - k) // s,
         "you forgot the + 1: the kernel fits at positions 0, S, 2S, …, (H + 2P − K); counting the first one too "
         "gives ⌊(H + 2P − K)/S⌋ + 1."),
        (lambda h, k, s, p: (h + p - k) // s + 1, "padding is added on BOTH sides: the padded length is H + 2P."),
        (lambda h, k, s, p: (h - k) // s + 1,
         "the padding is missing: the kernel slides over the padded input, H + 2P."),
        (lambda h, k, s, p: h + 2 * p - k + 1, "the stride is missing: the kernel jumps S pixels at a time, so "
         "divide (H + 2P − K) by S."),
        (lambda h, k, s, p: math.ceil((h + 2 * p - k) / s) + 1,
         "round DOWN: a last step that would stick out past the padded input is not taken, so use floor division //."),
        (lambda h, k, s, p: (h + 2 * p - k) / s + 1,
         "/ is true division and gives a float such as 4.5; a size is an int: use floor division //."),
    ]
    check_with_diagnosis(title, fn, cases, mistakes, "return (size + 2 * padding - kernel) // stride + 1.")


# --- Exercise 6.2: one convolution by hand -----------------------------------------------------------------

def _correlate(image, kernel, padding=(0, 0)) -> np.ndarray:
    """nnlib's reference: a 2-D cross-correlation of one image with one kernel, zero-padded by ``padding``."""
    return conv2d_naive(image[None, None], kernel[None, None], padding=padding)[0, 0]


def _correlate_cases() -> list[Case]:
    rng = np.random.default_rng(6)
    sobel_x = np.array([[1.0, 0.0, -1.0], [2.0, 0.0, -2.0], [1.0, 0.0, -1.0]])
    edge = np.repeat([[0.0, 0.0, 1.0, 1.0, 1.0]], 5, axis=0)               # a vertical edge
    args = [
        (edge, sobel_x),
        (rng.normal(size=(6, 4)), rng.normal(size=(3, 3))),                  # a tall image: catches transposes
        (rng.normal(size=(4, 7)), np.array([[1.0, 2.0, -0.5]])),             # a 1×3 kernel
        (rng.integers(0, 5, size=(5, 6)).astype(np.float64), rng.normal(size=(3, 5))),
    ]
    return [Case(a, _correlate(*a), label=f"image of shape {a[0].shape}, kernel of shape {a[1].shape}")
            for a in args]


def check_correlate2d(fn: Callable) -> None:
    """Exercise 6.2: ``fn(image, kernel)`` returns the 'valid' cross-correlation (H − KH + 1, W − KW + 1)."""
    def same(kernel):
        """The zero padding of a 'same' output (odd kernels): (K − 1)/2 on every side."""
        return tuple((size - 1) // 2 for size in kernel.shape)

    def full(kernel):
        """The zero padding of a 'full' output: K − 1 on every side."""
        return tuple(size - 1 for size in kernel.shape)

    mistakes = [
        (lambda x, w: _correlate(x, w[::-1, ::-1]),
         "you flipped the kernel: that is the textbook convolution (what np.convolve does). Deep learning's "
         "'convolution' is a cross-correlation, y[i, j] = Σ x[i + p, j + q] · w[p, q], with no flip."),
        (lambda x, w: _correlate(x, w, same(w)),
         "that is a 'same' output (zero-padded to the image's size). Return only the 'valid' positions, where the "
         "kernel fits inside the image: shape (H − KH + 1, W − KW + 1)."),
        (lambda x, w: _correlate(x, w, full(w)),
         "that is a 'full' output (every position where kernel and image overlap at all). Return only the 'valid' "
         "positions, where the kernel fits inside the image: shape (H − KH + 1, W − KW + 1)."),
        (lambda x, w: _correlate(x, w).T, "your result is transposed: output row i must come from image rows "
         "i … i + KH − 1 (index the output as [i, j] with i along the image's height)."),
    ]
    check_with_diagnosis("Exercise 6.2: correlate2d", fn, _correlate_cases(), mistakes,
                         "out[i, j] = np.sum(image[i:i + KH, j:j + KW] * kernel) for every i < H − KH + 1 "
                         "and j < W − KW + 1.")


# --- Exercise 6.3: max-pool backward routing ---------------------------------------------------------------

def _maxpool_backward(x, grad_out, k) -> np.ndarray:
    """nnlib's reference: MaxPool2d(k) forward on x (H, W), then backward of grad_out (H/k, W/k)."""
    pool = MaxPool2d(k)
    pool(x[None, None])
    return pool.backward(grad_out[None, None])[0, 0] + 0.0   # + 0.0: no -0. in the printed arrays


def _window_mask(x, k, pick) -> np.ndarray:
    """1.0 where ``pick(window_values (k·k,))`` → bool mask (k·k,) selects, per k×k window of x (H, W)."""
    h, w = x.shape
    windows = x.reshape(h // k, k, w // k, k).transpose(0, 2, 1, 3).reshape(h // k, w // k, k * k)
    mask = np.apply_along_axis(pick, -1, windows).astype(np.float64)
    return mask.reshape(h // k, w // k, k, k).transpose(0, 2, 1, 3).reshape(h, w)


def _one_hot(index, size):
    return np.arange(size) == index


def _upsample(grad_out, k) -> np.ndarray:
    """Every δ copied onto its k×k window: (H', W') → (H'·k, W'·k)."""
    return np.kron(grad_out, np.ones((k, k)))


def _maxpool_cases() -> list[Case]:
    rng = np.random.default_rng(63)
    relu_like = np.array([[0.0, 0.0, 1.0, 3.0],          # windows: all four tied at 0; 3 twice;
                          [0.0, 0.0, 3.0, 2.0],          # 5 on the diagonal twice; 2 three times
                          [5.0, 1.0, 2.0, 2.0],
                          [1.0, 5.0, 2.0, 0.0]])
    args = [
        (rng.permutation(16).reshape(4, 4).astype(np.float64), 2),                     # no ties
        (relu_like, 2),
        (rng.integers(0, 3, size=(6, 6)).astype(np.float64), 3),                       # many ties, 3×3 windows
        (rng.integers(0, 4, size=(4, 6)).astype(np.float64), 2),                       # not square
    ]
    cases = []
    for x, k in args:
        grad_out = rng.normal(size=(x.shape[0] // k, x.shape[1] // k))
        cases.append(Case((x, grad_out, k), _maxpool_backward(x, grad_out, k),
                          label=f"x of shape {x.shape}{' with ties' if len(np.unique(x)) < x.size else ''}, k={k}"))
    return cases


def check_maxpool_backward(fn: Callable) -> None:
    """Exercise 6.3: ``fn(x, grad_out, k)`` returns dL/dx (H, W) of k×k max pooling: each δ to its window's
    first maximum (row-major), 0 elsewhere."""
    def last(v):
        return _one_hot(len(v) - 1 - np.argmax(v[::-1]), len(v))

    mistakes = [
        (lambda x, g, k: _upsample(g, k) * _window_mask(x, k, lambda v: v == v.max()),
         "with ties, send δ to the FIRST maximum only (row-major order, as np.argmax and PyTorch do): the output "
         "took its value from one input, so only that input gets the gradient."),
        (lambda x, g, k: _upsample(g, k) * _window_mask(x, k, last),
         "with ties, the FIRST maximum gets δ (row-major order, as np.argmax returns it), not the last one."),
        (lambda x, g, k: _upsample(g, k) / k**2,
         "that is average pooling's backward (δ/k² to every input). Max pooling sends the whole δ to the one input "
         "that was the maximum, and 0 to the others."),
        (lambda x, g, k: _upsample(g, k),
         "δ must not be copied to every input of the window: only the maximum influenced the output."),
        (lambda x, g, k: _maxpool_backward(x, g, k) / k**2,
         "the maximum gets the whole δ, not δ/k²: ∂ max / ∂ x_max = 1 (dividing by k² belongs to average pooling)."),
    ]
    check_with_diagnosis("Exercise 6.3: maxpool_backward", fn, _maxpool_cases(), mistakes,
                         "start from np.zeros_like(x); for each k×k window, find the first maximum with np.argmax on "
                         "the window and np.unravel_index, and add the window's δ there.")


# --- Exercise 6.4 (build): the learner's Conv2d, forward and backward with loops ------------------------------
# Checked three ways: against nnlib's Conv2d (float64, several shapes, strides and paddings), by nnlib.gradcheck,
# and plugged into a small CNN trained on digits, whose losses must follow the same CNN built from nnlib's Conv2d.

CONV_SETTINGS = [  # (x's shape (N, C, H, W), C_out, K, stride, padding); N ≠ C_out, so a wrong db axis shows
    ((2, 3, 5, 5), 4, 3, 1, 0),
    ((3, 2, 6, 5), 2, 3, 2, 1),      # stride and padding, not square
    ((2, 1, 7, 6), 3, 2, 2, 0),      # an even kernel; stride 2 leaves the last row unused
    ((2, 2, 4, 4), 3, 3, 1, 2),      # padding 2
    ((3, 2, 5, 4), 2, 1, 1, 0),      # a 1×1 kernel
]
CONV_HINT = ("forward: pad x, then for every output position (i, j) take the window "
             "x_padded[:, :, i·S:i·S + K, j·S:j·S + K] and y[:, :, i, j] = Σ_{c,p,q} window · w + b. backward: for "
             "every (i, j), weight.grad += Σ_n δ[n, :, i, j] ⊗ window, dx_padded[window] += Σ_o δ[n, o, i, j]·w[o]; "
             "bias.grad += δ summed over the samples and positions; return dx_padded without its padding.")


def _setting_label(setting) -> str:
    x_shape, c_out, k, stride, padding = setting
    return f"x of shape {x_shape}, C_out={c_out}, K={k}, stride={stride}, padding={padding}"


def _learner_conv(layer_class, setting, reference: Conv2d) -> Module:
    """``layer_class(C, C_out, K, stride=S, padding=P)`` holding ``reference``'s float64 weight and bias."""
    x_shape, c_out, k, stride, padding = setting
    name = getattr(layer_class, "__name__", "your class")
    call = f"{name}({x_shape[1]}, {c_out}, {k}, stride={stride}, padding={padding})"
    layer = call_learner(call, lambda: layer_class(x_shape[1], c_out, k, stride=stride, padding=padding),
                         hint="pass the class itself (MyConv2d, not MyConv2d(...)); its __init__ takes "
                              "(in_channels, out_channels, kernel_size, stride, padding).")
    if not isinstance(layer, Module):
        raise failure(f"{call} is a {type(layer).__name__}, not an nnlib Module",
                      "write `class MyConv2d(Module):` so that layer(x) runs forward and the layer fits in Sequential.")
    for attr in ("weight", "bias"):
        expected, param = getattr(reference, attr), getattr(layer, attr, None)
        if not isinstance(param, Parameter) or param.shape != expected.shape:
            raise failure(f"{call}.{attr} is {param!r}",
                          f"keep __init__ as given: {attr} is a Parameter of shape {expected.shape}.")
        param.data = np.array(expected.data, dtype=np.float64)
        param.grad = np.zeros_like(param.data)
    return layer


def _conv_pair(layer_class, setting, seed: int):
    """(learner layer, nnlib float64 Conv2d) with the same random parameters, and a random input x."""
    x_shape, c_out, k, stride, padding = setting
    rng = np.random.default_rng(seed)
    reference = Conv2d(x_shape[1], c_out, k, stride=stride, padding=padding, rng=rng, dtype=np.float64)
    reference.bias.data[...] = rng.normal(size=c_out)  # large enough that a forgotten bias shows
    return _learner_conv(layer_class, setting, reference), reference, rng.normal(size=x_shape)


def _conv_forward(layer, x, name):
    return call_learner(f"{name}.forward (x of shape {x.shape})", layer, x.copy(), hint=CONV_HINT)


def _forward_mistakes(x, w, b, stride, padding) -> list[tuple[Any, str]]:
    """What the typical mistakes of a convolution's forward return, and why each is wrong."""
    return [
        (conv2d_naive(x, w[:, :, ::-1, ::-1], b, stride, padding),
         "you flipped the kernel: a deep-learning convolution is a cross-correlation, y = Σ w[o, c, p, q]·"
         "x[c, i·S + p, j·S + q], with the kernel as it is (as PyTorch and nnlib do)."),
        (conv2d_naive(x, w, None, stride, padding), "the bias is missing: add b[o] to every position of map o."),
        (conv2d_naive(x, w, b, 1, padding) if stride > 1 else None,
         "the stride is ignored: output (i, j) reads the window that starts at row i·S and column j·S."),
        (conv2d_naive(x, w, b, stride, 0) if padding else None,
         "the padding is missing: pad x with P zeros on every side (np.pad) before sliding the kernel."),
        (conv2d_naive(x[:, :1], w[:, :1], b, stride, padding) if x.shape[1] > 1 else None,
         "sum over the input channels c too: every output map o combines ALL C channels of the window."),
    ]


def _check_conv_forward(layer_class) -> str:
    name = getattr(layer_class, "__name__", "your class")
    for k, setting in enumerate(CONV_SETTINGS):
        layer, reference, x = _conv_pair(layer_class, setting, seed=640 + k)
        got, expected = _conv_forward(layer, x, name), reference(x)
        problem = compare(expected, got, 1e-9, 1e-12)
        if problem:
            stride, padding = setting[3:]
            mistakes = _forward_mistakes(x, reference.weight.data, reference.bias.data, stride, padding)
            raise failure(f"{name}.forward on {_setting_label(setting)}: {problem}",
                          matching_mistake(got, mistakes) or CONV_HINT)
        try:
            cache = layer.cache
        except RuntimeError:
            raise failure(f"{name}.forward stored no cache", "end forward with self.cache = MyConv2dCache(x_padded): "
                          "backward reads the windows back from it.") from None
        if not same(pad2d(x, setting[4]), getattr(cache, "x_padded", None), 0, 0):
            raise failure(f"{name}.forward's cache has no field x_padded holding the zero-padded input "
                          f"(got {cache!r:.80})", "store the padded input: self.cache = MyConv2dCache(x_padded).")
    return (f"{name}.forward is correct: it matches nnlib.Conv2d on {len(CONV_SETTINGS)} settings (strides 1 and 2, "
            "paddings 0 to 2, kernels 1 to 3) and caches the padded input.")


def check_conv2d_forward(layer_class) -> None:
    """Exercise 6.4: ``layer_class(C, C_out, K, stride, padding)`` is a Module whose forward is nnlib's Conv2d's
    (a cross-correlation plus bias) and stores ``self.cache.x_padded``."""
    run_check("Exercise 6.4: MyConv2d.forward", lambda: _check_conv_forward(layer_class))


def _loop_backward(x, w, grad_out, stride, padding, *, window_step=None, crop=True):
    """A hand-written loop backward: (dx, dW, db). ``window_step`` and ``crop`` reproduce two typical mistakes:
    windows read at i·window_step instead of i·stride, and dx returned with its padding."""
    x_padded, k = pad2d(x, padding), w.shape[2]
    step = stride if window_step is None else window_step
    dx_padded, dw = np.zeros_like(x_padded), np.zeros_like(w)
    for i, j in np.ndindex(*grad_out.shape[2:]):
        rows, cols = slice(i * step, i * step + k), slice(j * step, j * step + k)
        if rows.stop > x_padded.shape[2] or cols.stop > x_padded.shape[3]:
            return None  # that mistake would have crashed on this setting
        delta = grad_out[:, :, i, j]                                                   # (N, C_out)
        dw += np.einsum("no,ncpq->ocpq", delta, x_padded[:, :, rows, cols])
        dx_padded[:, :, rows, cols] += np.einsum("no,ocpq->ncpq", delta, w)
    h, width = x.shape[2:]
    dx = dx_padded[:, :, padding:padding + h, padding:padding + width] if crop else dx_padded
    return dx, dw, grad_out.sum(axis=(0, 2, 3))


def _conv_backward_mistakes(x, w, grad_out, stride, padding) -> dict[str, list[tuple[Any, str]]]:
    """{gradient name: [(what a typical mistake returns, why)]} for one setting of MyConv2d.backward."""
    def reference(x, w, grad_out, stride, padding):
        conv = Conv2d(x.shape[1], w.shape[0], w.shape[2], stride=stride, padding=padding, dtype=np.float64)
        conv.weight.data[...] = w
        conv(x)
        return conv.backward(grad_out), conv.weight.grad

    n, (_, dw) = x.shape[0], reference(x, w, grad_out, stride, padding)
    flipped_dx, _ = reference(x, w[:, :, ::-1, ::-1], grad_out, stride, padding)
    first_dw = reference(x[:1], w, grad_out[:1], stride, padding)[1]
    unstrided = _loop_backward(x, w, grad_out, stride, padding, window_step=1) if stride > 1 else None
    stride_why = ("the stride is ignored in backward: output (i, j) was computed from the window starting at "
                  "(i·S, j·S), so its δ goes back to that window (and its weight gradient reads that window).")
    return {
        "the returned dL/dx": [
            (_loop_backward(x, w, grad_out, stride, padding, crop=False)[0] if padding else None,
             "dL/dx still has the padding: return dx_padded[:, :, P:P + H, P:P + W], the input's shape (the zeros "
             "added by np.pad are not inputs of the layer)."),
            (flipped_dx, "dL/dx used the kernel flipped: each window receives Σ_o δ[n, o, i, j]·w[o] with w as it "
                         "is (written as a full convolution of δ, it is the kernel rotated by 180° that appears)."),
            (unstrided and unstrided[0], stride_why),
        ],
        "weight.grad": [
            (first_dw, "weight.grad sums over EVERY sample of the batch: Σ_n Σ_{i,j} δ[n, o, i, j]·window[n]."),
            (dw / n, "weight.grad is the SUM over the batch, not the mean."),
            (dw[:, :, ::-1, ::-1],
             "weight.grad is flipped: ∂E/∂w[o, c, p, q] = Σ δ[n, o, i, j]·x[n, c, i·S + p, j·S + q], no flip."),
            (unstrided and unstrided[1], stride_why),
        ],
        "bias.grad": [
            (grad_out.sum(axis=(0, 2, 3)) / n, "bias.grad is the SUM of δ over the batch, not the mean."),
            (grad_out.mean(axis=(0, 2, 3)), "bias.grad is the SUM of δ over the samples and positions, not the mean."),
            (grad_out[0].sum(axis=(1, 2)), "bias.grad sums δ over EVERY sample: grad_out.sum(axis=(0, 2, 3))."),
        ],
    }


def _conv_backward_once(layer, x, grad_out, name):
    """Forward and backward on the learner's layer: (dL/dx, weight.grad copy, bias.grad copy)."""
    _conv_forward(layer, x, name)
    sent = grad_out.copy()
    dx = call_learner(f"{name}.backward (x of shape {x.shape})", layer.backward, sent, hint=CONV_HINT)
    if not same(grad_out, sent, 0, 0):
        raise failure(f"{name}.backward changed grad_out in place", "never modify the incoming gradient: build "
                      "new arrays (np.zeros_like, then +=).")
    return dx, layer.weight.grad.copy(), layer.bias.grad.copy()


def _check_conv_backward_values(layer_class, name) -> None:
    for k, setting in enumerate(CONV_SETTINGS):
        layer, reference, x = _conv_pair(layer_class, setting, seed=650 + k)
        expected_y = reference(x)
        grad_out = np.random.default_rng(k).normal(size=expected_y.shape)
        got = dict(zip(("the returned dL/dx", "weight.grad", "bias.grad"),
                       _conv_backward_once(layer, x, grad_out, name), strict=True))
        expected = {"the returned dL/dx": reference.backward(grad_out), "weight.grad": reference.weight.grad,
                    "bias.grad": reference.bias.grad}
        for what, value in expected.items():
            problem = compare(value, got[what], 1e-9, 1e-12)
            if problem:
                mistakes = _conv_backward_mistakes(x, reference.weight.data, grad_out, *setting[3:])
                raise failure(f"{name}.backward on {_setting_label(setting)}: {what}: {problem}",
                              matching_mistake(got[what], mistakes[what]) or CONV_HINT)


def _check_conv_accumulation(layer_class, name) -> None:
    """Two forward/backward rounds: the parameter gradients must be the SUM of both rounds'."""
    setting = CONV_SETTINGS[1]
    layer, reference, x = _conv_pair(layer_class, setting, seed=660)
    rng = np.random.default_rng(661)
    x2 = rng.normal(size=x.shape)
    g1, g2 = (rng.normal(size=reference(x).shape) for _ in range(2))
    _conv_backward_once(layer, x, g1, name)
    _, weight_grad, bias_grad = _conv_backward_once(layer, x2, g2, name)
    for x_k, g_k in ((x, g1), (x2, g2)):
        reference(x_k)
        reference.backward(g_k)
    if not (same(reference.weight.grad, weight_grad) and same(reference.bias.grad, bias_grad)):
        raise failure(f"after two backward passes {name}'s weight.grad / bias.grad are not the sum of both passes",
                      "accumulate with +=, never assign with =: a layer used twice must add up its gradients, and "
                      "zero_grad() resets them.")


def _check_conv_gradcheck(layer_class, name) -> None:
    layer, _, x = _conv_pair(layer_class, CONV_SETTINGS[1], seed=670)
    errors = call_learner(f"gradcheck({name})", lambda: gradcheck(layer, x, tol=None), hint=CONV_HINT)
    worst = max(errors, key=errors.get)
    if not errors[worst] <= 1e-7:
        raise failure(f"gradcheck({name}): relative error {errors[worst]:.1e} for {worst} (limit 1e-7)", CONV_HINT)


# The plug-in CNN: (N, 1, 8, 8) → conv 3×3 pad 1 → ReLU → max-pool 2 → conv 3×3 stride 2 pad 1 → ReLU → 10 scores.
PLUG_IN_CONVS = [((64, 1, 8, 8), 4, 3, 1, 1), ((64, 4, 4, 4), 8, 3, 2, 1)]
PLUG_IN_IMAGES, PLUG_IN_STEPS, PLUG_IN_LR = 64, 8, 0.01


def _digits_cnn(conv_layers: list[Module]) -> Sequential:
    first, second = conv_layers
    head = Linear(8 * 2 * 2, 10, rng=68, dtype=np.float64)
    return Sequential(first, ReLU(), MaxPool2d(2), second, ReLU(), Flatten(), head)


def _train_cnn(model: Sequential, name: str) -> list:
    """PLUG_IN_STEPS full-batch Adam steps on the first PLUG_IN_IMAGES digits: the losses and the conv weights."""
    X, y = load_digits(images=True, dtype=np.float64)
    X, y = X[:PLUG_IN_IMAGES], y[:PLUG_IN_IMAGES]
    optimizer, loss, losses = Adam(model.parameters(), lr=PLUG_IN_LR), CrossEntropyLoss(), []
    for _ in range(PLUG_IN_STEPS):
        model.zero_grad()
        scores = call_learner(f"the CNN's forward with your {name}", model, X, hint=CONV_HINT)
        losses.append(loss(scores, y))
        call_learner(f"the CNN's backward with your {name}", model.backward, loss.backward(), hint=CONV_HINT)
        optimizer.step()
    return [np.array(losses), model[0].weight.data.copy(), model[3].weight.data.copy()]


def _check_conv_plug_in(layer_class, name) -> str:
    references = [Conv2d(s[0][1], s[1], s[2], stride=s[3], padding=s[4], rng=680 + k, dtype=np.float64)
                  for k, s in enumerate(PLUG_IN_CONVS)]
    learners = [_learner_conv(layer_class, s, r) for s, r in zip(PLUG_IN_CONVS, references, strict=True)]
    got = _train_cnn(_digits_cnn(learners), name)
    expected = _train_cnn(_digits_cnn(references), "")
    for what, e, g in zip(("losses", "first conv's weights", "second conv's weights"), expected, got, strict=True):
        problem = compare(e, g, 1e-8, 1e-10)
        if problem:
            raise failure(f"{PLUG_IN_STEPS} Adam steps of a small CNN built from {name}: the {what} leave the path "
                          f"of the same CNN built from nnlib's Conv2d: {problem}", CONV_HINT)
    return f"loss {expected[0][0]:.3f} → {expected[0][-1]:.3f}"


def _check_conv_backward(layer_class) -> str:
    name = getattr(layer_class, "__name__", "your class")
    _check_conv_backward_values(layer_class, name)
    _check_conv_accumulation(layer_class, name)
    _check_conv_gradcheck(layer_class, name)
    trajectory = _check_conv_plug_in(layer_class, name)
    return (f"{name}.backward is correct: it matches nnlib.Conv2d on {len(CONV_SETTINGS)} settings, accumulates "
            f"with +=, and passes gradcheck; a CNN built from two of your layers trains {PLUG_IN_STEPS} Adam steps "
            f"on {PLUG_IN_IMAGES} digits exactly as with nnlib's Conv2d ({trajectory}).")


def check_conv2d_backward(layer_class) -> None:
    """Exercise 6.4: ``layer_class``'s backward checked three ways, each reported on its own.

    1. against nnlib's ``Conv2d`` on random float64 inputs of several shapes, strides and paddings (dL/dx,
       weight.grad, bias.grad, naming the typical mistake), plus two backward passes that must ADD UP; 2.
       ``nnlib.gradcheck``; 3. plug-in: a small CNN with two of the learner's layers (the second with stride 2)
       trains PLUG_IN_STEPS Adam steps on PLUG_IN_IMAGES digits; its losses and conv weights must follow the same
       CNN built from nnlib's ``Conv2d``. (Loops are slow, so a few full-batch steps, not the lesson's epochs.)
    """
    run_check("Exercise 6.4: MyConv2d.backward", lambda: _check_conv_backward(layer_class))


# --- Exercise 6.5 (challenge): col2im, the adjoint of im2col ------------------------------------------------

COL2IM_SETTINGS = [((2, 3, 5, 5), 3, 1, 0), ((1, 2, 6, 5), 3, 2, 1), ((2, 1, 4, 4), 2, 2, 0), ((1, 2, 4, 5), 3, 1, 2)]


def _col2im_cases() -> list[Case]:
    rng = np.random.default_rng(65)
    cases = []
    for x_shape, k, stride, padding in COL2IM_SETTINGS:
        n, c, h, w = x_shape
        out_h, out_w = (h + 2 * padding - k) // stride + 1, (w + 2 * padding - k) // stride + 1
        cols = rng.normal(size=(n, c * k * k, out_h * out_w))
        cases.append(Case((cols, x_shape, k, stride, padding), col2im(cols, x_shape, k, stride, padding),
                          label=f"cols of shape {cols.shape}, x_shape={x_shape}, k={k}, stride={stride}, "
                                f"padding={padding}"))
    return cases


def _col2im_loops(cols, x_shape, k, stride, padding, *, crop=True):
    """col2im by loops over the kernel offsets; ``crop=False`` reproduces a typical mistake."""
    n, c, h, w = x_shape
    out_h, out_w = (h + 2 * padding - k) // stride + 1, (w + 2 * padding - k) // stride + 1
    blocks = cols.reshape(n, c, k, k, out_h, out_w)
    padded = np.zeros((n, c, h + 2 * padding, w + 2 * padding))
    for p, q in np.ndindex(k, k):
        target = (slice(None), slice(None), slice(p, p + stride * out_h, stride), slice(q, q + stride * out_w, stride))
        padded[target] += blocks[:, :, p, q]
    return padded[:, :, padding:padding + h, padding:padding + w] if crop else padded


OVERWRITE_HINT = ("overlapping windows overwrite each other: a pixel read by several windows must receive the SUM of "
                  "their entries. Use += on slices, or np.add.at(padded, index, values) — with a fancy index, "
                  "padded[index] = values (and even padded[index] += values) keeps one value per repeated pixel.")


def _keeps_one_value_per_pixel(fn: Callable) -> bool:
    """Probe: on all-ones columns, does ``fn`` give 1 on every pixel that several windows read (col2im: a count)?"""
    x_shape, k = (1, 1, 5, 5), 3
    cols = np.ones((1, k * k, 9))
    try:
        got = np.asarray(fn(cols, x_shape, k, 1, 0), dtype=np.float64)
    except Exception:  # a crash is reported by the cases themselves
        return False
    return got.shape == x_shape and np.array_equal(got, np.minimum(col2im(cols, x_shape, k, 1, 0), 1.0))


def check_col2im(fn: Callable) -> None:
    """Exercise 6.5 (challenge): ``fn(cols, x_shape, k, stride, padding)`` equals ``nnlib.functional.col2im``:
    every column entry added back onto the pixel it was read from, the padding cut off."""
    title, cases = "Exercise 6.5 (challenge): col2im", _col2im_cases()
    status, message = evaluate(fn, cases)
    if status == FAILED and _keeps_one_value_per_pixel(fn):
        report(title, FAILED, f"{message}\n   Hint: {OVERWRITE_HINT}")
        return
    mistakes = [
        (lambda *a: _col2im_loops(*a, crop=False),
         "cut the padding off: return padded[:, :, P:P + H, P:P + W], of shape x_shape."),
        (lambda cols, x_shape, k, s, p: _col2im_loops(cols, x_shape, k, s, p)[..., ::-1, ::-1],
         "the result is rotated by 180°: entry (p, q) of window (i, j) goes to pixel (i·S + p, j·S + q)."),
    ]
    check_with_diagnosis(title, fn, cases, mistakes,
                         "cols.reshape(N, C, K, K, H', W'); for every kernel offset (p, q): padded[:, :, p:p + S·H':S, "
                         "q:q + S·W':S] += block[:, :, p, q]; then cut the padding off.")
