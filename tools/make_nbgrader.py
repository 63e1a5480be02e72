"""Export the course for nbgrader: a course folder whose source/ holds every lesson as an nbgrader assignment.

Usage::

    python tools/make_nbgrader.py [--out build/nbgrader] [--force]

For every ``solutions/NN_topic.py`` it writes ``<out>/source/NN_topic/NN_topic.ipynb`` (the instructor's version,
solutions included; ``nbgrader generate_assignment NN_topic`` makes the student version) with nbgrader's cell
metadata (schema version 3):

- a code cell holding a ``### BEGIN SOLUTION`` region is an *autograded answer* (nbgrader replaces the region by a
  stub in the student version);
- a check cell (only calls of ``check_*`` functions) is an *autograder test* worth one point per check; it calls the
  checks inside ``nnlib.exercises.grading_mode()``, so ❌ or ⏳ raise and the cell scores 0;
- every other cell is *read-only*: nbgrader restores its source before autograding, so a submission is graded with
  the lesson's own code.

It also writes ``<out>/nbgrader_config.py`` (from tools/nbgrader_config.py) and ``<out>/sliced_poll.py`` (the kernel
client that config makes the autograder use). Only those files are written: release/, submitted/, autograded/ and
the gradebook of a course run from ``<out>`` are never touched, and a file changed since this tool wrote it (an
assignment edited in nbgrader's Create Assignment view) is only replaced with ``--force`` or FORCE=1, after a backup
in .lesson-backups/ (the same rules as tools/make_lessons.py).
"""

from __future__ import annotations

import argparse
import ast
import os
import sys
import textwrap
from pathlib import Path

import nbformat

sys.path.insert(0, str(Path(__file__).resolve().parent))
from make_lessons import (  # noqa: E402
    BEGIN,
    SOLUTION_GLOB,
    Builder,
    LessonBuildError,
    find_regions,
    notebook_from_py,
    notebook_text,
)

TOOLS = Path(__file__).resolve().parent
ROOT = TOOLS.parent
CONFIG_FILES = ("nbgrader_config.py", "sliced_poll.py")
POINTS_PER_CHECK = 1
SCHEMA_VERSION = 3
# (grade, solution, locked) of nbgrader's cell types
CELL_TYPES = {"answer": (False, True, False), "test": (True, False, True), "read-only": (False, False, True)}
TEST_CELL = """\
from nnlib.exercises import grading_mode

with grading_mode():  # autograded: a ❌ or ⏳ raises AssertionError, and this cell scores 0
{calls}"""


def check_calls(source: str) -> list[str]:
    """The check functions a check cell calls, in order; [] unless every statement is a ``check_*(...)`` call."""
    try:
        statements = ast.parse(source).body
    except SyntaxError:  # IPython magics, for instance: not a check cell
        return []
    names = [_check_name(statement) for statement in statements]
    return names if names and all(names) else []


def _check_name(statement: ast.stmt) -> str | None:
    call = statement.value if isinstance(statement, ast.Expr) else None
    if isinstance(call, ast.Call) and isinstance(call.func, ast.Name) and call.func.id.startswith("check_"):
        return call.func.id
    return None


def nbgrader_metadata(kind: str, grade_id: str, points: int = 0) -> dict:
    """nbgrader's cell metadata for a cell of ``kind`` ("answer", "test" or "read-only")."""
    grade, solution, locked = CELL_TYPES[kind]
    meta = {"grade": grade, "grade_id": grade_id, "locked": locked, "schema_version": SCHEMA_VERSION,
            "solution": solution}
    if grade:
        meta["points"] = points
    return meta


def _unique(grade_id: str, seen: set[str]) -> str:
    candidate, n = grade_id, 1
    while candidate in seen:
        n += 1
        candidate = f"{grade_id}-{n}"
    seen.add(candidate)
    return candidate


def mark_cell(cell, seen: set[str], source: str) -> None:
    """Give ``cell`` its nbgrader metadata (and, for a check cell, the graded source)."""
    checks = check_calls(cell.source) if cell.cell_type == "code" else []
    if cell.cell_type == "code" and BEGIN in cell.source:
        functions = [region.function.replace(".", "_") for region in find_regions(cell.source, source)]
        kind, grade_id, points = "answer", "answer-" + "-".join(functions), 0  # nbgrader ids: letters, digits, _ -
    elif checks:
        kind, grade_id, points = "test", "test-" + "-".join(checks), POINTS_PER_CHECK * len(checks)
        cell.source = TEST_CELL.format(calls=textwrap.indent(cell.source.strip(), "    "))
    else:
        kind, grade_id, points = "read-only", f"cell-{cell.id}", 0
    cell.metadata["nbgrader"] = nbgrader_metadata(kind, _unique(grade_id, seen), points)


def assignment_notebook(solution_text: str, source: str = "<solution>") -> nbformat.NotebookNode:
    """The nbgrader source notebook of one solution: every cell marked (see the module's docstring)."""
    find_regions(solution_text, source)  # malformed markers fail here, naming the file and line
    nb = notebook_from_py(solution_text)
    seen: set[str] = set()
    for cell in nb.cells:
        mark_cell(cell, seen, source)
    kinds = [cell.metadata["nbgrader"] for cell in nb.cells]
    if not any(meta["grade"] for meta in kinds):
        raise LessonBuildError(f"{source}: no check cell (a cell that only calls check_* functions), so nothing "
                               "to autograde: add the exercise's check cell")
    return nb


def build_course(solutions: Path) -> dict[str, dict[str, str]]:
    """{folder relative to the course root: {file name: content}} for every lesson and the configuration."""
    paths = sorted(solutions.glob(SOLUTION_GLOB))
    if not paths:
        raise LessonBuildError(f"{solutions}: no solutions matching {SOLUTION_GLOB}")
    course = {".": {name: (TOOLS / name).read_text(encoding="utf-8") for name in CONFIG_FILES}}
    for path in paths:
        nb = assignment_notebook(path.read_text(encoding="utf-8"), str(path))
        course[f"source/{path.stem}"] = {f"{path.stem}.ipynb": notebook_text(nb)}
    return course


def write_course(course: dict[str, dict[str, str]], out: Path, root: Path, force: bool = False) -> list[Path]:
    """Write the course into ``out``, protecting edited files (see tools/make_lessons.py's Builder)."""
    builders = {folder: Builder(out / folder, root=root) for folder in course}
    protected = [path for folder, files in course.items() for path in builders[folder].plan(files)[1]]
    if protected and not force:
        names = "\n".join(f"  {path}" for path in protected)
        raise LessonBuildError(f"these files were edited since make nbgrader wrote them:\n{names}\nNothing was "
                               "written. Keep your edits, or run with FORCE=1 to overwrite (a backup is kept).")
    return [path for folder, files in course.items() for path in builders[folder].write(files, force=force)]


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--solutions", type=Path, default=ROOT / "solutions", help="folder of NN_topic.py sources")
    parser.add_argument("--out", type=Path, default=ROOT / "build" / "nbgrader", help="the nbgrader course folder")
    parser.add_argument("--force", action="store_true", help="overwrite edited files (same as FORCE=1)")
    args = parser.parse_args(argv)
    force = args.force or os.environ.get("FORCE", "") not in ("", "0")
    try:
        course = build_course(args.solutions)
        written = write_course(course, args.out, ROOT, force)
    except LessonBuildError as err:
        print(f"make_nbgrader: {err}", file=sys.stderr)
        return 1
    for path in written:
        print(f"wrote {path}")
    print(f"{len(course) - 1} assignment(s) in {args.out / 'source'}: {len(written)} file(s) written. Next, from "
          f"{args.out}: nbgrader generate_assignment <NN_topic> (see the README's 'Grading with nbgrader')")
    return 0


if __name__ == "__main__":
    sys.exit(main())
