"""tools/make_nbgrader.py without nbgrader: which cells become answers, tests and read-only cells, and what is written.

nbgrader itself generates, autogrades and exports the result in tests/grading (make test-grading).
"""

import re
import sys
import textwrap
from pathlib import Path

import jupytext
import nbformat
import pytest

sys.path.insert(0, str(Path(__file__).resolve().parents[1] / "tools"))
import make_nbgrader as mn  # noqa: E402
from make_lessons import LessonBuildError  # noqa: E402

ROOT = Path(__file__).resolve().parents[1]
SOLUTION = textwrap.dedent('''\
    # %% [markdown]
    # # Lesson 42 — Tiny

    # %%
    from nnlib.exercises import check_sigmoid_prime

    # %%
    def sigmoid_prime(z):
        ### BEGIN SOLUTION
        return z
        ### END SOLUTION

    # %%
    check_sigmoid_prime(sigmoid_prime)

    # %%
    check_sigmoid_prime(sigmoid_prime)
    check_sigmoid_prime(sigmoid_prime)
    ''')


def kinds(nb) -> list[tuple]:
    return [(m["grade_id"], m["grade"], m["solution"], m["locked"], m.get("points"))
            for m in (cell.metadata["nbgrader"] for cell in nb.cells)]


def test_answers_tests_and_read_only_cells_get_nbgraders_metadata():
    nb = mn.assignment_notebook(SOLUTION)
    got = kinds(nb)
    assert got[2] == ("answer-sigmoid_prime", False, True, False, None)
    assert got[3] == ("test-check_sigmoid_prime", True, False, True, 1)
    assert got[4] == ("test-check_sigmoid_prime-check_sigmoid_prime", True, False, True, 2)
    assert [kind[1:] for kind in got[:2]] == [(False, False, True, None)] * 2
    assert all(cell.metadata["nbgrader"]["schema_version"] == 3 for cell in nb.cells)
    assert len({kind[0] for kind in got}) == len(got), "grade ids must be unique"


def test_a_test_cell_calls_its_checks_in_grading_mode():
    test = mn.assignment_notebook(SOLUTION).cells[3].source
    assert test.startswith("from nnlib.exercises import grading_mode\n\nwith grading_mode():")
    assert test.endswith("\n    check_sigmoid_prime(sigmoid_prime)")
    compile(test, "<test cell>", "exec")


@pytest.mark.parametrize(("source", "checks"), [
    ("check_a(a)", ["check_a"]), ("check_a(a)\ncheck_b(b)\n", ["check_a", "check_b"]),
    ("x = 1\ncheck_a(a)", []), ("print(check_a(a))", []), ("%matplotlib inline", []), ("", []), ("a.check_b(b)", []),
])
def test_check_cells_are_cells_of_check_calls_only(source, checks):
    assert mn.check_calls(source) == checks


def test_a_lesson_without_a_check_cell_is_refused_by_name():
    with pytest.raises(LessonBuildError, match=r"tiny\.py: no check cell"):
        mn.assignment_notebook(SOLUTION.replace("check_sigmoid_prime(sigmoid_prime)", "sigmoid_prime(1)"), "tiny.py")


def test_every_solution_exports_with_one_test_per_check_and_one_answer_per_region():
    course = mn.build_course(ROOT / "solutions")
    assert set(course["."]) == {"nbgrader_config.py", "sliced_poll.py"}
    for path in sorted((ROOT / "solutions").glob("[0-9][0-9]_*.py")):
        nb = nbformat.reads(course[f"source/{path.stem}"][f"{path.stem}.ipynb"], as_version=4)
        meta = [cell.metadata["nbgrader"] for cell in nb.cells]
        text = path.read_text(encoding="utf-8")
        cells = jupytext.reads(text, fmt="py:percent").cells
        cells_with_regions = [cell for cell in cells if "### BEGIN SOLUTION" in cell.source]
        assert sum(m["solution"] for m in meta) == len(cells_with_regions), path.name  # a class's methods share a cell
        assert all(re.fullmatch(r"[a-zA-Z0-9_\-]*", m["grade_id"]) for m in meta), path.name  # nbgrader's schema
        checks = len(re.findall(r"^check_\w+\(", text, re.MULTILINE))
        assert sum(m.get("points", 0) for m in meta) == mn.POINTS_PER_CHECK * checks >= 2, path.name


def test_rewriting_keeps_an_edited_assignment_unless_forced(tmp_path):
    solutions = tmp_path / "solutions"
    solutions.mkdir()
    (solutions / "42_tiny.py").write_text(SOLUTION)
    out = tmp_path / "course"
    course = mn.build_course(solutions)
    written = mn.write_course(course, out, root=tmp_path)
    notebook = out / "source" / "42_tiny" / "42_tiny.ipynb"
    assert notebook in written and (out / "nbgrader_config.py") in written
    assert mn.write_course(course, out, root=tmp_path) == []
    (out / "gradebook.db").write_text("grades")
    notebook.write_text(notebook.read_text().replace("Tiny", "Tiny, edited"))
    with pytest.raises(LessonBuildError, match="edited since make nbgrader wrote them"):
        mn.write_course(course, out, root=tmp_path)
    assert "Tiny, edited" in notebook.read_text()
    assert mn.write_course(course, out, root=tmp_path, force=True) == [notebook]
    assert "edited" not in notebook.read_text() and (out / "gradebook.db").read_text() == "grades"
    assert len(list((tmp_path / ".lesson-backups").iterdir())) == 1
