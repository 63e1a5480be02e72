"""Checks for lesson 04, gradient descent and optimization. Reference values come from nnlib itself: a
``Linear`` layer, ``MSELoss`` and the ``SGD`` optimizer (with and without momentum) compute every expected
answer, and the critical learning rate comes from the Hessian's eigenvalues.

When a learner's answer is wrong, each check also tries the typical mistakes (the step taken uphill, a sum
instead of a mean, the learning rate applied twice, the old velocity, ...) and, if one of them reproduces the
learner's output exactly, names it in the hint.
"""

from __future__ import annotations

from collections.abc import Callable

import numpy as np

from ..layers import Linear
from ..losses import MSELoss
from ..module import Parameter
from ..optim import SGD
from ._core import Case, check_with_diagnosis

# --- Exercise 4.1: one mini-batch gradient step on the mean squared error of a linear model ----------------


def _minibatch_reference(w, X, y, lr):
    """One nnlib SGD step on MSELoss(X @ w, y): a bias-free Linear(F, 1) holds w as its (F, 1) weight."""
    model = Linear(len(w), 1, bias=False, dtype=np.float64)
    model.weight.data[:, 0] = w
    loss = MSELoss()
    loss(model(X), y[:, None])
    model.backward(loss.backward())
    SGD(model.parameters(), lr=lr).step()
    return model.weight.data[:, 0].copy()


def _minibatch_cases() -> list[Case]:
    rng = np.random.default_rng(4)
    args = [
        (np.array([0.5, -1.0]), np.array([[1.0, 2.0], [0.0, 1.0], [3.0, -1.0]]), np.array([1.0, 0.0, 2.0]), 0.1),
        (np.zeros(3), np.array([[1.0, 0.0, 2.0]]), np.array([4.0]), 0.05),                      # a batch of one
        (rng.normal(size=4), rng.normal(size=(8, 4)), rng.normal(size=8), 0.3),
    ]
    return [Case(a, _minibatch_reference(*a)) for a in args]


def check_minibatch_step(fn: Callable) -> None:
    """Exercise 4.1: ``fn(w, X_batch, y_batch, lr)`` with w (F,), X_batch (B, F), y_batch (B,) must return the
    new weights (F,) after one gradient step on the batch's mean squared error: ``w − lr·(2/B)·Xᵀ(Xw − y)``."""
    def step(w, X, y, lr, *, sign=-1, mean=True, two=2, use_lr=True):
        grad = two * X.T @ (X @ w - y) / (len(y) if mean else 1)
        return w + sign * (lr if use_lr else 1.0) * grad

    mistakes = [
        (lambda *a: step(*a, sign=+1), "that step goes uphill: subtract the gradient, w − lr · gradient "
                                        "(the residual is X @ w − y, prediction minus target)."),
        (lambda *a: step(*a, mean=False), "that is the gradient of the SUM of squared errors: the mean divides "
                                           "by the batch size B = len(y_batch)."),
        (lambda *a: step(*a, two=1), "the factor 2 is missing: d/dp (p − t)² = 2 (p − t)."),
        (lambda *a: step(*a, use_lr=False), "multiply the gradient by the learning rate lr before subtracting it."),
        (lambda *a: step(*a, mean=False, two=1), "that is the gradient of ½ Σ (squared errors): the loss here is the "
                                                  "MEAN squared error, gradient (2/B) Xᵀ(Xw − y)."),
    ]
    check_with_diagnosis("Exercise 4.1: minibatch_step", fn, _minibatch_cases(), mistakes,
                         "residual = X_batch @ w - y_batch (B,); gradient = 2 * X_batch.T @ residual / B; "
                         "return w - lr * gradient.")


# --- Exercise 4.2: the critical learning rate of a quadratic -----------------------------------------------


def _critical_cases() -> list[Case]:
    rng = np.random.default_rng(5)
    B = rng.normal(size=(3, 3))
    matrices = [
        np.array([[4.0]]),                               # 1-D: f(w) = 2 w², curvature 4
        np.diag([1.0, 10.0]),                            # axis-aligned bowl
        np.array([[3.0, 1.0], [1.0, 3.0]]),              # eigenvalues 2 and 4: not the diagonal
        B @ B.T + 0.5 * np.eye(3),                       # a random positive definite 3 × 3 Hessian
    ]
    return [Case((A,), 2.0 / np.linalg.eigvalsh(A).max(), label=f"A = {np.array2string(A, precision=3)}"
                 .replace("\n", "")) for A in matrices]


def check_critical_learning_rate(fn: Callable) -> None:
    """Exercise 4.2: ``fn(A)`` for a symmetric positive definite Hessian A (n, n) returns the largest learning
    rate for which gradient descent on f(w) = ½ wᵀAw converges from every start: ``2 / λ_max(A)``."""
    def eig(A):
        return np.linalg.eigvalsh(A)

    mistakes = [
        (lambda A: 1.0 / eig(A).max(), "1/λ_max is the step that empties the steepest direction in one step; "
                                      "gradient descent still converges up to twice that, 2/λ_max."),
        (lambda A: 2.0 / eig(A).min(), "with 2/λ_min the steepest direction (largest eigenvalue) diverges: "
                                      "the limit is set by the LARGEST curvature."),
        (lambda A: 2.0 / np.diag(A).max(), "the diagonal entries are the curvatures along the axes only; the "
                                          "limit is 2 / (largest eigenvalue): np.linalg.eigvalsh(A).max()."),
        (lambda A: 2.0 / np.trace(A), "the trace sums all the eigenvalues; the limit uses only the largest one."),
        (lambda A: eig(A).max() / 2.0, "upside down: the critical rate is 2 / λ_max, not λ_max / 2."),
    ]
    check_with_diagnosis("Exercise 4.2: critical_learning_rate", fn, _critical_cases(), mistakes,
                         "along each eigenvector GD multiplies the error by (1 − η λ): it converges when "
                         "|1 − η λ| < 1 for every λ. Return 2 / np.linalg.eigvalsh(A).max().")


# --- Exercise 4.3: the momentum update -------------------------------------------------------------------


def _quadratic_grad(w):
    """The gradient A w − b of f(w) = ½ wᵀAw − bᵀw, a fixed 2-D bowl used for multi-step cases."""
    A, b = np.array([[3.0, 1.0], [1.0, 2.0]]), np.array([1.0, -1.0])
    return A @ w - b


def _momentum_reference(w, velocity, grad, lr, mu, steps=1):
    """nnlib's SGD(momentum=mu): the momentum buffer starts at ``velocity``. With ``steps`` > 1 the gradient
    is recomputed on the fixed quadratic at every step and ``grad`` is only used for the first one."""
    p = Parameter(np.array(w, dtype=np.float64))
    opt = SGD([p], lr=lr, momentum=mu)
    opt.state[0]["momentum_buffer"] = np.array(velocity, dtype=np.float64)
    for k in range(steps):
        p.grad[...] = grad if k == 0 else _quadratic_grad(p.data)
        opt.step()
    return p.data.copy(), opt.state[0]["momentum_buffer"].copy()


def _run_momentum(update: Callable) -> Callable:
    """The learner's ``update`` applied ``steps`` times (same convention as the reference above)."""
    def momentum_update(w, velocity, grad, lr, mu, steps=1):
        for k in range(steps):
            result = update(w, velocity, grad if k == 0 else _quadratic_grad(w), lr, mu)
            if not isinstance(result, (tuple, list)) or len(result) != 2:
                shape = f" of shape {np.shape(result)}" if isinstance(result, np.ndarray) else ""
                raise TypeError("momentum_update must return the pair (new_w, new_velocity), "
                                f"got {type(result).__name__}{shape}")
            w, velocity = (np.asarray(r, dtype=np.float64) for r in result)
        return w, velocity

    momentum_update.__name__ = getattr(update, "__name__", "your function")
    return momentum_update


def _momentum_cases() -> list[Case]:
    args = [
        (np.array([1.0, -2.0]), np.zeros(2), np.array([0.5, 1.0]), 0.1, 0.9),           # the first step
        (np.array([1.0, -2.0]), np.array([0.3, -0.4]), np.array([0.5, 1.0]), 0.1, 0.9),  # a running velocity
        (np.array([0.2, 0.7, -1.1]), np.array([1.0, 0.0, -2.0]), np.array([-0.3, 0.2, 0.4]), 0.05, 0.5),
    ]
    cases = [Case(a, _momentum_reference(*a)) for a in args]
    start = (np.array([2.0, -1.0]), np.zeros(2), _quadratic_grad(np.array([2.0, -1.0])), 0.1, 0.8)
    cases.append(Case((*start, 5), _momentum_reference(*start, steps=5),
                      label="5 steps on the bowl f(w) = ½ wᵀAw − bᵀw from w = [2, -1], velocity 0, lr 0.1, mu 0.8"))
    return cases


def check_momentum_update(fn: Callable) -> None:
    """Exercise 4.3: ``fn(w, velocity, grad, lr, mu)`` returns ``(new_w, new_velocity)`` with PyTorch's rule
    ``v ← μ v + g``, ``w ← w − η v``; checked on single steps and on 5 steps against nnlib's ``SGD(momentum=μ)``."""
    mistakes = [
        (lambda w, v, g, lr, mu: (w - lr * (mu * v + lr * g), mu * v + lr * g),
         "the learning rate is applied twice: in this convention the velocity v = μ v + g holds no η; "
         "only the step w − η v does."),
        (lambda w, v, g, lr, mu: (w - lr * v, mu * v + g),
         "the step uses the OLD velocity: first update v = μ v + g, then step with the new v."),
        (lambda w, v, g, lr, mu: (w + lr * (mu * v + g), mu * v + g),
         "sign: the step goes against the velocity, w − η v, as plain gradient descent goes against g."),
        (lambda w, v, g, lr, mu: (w - lr * (mu * v + g), v),
         "return the NEW velocity μ v + g (it is carried to the next step), not the old one."),
        (lambda w, v, g, lr, mu: (w - lr * g, mu * v + g),
         "the step ignores the velocity: that is plain SGD. Step with the new velocity, w − η v."),
        (lambda w, v, g, lr, mu: (w + mu * v - lr * g, mu * v - lr * g),
         "that is the other convention (v = μ v − η g, w = w + v), where the velocity holds −η times ours: "
         "here use v = μ v + g and w = w − η v."),
    ]
    check_with_diagnosis("Exercise 4.3: momentum_update", _run_momentum(fn), _momentum_cases(),
                         [(_run_momentum(wrong), why) for wrong, why in mistakes],
                         "velocity = mu * velocity + grad; return w - lr * velocity, velocity.")
