"""Checks for lesson 04, gradient descent and optimization. Reference values come from nnlib itself: a
``Linear`` layer, ``MSELoss`` and the ``SGD`` optimizer (with and without momentum) compute every expected
answer, and the critical learning rate comes from the Hessian's eigenvalues. The learner's optimizers (4.5, 4.6)
are run side by side with nnlib's ``SGD`` and ``Adam`` (parameter trajectories, then the losses of a small MLP).

When a learner's answer is wrong, each check also tries the typical mistakes (the step taken uphill, a sum
instead of a mean, the learning rate applied twice, the old velocity, ...) and, if one of them reproduces the
learner's output exactly, names it in the hint.
"""

from __future__ import annotations

from collections.abc import Callable

import numpy as np

from ..layers import Linear, Tanh
from ..losses import MSELoss
from ..module import Parameter, Sequential
from ..optim import SGD, Adam, Optimizer
from ._core import Case, check_with_diagnosis, compare
from .lesson03 import call_learner, failure, run_check, same

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


# --- Exercise 4.3: the critical learning rate of a quadratic -----------------------------------------------


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
    """Exercise 4.3: ``fn(A)`` for a symmetric positive definite Hessian A (n, n) returns the largest learning
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
    check_with_diagnosis("Exercise 4.3: critical_learning_rate", fn, _critical_cases(), mistakes,
                         "along each eigenvector GD multiplies the error by (1 − η λ): it converges when "
                         "|1 − η λ| < 1 for every λ. Return 2 / np.linalg.eigvalsh(A).max().")


# --- Exercise 4.4: the momentum update -------------------------------------------------------------------


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
    """Exercise 4.4: ``fn(w, velocity, grad, lr, mu)`` returns ``(new_w, new_velocity)`` with PyTorch's rule
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
    check_with_diagnosis("Exercise 4.4: momentum_update", _run_momentum(fn), _momentum_cases(),
                         [(_run_momentum(wrong), why) for wrong, why in mistakes],
                         "velocity = mu * velocity + grad; return w - lr * velocity, velocity.")


# --- Exercise 4.2: a shuffling mini-batch iterator ------------------------------------------------------------

BATCH_HINT = ("order = rng.permutation(len(X)); for start in range(0, len(X), batch_size): index = "
              "order[start:start + batch_size]; yield X[index], y[index].")


def _labelled_data(n: int) -> tuple[np.ndarray, np.ndarray]:
    """X (n, 2) whose row i is (i, 10 i) and y = i: every batch says which samples it holds, and whether X and y
    still belong together."""
    return np.arange(n)[:, None] * np.array([1.0, 10.0]), np.arange(n)


def _epoch(fn: Callable, n: int, batch_size: int, rng) -> list[np.ndarray]:
    """The sample numbers of each batch of one epoch of ``fn(X, y, batch_size, rng)``; a Verdict when malformed."""
    X, y = _labelled_data(n)
    name = getattr(fn, "__name__", "your function")
    what = f"{name}(X of shape {X.shape}, y, batch_size={batch_size}, rng)"
    result = call_learner(what, lambda: list(fn(X, y, batch_size, rng)), hint=BATCH_HINT)
    epoch = []
    for k, item in enumerate(result):
        if not isinstance(item, (tuple, list)) or len(item) != 2:
            raise failure(f"{what}: batch {k} is a {type(item).__name__}, not a pair (X_batch, y_batch)",
                          "yield X[index], y[index] — one pair per batch.")
        X_batch, y_batch = (np.asarray(a) for a in item)
        if X_batch.ndim != 2 or X_batch.shape[1] != 2 or len(X_batch) != len(y_batch):
            raise failure(f"{what}: batch {k} has X_batch of shape {X_batch.shape} and y_batch of shape "
                          f"{y_batch.shape}", "index whole rows: X[index] keeps the feature axis.")
        if not (np.array_equal(X_batch[:, 0], y_batch) and np.array_equal(X_batch[:, 1], 10 * y_batch)):
            raise failure(f"{what}: in batch {k} the rows of X_batch and the labels y_batch no longer belong together",
                          "shuffle X and y with the SAME order: index both with one permutation.")
        epoch.append(y_batch.astype(int))
    return epoch


def _check_one_epoch(epoch: list[np.ndarray], n: int, batch_size: int, name: str) -> None:
    seen = np.concatenate(epoch) if epoch else np.array([], dtype=int)
    sizes = [len(b) for b in epoch]
    expected_sizes = [batch_size] * (n // batch_size) + ([n % batch_size] if n % batch_size else [])
    where = f"{name} with {n} samples and batch_size={batch_size}"
    if len(np.unique(seen)) < len(seen):
        raise failure(f"{where}: some samples come twice in one epoch",
                      "sample WITHOUT replacement: one rng.permutation(len(X)) per epoch, cut into batches "
                      "(rng.integers or rng.choice with replacement repeats samples and skips others).")
    if sizes == expected_sizes[:-1] and n % batch_size:
        raise failure(f"{where}: the last, smaller batch of {n % batch_size} samples is missing",
                      "keep the last partial batch: range(0, len(X), batch_size) reaches it, and "
                      "order[start:start + batch_size] stops at the end by itself.")
    if sizes != expected_sizes or len(seen) != n:
        raise failure(f"{where}: batch sizes {sizes}, expected {expected_sizes}", BATCH_HINT)


def _check_minibatches(fn: Callable) -> str:
    name = getattr(fn, "__name__", "your function")
    for n, batch_size in [(10, 3), (8, 4), (5, 8)]:
        _check_one_epoch(_epoch(fn, n, batch_size, np.random.default_rng(n)), n, batch_size, name)
    rng = np.random.default_rng(42)
    first, second = (np.concatenate(_epoch(fn, 12, 5, rng)) for _ in range(2))
    if np.array_equal(first, np.arange(12)):
        raise failure(f"{name} returns the samples in their original order",
                      "shuffle: draw the order with rng.permutation(len(X)).")
    if np.array_equal(first, second):
        raise failure(f"{name} gives the same order in every epoch (two calls with one rng)",
                      "draw a NEW permutation from the rng you are given at every call; do not re-seed inside.")
    again = np.concatenate(_epoch(fn, 12, 5, np.random.default_rng(42)))
    if not np.array_equal(first, again):
        raise failure(f"{name} gives different orders for two generators with the same seed",
                      "use the rng argument (rng.permutation), not np.random's global functions: a seeded run "
                      "must be reproducible.")
    return (f"{name} is correct: every sample exactly once per epoch, the last partial batch kept, X and y paired, "
            "a new order every epoch, reproducible from the seed.")


def check_minibatches(fn: Callable) -> None:
    """Exercise 4.2: ``fn(X, y, batch_size, rng)`` yields ``(X_batch, y_batch)`` pairs covering every sample exactly
    once per epoch in a fresh random order drawn from ``rng``, the last batch possibly smaller."""
    run_check("Exercise 4.2: minibatches", lambda: _check_minibatches(fn))


# --- Exercises 4.5 and 4.6: the learner's optimizers -----------------------------------------------------------

TRAJECTORY_STEPS = 20
PARAMETER_SHAPES = [(3,), (2, 4), (1,)]


def _gradient_field(seed: int, scale: float) -> Callable:
    """g(k, i, w): the gradient of parameter i at step k — a bowl with random curvatures plus fixed random noise."""
    rng = np.random.default_rng(seed)
    curvature = [rng.uniform(0.5, 3.0, shape) for shape in PARAMETER_SHAPES]
    noise = rng.normal(size=(TRAJECTORY_STEPS, sum(int(np.prod(s)) for s in PARAMETER_SHAPES)))
    offsets = np.cumsum([0] + [int(np.prod(s)) for s in PARAMETER_SHAPES])

    def gradient(k, i, w):
        return scale * (curvature[i] * w + noise[k, offsets[i]:offsets[i + 1]].reshape(w.shape))

    return gradient


def _trajectory(make: Callable, config: dict, seed: int, scale: float, name: str) -> np.ndarray:
    """All parameters, flattened, after each of TRAJECTORY_STEPS steps of ``make(params, **config)``."""
    rng = np.random.default_rng(seed)
    params = [Parameter(rng.normal(size=shape)) for shape in PARAMETER_SHAPES]
    settings = ", ".join(f"{k}={v}" for k, v in config.items())
    hyper = {k: v for k, v in config.items() if k != "lr"}
    optimizer = call_learner(f"{name}(params, {settings})", lambda: make(params, config["lr"], **hyper),
                             hint="pass the class itself; keep __init__ as given (it calls super().__init__).")
    if not isinstance(optimizer, Optimizer):
        raise failure(f"{name}(params, {settings}) is a {type(optimizer).__name__}, not an nnlib Optimizer",
                      "write `class MyOptimizer(Optimizer):` and implement _update(self, param, state).")
    gradient, path = _gradient_field(seed, scale), []
    for k in range(TRAJECTORY_STEPS):
        for i, p in enumerate(params):
            p.grad[...] = gradient(k, i, p.data)
        call_learner(f"{name}.step() with {settings}", optimizer.step,
                     hint="_update(self, param, state) changes param.data in place and keeps its memory in state.")
        path.append(np.concatenate([p.data.ravel() for p in params]))
    return np.array(path)


def _tiny_regression() -> tuple[Sequential, np.ndarray, np.ndarray]:
    """A float64 4-8-1 tanh MLP and 16 random examples: the model the plug-in checks train."""
    rng = np.random.default_rng(7)
    model = Sequential(Linear(4, 8, dtype=np.float64, rng=0), Tanh(), Linear(8, 1, dtype=np.float64, rng=1))
    return model, rng.normal(size=(16, 4)), rng.normal(size=(16, 1))


def _training_losses(make: Callable, config: dict, name: str, steps: int = 15) -> np.ndarray:
    model, X, y = _tiny_regression()
    optimizer, loss, losses = make(model.parameters(), **config), MSELoss(), []
    for _ in range(steps):
        model.zero_grad()
        losses.append(loss(model(X), y))
        model.backward(loss.backward())
        call_learner(f"{name}.step() on a 4-8-1 MLP", optimizer.step, hint="make the trajectory check pass first.")
    return np.array(losses)


def _check_optimizer(learner, reference, configs, mistakes, plug_in_config, hint: str) -> str:
    """Trajectories of ``learner`` vs ``reference`` for every (config, gradient scale); then the plug-in run.

    ``mistakes`` are ``(optimizer class, why)`` pairs: the first whose trajectories the learner's match names the
    mistake.
    """
    name = getattr(learner, "__name__", "your class")
    runs = [(config, 100 + k, scale) for k, (config, scale) in enumerate(configs)]
    got = [_trajectory(learner, config, seed, scale, name) for config, seed, scale in runs]
    for (config, seed, scale), path in zip(runs, got, strict=True):
        problem = compare(_trajectory(reference, config, seed, scale, "nnlib"), path, 1e-8, 1e-12)
        if problem:
            why = next((why for wrong, why in mistakes if all(
                same(_trajectory(wrong, c, s, sc, "a mistake"), p, 1e-8, 1e-12)
                for (c, s, sc), p in zip(runs, got, strict=True))), hint)
            settings = ", ".join(f"{k}={v}" for k, v in config.items())
            raise failure(f"with {settings}, the parameters after {TRAJECTORY_STEPS} steps leave nnlib's path: "
                          f"{problem}", why)
    expected = _training_losses(reference, plug_in_config, "nnlib")
    losses = _training_losses(learner, plug_in_config, name)
    problem = compare(expected, losses, 1e-8, 1e-12)
    if problem:
        raise failure(f"training a 4-8-1 MLP, the losses leave nnlib's: {problem}", hint)
    return (f"{name} is correct: it follows nnlib's {reference.__name__} for {TRAJECTORY_STEPS} steps in "
            f"{len(configs)} settings on 3 parameters, and trains a 4-8-1 MLP with the same losses "
            f"({expected[0]:.3f} → {expected[-1]:.3f} in {len(expected)} steps).")


class _SGDMistake(Optimizer):
    """SGD with momentum, with switches that reproduce the typical mistakes (see check_my_sgd)."""

    keep_buffer, look_ahead, sign = True, True, 1.0

    def __init__(self, params, lr, momentum=0.0, nesterov=False):
        super().__init__(params, lr)
        self.momentum, self.nesterov = momentum, nesterov

    def _update(self, param, state):
        g = param.grad
        buffer = self.momentum * state.get("buffer", np.zeros_like(g)) + g
        if self.keep_buffer:
            state["buffer"] = buffer
        step = g + self.momentum * buffer if self.nesterov and self.look_ahead else buffer
        param.data -= self.sign * self.lr * step


def _sgd_mistake(**switches) -> type:
    return type("SGDMistake", (_SGDMistake,), switches)


def check_my_sgd(optimizer_class) -> None:
    """Exercise 4.5: ``optimizer_class(params, lr, momentum=0.0, nesterov=False)``, an nnlib ``Optimizer`` whose
    ``_update`` is PyTorch's SGD: ``b ← μ b + g``, ``w ← w − η b`` (Nesterov: ``w ← w − η (g + μ b)``).

    Checked against nnlib's ``SGD`` on parameter trajectories (plain, momentum, Nesterov; float64, 20 steps), then
    plugged in: a 4-8-1 MLP trained with it must have nnlib's losses.
    """
    mistakes = [
        (_sgd_mistake(keep_buffer=False),
         "the momentum buffer is lost between steps: keep it in state['momentum_buffer'] and update it IN PLACE "
         "(buf *= mu; buf += g), or store the new array back into state."),
        (_sgd_mistake(look_ahead=False),
         "Nesterov's look-ahead is missing: with nesterov=True step with g + μ·b (the new buffer), not with b."),
        (_sgd_mistake(sign=-1.0), "the step goes uphill: w ← w − η b."),
    ]
    configs = [({"lr": 0.1}, 1.0), ({"lr": 0.05, "momentum": 0.9}, 1.0),
               ({"lr": 0.05, "momentum": 0.8, "nesterov": True}, 1.0)]
    run_check("Exercise 4.5: MySGD", lambda: _check_optimizer(
        optimizer_class, SGD, configs, mistakes, {"lr": 0.05, "momentum": 0.9, "nesterov": True},
        "buf = state.setdefault('momentum_buffer', np.zeros_like(param.data)); buf *= mu; buf += g; "
        "step = g + mu * buf if nesterov else buf; param.data -= lr * step."))


class _AdamMistake(Optimizer):
    """Adam, with switches that reproduce the typical mistakes (see check_my_adam)."""

    correct_m, correct_v, eps_inside, keep_moments, shared_step = True, True, False, True, False

    def __init__(self, params, lr=1e-3, betas=(0.9, 0.999), eps=1e-8):
        super().__init__(params, lr)
        self.betas, self.eps, self.steps = betas, eps, 0

    def _update(self, param, state):
        (beta1, beta2), g = self.betas, param.grad
        if self.shared_step:
            self.steps += 1
            t = self.steps
        else:
            t = state["step"] = state.get("step", 0) + 1
        m = beta1 * state.get("m", 0.0) + (1 - beta1) * g
        v = beta2 * state.get("v", 0.0) + (1 - beta2) * g**2
        if self.keep_moments:
            state["m"], state["v"] = m, v
        m_hat = m / (1 - beta1**t) if self.correct_m else m
        v_hat = v / (1 - beta2**t) if self.correct_v else v
        denominator = np.sqrt(v_hat + self.eps) if self.eps_inside else np.sqrt(v_hat) + self.eps
        param.data -= self.lr * m_hat / denominator


def _adam_mistake(**switches) -> type:
    return type("AdamMistake", (_AdamMistake,), switches)


def check_my_adam(optimizer_class) -> None:
    """Exercise 4.6: ``optimizer_class(params, lr=1e-3, betas=(0.9, 0.999), eps=1e-8)``, an nnlib ``Optimizer``
    whose ``_update`` is Adam with bias correction, checked like :func:`check_my_sgd` against nnlib's ``Adam``."""
    mistakes = [
        (_adam_mistake(correct_m=False, correct_v=False),
         "the bias correction is missing: m̂ = m / (1 − β1^t) and v̂ = v / (1 − β2^t), with t the step number."),
        (_adam_mistake(correct_m=False), "m̂ = m / (1 − β1^t): the first moment needs its bias correction too."),
        (_adam_mistake(correct_v=False), "v̂ = v / (1 − β2^t): the second moment needs its bias correction too."),
        (_adam_mistake(eps_inside=True), "ε goes OUTSIDE the square root: w ← w − η m̂ / (√v̂ + ε)."),
        (_adam_mistake(keep_moments=False),
         "m and v are lost between steps: update the arrays of state in place (m[...] = β1 m + (1 − β1) g) or "
         "store the new arrays back into state."),
        (_adam_mistake(shared_step=True),
         "the step count t is per parameter: keep it in state['step']. A counter on self, raised in every "
         "_update call, runs as many times too fast as there are parameters."),
    ]
    configs = [({"lr": 0.01}, 1.0), ({"lr": 0.05, "betas": (0.8, 0.99), "eps": 1e-3}, 1e-3),
               ({"lr": 0.1, "betas": (0.5, 0.9)}, 10.0)]
    run_check("Exercise 4.6: MyAdam", lambda: _check_optimizer(
        optimizer_class, Adam, configs, mistakes, {"lr": 0.01},
        "t = state['step'] = state.get('step', 0) + 1; m, v updated in place in state; m̂ = m / (1 − β1^t), "
        "v̂ = v / (1 − β2^t); param.data -= lr * m̂ / (√v̂ + eps)."))


# --- Exercise 4.7 (challenge): one epoch of mini-batch SVRG -------------------------------------------------

def _least_squares(seed: int, n: int = 12, features: int = 3) -> Callable:
    """grad(w, index): the mean gradient of (x_i·w − y_i)² + ½λ‖w‖² over the examples ``index`` of a random set."""
    rng = np.random.default_rng(seed)
    X, y, lam = rng.normal(size=(n, features)), rng.normal(size=n), 0.1

    def grad(w, index):
        index = np.asarray(index)
        return 2 * X[index].T @ (X[index] @ w - y[index]) / len(index) + lam * w

    return grad


def _svrg(w, grad, n, lr, batches, *, alias=False, fresh_mu=False, sign=1.0, correct=True):
    """Mini-batch SVRG's epoch, with switches that reproduce the typical mistakes (see check_svrg_epoch)."""
    w = np.array(w, dtype=np.float64)
    snapshot = w if alias else w.copy()
    mu = grad(snapshot, np.arange(n))
    for index in batches:
        correction = sign * (mu - grad(snapshot, index)) if correct else 0.0
        if fresh_mu:
            correction = grad(w, np.arange(n)) - grad(snapshot, index)
        w -= lr * (grad(w, index) + correction)
    return w


def _svrg_cases() -> list[Case]:
    rng = np.random.default_rng(47)
    cases = []
    for seed, size, lr in [(1, 1, 0.05), (2, 3, 0.1), (3, 4, 0.02)]:
        n = 12
        order = rng.permutation(n)
        batches = [order[k:k + size] for k in range(0, n, size)]
        args = (rng.normal(size=3), _least_squares(seed), n, lr, batches)
        cases.append(Case(args, _svrg(*args), f"least squares, n = {n}, batches of {size}, lr = {lr}"))
    return cases


def check_svrg_epoch(fn: Callable) -> None:
    """Exercise 4.7 (challenge): ``fn(w, grad, n, lr, batches)`` returns w after one epoch of mini-batch SVRG:
    snapshot w̃ = w, μ̃ = grad(w̃, all n examples), then for each index array B of ``batches``
    ``w ← w − lr (grad(w, B) − grad(w̃, B) + μ̃)``."""
    mistakes = [
        (lambda *a: _svrg(*a, alias=True),
         "the snapshot moves with w: `snapshot = w` is the same array, and `w -= ...` changes both. "
         "Take a copy: snapshot = w.copy()."),
        (lambda *a: _svrg(*a, correct=False), "that is plain mini-batch SGD: add the correction μ̃ − grad(w̃, B)."),
        (lambda *a: _svrg(*a, sign=-1.0), "the correction's sign: g = grad(w, B) − grad(w̃, B) + μ̃."),
        (lambda *a: _svrg(*a, fresh_mu=True),
         "μ̃ is the full gradient at the SNAPSHOT, computed once per epoch, not at the current w."),
    ]
    check_with_diagnosis("Exercise 4.7 (challenge): svrg_epoch", fn, _svrg_cases(), mistakes,
                         "snapshot = w.copy(); mu = grad(snapshot, np.arange(n)); for index in batches: "
                         "w = w - lr * (grad(w, index) - grad(snapshot, index) + mu); return w.")
