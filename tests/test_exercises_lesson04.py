"""Lesson 04 checks: ✅ for a right answer, ❌ naming the typical mistake, ⏳ for an unsolved stub."""


import numpy as np
import pytest
from exercise_helpers import failure_hint, run, solution_code, todo

from nnlib import Optimizer
from nnlib.exercises import (
    check_critical_learning_rate,
    check_minibatch_step,
    check_minibatches,
    check_momentum_update,
    check_my_adam,
    check_my_sgd,
    check_svrg_epoch,
)


def minibatch_step(w, X, y, lr):
    return w - lr * 2 * X.T @ (X @ w - y) / len(y)


def momentum_update(w, velocity, grad, lr, mu):
    velocity = mu * velocity + grad
    return w - lr * velocity, velocity


def critical_learning_rate(A):
    return 2 / np.linalg.eigvalsh(A).max()


def hint_of(out):
    return out.partition("Hint: ")[2]


def minibatches(X, y, batch_size, rng, *, mistake=""):
    """A shuffling mini-batch iterator: right, or with one typical ``mistake`` (see the table of hints below)."""
    n = len(X)
    order = {"with replacement": lambda: rng.integers(n, size=n), "no shuffle": lambda: np.arange(n),
             "same order": lambda: np.random.default_rng(0).permutation(n),
             "unseeded rng": lambda: np.random.default_rng().permutation(n)}.get(mistake, lambda: rng.permutation(n))()
    labels = rng.permutation(n) if mistake == "unpaired" else order
    stop = n - n % batch_size if mistake == "drop last" else n
    return [(X[order[k:k + batch_size]], y[labels[k:k + batch_size]]) for k in range(0, stop, batch_size)]


def sgd_class(mistake: str = "") -> type:
    """SGD with momentum and Nesterov as an nnlib Optimizer: right, or with one typical ``mistake``."""
    class MySGD(Optimizer):
        def __init__(self, params, lr, momentum=0.0, nesterov=False):
            super().__init__(params, lr)
            self.momentum, self.nesterov = momentum, nesterov

        def _update(self, param, state):
            old = state.get("momentum_buffer", np.zeros_like(param.data))
            buffer = self.momentum * old + param.grad
            if mistake != "buffer lost":
                state["momentum_buffer"] = buffer
            step = param.grad + self.momentum * buffer if self.nesterov and mistake != "no look-ahead" else buffer
            param.data += (1 if mistake == "uphill" else -1) * self.lr * step

    return MySGD


def adam_class(mistake: str = "") -> type:
    """Adam as an nnlib Optimizer: right, or with one typical ``mistake``."""
    class MyAdam(Optimizer):
        def __init__(self, params, lr=1e-3, betas=(0.9, 0.999), eps=1e-8):
            super().__init__(params, lr)
            self.betas, self.eps, self.calls = betas, eps, 0

        def _update(self, param, state):
            (beta1, beta2), g = self.betas, param.grad
            self.calls += 1
            state["step"] = state.get("step", 0) + 1
            t = self.calls if mistake == "shared step" else state["step"]
            m = beta1 * state.get("m", 0) + (1 - beta1) * g
            v = beta2 * state.get("v", 0) + (1 - beta2) * g * g
            if mistake != "state lost":
                state["m"], state["v"] = m, v
            if mistake not in ("no correction", "no m correction"):
                m = m / (1 - beta1**t)
            if mistake not in ("no correction", "no v correction"):
                v = v / (1 - beta2**t)
            denominator = np.sqrt(v + self.eps) if mistake == "eps inside" else np.sqrt(v) + self.eps
            param.data -= self.lr * m / denominator

    return MyAdam


def svrg_epoch(w, grad, n, lr, batches, *, mistake=""):
    snapshot = w if mistake == "alias" else w.copy()
    mu = grad(snapshot, np.arange(n))
    for index in batches:
        correction = {"plain SGD": 0, "sign": grad(snapshot, index) - mu,
                      "fresh mu": grad(w, np.arange(n)) - grad(snapshot, index)}.get(
            mistake, mu - grad(snapshot, index))
        w -= lr * (grad(w, index) + correction)
    return w


@pytest.mark.parametrize(("check", "fn", "exercise"), [
    (check_minibatch_step, minibatch_step, "4.1"), (check_minibatches, minibatches, "4.2"),
    (check_critical_learning_rate, critical_learning_rate, "4.3"), (check_momentum_update, momentum_update, "4.4"),
    (check_my_sgd, sgd_class(), "4.5"), (check_my_adam, adam_class(), "4.6"), (check_svrg_epoch, svrg_epoch, "4.7"),
])
def test_right_answer_passes_and_stub_waits(check, fn, exercise, capsys):
    out = run(check, fn, capsys)
    assert out.startswith(f"✅ correct — Exercise {exercise}") and "correct" in out and out.count("\n") == 1
    out = run(check, todo, capsys)
    assert out.startswith(f"⏳ to do — Exercise {exercise}") and "not implemented" in out


def test_minibatch_step_accepts_the_sum_form_and_in_place_updates(capsys):
    def in_place(w, X, y, lr):
        w -= lr * (2 / len(y)) * np.sum((X @ w - y)[:, None] * X, axis=0)
        return w

    assert [run(check_minibatch_step, in_place, capsys)[0] for _ in range(2)] == ["✅", "✅"]


@pytest.mark.parametrize(("fn", "hint"), [
    (lambda w, X, y, lr: w + lr * 2 * X.T @ (X @ w - y) / len(y), "goes uphill"),
    (lambda w, X, y, lr: w - lr * 2 * X.T @ (y - X @ w) / len(y), "goes uphill"),
    (lambda w, X, y, lr: w - lr * 2 * X.T @ (X @ w - y), "SUM of squared errors"),
    (lambda w, X, y, lr: w - lr * X.T @ (X @ w - y) / len(y), "factor 2 is missing"),
    (lambda w, X, y, lr: w - 2 * X.T @ (X @ w - y) / len(y), "learning rate lr"),
    (lambda w, X, y, lr: w - lr * X.T @ (X @ w - y), "½ Σ"),
    (lambda w, X, y, lr: w - lr * 2 * X.T @ (X @ w - y) / X.shape[1], "residual = X_batch @ w - y_batch"),
])
def test_minibatch_step_mistakes_get_specific_hints(fn, hint, capsys):
    out = run(check_minibatch_step, fn, capsys)
    assert out.startswith("❌ not yet — Exercise 4.1") and "expected" in out and hint in hint_of(out)


@pytest.mark.parametrize(("fn", "hint"), [
    (lambda w, v, g, lr, mu: (w - lr * (mu * v + lr * g), mu * v + lr * g), "applied twice"),
    (lambda w, v, g, lr, mu: (w - lr * v, mu * v + g), "OLD velocity"),
    (lambda w, v, g, lr, mu: (w + lr * (mu * v + g), mu * v + g), "sign"),
    (lambda w, v, g, lr, mu: (w - lr * (mu * v + g), v), "return the NEW velocity"),
    (lambda w, v, g, lr, mu: (w - lr * g, mu * v + g), "plain SGD"),
    (lambda w, v, g, lr, mu: (w + mu * v - lr * g, mu * v - lr * g), "other convention"),
    (lambda w, v, g, lr, mu: (w - lr * (v + g), v + g), "velocity = mu * velocity + grad"),
])
def test_momentum_mistakes_get_specific_hints(fn, hint, capsys):
    out = run(check_momentum_update, fn, capsys)
    assert out.startswith("❌ not yet — Exercise 4.4") and hint in hint_of(out)


def test_momentum_update_that_forgets_the_velocity_is_told_to_return_the_pair(capsys):
    out = run(check_momentum_update, lambda w, v, g, lr, mu: w - lr * (mu * v + g), capsys)
    assert out.startswith("❌ not yet — Exercise 4.4") and "must return the pair (new_w, new_velocity)" in out


def test_momentum_update_that_mutates_its_inputs_still_passes(capsys):
    def in_place(w, velocity, grad, lr, mu):
        velocity *= mu
        velocity += grad
        w -= lr * velocity
        return w, velocity

    assert [run(check_momentum_update, in_place, capsys)[0] for _ in range(2)] == ["✅", "✅"]


@pytest.mark.parametrize(("fn", "hint"), [
    (lambda A: 1 / np.linalg.eigvalsh(A).max(), "twice that"),
    (lambda A: 2 / np.linalg.eigvalsh(A).min(), "LARGEST curvature"),
    (lambda A: 2 / np.diag(A).max(), "diagonal entries"),
    (lambda A: 2 / np.trace(A), "trace"),
    (lambda A: np.linalg.eigvalsh(A).max() / 2, "upside down"),
    (lambda A: 2 / np.abs(A).sum(), "|1 − η λ| < 1"),
])
def test_critical_learning_rate_mistakes_get_specific_hints(fn, hint, capsys):
    out = run(check_critical_learning_rate, fn, capsys)
    assert out.startswith("❌ not yet — Exercise 4.3") and hint in hint_of(out)


@pytest.mark.parametrize(("mistake", "hint"), [
    ("with replacement", "sample WITHOUT replacement"),
    ("drop last", "keep the last partial batch"),
    ("no shuffle", "shuffle: draw the order"),
    ("same order", "draw a NEW permutation"),
    ("unseeded rng", "use the rng argument"),
    ("unpaired", "shuffle X and y with the SAME order"),
])
def test_minibatches_mistakes_get_specific_hints(mistake, hint, capsys):
    def wrong(X, y, batch_size, rng):
        return minibatches(X, y, batch_size, rng, mistake=mistake)

    assert hint in failure_hint(check_minibatches, wrong, capsys, "4.2")


@pytest.mark.parametrize(("result", "message"), [
    ([np.zeros(3)], "not a pair (X_batch, y_batch)"),
    ([(np.zeros(3), np.zeros(3))], "index whole rows"),
])
def test_minibatches_malformed_batches_are_named(result, message, capsys):
    out = run(check_minibatches, lambda *args: result, capsys)
    assert out.startswith("❌ not yet — Exercise 4.2") and message in out


@pytest.mark.parametrize(("mistake", "hint"), [
    ("buffer lost", "momentum buffer is lost between steps"),
    ("no look-ahead", "Nesterov's look-ahead is missing"),
    ("uphill", "the step goes uphill"),
])
def test_my_sgd_mistakes_get_specific_hints(mistake, hint, capsys):
    assert hint in failure_hint(check_my_sgd, sgd_class(mistake), capsys, "4.5")


@pytest.mark.parametrize(("mistake", "hint"), [
    ("no correction", "the bias correction is missing"),
    ("no m correction", "the first moment needs its bias correction"),
    ("no v correction", "the second moment needs its bias correction"),
    ("eps inside", "ε goes OUTSIDE the square root"),
    ("state lost", "m and v are lost between steps"),
    ("shared step", "the step count t is per parameter"),
])
def test_my_adam_mistakes_get_specific_hints(mistake, hint, capsys):
    assert hint in failure_hint(check_my_adam, adam_class(mistake), capsys, "4.6")


def raises_value_error(*args, **kwargs):
    """A wrong answer whatever the exercise."""
    raise ValueError("wrong")


class NotAnOptimizer:
    def __init__(self, params, lr, **hyper):
        self.params = list(params)


@pytest.mark.parametrize("check", [check_my_sgd, check_my_adam])
@pytest.mark.parametrize(("wrong", "message"), [
    (raises_value_error, "raised ValueError"), (NotAnOptimizer, "not an nnlib Optimizer"), (dict, "raised TypeError"),
])
def test_optimizer_checks_report_a_wrong_kind_of_answer(check, wrong, message, capsys):
    out = run(check, wrong, capsys)
    assert out.startswith("❌ not yet — Exercise 4.") and message in out and out.count("\n") == 2


@pytest.mark.parametrize("check", [check_my_sgd, check_my_adam])
def test_an_optimizer_whose_update_is_still_the_stub_waits(check, capsys):
    class Stub(Optimizer):
        def __init__(self, params, lr, **hyper):
            super().__init__(params, lr)

        def _update(self, param, state):
            raise NotImplementedError("Exercise 4.5: implement _update")

    assert run(check, Stub, capsys).startswith("⏳ to do — Exercise 4.")


@pytest.mark.parametrize(("mistake", "hint"), [
    ("alias", "snapshot = w.copy()"),
    ("plain SGD", "plain mini-batch SGD"),
    ("sign", "the correction's sign"),
    ("fresh mu", "full gradient at the SNAPSHOT"),
])
def test_svrg_epoch_mistakes_get_specific_hints(mistake, hint, capsys):
    def wrong(w, grad, n, lr, batches):
        return svrg_epoch(w, grad, n, lr, batches, mistake=mistake)

    assert hint in failure_hint(check_svrg_epoch, wrong, capsys, "4.7")


def test_the_solutions_optimizers_train_the_plug_in_model_like_nnlibs(capsys):
    code = solution_code("04_gradient_descent_and_optimization", ("minibatches", "MySGD", "MyAdam", "svrg_epoch"),
                         {"np": np, "Optimizer": Optimizer})
    for check, name in [(check_minibatches, "minibatches"), (check_my_sgd, "MySGD"), (check_my_adam, "MyAdam"),
                        (check_svrg_epoch, "svrg_epoch")]:
        out = run(check, code[name], capsys)
        assert out.startswith("✅ correct — Exercise 4."), out
        assert name not in ("MySGD", "MyAdam") or "trains a 4-8-1 MLP with the same losses" in out
