"""Perceptron: the step (step(0) = 0), Rosenblatt's rule, fit on AND / OR / XOR, and input validation."""

import numpy as np
import pytest

from nnlib import DTypeError, InputError, Perceptron

TABLE = np.array([[0, 0], [0, 1], [1, 0], [1, 1]], dtype=np.float64)
GATES = {"and": [0, 0, 0, 1], "or": [0, 1, 1, 1], "nand": [1, 1, 1, 0]}


def make(w, b, lr=1.0):
    p = Perceptron(len(w), lr=lr)
    p.w, p.b = np.array(w, dtype=np.float64), b
    return p


def test_init_zeros_or_seeded():
    assert np.array_equal(Perceptron(3).w, np.zeros(3)) and Perceptron(3).b == 0.0
    a, b = Perceptron(3, rng=7), Perceptron(3, rng=np.random.default_rng(7))
    assert np.array_equal(a.w, b.w) and 0 < np.abs(a.w).max() < 0.1


def test_net_and_step_at_zero():
    p = make([1.0, -1.0], 0.5)
    X = np.array([[1.0, 1.5], [1.0, 1.0], [0.0, 1.0]])
    np.testing.assert_allclose(p.net(X), [0.0, 0.5, -0.5])
    pred = p.predict(X)
    assert pred.dtype == np.int64 and pred.tolist() == [0, 1, 0]


@pytest.mark.parametrize(("x", "t", "w", "b", "lr", "changed"), [
    ([1.0, 1.0], 1, [0.0, 0.0], 0.0, 1.0, True),     # net = 0 -> y = 0: false negative
    ([1.0, 0.0], 0, [1.0, 1.0], 1.0, 0.5, True),     # false positive
    ([1.0, 1.0], 1, [1.0, 1.0], -1.5, 1.0, False),   # already right
])
def test_update_is_rosenblatts_rule(x, t, w, b, lr, changed):
    p = make(w, b, lr)
    error = t - p.predict(np.array([x]))[0]
    assert p.update(np.array(x), t) is changed
    np.testing.assert_allclose(p.w, np.array(w) + lr * error * np.array(x))
    assert p.b == pytest.approx(b + lr * error)


def test_update_moves_net_towards_target(rng):
    for _ in range(20):
        x, w, t = rng.normal(size=4), rng.normal(size=4), int(rng.integers(2))
        p = make(w, float(rng.normal()), lr=0.3)
        y, before = p.predict(x[None])[0], p.net(x[None])[0]
        p.update(x, t)
        # net changes by exactly η (t − y)(‖x‖² + 1): towards the target when wrong, not at all when right
        assert p.net(x[None])[0] - before == pytest.approx(0.3 * (t - y) * (x @ x + 1))


@pytest.mark.parametrize("gate", sorted(GATES))
def test_fit_learns_linearly_separable_gates(gate):
    p = Perceptron(2)
    mistakes = p.fit(TABLE, GATES[gate], epochs=20)
    assert mistakes[-1] == 0 and len(mistakes) < 20
    assert p.predict(TABLE).tolist() == GATES[gate]


def test_fit_never_solves_xor():
    mistakes = Perceptron(2).fit(TABLE, [0, 1, 1, 0], epochs=50)
    assert len(mistakes) == 50 and min(mistakes) >= 1


def test_fit_converges_on_separable_data_and_shuffle_is_seeded(rng):
    X = rng.normal(size=(200, 3))
    y = (X @ np.array([1.0, -2.0, 0.5]) + 0.3 > 0).astype(int)
    runs = [Perceptron(3, rng=0).fit(X, y, epochs=500, shuffle=True, rng=5) for _ in range(2)]
    assert runs[0] == runs[1] and runs[0][-1] == 0


def test_float32_is_kept():
    p = Perceptron(2, dtype=np.float32)
    p.fit(TABLE.astype(np.float32), GATES["and"])
    assert p.w.dtype == np.float32 and p.net(TABLE.astype(np.float32)).dtype == np.float32


@pytest.mark.parametrize(("call", "error", "match"), [
    (lambda p: p.fit(TABLE, [0, 1, 2, 0]), InputError, "0 or 1"),
    (lambda p: p.fit(TABLE, [0, 1, 1]), InputError, r"shape \(4,\)"),
    (lambda p: p.predict(np.ones((4, 3))), InputError, r"shape \(N, 2\)"),
    (lambda p: p.predict(TABLE.astype(int)), DTypeError, "floating-point"),
    (lambda p: p.predict(TABLE.astype(np.float32)), DTypeError, "float64"),
    (lambda p: p.update(TABLE, 1), InputError, "one example"),
    (lambda p: p.fit(TABLE, [0, 0, 0, 1], epochs=0), InputError, "epochs"),
    (lambda p: Perceptron(2, lr=0), InputError, "lr"),
    (lambda p: Perceptron(0), InputError, "n_features"),
])
def test_bad_input_is_named(call, error, match):
    with pytest.raises(error, match=match):
        call(Perceptron(2))
