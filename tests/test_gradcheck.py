"""The gradient checker itself must be able to fail: a wrong backward has to be caught."""

import numpy as np
import pytest

from nnlib import GradcheckError, InputError, Linear, Module
from nnlib.gradcheck import check_derivative, check_gradient, gradcheck, numerical_gradient, relative_error


class WrongBackward(Linear):
    """A Linear layer whose input gradient is off by a factor of two: gradcheck must catch it."""

    def backward(self, grad_out):
        return 2 * super().backward(grad_out)


def test_relative_error_properties():
    a = np.array([1.0, 2.0])
    assert relative_error(a, a) == 0.0 and relative_error(np.zeros(2), np.zeros(2)) == 0.0
    assert relative_error(a, -a) == pytest.approx(1.0)
    with pytest.raises(InputError, match="shapes differ"):
        relative_error(a, np.ones(3))


def test_numerical_gradient_of_a_quadratic_and_x_is_restored():
    x = np.array([[1.0, -2.0], [0.5, 3.0]])
    before = x.copy()
    grad = numerical_gradient(lambda: float(np.sum(x ** 2)), x)
    np.testing.assert_allclose(grad, 2 * before, rtol=1e-8)
    np.testing.assert_array_equal(x, before)


def test_numerical_gradient_refuses_float32():
    with pytest.raises(InputError, match="float64"):
        numerical_gradient(lambda: 0.0, np.ones(2, np.float32))


@pytest.mark.gradcheck
def test_check_derivative_and_check_gradient_tell_right_from_wrong():
    x = np.linspace(-2, 2, 7)
    assert check_derivative(np.sin, np.cos, x) < 1e-8
    assert check_derivative(np.sin, lambda z: -np.cos(z), x) > 0.5
    assert check_gradient(lambda v: np.sum(v ** 3), lambda v: 3 * v ** 2, x) < 1e-8


@pytest.mark.gradcheck
def test_gradcheck_passes_a_correct_layer_and_reports_every_tensor(rng):
    errors = gradcheck(Linear(3, 2, rng=0, dtype=np.float64), rng.standard_normal((4, 3)))
    assert set(errors) == {"input0", "weight", "bias"} and max(errors.values()) < 1e-7


@pytest.mark.gradcheck
def test_gradcheck_catches_a_wrong_backward(rng):
    with pytest.raises(GradcheckError, match=r"input0: [0-9.e+-]+"):
        gradcheck(WrongBackward(3, 2, rng=0, dtype=np.float64), rng.standard_normal((4, 3)))


@pytest.mark.gradcheck
def test_gradcheck_skips_frozen_parameters(rng):
    layer = Linear(3, 2, rng=0, dtype=np.float64)
    layer.weight.requires_grad = False
    assert "weight" not in gradcheck(layer, rng.standard_normal((2, 3)))


def test_gradcheck_demands_float64(rng):
    with pytest.raises(InputError, match="dtype=np.float64"):
        gradcheck(Linear(3, 2, rng=0), rng.standard_normal((2, 3)).astype(np.float32))


def test_module_without_forward_says_so():
    with pytest.raises(NotImplementedError, match="Module does not implement forward"):
        Module()(np.ones(1))
