"""The engine behind every check cell: run a learner's function on cases, print a verdict, never raise.

A verdict line opens with a mark and a word: "✅ correct —", "❌ not yet —" or "⏳ to do —", then the check's title.

A check prints exactly one line (plus a hint line on failure) and returns None, so a check cell shows the
same output whether or not it is the cell's last expression.

Grading mode: with the environment variable ``NNLIB_GRADING=1`` (as an autograder such as nbgrader runs the
notebooks) a ❌ or ⏳ verdict raises :class:`CheckFailed`, an ``AssertionError`` whose message is the line that
would have been printed; ✅ still prints and returns. Every check reports through :func:`report`, so every check,
including those added later, honours the switch.
"""

from __future__ import annotations

import copy
import os
from collections.abc import Callable, Iterable, Iterator
from contextlib import contextmanager
from dataclasses import dataclass, field
from typing import Any

import numpy as np

PASSED, FAILED, NOT_DONE = "passed", "failed", "not implemented"
GRADING_ENV = "NNLIB_GRADING"
_GRADING_VALUES = {"1": True, "true": True, "yes": True, "on": True,
                   "": False, "0": False, "false": False, "no": False, "off": False}


class CheckFailed(AssertionError):
    """A check's ❌ or ⏳ verdict in grading mode (``NNLIB_GRADING=1``); the message is the verdict's text."""


def grading() -> bool:
    """True when checks raise instead of printing ❌ / ⏳: the environment variable NNLIB_GRADING is 1 (or true)."""
    value = os.environ.get(GRADING_ENV, "")
    try:
        return _GRADING_VALUES[value.strip().lower()]
    except KeyError:
        raise ValueError(f"{GRADING_ENV}={value!r} is not understood: set it to 1 to grade (checks raise "
                         "AssertionError) or unset it (checks print their verdict)") from None


@contextmanager
def grading_mode() -> Iterator[None]:
    """Grading mode inside the ``with`` block only (NNLIB_GRADING=1), whatever the environment says outside it.

    An autograded test cell wraps its check in it, so the cell scores 0 on ❌ or ⏳ and a learner who runs it
    keeps the printing checks everywhere else.
    """
    previous = os.environ.get(GRADING_ENV)
    os.environ[GRADING_ENV] = "1"
    try:
        yield
    finally:
        if previous is None:
            del os.environ[GRADING_ENV]
        else:
            os.environ[GRADING_ENV] = previous


@dataclass
class Case:
    """One call of the learner's function: its arguments, the expected result, and how to describe it."""

    args: tuple
    expected: Any
    label: str = ""
    kwargs: dict = field(default_factory=dict)

    def describe(self) -> str:
        return self.label or ", ".join(_short(a) for a in self.args)


def _short(value, width: int = 60) -> str:
    text = np.array2string(np.asarray(value), precision=6, separator=", ", threshold=8) \
        if isinstance(value, (np.ndarray, list, tuple)) else repr(value)
    text = " ".join(text.split())
    return text if len(text) <= width else text[: width - 1] + "…"


def compare(expected, got, rtol: float, atol: float) -> str | None:
    """None when ``got`` matches ``expected``; otherwise a sentence saying how it differs."""
    if isinstance(expected, tuple):
        if not isinstance(got, (tuple, list)) or len(got) != len(expected):
            return f"expected a tuple of {len(expected)} values, got {_short(got)}"
        for i, (e, g) in enumerate(zip(expected, got, strict=True)):
            problem = compare(e, g, rtol, atol)
            if problem:
                return f"item {i}: {problem}"
        return None
    if got is None:
        return "got None: did the function forget to `return` its result?"
    try:
        got_array = np.asarray(got, dtype=np.float64)
    except (TypeError, ValueError):
        return f"expected a number or an array, got {type(got).__name__}"
    expected_array = np.asarray(expected, dtype=np.float64)
    if got_array.shape != expected_array.shape:
        return f"expected shape {expected_array.shape}, got shape {got_array.shape}"
    if np.allclose(got_array, expected_array, rtol=rtol, atol=atol, equal_nan=True):
        return None
    difference = f"expected {_short(expected_array)}, got {_short(got_array)}"
    if not np.isfinite(got_array).all() and np.isfinite(expected_array).all():
        return f"{difference}: your result has non-finite values (overflow, or a division by zero?)"
    both_finite = np.isfinite(got_array) & np.isfinite(expected_array)
    if not both_finite.all():
        return difference
    error = np.abs(got_array - expected_array).max()
    scale = np.abs(expected_array).max(initial=0.0)
    return f"{difference} ({'relative' if scale else 'absolute'} error {error / (scale or 1):.1e})"

def evaluate(function: Callable, cases: Iterable[Case], *, rtol: float = 1e-6, atol: float = 1e-9,
             hint: str = "") -> tuple[str, str]:
    """Run ``function`` on every case; return ``(status, message)``. Never raises."""
    name = getattr(function, "__name__", "your function")
    cases = list(cases)
    for case in cases:
        args, kwargs = copy.deepcopy(case.args), copy.deepcopy(case.kwargs)  # learners may mutate inputs
        try:
            got = function(*args, **kwargs)
        except NotImplementedError:
            return NOT_DONE, f"{name} is not implemented yet: replace the `raise NotImplementedError` line."
        except Exception as err:  # a learner's bug is feedback, not a crash
            return FAILED, f"{name}({case.describe()}) raised {type(err).__name__}: {err}"
        problem = compare(case.expected, got, rtol, atol)
        if problem:
            return FAILED, f"{name}({case.describe()}): {problem}" + (f"\n   Hint: {hint}" if hint else "")
    return PASSED, f"{name} is correct on all {len(cases)} test cases."


# A word beside each mark: on a machine without an emoji font the mark alone is an empty box.
SYMBOLS = {PASSED: "✅", FAILED: "❌", NOT_DONE: "⏳"}
WORDS = {PASSED: "correct", FAILED: "not yet", NOT_DONE: "to do"}


def verdict_prefix(status: str) -> str:
    """The mark and the word that open a verdict line, e.g. ``"✅ correct —"``."""
    return f"{SYMBOLS[status]} {WORDS[status]} —"


def report(title: str, status: str, message: str) -> None:
    """Print a check's verdict: one line, plus any hint line. In grading mode ❌ and ⏳ raise :class:`CheckFailed`."""
    verdict = f"{verdict_prefix(status)} {title}: {message}"
    if status != PASSED and grading():
        raise CheckFailed(verdict)
    print(verdict)


def check_cases(title: str, function: Callable, cases: Iterable[Case], **options) -> None:
    """Evaluate ``function`` on ``cases`` and print the verdict (see :func:`evaluate`)."""
    report(title, *evaluate(function, cases, **options))


def check_with_diagnosis(title: str, function: Callable, cases: list[Case],
                         mistakes: list[tuple[Callable, str]], hint: str) -> None:
    """Like :func:`check_cases`, but a failure's hint names the typical mistake that reproduces the answer.

    Args:
        mistakes: ``(wrong_function, explanation)`` pairs; a wrong function takes a case's arguments and
            returns what that mistake would return. The first whose results the learner's match exactly
            gives the hint; ``hint`` is the fallback.
    """
    status, message = evaluate(function, cases)
    if status == FAILED:
        for wrong, why in mistakes:
            wrong_cases = [Case(case.args, wrong(*case.args), case.label, case.kwargs) for case in cases]
            if evaluate(function, wrong_cases)[0] == PASSED:
                hint = why
                break
        message += f"\n   Hint: {hint}"
    report(title, status, message)
