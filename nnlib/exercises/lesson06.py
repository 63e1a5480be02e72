"""Checks for lesson 06, convolution and CNNs. Reference values come from nnlib: the output height of an actual
:class:`nnlib.Conv2d`, :func:`nnlib.functional.conv2d_naive`, and :class:`nnlib.MaxPool2d`'s backward.

When a learner's answer is wrong, each check also tries the typical mistakes (the +1 of the size formula
forgotten, the kernel flipped, a 'same' instead of a 'valid' output, δ sent to every tied maximum, ...) and, if one
of them reproduces the learner's output exactly, names it in the hint.
"""

from __future__ import annotations

import math
import numbers
from collections.abc import Callable

import numpy as np

from ..functional import conv2d_naive
from ..layers import Conv2d, MaxPool2d
from ._core import FAILED, PASSED, Case, check_with_diagnosis, evaluate, report

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
