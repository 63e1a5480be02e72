"""Losses: gradients, PyTorch, stability at extreme logits, the float/grad_out contract, and bad input."""

import warnings

import numpy as np
import pytest

from nnlib import BCEWithLogitsLoss, CrossEntropyLoss, DTypeError, InputError, MSELoss, SquaredError, gradcheck


def _regression(rng, shape, dtype):
    return rng.standard_normal(shape).astype(dtype), rng.standard_normal(shape).astype(dtype)


def _binary(rng, shape, dtype):
    return 3 * rng.standard_normal(shape).astype(dtype), rng.uniform(0, 1, shape).astype(dtype)


def _classes(rng, shape, dtype):
    return 3 * rng.standard_normal(shape).astype(dtype), rng.integers(0, shape[-1], shape[:-1])


# name -> (factory, data(rng, shape, dtype) -> (pred, target), torch twin(torch, pred, target) -> loss tensor)
LOSSES = {
    "SquaredError": (SquaredError, _regression,
                     lambda torch, p, t: 0.5 * torch.nn.functional.mse_loss(p, t, reduction="sum")),
    **{f"MSELoss({r})": (lambda r=r: MSELoss(reduction=r), _regression,
                         lambda torch, p, t, r=r: torch.nn.functional.mse_loss(p, t, reduction=r))
       for r in ("mean", "sum")},
    **{f"BCEWithLogitsLoss({r})": (lambda r=r: BCEWithLogitsLoss(reduction=r), _binary,
                                   lambda torch, p, t, r=r: torch.nn.functional.binary_cross_entropy_with_logits(
                                       p, t, reduction=r))
       for r in ("mean", "sum")},
    # torch wants the class axis second: (N, C, ...)
    **{f"CrossEntropyLoss({r})": (lambda r=r: CrossEntropyLoss(reduction=r), _classes,
                                  lambda torch, p, t, r=r: torch.nn.functional.cross_entropy(
                                      torch.movedim(p, -1, 1), t, reduction=r))
       for r in ("mean", "sum")},
}
SHAPES = [(1, 3), (4, 5), (2, 3, 4)]


def _setup(name, rng, shape=(4, 5), dtype=np.float64):
    factory, data, twin = LOSSES[name]
    return factory(), *data(rng, shape, dtype), twin


@pytest.mark.gradcheck
@pytest.mark.parametrize("shape", SHAPES, ids=str)
@pytest.mark.parametrize("name", LOSSES)
def test_gradcheck(rng, name, shape):
    loss, pred, target, _ = _setup(name, rng, shape)
    assert set(gradcheck(loss, pred, target, tol=1e-7)) == {"input0"}


@pytest.mark.parametrize("grad_out", [1.0, 2.5])
@pytest.mark.parametrize("shape", SHAPES, ids=str)
@pytest.mark.parametrize("name", LOSSES)
def test_matches_torch(torch, rng, name, shape, grad_out):
    loss, pred, target, twin = _setup(name, rng, shape)
    value = loss(pred, target)
    grad = loss.backward(grad_out)
    pt = torch.tensor(pred, requires_grad=True)
    expected = twin(torch, pt, torch.tensor(target))
    (grad_out * expected).backward()
    np.testing.assert_allclose(value, expected.item(), rtol=1e-6)
    np.testing.assert_allclose(grad, pt.grad.numpy(), rtol=1e-6, atol=1e-12)


def test_squared_error_follows_the_notes():
    """E_total = Σ ½(t − a)² and dE/da = −(t − a)."""
    output, target = np.array([[0.75, 0.77]]), np.array([[0.01, 0.99]])
    loss = SquaredError()
    assert loss(output, target) == pytest.approx(0.5 * (0.01 - 0.75) ** 2 + 0.5 * (0.99 - 0.77) ** 2)
    np.testing.assert_allclose(loss.backward(), -(target - output))


@pytest.mark.parametrize("dtype", [np.float32, np.float64])
@pytest.mark.parametrize("name", LOSSES)
def test_returns_float_and_gradient_in_pred_dtype(rng, name, dtype):
    loss, pred, target, _ = _setup(name, rng, dtype=dtype)
    value = loss(pred, target)
    grad = loss.backward()
    assert type(value) is float
    assert grad.shape == pred.shape and grad.dtype == dtype
    loss(pred, target)  # each forward is backpropagated once
    np.testing.assert_allclose(loss.backward(np.float32(3.0)), 3 * grad, rtol=1e-6)


# --- stability -------------------------------------------------------------------------------------

@pytest.mark.parametrize("dtype", [np.float32, np.float64])
@pytest.mark.parametrize(("loss", "logits", "target", "expected"), [
    (CrossEntropyLoss(reduction="sum"), [[1000.0, -1000.0], [1000.0, -1000.0]], [0, 1], 2000.0),
    (CrossEntropyLoss(), [[1000.0, 1000.0, -1000.0]], [2], 2000.0 + np.log(2)),
    (BCEWithLogitsLoss(reduction="sum"), [1000.0, -1000.0, 1000.0, -1000.0], [1.0, 0.0, 0.0, 1.0], 2000.0),
    (BCEWithLogitsLoss(reduction="sum"), [1e4, -1e4], [0.5, 0.5], 1e4),
], ids=["ce-sum", "ce-mean", "bce", "bce-1e4"])
def test_extreme_logits_are_finite_without_warnings(loss, logits, target, expected, dtype):
    logits, target = np.array(logits, dtype=dtype), np.asarray(target)
    if target.dtype.kind == "f":
        target = target.astype(dtype)
    with warnings.catch_warnings(), np.errstate(all="raise", under="ignore"):
        warnings.simplefilter("error")
        value = loss(logits, target)
        grad = loss.backward()
    assert value == pytest.approx(expected, rel=1e-6)
    assert grad.dtype == dtype and np.all(np.isfinite(grad))


# --- bad input ----------------------------------------------------------------------------------------

def test_integer_target_of_a_regression_loss_is_converted():
    loss = MSELoss()
    pred = np.array([[0.5], [0.25]], dtype=np.float32)
    assert loss(pred, np.array([[1], [0]])) == pytest.approx((0.25 + 0.0625) / 2)
    assert loss.backward().dtype == np.float32


LOGITS = np.zeros((4, 3))
BAD_INPUTS = {
    # id: (loss, pred, target, error, message after the loss's name)
    "ce-float-labels": (CrossEntropyLoss(), LOGITS, np.zeros(4), DTypeError, "integer class labels, got dtype float64"),
    "ce-bool-labels": (CrossEntropyLoss(), LOGITS, np.zeros(4, dtype=bool), DTypeError,
                       "integer class labels, got dtype bool"),
    "ce-label-too-big": (CrossEntropyLoss(), LOGITS, np.array([0, 1, 3, 2]), InputError,
                         r"in \[0, 3\), got values in \[0, 3\]"),
    "ce-negative-label": (CrossEntropyLoss(), LOGITS, np.array([0, -1, 2, 2]), InputError,
                          r"in \[0, 3\), got values in \[-1, 2\]"),
    "ce-label-shape": (CrossEntropyLoss(), LOGITS, np.zeros((4, 1), dtype=int), InputError,
                       r"shape \(4,\) .* got \(4, 1\)"),
    "ce-1d-logits": (CrossEntropyLoss(), np.zeros(3), np.array(0), InputError, r"logits must have shape \(N, C\)"),
    "ce-int-logits": (CrossEntropyLoss(), LOGITS.astype(int), np.zeros(4, dtype=int), DTypeError,
                      "floating-point array"),
    "mse-shape": (MSELoss(), np.zeros((4, 1)), np.zeros(4), InputError, r"prediction's shape \(4, 1\), got \(4,\)"),
    "se-string-target": (SquaredError(), np.zeros(2), np.array(["a", "b"]), DTypeError, "real-valued array"),
    "se-inf-target": (SquaredError(), np.zeros(2), np.array([0.0, np.inf]), InputError,
                      "target contains 0 NaN and 1 infinite"),
    "bce-target-range": (BCEWithLogitsLoss(), np.zeros(2), np.array([0.0, 2.0]), InputError,
                         r"probabilities in \[0, 1\]"),
}


@pytest.mark.parametrize(("loss", "pred", "target", "error", "pattern"), BAD_INPUTS.values(), ids=BAD_INPUTS)
def test_bad_input_names_the_loss(loss, pred, target, error, pattern):
    with pytest.raises(error, match=f"^{type(loss).__name__}.*{pattern}"):
        loss(pred, target)


@pytest.mark.parametrize("bad", [np.nan, np.inf, -np.inf])
@pytest.mark.parametrize("name", LOSSES)
def test_non_finite_pred_names_the_loss(rng, name, bad):
    loss, pred, target, _ = _setup(name, rng)
    pred[1, 2] = bad
    with pytest.raises(InputError, match=rf"^{type(loss).__name__}.*pred .*contains .*first at index \(1, 2\)"):
        loss(pred, target)


@pytest.mark.parametrize("factory", [MSELoss, CrossEntropyLoss, BCEWithLogitsLoss])
@pytest.mark.parametrize("reduction", ["none", "Mean", None])
def test_bad_reduction_names_the_loss(factory, reduction):
    with pytest.raises(InputError, match=f"^{factory.__name__}: reduction must be 'mean' or 'sum', got"):
        factory(reduction=reduction)


@pytest.mark.parametrize("name", LOSSES)
def test_backward_before_forward_names_the_loss(name):
    loss = LOSSES[name][0]()
    with pytest.raises(RuntimeError, match=f"^{type(loss).__name__}.*backward called before forward"):
        loss.backward()


@pytest.mark.parametrize("grad_out", [np.ones(2), "1", None])
def test_non_scalar_grad_out_names_the_loss(rng, grad_out):
    loss, pred, target, _ = _setup("CrossEntropyLoss(mean)", rng)
    loss(pred, target)
    with pytest.raises(InputError, match=r"^CrossEntropyLoss\(reduction='mean'\): grad_out must be a real scalar"):
        loss.backward(grad_out)
