"""Datasets and batching, all offline.

Toy sets (XOR, spirals, moons) are generated with NumPy; the digits come from scikit-learn's bundled copy.
Every ``X`` is a float array of the requested dtype, every ``y`` is int64, and all randomness goes through
an explicit ``rng`` (an int seed or a ``np.random.Generator``): the same seed gives the same data.
"""

from __future__ import annotations

from collections.abc import Iterator

import numpy as np

from ._checks import InputError, as_rng, check_fits_in_memory, check_float_dtype, check_positive_int, check_real

__all__ = ["make_xor", "make_spirals", "make_moons", "load_digits", "make_adding_problem", "make_delayed_recall",
           "make_noisy_sine", "place_on_canvas", "train_test_split", "take_per_class", "batches", "one_hot"]

_XOR_X = np.array([[0, 0], [0, 1], [1, 0], [1, 1]])
_XOR_Y = np.array([0, 1, 1, 0])


def _check_labels(y, who: str, n: int | None = None, name: str = "y") -> np.ndarray:
    """``y`` as an ndarray with at least one axis (and ``n`` rows when given)."""
    y = np.asarray(y)
    if y.ndim == 0:
        raise InputError(f"{who}: {name} must be an array with one row per sample, got a scalar")
    if n is not None and len(y) != n:
        raise InputError(f"{who}: X and {name} must have the same number of samples, got {n} and {len(y)}")
    return y


def _check_pair(X, y, who: str) -> tuple[np.ndarray, np.ndarray]:
    X = _check_labels(X, who, name="X")
    return X, _check_labels(y, who, len(X))


def make_xor(n: int = 4, noise: float = 0.0, rng=None, dtype=np.float32) -> tuple[np.ndarray, np.ndarray]:
    """The XOR problem: ``X`` (n, 2), ``y`` (n,) with ``y = x1 XOR x2``.

    With the defaults this is exactly the truth table ``[[0,0],[0,1],[1,0],[1,1]] -> [0,1,1,0]``. For larger
    ``n``, sample ``i`` is corner ``i % 4`` plus Gaussian noise of standard deviation ``noise``.
    """
    n = check_positive_int(n, "make_xor", "n")
    check_fits_in_memory((n, 2), "make_xor", "the data set")
    noise = check_real(noise, "make_xor", "noise", lambda v: v >= 0, "a number >= 0")
    dtype = check_float_dtype(dtype, "make_xor")
    corner = np.arange(n) % 4
    X = _XOR_X[corner] + noise * as_rng(rng, "make_xor").standard_normal((n, 2))
    return X.astype(dtype), _XOR_Y[corner].astype(np.int64)


def make_spirals(n_per_class: int = 100, n_classes: int = 3, noise: float = 0.2, rng=None,
                 dtype=np.float32) -> tuple[np.ndarray, np.ndarray]:
    r"""Interleaved spiral arms (the cs231n classic): ``X`` (n_per_class·n_classes, 2), ``y`` in 0..n_classes−1.

    Arm :math:`k` has radius :math:`r` from 0 to 1 and angle :math:`\theta` from :math:`4k` to :math:`4(k+1)`
    radians, plus Gaussian noise of standard deviation ``noise`` on the angle; the point is
    :math:`(r \sin\theta, r\cos\theta)`. Samples are ordered class by class.
    """
    n_per_class = check_positive_int(n_per_class, "make_spirals", "n_per_class")
    n_classes = check_positive_int(n_classes, "make_spirals", "n_classes")
    if n_classes < 2:
        raise InputError(f"make_spirals: n_classes must be at least 2, got {n_classes}")
    noise = check_real(noise, "make_spirals", "noise", lambda v: v >= 0, "a number >= 0")
    dtype = check_float_dtype(dtype, "make_spirals")
    rng = as_rng(rng, "make_spirals")
    r = np.tile(np.linspace(0.0, 1.0, n_per_class), n_classes)
    start = 4.0 * np.repeat(np.arange(n_classes), n_per_class)
    theta = start + np.tile(np.linspace(0.0, 4.0, n_per_class), n_classes)
    theta += noise * rng.standard_normal(theta.shape)
    X = np.column_stack([r * np.sin(theta), r * np.cos(theta)])
    return X.astype(dtype), np.repeat(np.arange(n_classes, dtype=np.int64), n_per_class)


def make_moons(n: int = 200, noise: float = 0.1, rng=None, dtype=np.float32) -> tuple[np.ndarray, np.ndarray]:
    """Two interleaving half circles (scikit-learn's geometry): ``X`` (n, 2), ``y`` (n,) in {0, 1}.

    Class 0 (``n // 2`` points) lies on the upper unit half circle centred at (0, 0); class 1 (the rest) on
    the lower half circle centred at (1, 0.5). Gaussian noise of standard deviation ``noise`` is added to
    both coordinates. Samples are ordered class by class.
    """
    n = check_positive_int(n, "make_moons", "n")
    check_fits_in_memory((n, 2), "make_moons", "the data set")
    if n < 2:
        raise InputError(f"make_moons: n must be at least 2 (one point per moon), got {n}")
    noise = check_real(noise, "make_moons", "noise", lambda v: v >= 0, "a number >= 0")
    dtype = check_float_dtype(dtype, "make_moons")
    n_outer = n // 2
    outer = np.linspace(0.0, np.pi, n_outer)
    inner = np.linspace(0.0, np.pi, n - n_outer)
    X = np.concatenate([np.column_stack([np.cos(outer), np.sin(outer)]),
                        np.column_stack([1 - np.cos(inner), 0.5 - np.sin(inner)])])
    X += noise * as_rng(rng, "make_moons").standard_normal(X.shape)
    y = np.concatenate([np.zeros(n_outer, dtype=np.int64), np.ones(n - n_outer, dtype=np.int64)])
    return X.astype(dtype), y


def load_digits(images: bool = False, dtype=np.float32) -> tuple[np.ndarray, np.ndarray]:
    """The 8×8 handwritten digits (1797 samples, 10 classes) from scikit-learn's bundled copy — no download.

    Returns ``X`` scaled to [0, 1], of shape (1797, 64), or (1797, 1, 8, 8) with ``images=True`` (the
    (N, C, H, W) layout of ``Conv2d``), and ``y`` (1797,) int64 in 0..9.
    """
    dtype = check_float_dtype(dtype, "load_digits")
    try:
        from sklearn.datasets import load_digits as sklearn_digits
    except ImportError as err:
        raise ImportError("load_digits needs scikit-learn, which ships the digits with it (no download): "
                          "pip install 'nnlib[course]' (or pip install scikit-learn)") from err
    digits = sklearn_digits()
    X = (digits.data / 16.0).astype(dtype)
    if images:
        X = X.reshape(-1, 1, 8, 8)
    return X, digits.target.astype(np.int64)


def place_on_canvas(images, size: int, noise: float = 0.0, rng=None) -> np.ndarray:
    """Paste each image at a uniformly random position on a blank ``size``×``size`` canvas, then add noise.

    ``images`` (N, C, h, w) with h, w ≤ ``size`` → (N, C, size, size) of the same dtype; ``noise`` is the standard
    deviation of Gaussian noise added to every canvas pixel. The digits of lesson 09 are "scanned" this way.
    """
    who = "place_on_canvas"
    images = np.asarray(images)
    if images.ndim != 4 or images.dtype.kind != "f":
        raise InputError(f"{who}: images must be a float array (N, C, h, w), got shape {images.shape} and dtype "
                         f"{images.dtype}")
    size = check_positive_int(size, who, "size")
    n, channels, h, w = images.shape
    if h > size or w > size:
        raise InputError(f"{who}: a {h}×{w} image does not fit on a {size}×{size} canvas; use size ≥ {max(h, w)}")
    noise = check_real(noise, who, "noise", lambda v: v >= 0, "a number ≥ 0")
    rng = as_rng(rng, who)
    top, left = rng.integers(0, size - h + 1, n), rng.integers(0, size - w + 1, n)
    rows = (top[:, None] + np.arange(h))[:, :, None]                      # (N, h, 1)
    cols = (left[:, None] + np.arange(w))[:, None, :]                     # (N, 1, w)
    canvas = np.zeros((n, channels, size, size), images.dtype)
    canvas[np.arange(n)[:, None, None], :, rows, cols] = images.transpose(0, 2, 3, 1)
    return canvas + (noise * rng.standard_normal(canvas.shape)).astype(images.dtype)


# --- sequence tasks (batch-first: X is (N, T, features) or (N, T) token ids) ----------------------------------

def make_adding_problem(n: int = 1000, length: int = 50, rng=None, dtype=np.float32):
    """The adding problem (Hochreiter & Schmidhuber, 1997), a test of long memory.

    Each sequence has ``length`` steps of two features: a value uniform in [0, 1) and a marker that is 1 at exactly
    two steps — one in the first half, one in the second — and 0 elsewhere. The target is the sum of the two marked
    values. Predicting the mean, 1, without memory gives a mean squared error of 1/6 ≈ 0.167.

    Returns ``X`` (n, length, 2) and ``y`` (n, 1), both of ``dtype``.
    """
    n = check_positive_int(n, "make_adding_problem", "n")
    length = check_positive_int(length, "make_adding_problem", "length")
    check_fits_in_memory((n, length, 2), "make_adding_problem", "the data set")
    if length < 2:
        raise InputError(f"make_adding_problem: length must be at least 2 (two marked steps), got {length}")
    dtype = check_float_dtype(dtype, "make_adding_problem")
    rng = as_rng(rng, "make_adding_problem")
    values = rng.random((n, length))
    half = length // 2
    marked = np.column_stack([rng.integers(0, half, n), rng.integers(half, length, n)])
    markers = np.zeros((n, length))
    np.put_along_axis(markers, marked, 1.0, axis=1)
    X = np.stack([values, markers], axis=2)
    y = np.take_along_axis(values, marked, axis=1).sum(axis=1, keepdims=True)
    return X.astype(dtype), y.astype(dtype)


def make_delayed_recall(n: int = 1000, delay: int = 10, n_symbols: int = 4, rng=None):
    """Remember the first token of a sequence across ``delay`` distracting tokens, then name it.

    Token 0..n_symbols−1 opens each sequence (the one to recall); the next ``delay`` tokens are distractors drawn
    from n_symbols..2·n_symbols−1. A model that forgets can only guess: accuracy 1/n_symbols.

    Returns ``ids`` (n, delay + 1) int64 token ids in [0, 2·n_symbols) and ``y`` (n,) int64 in [0, n_symbols).
    """
    n = check_positive_int(n, "make_delayed_recall", "n")
    delay = check_positive_int(delay, "make_delayed_recall", "delay")
    n_symbols = check_positive_int(n_symbols, "make_delayed_recall", "n_symbols")
    rng = as_rng(rng, "make_delayed_recall")
    y = rng.integers(0, n_symbols, n)
    distractors = rng.integers(n_symbols, 2 * n_symbols, (n, delay))
    return np.column_stack([y, distractors]).astype(np.int64), y.astype(np.int64)


def make_noisy_sine(n: int = 500, length: int = 30, noise: float = 0.1, rng=None, dtype=np.float32):
    r"""Windows of a noisy sine wave, for one-step-ahead prediction.

    Window i samples :math:`\sin(\varphi_i + \omega_i t)` every 0.2 time units, with a random phase
    :math:`\varphi_i \in [0, 2\pi)` and angular frequency :math:`\omega_i \in [0.5, 1.5)`, plus Gaussian noise of
    standard deviation ``noise`` on the inputs. The target at step t is the *clean* sine at step t + 1.

    Returns ``X`` (n, length, 1) noisy values and ``y`` (n, length, 1) the next clean values.
    """
    n = check_positive_int(n, "make_noisy_sine", "n")
    length = check_positive_int(length, "make_noisy_sine", "length")
    check_fits_in_memory((n, length, 1), "make_noisy_sine", "the data set")
    noise = check_real(noise, "make_noisy_sine", "noise", lambda v: v >= 0, "a number >= 0")
    dtype = check_float_dtype(dtype, "make_noisy_sine")
    rng = as_rng(rng, "make_noisy_sine")
    phase = rng.uniform(0, 2 * np.pi, (n, 1))
    frequency = rng.uniform(0.5, 1.5, (n, 1))
    clean = np.sin(phase + frequency * 0.2 * np.arange(length + 1))
    X = clean[:, :-1] + noise * rng.standard_normal((n, length))
    return X[..., None].astype(dtype), clean[:, 1:, None].astype(dtype)


def _split_indices(y: np.ndarray, test_fraction: float, rng: np.random.Generator, stratify: bool):
    """Shuffled (train, test) index arrays; with ``stratify`` each class is split in the same proportion."""
    if not stratify:
        order = rng.permutation(len(y))
        n_test = round(test_fraction * len(y))
        return order[n_test:], order[:n_test]
    train, test = [], []
    for label in np.unique(y):
        members = rng.permutation(np.flatnonzero(y == label))
        n_test = round(test_fraction * len(members))
        test.append(members[:n_test])
        train.append(members[n_test:])
    return rng.permutation(np.concatenate(train)), rng.permutation(np.concatenate(test))


def train_test_split(X, y, test_fraction: float = 0.25, rng=None, stratify: bool = True):
    """Split into shuffled training and test sets: returns ``X_train, X_test, y_train, y_test``.

    With ``stratify`` (the default) every class keeps its proportion in both parts (``y`` must then be
    1-D integer labels; pass ``stratify=False`` for other targets).
    """
    who = "train_test_split"
    X, y = _check_pair(X, y, who)
    test_fraction = check_real(test_fraction, who, "test_fraction", lambda v: 0 < v < 1,
                               "a number strictly between 0 and 1")
    if stratify and (y.ndim != 1 or y.dtype.kind not in "iub"):
        raise InputError(f"{who}: stratify=True needs 1-D integer class labels, got y with shape {y.shape} and "
                         f"dtype {y.dtype}; pass stratify=False for other targets")
    train, test = _split_indices(y, test_fraction, as_rng(rng, who), stratify)
    if len(train) == 0 or len(test) == 0:
        raise InputError(f"{who}: {len(X)} samples with test_fraction={test_fraction} leave an empty "
                         f"{'test' if len(test) == 0 else 'training'} set; use more samples or another fraction")
    return X[train], X[test], y[train], y[test]


def take_per_class(y, n_per_class: int, rng=None) -> np.ndarray:
    """Indices of ``n_per_class`` samples drawn at random from each class of ``y``, class by class.

    ``y`` (N,) integer labels → indices (n_classes · n_per_class,): the first ``n_per_class`` are of the smallest
    label, and so on. Every class must have at least ``n_per_class`` samples.
    """
    who = "take_per_class"
    y = _check_labels(y, who)
    if y.ndim != 1 or y.dtype.kind not in "iu":
        raise InputError(f"{who}: y must be 1-D integer class labels, got shape {y.shape} and dtype {y.dtype}")
    n_per_class = check_positive_int(n_per_class, who, "n_per_class")
    rng = as_rng(rng, who)
    labels, counts = np.unique(y, return_counts=True)
    if counts.min(initial=n_per_class) < n_per_class:
        label = labels[np.argmin(counts)]
        raise InputError(f"{who}: class {label} has {counts.min()} samples, fewer than n_per_class={n_per_class}")
    return np.concatenate([rng.permutation(np.flatnonzero(y == label))[:n_per_class] for label in labels]
                          or [np.zeros(0, np.int64)])


def batches(X, y, batch_size: int, rng=None, shuffle: bool = True,
            drop_last: bool = False) -> Iterator[tuple[np.ndarray, np.ndarray]]:
    """Yield ``(X_batch, y_batch)`` pairs of ``batch_size`` rows (the last one may be smaller).

    With ``shuffle`` the order is a fresh permutation drawn from ``rng`` and the batches are copies; without
    it they are views in the original order. Every sample appears exactly once (unless ``drop_last`` drops
    an incomplete final batch). Arguments are checked when ``batches`` is called, not at the first batch.
    """
    who = "batches"
    X, y = _check_pair(X, y, who)
    batch_size = check_positive_int(batch_size, who, "batch_size")
    order = as_rng(rng, who).permutation(len(X)) if shuffle else None
    stop = len(X) - len(X) % batch_size if drop_last else len(X)

    def generate():
        for start in range(0, stop, batch_size):
            if order is None:
                yield X[start:start + batch_size], y[start:start + batch_size]
            else:
                index = order[start:start + batch_size]
                yield X[index], y[index]

    return generate()


def one_hot(y, n_classes: int, dtype=np.float32) -> np.ndarray:
    """Integer labels of any shape ``S`` to one-hot rows of shape ``S + (n_classes,)``."""
    n_classes = check_positive_int(n_classes, "one_hot", "n_classes")
    dtype = check_float_dtype(dtype, "one_hot")
    y = np.asarray(y)
    if y.dtype.kind not in "iu":
        raise InputError(f"one_hot: y must hold integer class labels, got dtype {y.dtype}")
    if y.size and (y.min() < 0 or y.max() >= n_classes):
        raise InputError(f"one_hot: labels must lie in 0..{n_classes - 1}, got values from {y.min()} to {y.max()}")
    return np.eye(n_classes, dtype=dtype)[y]
