"""Rosenblatt's perceptron: one artificial neuron with a step activation and its mistake-driven learning rule."""

from __future__ import annotations

import numpy as np

from ._checks import InputError, as_rng, check_array, check_float_dtype, check_positive_int, check_real


class Perceptron:
    r"""A single neuron ``y = step(x · w + b)`` that classifies its input as 0 or 1.

    Shapes:
        w: (n_features,), the synaptic weights; b: a float, the bias.
        X: (N, n_features) for :meth:`net`, :meth:`predict` and :meth:`fit`; x: (n_features,) for :meth:`update`.
        y, targets: (N,) of 0/1.

    The step function maps a net input of exactly 0 to **0**: the neuron fires only when ``net > 0``.
    Rosenblatt's rule, for one example ``x`` with target ``t`` and prediction ``y``:

    .. math::
        w \leftarrow w + \eta\,(t - y)\,x,\qquad b \leftarrow b + \eta\,(t - y)

    Args:
        n_features: number of inputs.
        lr: the learning rate :math:`\eta` (> 0).
        rng: ``None`` starts from all-zero weights (the classic choice, fully deterministic);
            an int seed or Generator starts from small random weights, normal with std 0.01.
        dtype: float32 or float64; inputs must have this dtype.
    """

    def __init__(self, n_features: int, lr: float = 1.0, *, rng=None, dtype=np.float64):
        self.n_features = check_positive_int(n_features, "Perceptron", "n_features")
        self.lr = check_real(lr, "Perceptron", "lr", lambda v: v > 0, "a positive number")
        self.dtype = check_float_dtype(dtype, "Perceptron")
        if rng is None:
            self.w = np.zeros(self.n_features, dtype=self.dtype)
        else:
            self.w = (0.01 * as_rng(rng, "Perceptron").standard_normal(self.n_features)).astype(self.dtype)
        self.b = 0.0

    def __repr__(self) -> str:
        return f"Perceptron(n_features={self.n_features}, lr={self.lr}, dtype={self.dtype})"

    def _inputs(self, X, name: str = "X") -> np.ndarray:
        return check_array(X, self, name=name, shape=(None, self.n_features), dtype=self.dtype, finite=True)

    def _labels(self, y, n: int) -> np.ndarray:
        y = np.asarray(y)
        if y.shape != (n,):
            raise InputError(f"{self}: targets must have shape ({n},), one per example, got {y.shape}")
        if y.dtype.kind not in "iubf" or not np.isin(y, (0, 1)).all():
            raise InputError(f"{self}: targets must be 0 or 1, got values {np.unique(y)[:5]}")
        return y.astype(np.int64)

    def net(self, X) -> np.ndarray:
        """The weighted sum ``X @ w + b``: (N, n_features) -> (N,)."""
        return self._inputs(X) @ self.w + self.b

    def predict(self, X) -> np.ndarray:
        """The step of the net input: (N, n_features) -> (N,) int64 of 0/1 (``net == 0`` gives 0)."""
        return (self.net(X) > 0).astype(np.int64)

    def update(self, x, target) -> bool:
        """Apply Rosenblatt's rule to one example ``x`` (n_features,); return True if ``w`` or ``b`` changed."""
        x = self._inputs(np.asarray(x)[None, :] if np.ndim(x) == 1 else x, name="x")
        if x.shape[0] != 1:
            raise InputError(f"{self}: update takes one example of shape ({self.n_features},), got {x.shape}")
        error = int(self._labels(np.atleast_1d(target), 1)[0] - self.predict(x)[0])  # t - y, in {-1, 0, 1}
        if error:
            self.w += (self.lr * error) * x[0]
            self.b += self.lr * error
        return error != 0

    def fit(self, X, y, epochs: int = 100, *, shuffle: bool = False, rng=None) -> list[int]:
        """Sweep over the examples, updating after each mistake; stop after an epoch without one.

        Args:
            X: (N, n_features) inputs; y: (N,) targets of 0/1.
            epochs: the maximum number of sweeps.
            shuffle: visit the examples in a fresh random order each epoch (drawn from ``rng``)
                instead of in the given order.

        Returns:
            The number of mistakes in each epoch run; it ends with 0 exactly when the data were separated.
        """
        X = self._inputs(X)
        y = self._labels(y, X.shape[0])
        epochs = check_positive_int(epochs, self, "epochs")
        rng = as_rng(rng, self) if shuffle else None
        mistakes: list[int] = []
        for _ in range(epochs):
            order = rng.permutation(len(X)) if shuffle else range(len(X))
            mistakes.append(sum(self.update(X[i], y[i]) for i in order))
            if mistakes[-1] == 0:
                break
        return mistakes
