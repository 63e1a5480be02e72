"""The shared validators: each error names who complained, what was expected and what was received."""

import numpy as np
import pytest

from nnlib._checks import (
    DTypeError,
    InputError,
    as_rng,
    check_array,
    check_finite,
    check_float_dtype,
    check_positive_int,
)


def test_as_rng_accepts_seed_generator_and_none():
    gen = np.random.default_rng(3)
    assert as_rng(gen) is gen
    assert as_rng(7).random() == np.random.default_rng(7).random()
    assert isinstance(as_rng(None), np.random.Generator)


@pytest.mark.parametrize("bad", [1.5, "3", True, np.random.RandomState(0)])
def test_as_rng_rejects_everything_else(bad):
    with pytest.raises(TypeError, match="Generator"):
        as_rng(bad, "Layer")


@pytest.mark.parametrize("value", [0, -2, 2.0, True, None])
def test_check_positive_int(value):
    with pytest.raises(InputError, match="Layer: size must be a positive integer"):
        check_positive_int(value, "Layer", "size")


@pytest.mark.parametrize("dtype", [np.int64, np.float16, np.complex64, "banana"])
def test_check_float_dtype_rejects(dtype):
    with pytest.raises(DTypeError, match="float32 or float64"):
        check_float_dtype(dtype, "Layer")


@pytest.mark.parametrize("x, kwargs, message", [
    (np.ones(3, int), {}, r"floating-point array, got dtype int64 — convert it with \.astype"),
    (np.ones(3, complex), {}, "floating-point array, got dtype complex128"),
    (np.array([object()]), {}, "floating-point array, got dtype object"),
    (np.ones(3, np.float32), {"dtype": np.float64}, "has dtype float32 but the layer's parameters are float64"),
    (np.ones((2, 3)), {"ndim": (3, 4)}, "must be 3-D or 4-D, got shape"),
    (np.ones((2, 3)), {"shape": (None, 4)}, r"must have shape \(N, 4\), got \(2, 3\)"),
    (np.array([1.0, np.inf]), {"finite": True}, r"0 NaN and 1 infinite values out of 2 \(first at index \(1,\)\)"),
])
def test_check_array_messages(x, kwargs, message):
    with pytest.raises(InputError, match=message):
        check_array(x, "Layer", **kwargs)


def test_dtype_errors_are_both_value_and_type_errors():
    assert issubclass(DTypeError, ValueError) and issubclass(DTypeError, TypeError)


def test_check_finite_has_no_false_alarm_when_the_fast_sum_overflows():
    huge = np.full(4, np.finfo(np.float32).max, np.float32)
    check_finite(huge, "Layer")  # the sum is inf, yet every value is finite
