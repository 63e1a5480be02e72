"""Datasets and batching, all offline.

Toy sets (XOR, spirals, moons) are generated with NumPy; the digits come from scikit-learn's bundled copy.
Every ``X`` is a float array of the requested dtype, every ``y`` is int64, and all randomness goes through
an explicit ``rng`` (an int seed or a ``np.random.Generator``): the same seed gives the same data.
"""

from __future__ import annotations

from collections.abc import Iterator

import numpy as np

from ._checks import InputError, as_rng, check_float_dtype, check_positive_int, check_real

__all__ = ["make_xor", "make_spirals", "make_moons", "load_digits", "train_test_split", "batches", "one_hot"]

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
