"""Grading mode (NNLIB_GRADING=1): every check of nnlib.exercises raises AssertionError instead of printing ❌ / ⏳.

The checks are found by walking the package (every public ``check_*`` function of every lesson module), and the
right answers by reading the parametrize list of ``test_right_answer_passes_and_stub_waits`` in each
tests/test_exercises_lessonNN.py: an exercise added later is covered without touching this file, and one whose
lesson tests give no right answer fails here by name.
"""

import importlib
import inspect
import os
import pkgutil
from pathlib import Path

import pytest
from exercise_helpers import stub_of, todo

import nnlib.exercises
from nnlib.exercises import GRADING_ENV, CheckFailed, grading, grading_mode

TESTS = Path(__file__).resolve().parent
RIGHT_ANSWER_TEST = "test_right_answer_passes_and_stub_waits"


def all_checks() -> dict[str, object]:
    """{"lessonNN.check_name": function} for every public check function defined in nnlib.exercises' modules."""
    checks = {}
    for info in pkgutil.iter_modules(nnlib.exercises.__path__):
        if info.name.startswith("_"):
            continue
        module = importlib.import_module(f"nnlib.exercises.{info.name}")
        for name, function in inspect.getmembers(module, inspect.isfunction):
            if name.startswith("check_") and function.__module__ == module.__name__:
                checks[f"{info.name}.{name}"] = function
    return checks


def right_answers() -> dict[object, list]:
    """{check function: [right answers]} from the parametrize lists of every lesson's right-answer test."""
    answers: dict[object, list] = {}
    for path in sorted(TESTS.glob("test_exercises_lesson*.py")):
        module = importlib.import_module(path.stem)
        test = getattr(module, RIGHT_ANSWER_TEST, None)
        for mark in getattr(test, "pytestmark", []):
            if mark.name == "parametrize":
                for values in mark.args[1]:
                    answers.setdefault(values[0], []).append(values[1])
    return answers


CHECKS = all_checks()
RIGHT_ANSWERS = right_answers()


def wrong(*args, **kwargs):
    """An answer that is wrong whatever the exercise: it fails on every input."""
    raise ValueError("a wrong answer")


def printed(check, answer, capsys) -> str:
    assert check(answer) is None
    return capsys.readouterr().out


def test_every_lesson_module_has_checks():
    lessons = {name.split(".")[0] for name in CHECKS}
    assert len(lessons) >= 10 and len(CHECKS) >= 30, sorted(CHECKS)


@pytest.mark.parametrize("name", sorted(CHECKS))
def test_every_check_has_a_right_answer_in_its_lesson_tests(name):
    assert CHECKS[name] in RIGHT_ANSWERS, (
        f"{name} has no right answer: add (check, right_answer) to the parametrize list of {RIGHT_ANSWER_TEST} in "
        f"tests/test_exercises_{name.split('.')[0]}.py")


def unsolved(check):
    """What the generated lesson holds: the right answer's stub (a class keeps its base, its methods raise)."""
    return stub_of(RIGHT_ANSWERS.get(check, [None])[0])


@pytest.mark.parametrize("name", sorted(CHECKS))
@pytest.mark.parametrize(("make_answer", "symbol"), [(unsolved, "⏳ to do — Exercise"),
                                                     (lambda check: wrong, "❌ not yet — Exercise")],
                         ids=["unsolved", "wrong"])
def test_grading_mode_raises_with_the_message_it_would_print(name, make_answer, symbol, capsys, monkeypatch):
    check = CHECKS[name]
    answer = make_answer(check)
    monkeypatch.delenv(GRADING_ENV, raising=False)
    verdict = printed(check, answer, capsys)
    assert verdict.startswith(symbol), verdict
    monkeypatch.setenv(GRADING_ENV, "1")
    with pytest.raises(AssertionError) as raised:
        check(answer)
    assert isinstance(raised.value, CheckFailed)
    assert str(raised.value) == verdict.rstrip("\n")
    assert capsys.readouterr().out == ""


@pytest.mark.parametrize("name", sorted(CHECKS))
def test_grading_mode_passes_and_prints_a_right_answer(name, capsys, monkeypatch):
    check = CHECKS[name]
    monkeypatch.setenv(GRADING_ENV, "1")
    for answer in RIGHT_ANSWERS.get(check, []):
        out = printed(check, answer, capsys)
        assert out.startswith("✅ correct — Exercise") and out.count("\n") == 1, out


@pytest.mark.parametrize(("value", "expected"), [("1", True), ("true", True), (" YES ", True), ("on", True),
                                                 ("", False), ("0", False), ("false", False), ("off", False)])
def test_the_switch_reads_common_spellings(value, expected, monkeypatch):
    monkeypatch.setenv(GRADING_ENV, value)
    assert grading() is expected


def test_an_unknown_switch_value_names_the_variable_and_the_fix(monkeypatch):
    monkeypatch.setenv(GRADING_ENV, "grade")
    with pytest.raises(ValueError, match=r"NNLIB_GRADING='grade' is not understood: set it to 1"):
        grading()



@pytest.mark.parametrize("outside", [None, "0", "1"])
def test_grading_mode_block_grades_inside_and_restores_the_environment(outside, monkeypatch):
    if outside is None:
        monkeypatch.delenv(GRADING_ENV, raising=False)
    else:
        monkeypatch.setenv(GRADING_ENV, outside)
    with pytest.raises(CheckFailed, match="^⏳ to do — Exercise"), grading_mode():
        next(iter(CHECKS.values()))(todo)
    assert os.environ.get(GRADING_ENV) == outside
