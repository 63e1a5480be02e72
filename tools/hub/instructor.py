"""The instructor's side of nbgrader on the class hub (make hub): release a lesson, then collect, autograde, export.

Usage (with the hub's venv, from the repository; make hub-release / make hub-grade run these)::

    python tools/hub/instructor.py release 03_backpropagation_by_hand
    python tools/hub/instructor.py grade 03_backpropagation_by_hand     # collect, autograde, grades.csv

The course folder is ``<hub dir>/course`` (made by tools/make_nbgrader.py, which never overwrites an assignment you
edited there), the exchange ``<hub dir>/exchange``, the grades ``<hub dir>/course/grades.csv``. Learners fetch and
submit from JupyterLab's Assignments panel (nbgrader's server extension; the hub writes their configuration). Every
nbgrader command runs in a process group of its own, stopped as a whole if it outlives its time limit.
"""

from __future__ import annotations

import argparse
import csv
import os
import signal
import subprocess
import sys
from pathlib import Path

HERE = Path(__file__).resolve().parent
ROOT = HERE.parents[1]
sys.path.insert(0, str(ROOT / "tools"))
import make_nbgrader  # noqa: E402

COURSE_ID = "nnlib-course"
COMMAND_TIMEOUT = 600  # seconds for one nbgrader command: autograde runs every submission of a lesson


class CommandFailed(RuntimeError):
    """A command exited non-zero or outlived its time limit; the message holds its output."""


def run_bounded(command: list[str], timeout: float, **popen_kwargs) -> str:
    """Run ``command`` in a new process group; its output. Past ``timeout`` s the whole group is killed."""
    process = subprocess.Popen(command, stdout=subprocess.PIPE, stderr=subprocess.STDOUT, text=True,
                               start_new_session=True, **popen_kwargs)
    try:
        output, _ = process.communicate(timeout=timeout)
    except subprocess.TimeoutExpired:
        os.killpg(process.pid, signal.SIGKILL)
        output, _ = process.communicate()
        raise CommandFailed(f"{' '.join(command)} took more than {timeout} s and was stopped:\n{output}") from None
    except BaseException:  # interrupted (Ctrl-C, SIGTERM): the group goes too, kernels included
        os.killpg(process.pid, signal.SIGKILL)
        process.wait()
        raise
    if process.returncode != 0:
        raise CommandFailed(f"{' '.join(command)} exited with {process.returncode}:\n{output}")
    return output


class Course:
    """The instructor's course folder on the hub and the exchange it shares with the learners."""

    def __init__(self, hub_dir: Path):
        self.folder = hub_dir / "course"
        self.exchange = hub_dir / "exchange"
        self.grades = self.folder / "grades.csv"

    def prepare(self) -> None:
        """Write the nbgrader course folder (kept where edited) and an exchange every learner can write to."""
        make_nbgrader.write_course(make_nbgrader.build_course(ROOT / "solutions"), self.folder, root=ROOT)
        self.exchange.mkdir(parents=True, exist_ok=True)
        self.exchange.chmod(0o777)  # nbgrader's exchange must be writable by every learner's account

    def nbgrader(self, *args: str) -> str:
        """One nbgrader command in the course folder, on the hub's exchange (nbgrader runs alembic from PATH)."""
        env = os.environ | {"PATH": os.pathsep.join([str(Path(sys.executable).parent), os.environ.get("PATH", "")])}
        command = [sys.executable, "-m", "nbgrader", *args, f"--Exchange.root={self.exchange}",
                   f"--CourseDirectory.course_id={COURSE_ID}"]
        return run_bounded(command, COMMAND_TIMEOUT, cwd=self.folder, env=env)

    def release(self, lesson: str) -> str:
        """Generate the student version of ``lesson`` (solutions stubbed) and release it to the exchange."""
        self.prepare()
        return self.nbgrader("generate_assignment", lesson, "--force") + self.nbgrader("release_assignment", lesson,
                                                                                          "--force")

    def grade(self, lesson: str) -> dict[tuple[str, str], float]:
        """Collect the submissions of ``lesson``, autograde them, export every grade; {(student, lesson): score}."""
        # Demo hub: every learner's server is the same system user, so the owner check would warn on each submission.
        self.nbgrader("collect", lesson, "--update", "--ExchangeCollect.check_owner=False")
        self.nbgrader("autograde", lesson)
        self.nbgrader("export", "--to", str(self.grades))
        return read_grades(self.grades)


def read_grades(path: Path) -> dict[tuple[str, str], float]:
    """{(student id, assignment): score} from `nbgrader export`'s CSV."""
    with open(path, newline="", encoding="utf-8") as file:
        return {(row["student_id"], row["assignment"]): float(row["score"]) for row in csv.DictReader(file)}


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("action", choices=("release", "grade"))
    parser.add_argument("lesson", help="an assignment, named like its lesson: 03_backpropagation_by_hand")
    parser.add_argument("--hub-dir", type=Path, default=Path(os.environ.get("NNLIB_HUB_DIR", ROOT / "build" / "hub")))
    args = parser.parse_args(argv)
    course = Course(args.hub_dir.resolve())
    try:
        if args.action == "release":
            print(course.release(args.lesson))
            print(f"released {args.lesson} to {course.exchange}: learners fetch it in JupyterLab's Assignments panel")
        else:
            for (student, lesson), score in sorted(course.grade(args.lesson).items()):
                print(f"{student:>20}  {lesson}  {score:g}")
            print(f"grades of every student and assignment: {course.grades}")
    except (CommandFailed, make_nbgrader.LessonBuildError) as err:
        print(f"instructor: {err}", file=sys.stderr)
        return 1
    return 0


if __name__ == "__main__":
    sys.exit(main())
