"""A pretrained model shipped with nnlib, and the recipe that made it (``make pretrained`` reruns it).

The source task of lesson 09: the digits 0–4 of scikit-learn's 8×8 set, "scanned" — pasted at a random position
on a 12×12 canvas with Gaussian noise (σ = 0.1) — in 16 generated copies of each training image. The model is the
CNN of lesson 06 sized for that canvas. Its weights, ``digits_cnn_0_4.npz`` next to this file (25 kB), are
committed; :func:`load_digits_cnn` loads them into a fresh :func:`digits_cnn`.

The target task, digits 5–9 scanned the same way (:func:`scanned_digits`), is what the lesson transfers to.
"""

from __future__ import annotations

import argparse
from pathlib import Path

import numpy as np

from .. import io
from .._checks import InputError, as_rng, check_positive_int
from ..data import load_digits, place_on_canvas, train_test_split
from ..layers import Conv2d, Flatten, Linear, MaxPool2d, ReLU
from ..losses import CrossEntropyLoss
from ..module import Sequential
from ..optim import Adam
from ..training import accuracy, fit

__all__ = ["CANVAS", "NOISE", "SOURCE_DIGITS", "TARGET_DIGITS", "WEIGHTS", "METHODS", "scanned_digits",
           "N_FEATURES", "digits_cnn", "load_digits_cnn", "pretrain", "train_steps", "adapt"]

CANVAS = 12
NOISE = 0.1
SOURCE_DIGITS = (0, 1, 2, 3, 4)
TARGET_DIGITS = (5, 6, 7, 8, 9)
WEIGHTS = Path(__file__).with_name("digits_cnn_0_4.npz")
METHODS = ("scratch", "frozen", "fine-tune")
N_FEATURES = 32 * (CANVAS // 4) ** 2   # two 2×2 poolings: 12×12 → 3×3, 32 channels


def scanned_digits(digits, copies: int = 1, rng=0) -> tuple[np.ndarray, np.ndarray]:
    """The 8×8 digits of the classes ``digits``, each pasted ``copies`` times on a noisy 12×12 canvas.

    Returns X (copies · n, 1, 12, 12) float32 and y (copies · n,) int64, relabelled 0..len(digits)−1 in the order
    of ``digits`` (so digit 5 is label 0 in the target task).
    """
    digits = list(digits)
    if not digits or len(set(digits)) != len(digits) or not set(digits) <= set(range(10)):
        raise InputError(f"scanned_digits: digits must be distinct digits 0..9, got {digits}")
    copies = check_positive_int(copies, "scanned_digits", "copies")
    X, y = load_digits(images=True)
    label_of = np.full(10, -1)
    label_of[digits] = np.arange(len(digits))
    keep = label_of[y] >= 0
    images = np.concatenate([X[keep]] * copies)
    return place_on_canvas(images, CANVAS, NOISE, rng), np.tile(label_of[y[keep]], copies)


def digits_cnn(n_classes: int = 5, rng=0) -> Sequential:
    """Lesson 06's CNN for the 12×12 canvas: (N, 1, 12, 12) → two conv–ReLU–pool blocks → 288 features → scores.

    ``model[:-1]`` is the feature extractor, ``model[-1]`` the head ``Linear(288, n_classes)``.
    """
    rng = as_rng(rng, "digits_cnn")
    return Sequential(
        Conv2d(1, 16, 3, padding=1, rng=rng), ReLU(), MaxPool2d(2),      # → (N, 16, 6, 6)
        Conv2d(16, 32, 3, padding=1, rng=rng), ReLU(), MaxPool2d(2),     # → (N, 32, 3, 3)
        Flatten(), Linear(N_FEATURES, n_classes, rng=rng),               # → (N, 288) → (N, n_classes)
    )


def load_digits_cnn(path=WEIGHTS) -> Sequential:
    """:func:`digits_cnn` with the pretrained weights of the source task (digits 0–4) loaded from ``path``."""
    path = Path(path)
    if not path.exists():
        raise FileNotFoundError(f"load_digits_cnn: no weights at {path}; run `make pretrained` to create them")
    return io.load(digits_cnn(len(SOURCE_DIGITS)), path)


def pretrain(copies: int = 16, epochs: int = 6, rng=0) -> tuple[Sequential, float]:
    """Train :func:`digits_cnn` on the source task; returns the model and its accuracy on held-out source images.

    A fifth of the 0–4 images is held out (scanned once); the rest is scanned ``copies`` times to make the larger
    generated training set. Adam (lr 2·10⁻³), batches of 32. The same ``rng`` seed gives the same weights.
    """
    copies = check_positive_int(copies, "pretrain", "copies")
    rng = as_rng(rng, "pretrain")
    X, y = load_digits(images=True)
    keep = np.isin(y, SOURCE_DIGITS)
    X_train, X_test, y_train, y_test = train_test_split(X[keep], y[keep], test_fraction=0.2, rng=rng)
    X_train = place_on_canvas(np.concatenate([X_train] * copies), CANVAS, NOISE, rng)
    y_train = np.tile(y_train, copies)
    model = digits_cnn(len(SOURCE_DIGITS), rng=rng)
    fit(model, CrossEntropyLoss(), Adam(model.parameters(), lr=2e-3), X_train, y_train, epochs=epochs,
        batch_size=32, rng=rng)
    model.eval()
    return model, accuracy(model(place_on_canvas(X_test, CANVAS, NOISE, rng)), y_test)


def train_steps(model, X, y, lr: float, steps: int, rng) -> None:
    """About ``steps`` Adam steps on batches of 16 over (X, y), updating only the unfrozen parameters (what
    :func:`adapt` trains with)."""
    trainable = [p for p in model.parameters() if p.requires_grad]
    fit(model, CrossEntropyLoss(), Adam(trainable, lr=lr), X, y, epochs=max(1, round(steps * 16 / len(X))),
        batch_size=16, rng=rng)


def adapt(method: str, X, y, n_classes: int = 5, steps: int = 200, rng=0, weights=WEIGHTS,
          fine_tune_lr: float = 1e-3, head_first: bool = True) -> Sequential:
    """A model for the target task (X, y), trained by one of the three ``METHODS``; returned in eval mode.

    * ``"scratch"``: :func:`digits_cnn` from a random start, ``2 · steps`` steps at lr 3·10⁻³.
    * ``"frozen"``: the pretrained extractor, frozen, under a new head ``Linear(288, n_classes)`` trained for
      ``steps`` steps at lr 3·10⁻³.
    * ``"fine-tune"``: the frozen model, then every layer unfrozen and trained ``steps`` more steps at
      ``fine_tune_lr`` (lower, so that the pretrained features are adjusted rather than overwritten). With
      ``head_first=False`` the head-first stage is skipped: all layers train ``2 · steps`` steps from the random head.

    Scratch and fine-tuning get the same number of steps.
    """
    if method not in METHODS:
        raise InputError(f"adapt: method must be one of {METHODS}, got {method!r}")
    rng = as_rng(rng, "adapt")
    if method == "scratch":
        model = digits_cnn(n_classes, rng)
        train_steps(model, X, y, 3e-3, 2 * steps, rng)
        return model.eval()
    model = load_digits_cnn(weights)
    model[-1] = Linear(N_FEATURES, n_classes, rng=rng)
    if method == "frozen" or head_first:
        model[:-1].requires_grad_(False)
        train_steps(model, X, y, 3e-3, steps, rng)
    if method == "fine-tune":
        model.requires_grad_(True)
        train_steps(model, X, y, fine_tune_lr, steps if head_first else 2 * steps, rng)
    return model.eval()


def main(argv=None) -> None:
    parser = argparse.ArgumentParser(prog="python -m nnlib.pretrained", description=pretrain.__doc__.splitlines()[0])
    parser.add_argument("--out", type=Path, default=WEIGHTS, help=f"where to write the weights (default {WEIGHTS})")
    parser.add_argument("--copies", type=int, default=16, help="scanned copies of each source image (default 16)")
    parser.add_argument("--epochs", type=int, default=6, help="passes over the generated set (default 6)")
    args = parser.parse_args(argv)
    model, source_accuracy = pretrain(args.copies, args.epochs)
    path = io.save(model, args.out)
    print(f"digits 0–4 CNN: held-out source accuracy {source_accuracy:.3f}; "
          f"{model.num_parameters()} parameters written to {path}")
