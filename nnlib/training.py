"""The training loop: ``fit``, ``evaluate``, ``accuracy``, a per-epoch ``History`` and a divergence guard.

One step of :func:`fit` is the notes' recipe, in order::

    model.zero_grad()                      # layers accumulate gradients: start from zero
    out = model(X_batch)                   # forward pass
    E = loss(out, y_batch)                 # check: E is finite
    model.backward(loss.backward())        # backpropagation: dE/dw for every weight; check: all finite
    optimizer.step()                       # w⁺ = w − η ∂E/∂w

The backward is told that dE/d(X_batch) is not needed (``input_gradient=False`` for models that opt in, see
:mod:`nnlib.module`): a frozen feature extractor below the trainable layers then runs no backward at all.

A non-finite loss or gradient (or an overflow anywhere in the step) stops training with a
:class:`TrainingDivergedError` before the bad update is applied, so the model keeps its last finite weights.
"""

from __future__ import annotations

import functools
import math
import numbers
from dataclasses import dataclass

import numpy as np

from ._checks import InputError, as_rng, check_bool, check_positive_int, check_real
from .data import batches
from .module import Module, backward_without_input_gradient, detect_anomaly, evaluating
from .optim import Optimizer, clip_grad_norm
from .regularization import Penalty

__all__ = ["EarlyStopping", "History", "TrainingDivergedError", "accuracy", "evaluate", "fit", "predict"]

# Accuracy is recorded for these losses, recognised by class name so this module does not import losses.py.
_MULTICLASS_LOSSES = {"CrossEntropyLoss"}
_BINARY_LOSSES = {"BCEWithLogitsLoss"}


class TrainingDivergedError(RuntimeError):
    """Training produced a non-finite loss or gradient. The update of that step was not applied.

    Attributes:
        epoch: the epoch, counted from 1.
        step: the batch index within that epoch, counted from 0.
        loss: the loss of that batch (may be NaN or inf; NaN if the forward pass itself overflowed).
        parameter: the dotted name of the offending parameter, or ``None``.
        history: the :class:`History` of the epochs completed before.
    """

    def __init__(self, message: str, *, epoch: int, step: int, loss: float, parameter: str | None,
                 history: History):
        super().__init__(message)
        self.epoch, self.step, self.loss, self.parameter, self.history = epoch, step, loss, parameter, history


class History:
    """Per-epoch metrics recorded by :func:`fit`: ``history["loss"]``, ``history["val_loss"]``,
    ``history["accuracy"]``, ``history["val_accuracy"]`` (each a list, one value per epoch, when recorded).

    ``len(history)`` is the number of epochs run. With early stopping, ``best_epoch`` is the epoch (from 1) of the
    lowest validation loss and ``stopped_epoch`` the epoch training stopped after (None when every epoch ran).
    """

    def __init__(self):
        self.metrics: dict[str, list[float]] = {}
        self.best_epoch: int | None = None
        self.stopped_epoch: int | None = None

    def append(self, **values: float) -> None:
        """Record one epoch's metrics."""
        for name, value in values.items():
            self.metrics.setdefault(name, []).append(float(value))

    def __getitem__(self, name: str) -> list[float]:
        if name not in self.metrics:
            raise KeyError(f"History has no metric {name!r}; recorded: {sorted(self.metrics)}")
        return self.metrics[name]

    def __contains__(self, name: str) -> bool:
        return name in self.metrics

    def keys(self):
        return self.metrics.keys()

    def __len__(self) -> int:
        return len(self.metrics.get("loss", []))

    def __repr__(self) -> str:
        last = ", ".join(f"{name}={values[-1]:.4g}" for name, values in self.metrics.items())
        return f"History({len(self)} epochs{': last ' + last if last else ''})"

    def plot(self, ax=None):
        """Draw the loss per epoch (and accuracy on a twin axis when recorded); returns the loss axis."""
        try:
            import matplotlib.pyplot as plt
        except ImportError as err:
            raise ImportError("History.plot needs matplotlib: pip install 'nnlib[course]'") from err
        if ax is None:
            _, ax = plt.subplots(figsize=(6, 3.5))
        epochs = np.arange(1, len(self) + 1)
        for name, style in (("loss", "-"), ("val_loss", "--")):
            if name in self:
                ax.plot(epochs, self[name], style, color="C0", label=name)
        ax.set_xlabel("epoch")
        ax.set_ylabel("loss")
        handles, labels = ax.get_legend_handles_labels()
        if "accuracy" in self or "val_accuracy" in self:
            acc_ax = ax.twinx()
            for name, style in (("accuracy", "-"), ("val_accuracy", "--")):
                if name in self:
                    acc_ax.plot(epochs, self[name], style, color="C1", label=name)
            acc_ax.set_ylabel("accuracy")
            acc_ax.set_ylim(0, 1.02)
            more_handles, more_labels = acc_ax.get_legend_handles_labels()
            handles, labels = handles + more_handles, labels + more_labels
        ax.legend(handles, labels, loc="center right")
        return ax


def accuracy(scores, y) -> float:
    """Fraction of correct predictions.

    Shapes:
        scores (N, C) (or (N, ..., C)) with integer labels y (N,) (or (N, ...)): predicted class = argmax.
        scores and y of the same shape (or scores (N, 1) with y (N,)): binary logits, predicted 1 where
        the logit is > 0, compared with ``y > 0.5``.
    """
    scores, y = np.asarray(scores), np.asarray(y)
    if scores.ndim == y.ndim + 1 and scores.shape[-1] == 1:
        scores = scores[..., 0]
    if scores.shape == y.shape:
        if y.ndim > 1 and y.shape[-1] > 1 and _is_one_hot(y):
            raise InputError(f"accuracy: y of shape {y.shape} looks like one-hot rows, which would be scored element "
                             "by element; pass the class labels y.argmax(axis=-1) instead")
        correct = (scores > 0) == (y > 0.5)
    elif scores.shape[:-1] == y.shape:
        correct = scores.argmax(axis=-1) == y
    else:
        raise InputError(f"accuracy: scores of shape {scores.shape} do not match labels of shape {y.shape}; "
                         "expected scores (N, C) with labels (N,), or binary logits of the labels' shape")
    if correct.size == 0:
        raise InputError(f"accuracy: got no samples (scores of shape {scores.shape}); expected at least one")
    return float(np.count_nonzero(correct) / correct.size)


def _is_one_hot(y: np.ndarray) -> bool:
    return bool(np.isin(y, (0, 1)).all() and (y.sum(axis=-1) == 1).all())


def _is_classification(loss) -> bool:
    names = {cls.__name__ for cls in type(loss).__mro__}
    return bool(names & (_MULTICLASS_LOSSES | _BINARY_LOSSES))


def _check_xy(X, y, who: str, name: str = "") -> tuple[np.ndarray, np.ndarray]:
    X, y = np.asarray(X), np.asarray(y)
    if X.ndim == 0 or y.ndim == 0 or len(X) != len(y) or len(X) == 0:
        raise InputError(f"{who}: X{name} and y{name} must be non-empty arrays with the same number of samples, "
                         f"got shapes {X.shape} and {y.shape}")
    return X, y


def _check_parts(model, loss, who: str) -> None:
    if not isinstance(model, Module):
        raise InputError(f"{who}: model must be an nnlib Module, got {type(model).__name__}")
    if not isinstance(loss, Module):
        raise InputError(f"{who}: loss must be an nnlib loss Module (e.g. CrossEntropyLoss()), "
                         f"got {type(loss).__name__}")


def evaluate(model: Module, loss: Module, X, y, batch_size: int | None = None) -> dict[str, float]:
    """Loss (and accuracy, for classification losses) of ``model`` on ``(X, y)``, in eval mode under ``no_grad``.

    The loss is the sample-weighted mean of the per-batch losses (the full set at once when ``batch_size``
    is None). Nothing is cached for backward, and the model's train/eval mode is restored afterwards.
    """
    _check_parts(model, loss, "evaluate")
    X, y = _check_xy(X, y, "evaluate")
    batch_size = len(X) if batch_size is None else check_positive_int(batch_size, "evaluate", "batch_size")
    meter = _Meter(_is_classification(loss))
    with evaluating(model):
        for xb, yb in batches(X, y, batch_size, shuffle=False):
            out = model(xb)
            meter.add(loss(out, yb), out, yb)
    return meter.result()


def predict(model: Module, X, batch_size: int | None = None) -> np.ndarray:
    """``model``'s outputs on ``X``, in eval mode under ``no_grad`` (nothing cached; the mode is restored).

    Shapes: X (N, ...) → the outputs of every batch joined along axis 0, e.g. scores (N, C).

    Examples::

        >>> import numpy as np, nnlib
        >>> model = nnlib.Sequential(nnlib.Linear(4, 3, rng=0), nnlib.Softmax())
        >>> nnlib.predict(model, np.ones((5, 4), np.float32), batch_size=2).shape
        (5, 3)
    """
    if not isinstance(model, Module):
        raise InputError(f"predict: model must be an nnlib Module, got {type(model).__name__}")
    X = np.asarray(X)
    if X.ndim == 0 or len(X) == 0:
        raise InputError(f"predict: X must be a non-empty array of samples, got shape {X.shape}")
    batch_size = len(X) if batch_size is None else check_positive_int(batch_size, "predict", "batch_size")
    with evaluating(model):
        return np.concatenate([model(X[i:i + batch_size]) for i in range(0, len(X), batch_size)])


class _Meter:
    """Sample-weighted running mean of the loss and, for classification, of the accuracy."""

    def __init__(self, classification: bool):
        self.classification = classification
        self.n = self.loss = self.correct = 0.0

    def add(self, loss_value: float, out, yb) -> None:
        n = len(yb)
        self.n += n
        self.loss += n * float(loss_value)
        if self.classification:
            self.correct += n * accuracy(out, yb)

    def result(self) -> dict[str, float]:
        metrics = {"loss": self.loss / self.n}
        if self.classification:
            metrics["accuracy"] = self.correct / self.n
        return metrics


@dataclass(frozen=True)
class EarlyStopping:
    """Stop :func:`fit` when the validation loss has not improved for ``patience`` epochs.

    An epoch improves when its ``val_loss`` is below the best so far by more than ``min_delta``. With
    ``restore_best`` the model ends with the parameters and buffers it had after its best epoch (a copy is kept
    at each improvement), whether training stopped early or ran every epoch.

    Examples::

        history = fit(model, loss, opt, X, y, epochs=200, validation=(X_val, y_val),
                      early_stopping=EarlyStopping(patience=10))
        history.best_epoch, history.stopped_epoch
    """

    patience: int = 5
    min_delta: float = 0.0
    restore_best: bool = True

    def __post_init__(self):
        check_positive_int(self.patience, "EarlyStopping", "patience")
        check_real(self.min_delta, "EarlyStopping", "min_delta", lambda v: v >= 0, "a number ≥ 0")
        check_bool(self.restore_best, "EarlyStopping", "restore_best")


class _Stopper:
    """The state of early stopping during one :func:`fit`: the best validation loss, its epoch and its weights."""

    def __init__(self, rule: EarlyStopping, model: Module, history: History):
        self.rule, self.model, self.history = rule, model, history
        self.best_loss, self.best_state = float("inf"), None

    def should_stop(self, epoch: int, val_loss: float) -> bool:
        """Record ``epoch``'s validation loss (epochs from 1); True when patience has run out."""
        if val_loss < self.best_loss - self.rule.min_delta:
            self.best_loss, self.history.best_epoch = val_loss, epoch
            if self.rule.restore_best:
                self.best_state = self.model.state_dict()
        elif epoch - (self.history.best_epoch or 0) >= self.rule.patience:
            self.history.stopped_epoch = epoch
            return True
        return False

    def restore(self) -> None:
        if self.best_state is not None:
            self.model.load_state_dict(self.best_state)


def _check_early_stopping(early_stopping, validation) -> EarlyStopping | None:
    if early_stopping is None:
        return None
    if isinstance(early_stopping, numbers.Integral) and not isinstance(early_stopping, bool):
        early_stopping = EarlyStopping(patience=early_stopping)
    if not isinstance(early_stopping, EarlyStopping):
        raise InputError(f"fit: early_stopping must be an EarlyStopping (e.g. EarlyStopping(patience=5)), a patience "
                         f"(int ≥ 1) or None, got {early_stopping!r}")
    if validation is None:
        raise InputError("fit: early_stopping watches the validation loss, but no validation data was given; pass "
                         "validation=(X_val, y_val) (a split of the training data the model does not train on)")
    return early_stopping


def _check_validation(validation) -> tuple[np.ndarray, np.ndarray] | None:
    if validation is None:
        return None
    if not isinstance(validation, (tuple, list)) or len(validation) != 2:
        raise InputError(f"fit: validation must be a tuple (X_val, y_val), got {type(validation).__name__}"
                         + (f" of length {len(validation)}" if isinstance(validation, (tuple, list)) else ""))
    return _check_xy(*validation, "fit", name="_val")


def _first_bad_row(bad: np.ndarray) -> int | None:
    """Index of the first sample (row) with a True anywhere in it, or None."""
    rows = bad.reshape(len(bad), -1).any(axis=1)
    return int(np.argmax(rows)) if rows.any() else None


def _check_data(model, loss, X, y, name: str = "") -> None:
    """Refuse what would fail mid-epoch, naming the sample in the caller's arrays (not in a shuffled batch)."""
    for array, label in ((X, "X"), (y, "y")):
        if array.dtype.kind == "f":
            row = _first_bad_row(~np.isfinite(array))
            if row is not None:
                raise InputError(f"fit: {label}{name}[{row}] holds NaN or inf (sample {row} of the array you passed); "
                                 "remove or repair that sample before training")
    if type(loss).__name__ in _MULTICLASS_LOSSES:
        if y.dtype.kind not in "iu":
            raise InputError(f"fit: y{name} must hold integer class labels for {type(loss).__name__}, got dtype "
                             f"{y.dtype}" + (" (one-hot rows? pass y.argmax(axis=-1))" if y.ndim > 1 else ""))
        n_classes = _probe(model, X[:1], f"X{name}[0]").shape[-1]
        row = _first_bad_row((y < 0) | (y >= n_classes))
        if row is not None:
            raise InputError(f"fit: y{name}[{row}] = {y[row]} is not a class label of this model: its output has "
                             f"{n_classes} classes, so labels must be in [0, {n_classes})")


def _probe(model: Module, x, what: str) -> np.ndarray:
    """The model's output on one sample, or an error naming the layer that made NaN or inf on it."""
    try:
        with detect_anomaly(), np.errstate(over="raise", invalid="raise", divide="raise"):
            return predict(model, x)
    except FloatingPointError as err:
        raise InputError(f"fit: the model makes NaN or inf on {what} before training; first in {err}") from err


def _check_optimizer_owns(model: Module, optimizer: Optimizer) -> None:
    """The optimizer must update this model's trainable parameters: all of them, and no other model's."""
    mine = {id(p) for p in model.parameters()}
    theirs = {id(p) for p in optimizer.params}
    if not theirs <= mine:
        raise InputError("fit: the optimizer updates parameters that are not this model's (was it built on an "
                         "earlier model? re-create it after the model: SGD(model.parameters(), lr=...))")
    missing = [name for name, p in model.named_parameters() if p.requires_grad and id(p) not in theirs]
    if missing:
        raise InputError(f"fit: the optimizer does not update the trainable parameters {missing}; build it on "
                         "model.parameters(), or freeze those with requires_grad_(False)")


def _progress_bar(epochs: int):
    try:
        from tqdm.auto import trange
    except ImportError as err:
        raise ImportError("fit(progress=True) needs tqdm: pip install 'nnlib[course]' (or pip install tqdm), "
                          "or call fit with progress=False") from err
    return trange(epochs, desc="fit", unit="epoch")


def fit(model: Module, loss: Module, optimizer: Optimizer, X, y, epochs: int = 10, batch_size: int = 32,
        validation=None, rng=None, shuffle: bool = True, progress: bool = False, penalty=None,
        max_grad_norm: float | None = None, early_stopping=None) -> History:
    """Train ``model`` with mini-batch gradient descent; returns the per-epoch :class:`History`.

    Args:
        model, loss, optimizer: an nnlib Module, a loss Module (``loss(out, y)`` then ``loss.backward()``),
            and an Optimizer built on ``model.parameters()``.
        X, y: training inputs and targets, same number of rows.
        epochs: passes over the training set. batch_size: rows per step (the last batch may be smaller).
        validation: optional ``(X_val, y_val)``, evaluated in eval mode after every epoch (in batches of
            ``batch_size``).
        rng: seed or Generator for the batch order (``shuffle=False`` keeps the data order).
        progress: show a tqdm progress bar over epochs (notebook-aware), with the loss in its postfix.
        penalty: an optional :class:`~nnlib.regularization.Penalty` (L1, L2): its gradient joins every step's.
            The recorded ``loss`` stays the data loss alone, comparable with ``val_loss``.
        max_grad_norm: when given, every step's gradients are rescaled to a global norm of at most this
            (:func:`~nnlib.optim.clip_grad_norm`) before the optimizer uses them.
        early_stopping: an :class:`EarlyStopping` (or just its patience, an int): stop once ``val_loss`` has not
            improved for that many epochs and, by default, end with the best epoch's weights; needs ``validation``.
            ``history.best_epoch`` and ``history.stopped_epoch`` say what happened.

    The recorded ``loss``/``accuracy`` are sample-weighted means over the epoch's training batches, computed
    on the fly in train mode; ``val_loss``/``val_accuracy`` come from :func:`evaluate`. Accuracy is recorded
    for ``CrossEntropyLoss`` (argmax) and ``BCEWithLogitsLoss`` (logit > 0).

    Raises:
        TrainingDivergedError: at the first non-finite loss or gradient, or an overflow in the step, naming
            the epoch, the batch index, the loss and the parameter; that step's update is not applied.
    """
    _check_parts(model, loss, "fit")
    if not isinstance(optimizer, Optimizer):
        raise InputError(f"fit: optimizer must be an nnlib Optimizer (e.g. SGD(model.parameters(), lr=0.1)), "
                         f"got {type(optimizer).__name__}")
    X, y = _check_xy(X, y, "fit")
    epochs = check_positive_int(epochs, "fit", "epochs")
    batch_size = check_positive_int(batch_size, "fit", "batch_size")
    validation = _check_validation(validation)
    if penalty is not None and not isinstance(penalty, Penalty):
        raise InputError(f"fit: penalty must be an nnlib Penalty (e.g. L2Penalty(1e-4)) or None, "
                         f"got {type(penalty).__name__}")
    if max_grad_norm is not None:
        max_grad_norm = check_real(max_grad_norm, "fit", "max_grad_norm", lambda v: v > 0, "a number > 0 or None")
    early_stopping = _check_early_stopping(early_stopping, validation)
    rng = as_rng(rng, "fit")
    guard = _Guard(model, optimizer, epochs)
    stopper = None if early_stopping is None else _Stopper(early_stopping, model, guard.history)
    _check_optimizer_owns(model, optimizer)
    _check_data(model, loss, X, y)
    if validation is not None:
        if validation[0].shape[1:] != X.shape[1:]:
            raise InputError(f"fit: X_val has samples of shape {validation[0].shape[1:]}, X of shape {X.shape[1:]}; "
                             "expected the same")
        _check_data(model, loss, *validation, name="_val")
    bar = _progress_bar(epochs) if progress else range(epochs)
    model.clear_caches()  # forwards left waiting by earlier cells must not be taken for this run's
    loss.clear_caches()
    try:
        for epoch in bar:
            guard.epoch = epoch + 1
            metrics = _train_epoch(model, loss, X, y, batch_size, rng, shuffle, guard, penalty, max_grad_norm)
            if validation is not None:
                metrics.update({f"val_{k}": v for k, v in evaluate(model, loss, *validation, batch_size).items()})
            guard.history.append(**metrics)
            if progress:
                bar.set_postfix({k: f"{v:.4g}" for k, v in metrics.items()})
            if stopper is not None and stopper.should_stop(epoch + 1, metrics["val_loss"]):
                break
        if stopper is not None:
            stopper.restore()
    finally:
        model.clear_caches()  # a step stopped by the guard leaves its forward waiting
        loss.clear_caches()
        if progress:
            bar.close()
    return guard.history


def _train_epoch(model, loss, X, y, batch_size, rng, shuffle, guard, penalty=None,
                 max_grad_norm=None) -> dict[str, float]:
    model.train()
    meter = _Meter(_is_classification(loss))
    for step, (xb, yb) in enumerate(batches(X, y, batch_size, rng=rng, shuffle=shuffle)):
        guard.step, guard.loss = step, math.nan
        guard.zero_grad()
        redo = functools.partial(_forward_backward, model, loss, xb, yb)
        try:
            with np.errstate(over="raise", invalid="raise"):  # an overflow or NaN raises: see guard.overflowed
                guard.phase = "the forward pass or the loss"
                out = model(xb)
                guard.loss = float(loss(out, yb))
                guard.check_loss(redo)
                guard.phase = "the backward pass"
                backward_without_input_gradient(model, loss.backward())  # dL/dx of the batch: unused
                if penalty is not None:
                    penalty.backward(model)
        except FloatingPointError as err:
            guard.overflowed(err, redo)
        guard.check_grads(redo)
        if max_grad_norm is not None:
            clip_grad_norm(guard.parameters, max_grad_norm)
        guard.apply_step()
        if penalty is not None:
            penalty.after_step(model, guard.optimizer.lr)
        meter.add(guard.loss, out, yb)
    return meter.result()


class _Guard:
    """The divergence checks of :func:`fit`, with where training is (epoch, step) for the error message."""

    def __init__(self, model: Module, optimizer: Optimizer, epochs: int):
        self.optimizer, self.epochs = optimizer, epochs
        self.parameters = model.parameters()  # gathered once: walking the module tree every step costs
        self.named = [(name, p) for name, p in model.named_parameters() if p.requires_grad]
        self.updated = [p for p in optimizer.params if p.requires_grad]  # nothing inside fit can freeze or thaw
        name = _first_non_finite(model.named_parameters(), "data")
        if name is not None:
            raise InputError(f"fit: parameter {name!r} holds NaN or inf before training; re-create the model")
        self.history = History()
        self.epoch = self.step = 0
        self.loss = float("nan")
        self.phase = "the forward pass or the loss"  #: where in the step training is, for the error message

    def fail(self, what: str, parameter: str | None = None, show_loss: bool = True):
        loss = f" (loss = {self.loss:.6g})" if show_loss else ""
        raise TrainingDivergedError(
            f"fit: training diverged at epoch {self.epoch}/{self.epochs}, step {self.step} (batch index): {what}"
            f"{loss}. The update of this step was not applied; the model keeps its last finite parameters. "
            f"Hint: lower the learning rate (lr={getattr(self.optimizer, 'lr', '?'):g}), e.g. by a factor of 10, "
            "or check the inputs for extreme values.",
            epoch=self.epoch, step=self.step, loss=self.loss, parameter=parameter, history=self.history)

    def overflowed(self, err: FloatingPointError, step=None):
        """Turn NumPy's overflow or invalid-operation error during ``self.phase`` into a TrainingDivergedError.

        ``step``, a function that redoes the step's forward and backward, is rerun under :class:`detect_anomaly`, to
        name the layer where NaN or inf first appeared.
        """
        self.fail(f"{self.phase} produced NaN/inf ({err}){_where_non_finite(step)}", show_loss=not np.isnan(self.loss))

    def zero_grad(self) -> None:
        for param in self.parameters:
            param.grad.fill(0)

    def check_loss(self, step=None) -> None:
        if not np.isfinite(self.loss):
            self.fail(f"the loss is not finite{_where_non_finite(step)}")

    def check_grads(self, step=None) -> None:
        name = _first_non_finite(self.named, "grad")
        if name is not None:
            self.fail(f"the gradient of parameter {name!r} contains NaN or inf{_where_non_finite(step)}", name)

    def apply_step(self) -> None:
        """``optimizer.step()``, undone if it overflows: an update must never leave NaN/inf weights.

        The weights and gradients are finite here (both are checked), so an update can only become NaN/inf through
        an overflow, a division by zero or an invalid operation — each of which raises inside this errstate.
        """
        params = self.updated
        backup = [p.data.copy() for p in params]
        try:
            with np.errstate(over="raise", invalid="raise", divide="raise"):
                self.optimizer.step()
        except FloatingPointError as err:
            for p, saved in zip(params, backup, strict=True):
                p.data[...] = saved
            self.fail(f"the optimizer step produced NaN/inf ({err})")


def _forward_backward(model: Module, loss: Module, xb, yb) -> None:
    """One step's forward and backward (what :func:`_where_non_finite` reruns), leaving the gradients as they were."""
    grads = [p.grad.copy() for p in model.parameters()]
    model.clear_caches()
    try:
        loss(model(xb), yb)
        backward_without_input_gradient(model, loss.backward())
    finally:
        model.clear_caches()
        for p, grad in zip(model.parameters(), grads, strict=True):
            p.grad[...] = grad


def _where_non_finite(step) -> str:
    """``"; first in <layer>: forward made NaN or inf"`` from rerunning ``step`` under detect_anomaly, or ``""``."""
    if step is None:
        return ""
    try:
        with detect_anomaly(), np.errstate(over="raise", invalid="raise", divide="raise"):
            step()
    except FloatingPointError as err:
        return f"; first in {err}"
    except InputError as err:  # a loss refusing a non-finite prediction names itself
        return f"; {err}"
    return ""


def _first_non_finite(named_parameters, attribute: str) -> str | None:
    """Name of the first parameter whose ``data`` or ``grad`` (``attribute``) holds NaN/inf, or None."""
    for name, param in named_parameters:
        # not np.isfinite(...).all(): on a step's small arrays the Python wrapper of .all() costs more than the test
        if not np.logical_and.reduce(np.isfinite(getattr(param, attribute)), axis=None):
            return name
    return None
