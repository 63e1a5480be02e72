"""Input validation shared by every layer, loss and helper.

Every check names *who* complained (a layer's repr, or a function name) and states what was expected
and what was received, so that a learner never has to decode a NumPy broadcasting error. Layers pass themselves as
``who``: their repr is only built when a message is, not on every forward pass.
"""

from __future__ import annotations

import numbers
import os

import numpy as np


class InputError(ValueError):
    """Bad input to an nnlib layer, loss or function. The message names the culprit and the expectation."""


class DTypeError(InputError, TypeError):
    """An array of the wrong dtype (integer, complex, object, or float32/float64 mismatch)."""


def as_rng(rng, who="rng") -> np.random.Generator:
    """Turn ``None``, an int seed or a ``np.random.Generator`` into a Generator (never global state)."""
    if isinstance(rng, np.random.Generator):
        return rng
    if isinstance(rng, numbers.Integral) and not isinstance(rng, bool) and rng < 0:
        raise InputError(f"{who}: a seed must be an int ≥ 0, got {rng}")
    if rng is None or (isinstance(rng, numbers.Integral) and not isinstance(rng, bool)):
        return np.random.default_rng(rng)
    raise TypeError(f"{who}: expected None, an int seed or a numpy.random.Generator, got {type(rng).__name__}")


def _memory_bytes() -> int:
    """This machine's physical memory (POSIX), or 16 GiB where the system does not say."""
    try:
        return os.sysconf("SC_PHYS_PAGES") * os.sysconf("SC_PAGE_SIZE")
    except (AttributeError, ValueError, OSError):
        return 16 << 30


def check_fits_in_memory(shape: tuple, who, what: str, itemsize: int = 8) -> None:
    """Refuse up front an array of ``shape`` that could not fit in memory, saying how much it would need.

    ``itemsize`` is the bytes per element while it is built (8: random values are drawn in float64).
    """
    needed = int(np.prod([int(n) for n in shape], dtype=object)) * itemsize
    if needed > _memory_bytes():
        raise InputError(f"{who}: {what} of shape {tuple(shape)} would need {needed / 2**30:,.1f} GiB, more than this "
                         f"machine's {_memory_bytes() / 2**30:.1f} GiB of memory; choose smaller sizes")


def check_positive_int(value, who, name: str) -> int:
    """Return ``value`` as an int, or raise if it is not a whole number ≥ 1."""
    if isinstance(value, bool) or not isinstance(value, numbers.Integral) or value < 1:
        raise InputError(f"{who}: {name} must be a positive integer, got {value!r}")
    return int(value)


def check_bool(value, who, name: str) -> bool:
    """Return ``value`` if it is True or False; strings such as ``"no"`` would otherwise count as true."""
    if not isinstance(value, (bool, np.bool_)):
        raise InputError(f"{who}: {name} must be True or False, got {value!r}")
    return bool(value)


def check_real(value, who, name: str, ok=None, expected: str = "a finite real number") -> float:
    """Return ``value`` as a float if it is a finite real number (not a bool) for which ``ok(value)`` holds."""
    if (isinstance(value, bool) or not isinstance(value, numbers.Real) or not np.isfinite(value)
            or (ok is not None and not ok(value))):
        raise InputError(f"{who}: {name} must be {expected}, got {value!r}")
    return float(value)


def check_float_dtype(dtype, who) -> np.dtype:
    """Return ``np.dtype(dtype)`` if it is float32 or float64, else raise."""
    try:
        dtype = np.dtype(dtype)
    except TypeError as err:
        raise DTypeError(f"{who}: dtype must be float32 or float64, got {dtype!r}") from err
    if dtype not in (np.float32, np.float64):
        raise DTypeError(f"{who}: dtype must be float32 or float64, got {dtype}")
    return dtype


def as_array(x, who, name: str = "input", expected: str = "an array") -> np.ndarray:
    """``np.asarray(x)``, or an error naming ``who`` when ``x`` is None or a ragged nested list."""
    if x is None:
        raise DTypeError(f"{who}: {name} must be {expected}, got None")
    try:
        return np.asarray(x)
    except ValueError as err:  # NumPy's "inhomogeneous shape": rows of different lengths
        raise InputError(f"{who}: {name} must be {expected}, got a ragged {type(x).__name__} (its rows differ in "
                         f"length)") from err


def check_array(x, who, *, name: str = "input", ndim=None, shape=None, dtype=None,
                finite: bool = False) -> np.ndarray:
    """Validate a floating-point array and return it as an ndarray (no copy when already one).

    Args:
        ndim: an int, or a tuple of allowed ints.
        shape: expected shape; ``None`` entries match any size. Its length also fixes ``ndim``.
        dtype: the exact dtype required (a layer's parameter dtype); ``None`` accepts float32/float64.
        finite: also reject NaN and ±inf (costs one pass over ``x``).
    """
    if type(x) is not np.ndarray:  # the test alone: check_array runs several times per training step
        x = as_array(x, who, name, "a floating-point array")
    if x.dtype not in (np.float32, np.float64):
        target = np.dtype(np.float32 if dtype is None else dtype)
        kind = "a float32 or float64" if x.dtype.kind == "f" else "a floating-point"
        raise DTypeError(f"{who}: {name} must be {kind} array, got dtype {x.dtype}"
                         + (f" — convert it with .astype(np.{target})" if x.dtype.kind in "iubf" else ""))
    if dtype is not None and x.dtype != dtype:
        raise DTypeError(f"{who}: {name} has dtype {x.dtype} but the layer's parameters are {np.dtype(dtype)}; "
                         f"convert it with .astype(np.{np.dtype(dtype)}) or build the layer with dtype=np.{x.dtype}")
    if ndim is not None:
        allowed = (ndim,) if isinstance(ndim, int) else tuple(ndim)
        if x.ndim not in allowed:
            want = " or ".join(f"{n}-D" for n in allowed)
            raise InputError(f"{who}: {name} must be {want}, got shape {x.shape}")
    if shape is not None and x.shape != shape:
        if x.ndim != len(shape) or any(s is not None and s != d for s, d in zip(shape, x.shape, strict=True)):
            want = "(" + ", ".join("N" if s is None else str(s) for s in shape) + ("," if len(shape) == 1 else "") + ")"
            raise InputError(f"{who}: {name} must have shape {want}, got {x.shape}")
    if finite and not np.logical_and.reduce(np.isfinite(x), axis=None):  # the test inlined: it runs at every step
        check_finite(x, who, name)
    return x


def check_features(x, who, in_features: int, dtype) -> np.ndarray:
    """Validate the input of a feature-mapping layer: shape (N, in_features) or (N, ..., in_features) with N ≥ 1
    (no empty axis), the layer's parameter dtype, finite values."""
    x = check_array(x, who, dtype=dtype, finite=True)
    if x.ndim < 2 or x.shape[-1] != in_features or 0 in x.shape:
        raise InputError(f"{who}: input must have shape (N, {in_features}) (or (N, ..., {in_features})) with no "
                         f"empty axis, got {x.shape}")
    return x


def check_images(x, who, channels: int | None, dtype=None) -> np.ndarray:
    """Validate a batch of images: shape (N, channels, H, W) (any channel count when None), the expected dtype,
    finite values. A 3-D input gets the fix that fits it: ``x[None]`` for one image, ``x[:, None]`` for a batch of
    one-channel images."""
    x = check_array(x, who, dtype=dtype, finite=True)
    c = "C" if channels is None else channels
    if x.ndim != 4 or (channels is not None and x.shape[1] != channels) or 0 in x.shape:
        raise InputError(f"{who}: input must have shape (N, {c}, H, W) with N, H, W ≥ 1, got {x.shape}"
                         + (_image_fix(x.shape, channels) if x.ndim == 3 else ""))
    return x


def _image_fix(shape: tuple, channels: int | None) -> str:
    one_image = channels is None or shape[0] == channels
    one_channel = channels in (None, 1)
    fixes = ([f"one image ({shape[0]} channels)? add the batch axis with x[None]"] if one_image else []) + \
        (["a batch of one-channel images? add the channel axis with x[:, None]"] if one_channel else [])
    return "".join(f" — {fix}" for fix in fixes)


def check_finite(x: np.ndarray, who, name: str = "input") -> None:
    """Raise if ``x`` holds NaN or ±inf."""
    finite = np.isfinite(x)
    # not finite.all(): on the small arrays of a training step its Python wrapper costs more than the test itself
    if not np.logical_and.reduce(finite, axis=None):
        raise InputError(f"{who}: {name} contains {int(np.isnan(x).sum())} NaN and "
                         f"{int(np.isinf(x).sum())} infinite values out of {x.size} (first at index "
                         f"{tuple(int(i) for i in np.argwhere(~finite)[0])}); expected finite values only")


def check_grad(grad_out, expected_shape: tuple, who, dtype=None, output_dtype=None) -> np.ndarray:
    """Validate the upstream gradient given to ``backward``: same shape as the forward output.

    ``dtype`` is the layer's parameter dtype; a parameter-free layer passes ``output_dtype``, its forward output's.
    """
    name = "grad_out (dL/d output)"
    grad_out = check_array(grad_out, who, name=name, shape=tuple(expected_shape), dtype=dtype)
    if output_dtype is not None and grad_out.dtype != output_dtype:
        raise DTypeError(f"{who}: {name} has dtype {grad_out.dtype} but the forward output was "
                         f"{np.dtype(output_dtype)}; convert it with .astype(np.{np.dtype(output_dtype)})")
    return grad_out


def check_axis(x: np.ndarray, axis, who: str) -> int:
    """Return ``axis`` if it is an int that indexes one of ``x``'s dimensions, else raise."""
    if isinstance(axis, bool) or not isinstance(axis, numbers.Integral):
        raise InputError(f"{who}: axis must be an int, got {axis!r}")
    if not -x.ndim <= axis < x.ndim:
        raise InputError(f"{who}: axis {axis} is out of range for an input with shape {x.shape} ({x.ndim} dimensions)")
    if x.shape[axis] == 0:
        raise InputError(f"{who}: axis {axis} must have length ≥ 1, got an input with shape {x.shape}")
    return int(axis)
