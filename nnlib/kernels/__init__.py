"""Speed paths, kept apart from the reference layers that the lessons teach.

Every layer in :mod:`nnlib.layers` is written as its lesson derives it. Where a tuned computation is measurably
faster, it lives in this package instead, one module per layer family, each function documented with what it
speeds up, what it assumes and the measurement that justified it. Layers call a kernel only when
:func:`fast_kernels_enabled` is true, and tests run both roads and compare them.

``nnlib.use_fast_kernels(False)`` runs everything on the reference code, globally or in a ``with`` block; the
environment variable ``NNLIB_FAST_KERNELS=0`` starts every process that way (a whole test run, a notebook kernel).
"""

from __future__ import annotations

import os

from .._checks import InputError

__all__ = ["use_fast_kernels", "fast_kernels_enabled"]


class _Switch:
    enabled = os.environ.get("NNLIB_FAST_KERNELS", "1").strip() != "0"


_switch = _Switch()


def fast_kernels_enabled() -> bool:
    """Whether layers take their fast kernels (the default) rather than the reference code."""
    return _switch.enabled


class use_fast_kernels:
    """Switch the fast kernels on or off: at once when called, and back to the previous setting after a ``with``.

    Examples::

        >>> import nnlib
        >>> with nnlib.use_fast_kernels(False):
        ...     nnlib.fast_kernels_enabled()
        False
        >>> nnlib.fast_kernels_enabled()
        True
    """

    def __init__(self, enabled: bool = True):
        if not isinstance(enabled, bool):
            raise InputError(f"use_fast_kernels: enabled must be True or False, got {enabled!r}")
        self.previous = _switch.enabled
        _switch.enabled = enabled

    def __enter__(self) -> use_fast_kernels:
        return self

    def __exit__(self, *exc) -> None:
        _switch.enabled = self.previous
