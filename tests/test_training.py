"""fit / evaluate / accuracy / History, and the divergence guard of the training loop."""


import numpy as np
import pytest

import nnlib
from nnlib import (
    SGD,
    Adam,
    BCEWithLogitsLoss,
    CrossEntropyLoss,
    History,
    InputError,
    Linear,
    Module,
    MSELoss,
    ReLU,
    Sequential,
    Tanh,
    TrainingDivergedError,
    accuracy,
    evaluate,
    fit,
)
from nnlib.data import make_moons, make_xor, train_test_split


def mlp(n_out=2, hidden=8, activation=Tanh):
    return Sequential(Linear(2, hidden, rng=0), activation(), Linear(hidden, n_out, rng=1))


def snapshot(model):
    return [p.data.copy() for p in model.parameters()]


def assert_same(model, saved):
    for p, s in zip(model.parameters(), saved, strict=True):
        np.testing.assert_array_equal(p.data, s)


@pytest.fixture(scope="module")
def moons():
    X, y = make_moons(n=200, noise=0.1, rng=0)
    return train_test_split(X, y, rng=0)


def test_mlp_learns_xor():
    X, y = make_xor()
    model = mlp()
    history = fit(model, CrossEntropyLoss(), Adam(model.parameters(), lr=0.05), X, y, epochs=200, batch_size=4, rng=0)
    assert len(history) == 200 and set(history.keys()) == {"loss", "accuracy"}
    assert history["accuracy"][-1] == 1.0 and history["loss"][-1] < 0.01 < history["loss"][0]
    assert accuracy(model(X), y) == 1.0


def test_mlp_learns_moons_with_validation(moons):
    X_train, X_test, y_train, y_test = moons
    model = mlp(n_out=1, hidden=16, activation=ReLU)
    targets = [y[:, None].astype(np.float32) for y in (y_train, y_test)]
    history = fit(model, BCEWithLogitsLoss(), SGD(model.parameters(), lr=0.1, momentum=0.9), X_train, targets[0],
                  epochs=40, batch_size=16, validation=(X_test, targets[1]), rng=0)
    assert set(history.keys()) == {"loss", "accuracy", "val_loss", "val_accuracy"}
    assert all(len(values) == 40 for values in history.metrics.values())
    assert history["val_accuracy"][-1] >= 0.95 and history["val_loss"][-1] < history["val_loss"][0]
    assert evaluate(model, BCEWithLogitsLoss(), X_test, targets[1]) == pytest.approx(
        {"loss": history["val_loss"][-1], "accuracy": history["val_accuracy"][-1]})


def test_same_seed_same_history_and_regression_has_no_accuracy(moons):
    X, _, y, _ = moons
    targets = y[:, None].astype(np.float32)
    runs = []
    for _ in range(2):
        model = mlp(n_out=1)
        runs.append(fit(model, MSELoss(), SGD(model.parameters(), lr=0.05), X, targets, epochs=3, rng=5))
    assert runs[0].metrics == runs[1].metrics and set(runs[0].keys()) == {"loss"}


class ModeProbe(Linear):
    """A Linear that records whether it ran in train or eval mode."""

    def forward(self, x):
        self.modes = [*getattr(self, "modes", []), self.training]
        return super().forward(x)


def test_fit_trains_in_train_mode_and_validates_in_eval_mode():
    X, y = make_xor()
    model = Sequential(ModeProbe(2, 2, rng=0))
    fit(model, CrossEntropyLoss(), SGD(model.parameters(), lr=0.1), X, y, epochs=2, batch_size=2,
        validation=(X, y), shuffle=False)
    # fit's up-front label check first runs one sample of X and of X_val in eval mode
    assert model[0].modes == [False, False] + [True, True, False, False] * 2 and model.training


def test_evaluate_restores_mode_and_batching_does_not_change_the_mean():
    X, y = make_xor(n=10, noise=0.1, rng=0)
    model = mlp().eval()
    full = evaluate(model, CrossEntropyLoss(), X, y)
    assert full == pytest.approx(evaluate(model, CrossEntropyLoss(), X, y, batch_size=3), rel=1e-6)
    assert full["loss"] == pytest.approx(CrossEntropyLoss()(model(X), y)) and not model.training


@pytest.mark.parametrize(("scores", "y", "expected"), [
    (np.array([[2.0, 1.0], [0.0, 3.0], [1.0, 0.0]]), np.array([0, 1, 1]), 2 / 3),
    (np.array([[1.5], [-0.5], [0.2], [-2.0]]), np.array([[1.0], [0.0], [0.0], [0.0]]), 3 / 4),
    (np.array([[1.5], [-0.5]]), np.array([1, 1]), 1 / 2),
    (np.zeros((2, 3, 4)), np.zeros((2, 3), dtype=np.int64), 1.0),
])
def test_accuracy(scores, y, expected):
    assert accuracy(scores, y) == pytest.approx(expected)
    assert type(accuracy(scores, y)) is float  # a Python float, as documented, not a NumPy scalar


def test_accuracy_of_no_samples_is_an_error_not_nan():
    with pytest.raises(InputError, match=r"accuracy: got no samples \(scores of shape \(0, 3\)\)"):
        accuracy(np.zeros((0, 3)), np.zeros(0, np.int64))


def test_accuracy_rejects_mismatched_shapes():
    with pytest.raises(InputError, match=r"scores of shape \(3, 2\) do not match labels of shape \(4,\)"):
        accuracy(np.zeros((3, 2)), np.zeros(4))


# --- the divergence guard ---------------------------------------------------------------------------------


def test_huge_learning_rate_raises_and_keeps_finite_parameters():
    X, y = make_moons(n=64, rng=0)
    model = mlp(hidden=16, activation=ReLU)
    with pytest.raises(TrainingDivergedError, match=r"epoch 1/5, step \d+ \(batch index\).*lower the learning rate"
                       ) as info:
        fit(model, CrossEntropyLoss(), SGD(model.parameters(), lr=1e10), X, y, epochs=5, batch_size=16, rng=0)
    assert isinstance(info.value, RuntimeError) and info.value.epoch == 1 and len(info.value.history) == 0
    assert all(np.isfinite(p.data).all() for p in model.parameters())


class PoisonGrad(Linear):
    """A Linear whose backward writes NaN (or a huge value) into its weight gradient at one call."""

    def __init__(self, *args, at: int, value: float, **kwargs):
        super().__init__(*args, **kwargs)
        self.at, self.value, self.calls = at, value, 0

    def backward(self, grad_out):
        grad_in = super().backward(grad_out)
        if self.calls == self.at:
            self.weight.grad[...] = self.value
        self.calls += 1
        return grad_in


@pytest.mark.parametrize(("at", "epoch", "step"), [(0, 1, 0), (3, 2, 1)])
def test_nan_gradient_names_epoch_step_and_parameter(at, epoch, step):
    X, y = make_xor(n=8, noise=0.1, rng=0)
    model = Sequential(PoisonGrad(2, 2, rng=0, at=at, value=np.nan))
    before = snapshot(model)
    with pytest.raises(TrainingDivergedError, match=rf"epoch {epoch}/3, step {step} .*gradient of parameter "
                       r"'0.weight' contains NaN") as info:
        fit(model, CrossEntropyLoss(), SGD(model.parameters(), lr=0.1), X, y, epochs=3, batch_size=4, rng=0)
    err = info.value
    assert (err.epoch, err.step, err.parameter, len(err.history)) == (epoch, step, "0.weight", epoch - 1)
    assert np.isfinite(err.loss)
    if at == 0:
        assert_same(model, before)


def test_overflowing_update_is_undone():
    X, y = make_xor()
    model = Sequential(PoisonGrad(2, 2, rng=0, at=0, value=1e30))
    before = snapshot(model)
    with pytest.raises(TrainingDivergedError, match="the optimizer step produced NaN/inf"):
        fit(model, CrossEntropyLoss(), SGD(model.parameters(), lr=1e10), X, y, epochs=1)
    assert_same(model, before)


class InfiniteLoss(MSELoss):
    def forward(self, pred, target):
        super().forward(pred, target)
        return float("inf")


def test_non_finite_loss_stops_before_backward():
    X, y = make_xor()
    model = mlp(n_out=1)
    before = snapshot(model)
    with pytest.raises(TrainingDivergedError, match=r"step 0 \(batch index\): the loss is not finite \(loss = inf\)"):
        fit(model, InfiniteLoss(), SGD(model.parameters(), lr=0.1), X, y[:, None].astype(np.float32), epochs=1)
    assert_same(model, before)
    assert all(not p.grad.any() for p in model.parameters())


# --- History, progress bar, argument errors ---------------------------------------------------------------


def test_max_grad_norm_caps_every_step():
    """With gradients clipped to norm 0.01, no SGD step (lr=1, no momentum) moves the weights further than 0.01."""
    X, y = make_xor()
    model = mlp()
    before = snapshot(model)
    fit(model, CrossEntropyLoss(), SGD(model.parameters(), lr=1.0), X, y, epochs=1, batch_size=len(X),
        max_grad_norm=0.01, shuffle=False)
    moved = np.sqrt(sum(np.sum((p.data - b) ** 2) for p, b in zip(model.parameters(), before, strict=True)))
    assert 0.0099 < moved <= 0.01 + 1e-7


def test_history_container():
    history = History()
    history.append(loss=1.0, accuracy=0.5)
    history.append(loss=0.5, accuracy=0.75)
    assert len(history) == 2 and history["loss"] == [1.0, 0.5] and "accuracy" in history
    assert repr(history) == "History(2 epochs: last loss=0.5, accuracy=0.75)"
    with pytest.raises(KeyError, match=r"no metric 'val_loss'; recorded: \['accuracy', 'loss'\]"):
        history["val_loss"]


def test_history_plot_draws_loss_and_accuracy_on_a_twin_axis():
    matplotlib = pytest.importorskip("matplotlib")
    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    history = History()
    for epoch in range(3):
        history.append(loss=1.0 / (epoch + 1), val_loss=1.2 / (epoch + 1), accuracy=0.3 * epoch)
    ax = history.plot()
    try:
        assert [line.get_label() for line in ax.get_lines()] == ["loss", "val_loss"]
        assert len(ax.figure.axes) == 2 and ax.figure.axes[1].get_lines()[0].get_label() == "accuracy"
    finally:
        plt.close(ax.figure)


def test_progress_bar_runs_and_missing_tqdm_is_explained(hide_module):
    pytest.importorskip("tqdm")
    X, y = make_xor()
    model = mlp()
    assert len(fit(model, CrossEntropyLoss(), SGD(model.parameters(), lr=0.1), X, y, epochs=2, progress=True)) == 2
    hide_module("tqdm")
    with pytest.raises(ImportError, match=r"needs tqdm.*progress=False"):
        fit(model, CrossEntropyLoss(), SGD(model.parameters(), lr=0.1), X, y, epochs=2, progress=True)


def nan_weight_model():
    model = mlp()
    model[0].weight.data[0, 0] = np.nan
    return model


NAN_MODEL, OTHER_MODEL = nan_weight_model(), mlp()
XOR_X = make_xor()[0]


def with_row(array, row, value):
    array = array.copy()
    array[row] = value
    return array


@pytest.mark.parametrize(("change", "match"), [
    ({"epochs": 0}, "fit: epochs must be a positive integer"),
    ({"batch_size": 0}, "fit: batch_size must be a positive integer"),
    ({"y": np.zeros(3, dtype=np.int64)}, r"same number of samples, got shapes \(4, 2\) and \(3,\)"),
    ({"validation": (np.zeros((2, 2)),)}, "validation must be a tuple \\(X_val, y_val\\), got tuple of length 1"),
    ({"validation": np.zeros((2, 2))}, "validation must be a tuple"),
    ({"validation": (np.zeros((2, 2)), np.zeros(3))}, "X_val and y_val must be"),
    ({"optimizer": "sgd"}, "optimizer must be an nnlib Optimizer"),
    ({"model": lambda x: x}, "model must be an nnlib Module"),
    ({"loss": lambda a, b: 0.0}, "loss must be an nnlib loss Module"),
    ({"model": NAN_MODEL, "optimizer": SGD(NAN_MODEL.parameters(), lr=0.1)},
     "parameter '0.weight' holds NaN or inf before training"),
    ({"optimizer": SGD(OTHER_MODEL.parameters(), lr=0.1)}, "optimizer updates parameters that are not this model's"),
    ({"X": with_row(XOR_X, 2, np.nan)}, r"^fit: X\[2\] holds NaN or inf \(sample 2 of the array you passed\)"),
    ({"y": np.array([0, 1, 5, 0])}, r"^fit: y\[2\] = 5 is not a class label of this model: its output has 2 classes"),
    ({"y": np.eye(2)[[0, 1, 1, 0]]}, r"y must hold integer class labels .*one-hot rows\? pass y.argmax"),
    ({"validation": (np.zeros((2, 3)), np.zeros(2, dtype=int))}, r"X_val has samples of shape \(3,\)"),
    ({"validation": (with_row(XOR_X, 1, np.inf), np.zeros(4, dtype=int))}, r"^fit: X_val\[1\] holds NaN or inf"),
    ({"max_grad_norm": 0}, "fit: max_grad_norm must be a number > 0 or None, got 0"),
])
def test_fit_argument_errors(change, match):
    X, y = make_xor()
    model = mlp()
    args = {"model": model, "loss": CrossEntropyLoss(), "optimizer": SGD(model.parameters(), lr=0.1), "X": X, "y": y}
    with pytest.raises(InputError, match=match):
        fit(**{**args, **change})


def test_fit_refuses_an_optimizer_that_misses_a_trainable_parameter():
    X, y = make_xor()
    model = mlp()
    with pytest.raises(InputError, match=r"does not update the trainable parameters \['2.weight', '2.bias'\]"):
        fit(model, CrossEntropyLoss(), SGD(model[0].parameters(), lr=0.1), X, y)
    model[2].requires_grad_(False)  # frozen: then the optimizer need not hold it
    fit(model, CrossEntropyLoss(), SGD(model[0].parameters(), lr=0.1), X, y, epochs=1)


def test_evaluate_argument_errors():
    X, y = make_xor()
    with pytest.raises(InputError, match="evaluate: batch_size must be a positive integer"):
        evaluate(mlp(), CrossEntropyLoss(), X, y, batch_size=0)
    with pytest.raises(InputError, match="evaluate: X and y must be non-empty"):
        evaluate(mlp(), CrossEntropyLoss(), X[:0], y[:0])


class Log(Module):
    """log(x): NaN for a negative input."""

    def forward(self, x):
        self.cache = (x,)
        return np.log(x)

    def backward(self, grad_out):
        (x,) = self.cache
        return grad_out / x


def test_divergence_names_the_layer_where_nan_first_appeared():
    X, y = make_xor()
    model = Sequential(Linear(2, 4, rng=0), Log(), Linear(4, 2, rng=1))
    model[0].bias.data[:] = 3  # log of positive numbers, until a huge step makes some negative
    with pytest.raises(TrainingDivergedError, match=r"epoch 2/5, step 0 .*; first in Log\(\): forward raised inv"):
        fit(model, CrossEntropyLoss(), SGD(model.parameters(), lr=100.0), X, y, epochs=5, batch_size=2, rng=0)


def test_fit_names_the_layer_that_fails_on_the_data_before_training():
    X, y = make_xor()
    model = Sequential(Linear(2, 4, rng=0), Log(), Linear(4, 2, rng=1))
    with pytest.raises(InputError, match=r"^fit: the model makes NaN or inf on X\[0\] .* first in Log\(\)"):
        fit(model, CrossEntropyLoss(), SGD(model.parameters(), lr=0.1), X, y, epochs=1)


def test_detect_anomaly_names_the_layer_whose_backward_made_nan():
    layer = Log()
    x = np.array([0.0, 1.0])
    with np.errstate(divide="ignore"):
        layer(x)
    with (nnlib.detect_anomaly(), np.errstate(divide="ignore"),
          pytest.raises(nnlib.NonFiniteError, match=r"^Log\(\): backward made NaN or inf")):
        layer.backward(np.ones(2))


def test_accuracy_refuses_one_hot_labels_that_it_would_score_per_element():
    scores = np.array([[2.0, -1.0, 0.5], [0.1, 0.2, 3.0]])
    with pytest.raises(InputError, match=r"looks like one-hot rows.*y.argmax\(axis=-1\)"):
        accuracy(scores, np.eye(3)[[1, 2]])
    assert accuracy(scores, np.array([0, 2])) == 1.0
    assert accuracy(np.array([[1.0, -1.0], [-2.0, 3.0]]), np.array([[1.0, 1.0], [0.0, 1.0]])) == 0.75  # multi-label


# --- early stopping ------------------------------------------------------------------------------------------------

def _overfitting_run(early_stopping, epochs=60, batch_norm=False):
    """A wide MLP on 40 noisy moons: the validation loss falls, then rises as it memorises the noise."""
    X, y = make_moons(240, noise=0.35, rng=0)
    X_train, X_val, y_train, y_val = train_test_split(X, y, test_fraction=200 / 240, rng=0)
    layers = [Linear(2, 64, rng=0), ReLU(), Linear(64, 64, rng=1), ReLU(), Linear(64, 2, rng=2)]
    if batch_norm:
        layers.insert(1, nnlib.BatchNorm1d(64))
    model = Sequential(*layers)
    history = fit(model, CrossEntropyLoss(), Adam(model.parameters(), lr=0.02), X_train, y_train, epochs=epochs,
                  batch_size=10, validation=(X_val, y_val), rng=0, early_stopping=early_stopping)
    return model, history, evaluate(model, CrossEntropyLoss(), X_val, y_val)["loss"]


def test_early_stopping_stops_after_patience_and_restores_the_best_epoch():
    model, history, val_loss = _overfitting_run(nnlib.EarlyStopping(patience=4))
    best = int(np.argmin(history["val_loss"])) + 1
    assert history.best_epoch == best
    assert history.stopped_epoch == len(history) == best + 4 < 60
    assert val_loss == pytest.approx(history["val_loss"][best - 1], rel=1e-6)
    assert val_loss < history["val_loss"][-1]


def test_without_restore_the_model_keeps_its_last_weights_and_an_int_is_the_patience():
    _, history, val_loss = _overfitting_run(nnlib.EarlyStopping(patience=4, restore_best=False))
    assert val_loss == pytest.approx(history["val_loss"][-1], rel=1e-6)
    _, same, _ = _overfitting_run(4)
    assert (same.best_epoch, same.stopped_epoch) == (history.best_epoch, history.stopped_epoch)


def test_min_delta_counts_only_improvements_larger_than_it():
    _, history, _ = _overfitting_run(nnlib.EarlyStopping(patience=2, min_delta=10.0))
    assert (history.best_epoch, history.stopped_epoch, len(history)) == (1, 3, 3)


def test_a_run_that_keeps_improving_runs_every_epoch_and_ends_on_its_best():
    _, history, val_loss = _overfitting_run(nnlib.EarlyStopping(patience=50), epochs=5)
    assert len(history) == 5 and history.stopped_epoch is None
    assert val_loss == pytest.approx(min(history["val_loss"]), rel=1e-6)


def test_restoring_the_best_epoch_restores_batch_norms_running_statistics_too():
    model, history, val_loss = _overfitting_run(nnlib.EarlyStopping(patience=3), batch_norm=True)
    assert history.stopped_epoch is not None
    assert val_loss == pytest.approx(history["val_loss"][history.best_epoch - 1], rel=1e-6)


def test_history_without_early_stopping_has_no_best_or_stopped_epoch():
    X, y = make_xor()
    model = mlp()
    history = fit(model, CrossEntropyLoss(), SGD(model.parameters(), lr=0.1), X, y, epochs=2)
    assert history.best_epoch is None and history.stopped_epoch is None
