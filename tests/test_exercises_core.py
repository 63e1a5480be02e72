"""nnlib.exercises._core: the engine behind every check cell prints ✅ / ❌ / ⏳ and never raises."""

import numpy as np
import pytest

from nnlib.exercises._core import FAILED, NOT_DONE, PASSED, Case, check_cases, check_with_diagnosis, evaluate

X = np.array([[1.0, -2.0, 3.0]])
CASES = [Case((X,), 2 * X), Case((np.zeros(2),), np.zeros(2), label="zeros")]


def double(x):
    return 2 * x


def todo(x):
    raise NotImplementedError("Exercise 9.1: implement double")


def printed(capsys, fn, cases=CASES, **options) -> str:
    """What check_cases prints (it returns None, so a check cell shows the same output either way)."""
    assert check_cases("Exercise 9.1", fn, cases, **options) is None
    return capsys.readouterr().out


def test_correct_function_passes(capsys):
    assert evaluate(double, CASES) == (PASSED, "double is correct on all 2 test cases.")
    assert printed(capsys, double) == "✅ correct — Exercise 9.1: double is correct on all 2 test cases.\n"


def test_wrong_result_shows_input_expected_got_and_hint(capsys):
    def off_by_one(x):
        return 2 * x + 1

    out = printed(capsys, off_by_one, hint="multiply by two")
    first, hint = out.splitlines()
    assert first == ("❌ not yet — Exercise 9.1: off_by_one([[ 1., -2., 3.]]): expected [[ 2., -4., 6.]], "
                     "got [[ 3., -3., 7.]] (relative error 1.7e-01)")
    assert hint == "   Hint: multiply by two"


def test_case_label_replaces_the_input_description():
    status, message = evaluate(lambda x: x + 1, CASES[1:])
    assert status == FAILED and message.startswith("<lambda>(zeros): expected")


@pytest.mark.parametrize("error", [ValueError("bad shape"), ZeroDivisionError("division by zero"), KeyError("w")])
def test_exceptions_are_feedback_not_crashes(capsys, error):
    def broken(x):
        raise error

    out = printed(capsys, broken)
    assert out == f"❌ not yet — Exercise 9.1: broken([[ 1., -2., 3.]]) raised {type(error).__name__}: {error}\n"


def test_not_callable_is_feedback(capsys):
    out = printed(capsys, None)
    assert out.startswith("❌ not yet — Exercise 9.1: your function(") and "TypeError" in out


def test_not_implemented_waits(capsys):
    assert evaluate(todo, CASES)[0] == NOT_DONE
    out = printed(capsys, todo)
    assert out == ("⏳ to do — Exercise 9.1: todo is not implemented yet: "
                   "replace the `raise NotImplementedError` line.\n")


def test_shape_mismatch_is_named():
    status, message = evaluate(lambda x: (2 * x).ravel(), CASES[:1])
    assert status == FAILED and message.endswith("expected shape (1, 3), got shape (3,)")


def test_non_numeric_result_is_named():
    status, message = evaluate(lambda x: "twice", CASES[:1])
    assert status == FAILED and "expected a number or an array, got str" in message


@pytest.mark.parametrize(("got", "expected", "status"), [
    (np.array([1.0, np.nan]), np.array([1.0, 2.0]), FAILED),
    (np.array([np.inf, 2.0]), np.array([1.0, 2.0]), FAILED),
    (np.array([np.inf, np.nan]), np.array([np.inf, np.nan]), PASSED),
    (np.array([-np.inf, 2.0]), np.array([np.inf, 2.0]), FAILED),
], ids=["nan", "inf", "expected-non-finite", "wrong-sign-inf"])
def test_non_finite_results(got, expected, status):
    result, message = evaluate(lambda: got, [Case((), expected)])
    assert result == status
    if status == FAILED and np.isfinite(expected).all():
        assert "non-finite" in message


@pytest.mark.parametrize(("result", "problem"), [
    ((np.ones(2), 3.0), None),
    ((np.ones(2), 4.0), "item 1: expected 3., got 4."),
    ((np.ones(3), 3.0), "item 0: expected shape (2,), got shape (3,)"),
    ([np.ones(2), 3.0], None),
    ((np.ones(2),), "expected a tuple of 2 values"),
    (np.ones(2), "expected a tuple of 2 values"),
], ids=["right", "wrong-item", "wrong-shape", "list-ok", "too-short", "not-a-tuple"])
def test_tuple_results(result, problem):
    status, message = evaluate(lambda: result, [Case((), (np.ones(2), 3.0))])
    assert (status, problem is None) == ((PASSED, True) if problem is None else (FAILED, False))
    if problem:
        assert problem in message


def test_inputs_are_copied_for_every_case():
    shared = np.array([1.0, 2.0])

    def doubles_in_place(x):
        x *= 2
        return x

    cases = [Case((shared,), 2 * shared), Case((shared,), 2 * shared)]
    assert evaluate(doubles_in_place, cases)[0] == PASSED  # the second case still sees [1, 2]
    np.testing.assert_array_equal(shared, [1.0, 2.0])


def test_kwargs_are_passed_and_copied():
    options = {"scale": [3.0]}

    def scaled(x, scale):
        scale.append(0.0)
        return x * scale[0]

    cases = [Case((np.ones(2),), 3 * np.ones(2), kwargs=options)] * 2
    assert evaluate(scaled, cases)[0] == PASSED
    assert options == {"scale": [3.0]}


@pytest.mark.parametrize(("error", "options", "status"), [
    (1e-8, {}, PASSED), (1e-4, {}, FAILED), (1e-4, {"rtol": 1e-3}, PASSED), (1e-4, {"atol": 1e-3}, PASSED),
], ids=["within-default", "beyond-default", "rtol", "atol"])
def test_tolerances(error, options, status):
    assert evaluate(lambda: 1.0 + error, [Case((), 1.0)], **options)[0] == status


def test_first_failing_case_is_reported_and_later_ones_are_not_run():
    calls = []

    def record(x):
        calls.append(x)
        return x

    status, message = evaluate(record, [Case((1.0,), 1.0), Case((2.0,), 5.0), Case((3.0,), 3.0)])
    assert status == FAILED and message.startswith("record(2.0): expected 5., got 2.")
    assert calls == [1.0, 2.0]


def test_long_inputs_are_abbreviated():
    status, message = evaluate(lambda x: x, [Case((np.arange(1000.0),), np.zeros(1000))])
    description = message.split(": expected")[0]
    assert status == FAILED and "..." in description and len(description) < 80


def test_forgotten_return_is_named():
    def no_return(x):
        2 * x

    status, message = evaluate(no_return, CASES)
    assert status == FAILED and "None" in message


def test_all_zero_expected_reports_an_absolute_error():
    status, message = evaluate(lambda: np.array([0.0, 0.5]), [Case((), np.zeros(2))])
    assert status == FAILED and "absolute error 5.0e-01" in message


@pytest.mark.parametrize(("answer", "expected_hint"), [
    (lambda x: 3 * x, "tripled instead of doubled"),
    (lambda x: x + 1, "double every entry"),
], ids=["known-mistake", "fallback-hint"])
def test_check_with_diagnosis_names_the_mistake_that_reproduces_the_answer(capsys, answer, expected_hint):
    mistakes = [(lambda x: x, "returned the input unchanged"), (lambda x: 3 * x, "tripled instead of doubled")]
    check_with_diagnosis("Exercise 9.1", answer, CASES, mistakes, hint="double every entry")
    out = capsys.readouterr().out
    assert out.startswith("❌ not yet — Exercise 9.1") and out.rstrip().endswith(f"Hint: {expected_hint}")


def test_check_with_diagnosis_passes_and_waits_like_check_cases(capsys):
    check_with_diagnosis("Exercise 9.1", double, CASES, [], hint="unused")
    check_with_diagnosis("Exercise 9.1", todo, CASES, [], hint="unused")
    first, second = capsys.readouterr().out.splitlines()
    assert first.startswith("✅") and second.startswith("⏳") and "unused" not in first + second
