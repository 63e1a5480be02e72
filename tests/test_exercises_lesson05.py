"""Lesson 05 checks: ✅ for a right answer, ❌ naming the typical mistake, ⏳ for an unsolved stub."""

from typing import NamedTuple

import numpy as np
import pytest
from exercise_helpers import failure_hint, run, todo

import nnlib
from nnlib.exercises import (
    check_dropout_backward,
    check_dropout_forward,
    check_early_stopping,
    check_l1_gradient,
    check_l2_gradient,
    check_my_dropout,
    check_proximal_l1_step,
)
from nnlib.exercises.lesson05 import EARLY_STOPPING_RUNS, early_stopping_task, reference_early_stopping


def l2_gradient(data_grad, w, lam):
    return data_grad + lam * w


def l1_gradient(data_grad, w, lam):
    return data_grad + lam * np.sign(w)


def dropout_forward(x, keep_mask, p):
    return x * keep_mask / (1 - p)


def dropout_backward(grad_out, keep_mask, p):
    return grad_out * keep_mask / (1 - p)


class MyDropoutCache(NamedTuple):
    scale: np.ndarray | None


class MyDropout(nnlib.Module):
    """The lesson's build, with class attributes that switch on each typical mistake (the subclasses below)."""

    keep_if = "random >= p"        # "random < p": keeps with probability p
    divide_by = "1 - p"            # "p", "nothing"
    drop_in_eval = False
    one_mask = False               # draws the mask once and reuses it
    backward_mask = "cache"        # "redraw", "unscaled", "none"

    def __init__(self, p=0.5, rng=None):
        self.p, self.rng = p, np.random.default_rng(rng)
        self.first_keep = None

    def forward(self, x):
        if not self.training and not self.drop_in_eval:
            self.cache = MyDropoutCache(None)
            return x
        keep = self.draw(x.shape) if self.first_keep is None or not self.one_mask else self.first_keep
        self.first_keep = keep
        scale = keep / {"1 - p": 1 - self.p, "p": self.p, "nothing": 1.0}[self.divide_by]
        self.cache = MyDropoutCache(scale)
        return x * scale

    def draw(self, shape):
        random = self.rng.random(shape)
        return random >= self.p if self.keep_if == "random >= p" else random < self.p

    def backward(self, grad_out):
        scale = self.cache.scale
        if scale is None or self.backward_mask == "none":
            return grad_out
        if self.backward_mask == "redraw":
            return grad_out * self.draw(grad_out.shape) / (1 - self.p)
        return grad_out * (scale != 0 if self.backward_mask == "unscaled" else scale)


def mistaken(**switches) -> type:
    return type("MyDropout", (MyDropout,), switches)


def train_with_early_stopping(model, loss, optimizer, X, y, X_val, y_val, patience, max_epochs, batch_size=10, rng=0):
    """An independent loop: counts the epochs since the last improvement instead of comparing epoch numbers."""
    rng = np.random.default_rng(rng)
    best_loss, best_epoch, best_state, val_losses, waited = np.inf, 0, None, [], 0
    while len(val_losses) < max_epochs and waited < patience:
        nnlib.fit(model, loss, optimizer, X, y, epochs=1, batch_size=batch_size, rng=rng)
        val_losses.append(nnlib.evaluate(model, loss, X_val, y_val)["loss"])
        if val_losses[-1] < best_loss:
            best_loss, best_epoch, best_state, waited = val_losses[-1], len(val_losses), model.state_dict(), 0
        else:
            waited += 1
    model.load_state_dict(best_state)
    return best_epoch, val_losses


def proximal_l1_step(weights, lr, lam):
    for p in weights:
        p.data[...] = np.sign(p.data) * np.maximum(np.abs(p.data) - lr * lam, 0)


@pytest.mark.parametrize(("check", "fn", "exercise"), [
    (check_l2_gradient, l2_gradient, "5.1"), (check_l1_gradient, l1_gradient, "5.2"),
    (check_dropout_forward, dropout_forward, "5.3"), (check_dropout_backward, dropout_backward, "5.4"),
    (check_my_dropout, MyDropout, "5.5"), (check_early_stopping, train_with_early_stopping, "5.6"),
    (check_proximal_l1_step, proximal_l1_step, "5.7"),
])
def test_right_answer_passes_and_stub_waits(check, fn, exercise, capsys):
    out = run(check, fn, capsys)
    assert out.startswith(f"✅ correct — Exercise {exercise}") and out.count("\n") == 1, out
    out = run(check, todo, capsys)
    assert out.startswith(f"⏳ to do — Exercise {exercise}") and "not implemented" in out and out.count("\n") == 1


BUILD_CHECKS = [check_my_dropout, check_early_stopping, check_proximal_l1_step]


@pytest.mark.parametrize("check", BUILD_CHECKS)
def test_a_build_stub_inside_a_class_or_loop_waits(check, capsys):
    class Stub(nnlib.Module):
        def __init__(self, *args, **kwargs):
            self.rng = None

        def forward(self, x):
            raise NotImplementedError("Exercise 5.5: implement forward")

    def stub(*args, **kwargs):
        raise NotImplementedError("Exercise 5.6: implement train_with_early_stopping")

    out = run(check, Stub if check is check_my_dropout else stub, capsys)
    assert out.startswith("⏳ to do — Exercise 5.") and out.count("\n") == 1


@pytest.mark.parametrize("check", BUILD_CHECKS)
def test_a_function_raising_value_error_is_a_failure_with_a_hint(check, capsys):
    def wrong(*args, **kwargs):
        raise ValueError("whatever the exercise")

    out = run(check, wrong, capsys)
    assert out.startswith("❌ not yet — Exercise 5.") and "ValueError: whatever the exercise" in out
    assert out.count("\n") == 2


def test_my_dropout_of_the_wrong_kind_is_a_failure(capsys):
    assert "class MyDropout(Module)" in failure_hint(check_my_dropout, lambda p, rng: np.ones(3), capsys, "5.5")


def test_my_dropout_without_a_backward_is_not_done_yet(capsys):
    class ForwardOnly(nnlib.Module):
        def __init__(self, p=0.5, rng=None):
            self.p, self.rng = p, np.random.default_rng(rng)

        def forward(self, x):
            return x * (self.rng.random(x.shape) >= self.p) / (1 - self.p) if self.training else x

    out = run(check_my_dropout, ForwardOnly, capsys)
    assert out.startswith("⏳ to do — Exercise 5.5") and "ForwardOnly does not implement backward" in out


@pytest.mark.parametrize(("fn", "hint"), [
    (lambda g, w, lam: g + 2 * lam * w, "that is 2λw"),
    (lambda g, w, lam: g + lam * np.sign(w), "L1 penalty"),
    (lambda g, w, lam: g - lam * w, "sign error"),
    (lambda g, w, lam: g + lam * w**2, "λw² is not the derivative"),
    (lambda g, w, lam: lam * w, "total gradient"),
    (lambda g, w, lam: g + w, "return data_grad + lam * w"),
])
def test_l2_gradient_mistakes_get_specific_hints(fn, hint, capsys):
    assert hint in failure_hint(check_l2_gradient, fn, capsys, "5.1")


@pytest.mark.parametrize(("fn", "hint"), [
    (lambda g, w, lam: g + lam * w, "gradient of the L2 penalty"),
    (lambda g, w, lam: g + lam * np.where(w >= 0, 1.0, -1.0), "`w >= 0` makes it +1"),
    (lambda g, w, lam: g + lam * np.where(w > 0, 1.0, -1.0), "`w > 0` makes it −1"),
    (lambda g, w, lam: g + lam * w / np.abs(w), "0/0 = NaN"),
    (lambda g, w, lam: g - lam * np.sign(w), "sign error"),
    (lambda g, w, lam: g + np.sign(w), "multiply sign(w) by the strength"),
    (lambda g, w, lam: lam * np.sign(w), "total gradient"),
    (lambda g, w, lam: g + lam * np.sign(w) / 2, "return data_grad + lam * np.sign(w)"),
])
def test_l1_gradient_mistakes_get_specific_hints(fn, hint, capsys):
    assert hint in failure_hint(check_l1_gradient, fn, capsys, "5.2")


@pytest.mark.parametrize(("fn", "hint"), [
    (lambda x, m, p: x * m, "rescale the kept units"),
    (lambda x, m, p: x * m / p, "not by the drop probability"),
    (lambda x, m, p: x * m * (1 - p), "shrinks the output twice"),
    (lambda x, m, p: x * (1 - m) / (1 - p), "the mask is inverted"),
    (lambda x, m, p: x / (1 - p), "apply the mask"),
    (lambda x, m, p: x * m / (1 + p), "return x * keep_mask / (1 - p)"),
])
def test_dropout_forward_mistakes_get_specific_hints(fn, hint, capsys):
    assert hint in failure_hint(check_dropout_forward, fn, capsys, "5.3")


@pytest.mark.parametrize(("fn", "hint"), [
    (lambda g, m, p: g, "does not pass unchanged"),
    (lambda g, m, p: g * m, "the backward must too"),
    (lambda g, m, p: g / (1 - p), "multiply by keep_mask"),
    (lambda g, m, p: g * m / p, "not by the drop probability"),
    (lambda g, m, p: g * (1 - m) / (1 - p), "the mask is inverted"),
    (lambda g, m, p: -g * m / (1 - p), "the same scaling as the forward pass"),
])
def test_dropout_backward_mistakes_get_specific_hints(fn, hint, capsys):
    assert hint in failure_hint(check_dropout_backward, fn, capsys, "5.4")


@pytest.mark.parametrize(("switches", "stage", "hint"), [
    ({"divide_by": "nothing"}, "1. compared with nnlib.Dropout", "rescale the kept units by 1 / (1 − p)"),
    ({"divide_by": "p"}, "1. compared with nnlib.Dropout", "not by the drop probability p"),
    ({"keep_if": "random < p"}, "1. compared with nnlib.Dropout", "KEPT with probability 1 − p"),
    ({"one_mask": True}, "1. compared with nnlib.Dropout", "draw a NEW mask at every training forward"),
    ({"drop_in_eval": True}, "1. compared with nnlib.Dropout", "in eval mode (self.training is False)"),
    ({"backward_mask": "redraw"}, "2. backward", "never draw a mask in backward"),
    ({"backward_mask": "unscaled"}, "2. backward", "the backward must too"),
    ({"backward_mask": "none"}, "2. backward", "does not pass unchanged"),
])
def test_my_dropout_mistakes_are_named_with_their_stage(switches, stage, hint, capsys):
    out = run(check_my_dropout, mistaken(**switches), capsys)
    assert out.startswith(f"❌ not yet — Exercise 5.5: MyDropout: {stage}") and out.count("\n") == 2, out
    assert hint in out.partition("Hint: ")[2]


def with_training_output(rule) -> type:
    """A MyDropout whose training forward returns ``rule(x, keep, p)`` (its backward stays right)."""
    class Wrong(MyDropout):
        def forward(self, x):
            y = super().forward(x)
            return rule(x, self.first_keep, self.p) if self.training else y

    return Wrong


@pytest.mark.parametrize(("rule", "hint"), [
    (lambda x, keep, p: x * keep * (1 - p), "shrinks the output twice"),
    (lambda x, keep, p: x * ~keep / p, "KEPT with probability 1 − p"),
    (lambda x, keep, p: x * ~keep, "KEPT with probability 1 − p"),
    (lambda x, keep, p: x, "in training mode (self.training is True) dropout drops units"),
    (lambda x, keep, p: x / (1 - p), "the dropped units must output 0"),
])
def test_my_dropout_forward_mistakes_get_specific_hints(rule, hint, capsys):
    assert hint in failure_hint(check_my_dropout, with_training_output(rule), capsys, "5.5")


def test_my_dropout_backward_scaled_by_p_is_named(capsys):
    class ByP(MyDropout):
        def backward(self, grad_out):
            scale = self.cache.scale
            return grad_out if scale is None else grad_out * (scale != 0) / self.p

    assert "not by the drop probability p" in failure_hint(check_my_dropout, ByP, capsys, "5.5")


def test_my_dropout_masking_in_an_eval_backward_is_named(capsys):
    class MasksInEval(MyDropout):
        def backward(self, grad_out):
            if self.cache.scale is None:
                return grad_out * self.first_keep / (1 - self.p)
            return super().backward(grad_out)

    assert "backward returns grad_out unchanged" in failure_hint(check_my_dropout, MasksInEval, capsys, "5.5")


def test_my_dropout_that_only_fails_inside_a_network_is_caught_by_the_plug_in_stage(capsys):
    class WrongOnHiddenUnits(MyDropout):   # drops nothing on the MLP's 16 hidden units
        def draw(self, shape):
            keep = super().draw(shape)
            return np.ones(shape, bool) if shape[-1] == 16 else keep

    out = run(check_my_dropout, WrongOnHiddenUnits, capsys)
    assert out.startswith("❌ not yet — Exercise 5.5: MyDropout: 3. plugged into an MLP") and out.count("\n") == 2


def test_my_dropout_scaled_at_eval_is_named(capsys):
    class ScaledAtEval(MyDropout):
        def forward(self, x):
            return super().forward(x) if self.training else x * (1 - self.p)

    assert "no (1 − p) factor" in failure_hint(check_my_dropout, ScaledAtEval, capsys, "5.5")


def test_my_dropout_with_a_wrong_gradient_fails_gradcheck(capsys):
    class HalfGradient(MyDropout):
        def backward(self, grad_out):
            return super().backward(grad_out) * (0.5 if grad_out.shape == (6, 5) else 1.0)  # the gradcheck's

    out = run(check_my_dropout, HalfGradient, capsys)
    assert out.startswith("❌ not yet — Exercise 5.5: MyDropout: 2. gradcheck") and "above 1e-7" in out


def test_my_dropout_drawing_another_mask_than_nnlib_is_named(capsys):
    class Binomial(MyDropout):
        def draw(self, shape):
            return self.rng.binomial(1, 1 - self.p, shape).astype(bool)

    assert "the same seed gives the same masks" in failure_hint(check_my_dropout, Binomial, capsys, "5.5")


def early_stopping_with(**switches):
    return lambda *args: reference_early_stopping(*args, **switches)


@pytest.mark.parametrize(("switches", "hint"), [
    ({"restore": "last"}, "the model ends with the LAST epoch's weights"),
    ({"patience_offset": 1}, "patience is off by one"),
    ({"patience_offset": -1}, "patience is off by one"),
    ({"criterion": "training"}, "watch the VALIDATION loss"),
    ({"criterion": "fit's training loss"}, "not fit's training loss"),
    ({"criterion": "train mode"}, "eval mode (dropout off)"),
    ({"first_epoch": 0}, "epochs count from 1"),
])
def test_early_stopping_mistakes_get_specific_hints(switches, hint, capsys):
    assert hint in failure_hint(check_early_stopping, early_stopping_with(**switches), capsys, "5.6")


def test_early_stopping_that_aliases_the_parameters_is_named(capsys):
    def aliasing(model, loss, optimizer, X, y, X_val, y_val, patience, max_epochs, batch_size=10, rng=0):
        rng = np.random.default_rng(rng)
        best_loss, best_epoch, best, val_losses = np.inf, 0, None, []
        for epoch in range(1, max_epochs + 1):
            nnlib.fit(model, loss, optimizer, X, y, epochs=1, batch_size=batch_size, rng=rng)
            val_losses.append(nnlib.evaluate(model, loss, X_val, y_val)["loss"])
            if val_losses[-1] < best_loss:
                best_loss, best_epoch = val_losses[-1], epoch
                best = {name: p.data for name, p in model.named_parameters()}   # aliases, not copies
            elif epoch - best_epoch >= patience:
                break
        model.load_state_dict(best)
        return best_epoch, val_losses

    assert "a reference to p.data would change" in failure_hint(check_early_stopping, aliasing, capsys, "5.6")


@pytest.mark.parametrize(("result", "hint"), [
    (None, "return the pair (best_epoch, val_losses)"), (3, "return the pair (best_epoch, val_losses)"),
])
def test_early_stopping_with_a_wrong_return_is_named(result, hint, capsys):
    assert hint in failure_hint(check_early_stopping, lambda *args: result, capsys, "5.6")


def test_early_stopping_reference_runs_cover_stopping_and_running_out():
    """The check's runs stop early with two patiences and run out of epochs once (else they test less)."""
    stops = []
    for seed, p_drop, patience, max_epochs in EARLY_STOPPING_RUNS:
        model, *task = early_stopping_task(seed, p_drop)
        best_epoch, val_losses = reference_early_stopping(model, *task, patience, max_epochs)
        assert val_losses[best_epoch - 1] == min(val_losses)
        stops.append(len(val_losses) == best_epoch + patience)
    assert stops == [True, True, False, True]


@pytest.mark.parametrize(("wrong", "hint"), [
    (lambda w, lr, lam: w - lr * lam * np.sign(w), "subgradient step"),
    (lambda w, lr, lam: np.sign(w) * np.maximum(np.abs(w) - lam, 0), "the threshold is ηλ"),
    (lambda w, lr, lam: w * (np.abs(w) > lr * lam), "hard thresholding"),
    (lambda w, lr, lam: np.maximum(np.abs(w) - lr * lam, 0), "keep each weight's sign"),
])
def test_proximal_l1_step_mistakes_get_specific_hints(wrong, hint, capsys):
    def step(weights, lr, lam):
        for p in weights:
            p.data[...] = wrong(p.data, lr, lam)

    assert hint in failure_hint(check_proximal_l1_step, step, capsys, "5.7")


def test_proximal_l1_step_that_does_not_update_in_place_is_named(capsys):
    def rebinds(weights, lr, lam):
        for p in weights:
            data = p.data
            data = np.sign(data) * np.maximum(np.abs(data) - lr * lam, 0)  # noqa: F841 (the mistake)

    assert "IN PLACE" in failure_hint(check_proximal_l1_step, rebinds, capsys, "5.7")


def test_proximal_l1_step_is_checked_inside_fit(capsys):
    def first_call_only(weights, lr, lam, calls=[]):  # noqa: B006 (counts the calls on purpose)
        calls.append(1)
        if len(calls) <= 3:  # right on the three array cases, then does nothing inside fit
            proximal_l1_step(weights, lr, lam)

    out = run(check_proximal_l1_step, first_call_only, capsys)
    assert out.startswith("❌ not yet — Exercise 5.7 (challenge): proximal_l1_step: 2. inside fit")


def test_a_crashing_answer_is_reported_not_raised(capsys):
    out = run(check_dropout_forward, lambda x, m, p: x[m], capsys)   # indexing with a float mask raises
    assert out.startswith("❌ not yet — Exercise 5.3") and "raised IndexError" in out


def test_answers_that_mutate_their_inputs_still_pass(capsys):
    def in_place_forward(x, keep_mask, p):
        x *= keep_mask
        x /= 1 - p
        return x

    def in_place_l2(data_grad, w, lam):
        data_grad += lam * w
        return data_grad

    # twice: the checks' own cases must not be altered by a learner's in-place update
    outs = [run(check, fn, capsys)[0] for check, fn in [(check_dropout_forward, in_place_forward),
                                                         (check_l2_gradient, in_place_l2)] for _ in range(2)]
    assert outs == ["✅"] * 4


def test_my_dropout_matches_torch_in_expectation_and_eval(torch):
    """Cross-check the convention with PyTorch: inverted dropout keeps the mean and is the identity in eval."""
    x = np.linspace(-1, 1, 20_000)
    layer = MyDropout(0.3, rng=0)
    ours = layer(x)
    theirs = torch.nn.functional.dropout(torch.from_numpy(x), p=0.3, training=True).numpy()
    assert set(np.unique(np.round(ours[ours != 0] / x[ours != 0], 9))) == {round(1 / 0.7, 9)}
    assert set(np.unique(np.round(theirs[theirs != 0] / x[theirs != 0], 9))) == {round(1 / 0.7, 9)}
    assert np.array_equal(layer.eval()(x), torch.nn.functional.dropout(torch.from_numpy(x), 0.3, False).numpy())
