"""End-to-end training and scaling: whole runs, timed a few times, with the accuracy each reaches.

* An MLP 64-128-10 on the digits, 30 epochs, batch 32, Adam (lr 1e-3): nnlib's ``fit``, scikit-learn's
  ``MLPClassifier`` and a plain PyTorch loop, each timed and scored on the same held-out quarter — and the NumPy
  floor: nnlib's run written out as bare NumPy calls (same numbers), to show what the per-step overhead costs.
* A small CNN on the digits: seconds per epoch and test accuracy after 10 epochs, nnlib against PyTorch.
* Scaling of nnlib alone: time per sample against batch size, and time against sequence length for an LSTM
  (linear in T) and self-attention (its T² term shows once T outgrows the feature size).
"""

from __future__ import annotations

import functools
import statistics
import time
import warnings
from collections.abc import Callable

import numpy as np
from harness import pinned_threads, seconds_per_call

import nnlib
from nnlib.data import load_digits, train_test_split


def _median_time(run: Callable[[], float], repeats: int) -> tuple[float, float]:
    """(median seconds, accuracy of the last run) of ``run``, which trains from scratch and returns an accuracy."""
    times, accuracy = [], float("nan")
    for _ in range(repeats):
        start = time.perf_counter()
        accuracy = run()
        times.append(time.perf_counter() - start)
    return statistics.median(times), accuracy


def _digits(images: bool):
    X, y = load_digits(images=images)
    return train_test_split(X, y, rng=0)


def _nnlib_mlp(X_train, X_test, y_train, y_test, epochs):
    model = nnlib.Sequential(nnlib.Linear(64, 128, rng=0), nnlib.ReLU(), nnlib.Linear(128, 10, rng=1))
    nnlib.fit(model, nnlib.CrossEntropyLoss(), nnlib.Adam(model.parameters(), lr=1e-3), X_train, y_train,
              epochs=epochs, batch_size=32, rng=0)
    return nnlib.accuracy(model.eval()(X_test), y_test)


def _numpy_floor_mlp(X_train, X_test, y_train, y_test, epochs):
    """nnlib's run computed by hand in bare NumPy: the same initial weights, batches, floating-point operations and
    Adam, hence the same numbers, but no module calls, input checks, divergence guard, metrics, or dL/dx for the
    input. Its time is the floor that a NumPy library running this loop step by step can approach."""
    layers = (nnlib.Linear(64, 128, rng=0), nnlib.Linear(128, 10, rng=1))
    params = [p.data.copy() for layer in layers for p in (layer.weight, layer.bias)]
    w1, b1, w2, b2 = params
    ends = np.cumsum([p.size for p in params])
    m, v = np.zeros(ends[-1], np.float32), np.zeros(ends[-1], np.float32)
    rng, t = np.random.default_rng(0), 0
    for _ in range(epochs):
        order = rng.permutation(len(X_train))
        for start in range(0, len(order), 32):
            batch = order[start:start + 32]
            x, y, rows, t = X_train[batch], y_train[batch], np.arange(len(batch)), t + 1
            h = x @ w1
            h += b1
            a = np.maximum(h, 0)
            out = a @ w2
            out += b2
            shifted = out - out.max(axis=1, keepdims=True)
            log_probs = shifted - np.log(np.exp(shifted).sum(axis=1, keepdims=True))
            delta = np.exp(log_probs)  # dL/d out = (softmax − one-hot) / N
            delta[rows, y] -= 1
            delta *= np.float32(1 / len(batch))
            delta_h = (delta @ w2.T) * (h > 0)
            g = np.concatenate([(x.T @ delta_h).ravel(), delta_h.sum(axis=0), (a.T @ delta).ravel(), delta.sum(axis=0)])
            m *= 0.9
            m += (1 - 0.9) * g
            v *= 0.999
            v += (1 - 0.999) * np.square(g)
            denom = np.sqrt(v / (1 - 0.999**t))
            denom += 1e-8
            step = (1e-3 / (1 - 0.9**t)) * m / denom
            for param, part in zip(params, np.split(step, ends[:-1]), strict=True):
                param -= part.reshape(param.shape)
    return nnlib.accuracy(np.maximum(X_test @ w1 + b1, 0) @ w2 + b2, y_test)


def _sklearn_mlp(X_train, X_test, y_train, y_test, epochs):
    from sklearn.exceptions import ConvergenceWarning
    from sklearn.neural_network import MLPClassifier

    # tol=0 and an unreachable n_iter_no_change: exactly `epochs` passes, as the others
    model = MLPClassifier((128,), solver="adam", batch_size=32, learning_rate_init=1e-3, max_iter=epochs, tol=0,
                          n_iter_no_change=10**9, alpha=0.0, random_state=0)
    with warnings.catch_warnings():
        warnings.simplefilter("ignore", ConvergenceWarning)
        model.fit(X_train, y_train)
    return model.score(X_test, y_test)


def _torch_train(model, X_train, X_test, y_train, y_test, epochs, lr):
    import torch

    torch.manual_seed(0)
    X_train, X_test = torch.tensor(X_train), torch.tensor(X_test)
    y_train = torch.tensor(y_train)
    optimizer = torch.optim.Adam(model.parameters(), lr=lr)
    loss = torch.nn.CrossEntropyLoss()
    generator = torch.Generator().manual_seed(0)
    for _ in range(epochs):
        for batch in torch.randperm(len(X_train), generator=generator).split(32):
            optimizer.zero_grad()
            loss(model(X_train[batch]), y_train[batch]).backward()
            optimizer.step()
    with torch.no_grad():
        return float((model(X_test).argmax(1).numpy() == y_test).mean())


def _torch_mlp(X_train, X_test, y_train, y_test, epochs):
    import torch

    torch.manual_seed(0)
    model = torch.nn.Sequential(torch.nn.Linear(64, 128), torch.nn.ReLU(), torch.nn.Linear(128, 10))
    return _torch_train(model, X_train, X_test, y_train, y_test, epochs, 1e-3)


def _nnlib_cnn(X_train, X_test, y_train, y_test, epochs):
    model = nnlib.Sequential(nnlib.Conv2d(1, 16, 3, padding=1, rng=0), nnlib.ReLU(), nnlib.MaxPool2d(2),
                             nnlib.Conv2d(16, 32, 3, padding=1, rng=1), nnlib.ReLU(), nnlib.MaxPool2d(2),
                             nnlib.Flatten(), nnlib.Linear(128, 10, rng=2))
    nnlib.fit(model, nnlib.CrossEntropyLoss(), nnlib.Adam(model.parameters(), lr=3e-3), X_train, y_train,
              epochs=epochs, batch_size=32, rng=0)
    return nnlib.accuracy(model.eval()(X_test), y_test)


def _torch_cnn(X_train, X_test, y_train, y_test, epochs):
    import torch

    torch.manual_seed(0)
    nn = torch.nn
    model = nn.Sequential(nn.Conv2d(1, 16, 3, padding=1), nn.ReLU(), nn.MaxPool2d(2), nn.Conv2d(16, 32, 3, padding=1),
                          nn.ReLU(), nn.MaxPool2d(2), nn.Flatten(), nn.Linear(128, 10))
    return _torch_train(model, X_train, X_test, y_train, y_test, epochs, 3e-3)


def training_table(threads: int, smoke: bool = False) -> str:
    """Markdown: each contender's time and test accuracy, with the ratio to scikit-learn (MLP) or torch (CNN)."""
    repeats, mlp_epochs, cnn_epochs = (1, 1, 1) if smoke else (3, 30, 10)
    rows = ["| task | contender | time (s) | test accuracy | time ratio |", "|---|---|---:|---:|---:|"]
    with pinned_threads(threads):
        for task, images, epochs, contenders, reference in (
                (f"MLP 64-128-10 on digits, {mlp_epochs} epochs, batch 32, Adam", False, mlp_epochs,
                 {"nnlib": _nnlib_mlp, "NumPy floor": _numpy_floor_mlp, "scikit-learn": _sklearn_mlp,
                  "torch": _torch_mlp}, "scikit-learn"),
                (f"CNN on digits, {cnn_epochs} epochs (time per epoch)", True, cnn_epochs,
                 {"nnlib": _nnlib_cnn, "torch": _torch_cnn}, "torch")):
            data = _digits(images)
            measured = {name: _median_time(functools.partial(run, *data, epochs), repeats)
                        for name, run in contenders.items()}
            per_epoch = "per epoch" in task
            for name, (seconds, accuracy) in measured.items():
                shown = seconds / epochs if per_epoch else seconds
                ratio = seconds / measured[reference][0]
                rows.append(f"| {task} | {name} | {shown:.3f} | {accuracy:.3f} | {ratio:.2f} × {reference} |")
    return "\n".join(rows)


def _time_call(fn: Callable[[], object], repeats: int) -> float:
    fn()  # warm-up
    return statistics.median(seconds_per_call(fn) for _ in range(repeats))


def _forward_backward(layer, x: np.ndarray, fast: bool = True) -> Callable[[], object]:
    """One forward + backward of ``layer`` on ``x``, on nnlib's fast kernels or (``fast=False``) its reference code."""
    out = layer(x)
    grad = np.ones_like(out[0] if isinstance(out, tuple) else out)

    def run():
        with nnlib.use_fast_kernels(fast):
            layer.zero_grad()
            layer(x)
            return layer.backward(grad)
    return run


def scaling_table(threads: int, smoke: bool = False) -> str:
    """Markdown: nnlib's time against batch size (MLP step) and sequence length (LSTM, self-attention)."""
    repeats = 1 if smoke else 9
    batch_sizes = (16, 64) if smoke else (16, 64, 256, 1024)
    lengths = (8, 16) if smoke else (16, 32, 64, 128, 256, 512)
    rng = np.random.default_rng(0)
    rows = ["| model | size | time (ms) | time ratio per ×2 (1 = constant, 2 = linear, 4 = quadratic) |",
            "|---|---:|---:|---:|"]
    with pinned_threads(threads):
        mlp = nnlib.Sequential(nnlib.Linear(64, 128, rng=0), nnlib.ReLU(), nnlib.Linear(128, 10, rng=1))
        previous = None
        for n in batch_sizes:
            seconds = _time_call(_forward_backward(mlp, rng.random((n, 64), dtype=np.float32)), repeats)
            growth = "" if previous is None else f"{(seconds / previous[1]) ** (1 / np.log2(n / previous[0])):.2f}"
            rows.append(f"| MLP 64-128-10 forward + backward | batch {n} | {seconds * 1e3:.3f} | {growth} |")
            previous = (n, seconds)
        for name, layer, fast in (("LSTM(64, 64)", nnlib.LSTM(64, 64, rng=0), True),
                                  ("MultiHeadAttention(64, 4)", nnlib.MultiHeadAttention(64, 4, rng=0), True),
                                  ("MultiHeadAttention(64, 4) on the reference code",
                                   nnlib.MultiHeadAttention(64, 4, rng=0), False)):
            previous = None
            for t in lengths:
                x = rng.random((8, t, 64), dtype=np.float32)
                seconds = _time_call(_forward_backward(layer, x, fast), repeats)
                growth = "" if previous is None else f"{(seconds / previous[1]) ** (1 / np.log2(t / previous[0])):.2f}"
                rows.append(f"| {name}, batch 8, forward + backward | T = {t} | {seconds * 1e3:.3f} | {growth} |")
                previous = (t, seconds)
    return "\n".join(rows)
