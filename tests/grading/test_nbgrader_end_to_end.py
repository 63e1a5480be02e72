"""nbgrader itself grades the course (make test-grading): generate, autograde, read the gradebook, export.

Two lessons are exported with tools/make_nbgrader.py into a scratch course folder and `nbgrader generate_assignment`
makes the student versions. alice solves every exercise of both (the solutions' own code); bob gets lesson 03's build
exercise wrong (a whole backpropagation step) and solves the rest; carol hands in lesson 01 untouched. (Each
autograded submission runs a whole lesson, so each student submits what the test needs, no more.) `nbgrader
autograde` scores them; the scores are read from nbgrader's gradebook and from `nbgrader export`'s CSV. Every nbgrader
command has a time limit.
"""

import csv
import os
import subprocess
import sys
from pathlib import Path

import nbformat
import pytest

nbgrader_api = pytest.importorskip("nbgrader.api", reason="nbgrader is not installed: make test-grading installs it "
                                   "(pip install -e '.[course,grading]')")

ROOT = Path(__file__).resolve().parents[2]
sys.path.insert(0, str(ROOT / "tools"))
import make_nbgrader  # noqa: E402

COMMAND_TIMEOUT = 600  # seconds, for one nbgrader command (autograde runs every submission of a lesson)
LESSONS = ("01_neuron_and_perceptron", "03_backpropagation_by_hand")
SUBMISSIONS = {LESSONS[0]: ("alice", "carol"), LESSONS[1]: ("alice", "bob")}
# bob's answer to lesson 03's build exercise: the same function, a wrong result.
WRONG_ID = "answer-update_all"
WRONG_ANSWER = ("def update_all(params, eta, inputs=(0.05, 0.10), targets=(0.01, 0.99)):\n"
                "    return dict(params)  # forgot the step\n")


@pytest.fixture(scope="module", autouse=True)
def venv_on_path():
    """nbgrader runs `alembic` (its gradebook migrations) from PATH: this interpreter's scripts come first."""
    with pytest.MonkeyPatch.context() as patch:
        patch.setenv("PATH", os.pathsep.join([str(Path(sys.executable).parent), os.environ.get("PATH", "")]))
        yield


def nbgrader(course: Path, *args: str) -> str:
    """Run one nbgrader command in the course folder (bounded); its output, or a failure showing it."""
    isolated = {"JUPYTER_CONFIG_DIR": str(course / ".jupyter"), "JUPYTER_DATA_DIR": str(course / ".data")}
    result = subprocess.run([sys.executable, "-m", "nbgrader", *args], cwd=course, capture_output=True, text=True,
                            timeout=COMMAND_TIMEOUT, env=os.environ | isolated)
    assert result.returncode == 0, f"nbgrader {' '.join(args)} failed:\n{result.stdout}\n{result.stderr}"
    return result.stdout + result.stderr


def answers(nb) -> dict[str, str]:
    return {cell.metadata["nbgrader"]["grade_id"]: cell.source for cell in nb.cells
            if cell.metadata.get("nbgrader", {}).get("solution")}


def submission(released, solved: dict[str, str], student: str):
    """The released notebook as ``student`` hands it in."""
    nb = nbformat.from_dict(released)
    fill = {"alice": solved, "bob": solved | {WRONG_ID: WRONG_ANSWER}, "carol": {}}[student]
    for cell in nb.cells:
        grade_id = cell.metadata.get("nbgrader", {}).get("grade_id")
        if grade_id in fill:
            cell.source = fill[grade_id]
    return nb


@pytest.fixture(scope="module")
def course(tmp_path_factory) -> Path:
    """A course folder with both lessons generated, submitted and autograded."""
    course = tmp_path_factory.mktemp("nbgrader")
    solutions = course / "solutions-in"
    solutions.mkdir()
    for lesson in LESSONS:
        (solutions / f"{lesson}.py").write_bytes((ROOT / "solutions" / f"{lesson}.py").read_bytes())
    make_nbgrader.write_course(make_nbgrader.build_course(solutions), course, root=course)
    for lesson in LESSONS:
        nbgrader(course, "generate_assignment", lesson)
        source = nbformat.read(course / "source" / lesson / f"{lesson}.ipynb", as_version=4)
        released = nbformat.read(course / "release" / lesson / f"{lesson}.ipynb", as_version=4)
        for student in SUBMISSIONS[lesson]:
            folder = course / "submitted" / student / lesson
            folder.mkdir(parents=True)
            nbformat.write(submission(released, answers(source), student), folder / f"{lesson}.ipynb")
        nbgrader(course, "autograde", lesson)
    return course


def scores(course: Path) -> dict[tuple[str, str], tuple[float, float]]:
    """{(student, lesson): (score, max score)} from nbgrader's gradebook."""
    with nbgrader_api.Gradebook(f"sqlite:///{course / 'gradebook.db'}") as gradebook:
        return {(student, lesson): (gradebook.find_submission(lesson, student).score,
                                    gradebook.find_submission(lesson, student).max_score)
                for lesson, students in SUBMISSIONS.items() for student in students}


def test_the_student_version_has_stubs_and_no_solution(course):
    for lesson in LESSONS:
        released = (course / "release" / lesson / f"{lesson}.ipynb").read_text(encoding="utf-8")
        assert "BEGIN SOLUTION" not in released and "raise NotImplementedError" in released
        assert "def perceptron_predict" in released or "def update_all" in released


def test_the_gradebook_gives_full_marks_lost_points_and_zero(course):
    got = scores(course)
    print("gradebook scores:", {f"{student}/{lesson[:2]}": f"{s:g}/{m:g}" for (student, lesson), (s, m) in got.items()})
    full = {lesson: sum(cell.metadata.get("nbgrader", {}).get("points", 0) for cell in nbformat.read(
        course / "source" / lesson / f"{lesson}.ipynb", as_version=4).cells) for lesson in LESSONS}  # one per check
    assert full[LESSONS[0]] >= 3 and full[LESSONS[1]] >= 4, full
    assert got == {("alice", LESSONS[0]): (full[LESSONS[0]],) * 2, ("carol", LESSONS[0]): (0, full[LESSONS[0]]),
                   ("alice", LESSONS[1]): (full[LESSONS[1]],) * 2,
                   ("bob", LESSONS[1]): (full[LESSONS[1]] - make_nbgrader.POINTS_PER_CHECK, full[LESSONS[1]])}


def test_bob_loses_exactly_the_wrong_exercise_and_sees_why(course):
    nb = nbformat.read(course / "autograded" / "bob" / LESSONS[1] / f"{LESSONS[1]}.ipynb", as_version=4)
    errors = {cell.metadata["nbgrader"]["grade_id"]: out for cell in nb.cells for out in cell.get("outputs", [])
              if out.output_type == "error"}
    assert list(errors) == ["test-check_update_all"], list(errors)
    assert errors["test-check_update_all"].ename == "CheckFailed"
    assert errors["test-check_update_all"].evalue.startswith("❌ not yet — Exercise 3.4: update_all")


def test_nbgrader_export_writes_the_same_scores(course):
    nbgrader(course, "export", "--to", str(course / "grades.csv"))
    with open(course / "grades.csv", newline="") as file:
        rows = {(row["student_id"], row["assignment"]): float(row["score"]) for row in csv.DictReader(file)}
    students = {student for students in SUBMISSIONS.values() for student in students}
    submitted = {key: score for key, (score, _) in scores(course).items()}
    assert rows == {(student, lesson): submitted.get((student, lesson), 0.0)  # no submission: 0 in the export
                    for student in students for lesson in LESSONS}
