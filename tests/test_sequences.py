"""The sequence tasks of nnlib.data and SequenceModel: shapes, the tasks' defining properties, training end to end."""

import numpy as np
import pytest

from nnlib import (
    GRU,
    LSTM,
    RNN,
    Adam,
    CrossEntropyLoss,
    Embedding,
    InputError,
    Linear,
    MSELoss,
    SequenceModel,
    accuracy,
    fit,
    gradcheck,
)
from nnlib.data import make_adding_problem, make_delayed_recall, make_noisy_sine


def test_adding_problem_marks_two_steps_one_per_half_and_sums_them():
    X, y = make_adding_problem(200, 10, rng=0)
    assert X.shape == (200, 10, 2) and y.shape == (200, 1) and X.dtype == y.dtype == np.float32
    markers = X[:, :, 1]
    assert np.all(markers.sum(axis=1) == 2)
    assert np.all(markers[:, :5].sum(axis=1) == 1) and np.all(markers[:, 5:].sum(axis=1) == 1)
    np.testing.assert_allclose(y[:, 0], (X[:, :, 0] * markers).sum(axis=1), rtol=1e-6)
    np.testing.assert_array_equal(make_adding_problem(200, 10, rng=0)[0], X)


def test_delayed_recall_opens_with_the_answer_then_distracts():
    ids, y = make_delayed_recall(300, delay=7, n_symbols=3, rng=0)
    assert ids.shape == (300, 8) and ids.dtype == y.dtype == np.int64
    np.testing.assert_array_equal(ids[:, 0], y)
    assert set(np.unique(y)) == {0, 1, 2} and set(np.unique(ids[:, 1:])) == {3, 4, 5}


def test_noisy_sine_targets_are_the_next_clean_values():
    X, y = make_noisy_sine(50, 20, noise=0.0, rng=0)
    assert X.shape == y.shape == (50, 20, 1)
    np.testing.assert_allclose(X[:, 1:], y[:, :-1], atol=1e-6)  # without noise, input t+1 is target t
    noisy, _ = make_noisy_sine(50, 20, noise=0.1, rng=0)
    assert 0.08 < np.std(noisy - X) < 0.12


@pytest.mark.parametrize(("call", "match"), [
    (lambda: make_adding_problem(10, 1), "length must be at least 2"),
    (lambda: make_delayed_recall(10, delay=0), "delay must be a positive integer"),
    (lambda: make_noisy_sine(10, noise=-1), "noise must be a number >= 0"),
])
def test_bad_arguments(call, match):
    with pytest.raises(InputError, match=match):
        call()


@pytest.mark.gradcheck
@pytest.mark.parametrize("recurrent", [RNN, LSTM, GRU])
@pytest.mark.parametrize("last_step", [True, False])
def test_sequence_model_gradcheck(rng, recurrent, last_step):
    model = SequenceModel(recurrent(2, 3, rng=0, dtype=np.float64), Linear(3, 2, rng=1, dtype=np.float64),
                          last_step=last_step)
    errors = gradcheck(model, rng.standard_normal((2, 4, 2)), tol=1e-7)
    assert "input0" in errors and "recurrent.weight_hh" in errors


def test_sequence_model_learns_delayed_recall_and_the_adding_problem():
    ids, y = make_delayed_recall(1000, delay=5, rng=0)
    model = SequenceModel(GRU(8, 16, rng=0), Linear(16, 4, rng=1), Embedding(8, 8, rng=2), last_step=True)
    fit(model, CrossEntropyLoss(), Adam(model.parameters(), lr=1e-2), ids, y, epochs=3, rng=0, max_grad_norm=1.0)
    test_ids, test_y = make_delayed_recall(300, delay=5, rng=1)
    assert accuracy(model.eval()(test_ids), test_y) > 0.95  # chance is 0.25

    X, y = make_adding_problem(2000, 10, rng=0)
    model = SequenceModel(LSTM(2, 16, rng=0), Linear(16, 1, rng=1), last_step=True)
    history = fit(model, MSELoss(), Adam(model.parameters(), lr=1e-2), X, y, epochs=8, rng=0)
    assert history["loss"][-1] < 0.01  # no memory gives 1/6


def test_sequence_model_refuses_a_non_recurrent_layer():
    with pytest.raises(InputError, match="recurrent must be an nnlib RNN, LSTM or GRU, got Linear"):
        SequenceModel(Linear(2, 2), Linear(2, 2))
