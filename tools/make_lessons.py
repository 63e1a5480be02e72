"""Build lessons/ from solutions/: stub every exercise region, write an output-free .ipynb and its paired .py.

A solution marks each exercise the way nbgrader does, inside a function body::

    def sigmoid_prime(z):
        ### BEGIN SOLUTION
        s = sigmoid(z)
        return s * (1 - s)
        ### END SOLUTION

and the lesson gets, at the marker's indentation::

        raise NotImplementedError("Exercise 1.1: implement sigmoid_prime")

Usage::

    python tools/make_lessons.py            # write lessons/NN_topic.ipynb and lessons/py/NN_topic.py
    python tools/make_lessons.py --check    # write nothing; exit 1 listing stale, missing or extra lessons

The learner opens lessons/NN_topic.ipynb; its jupytext pair lives in lessons/py/ (lessons/jupytext.toml says so:
formats "ipynb,py//py:percent"), so each lesson is listed once in JupyterLab's file browser.

A lesson file that a learner may have edited is never overwritten silently: it is rewritten only when it does
not exist, already has the new content, is tracked and unmodified in git, or still has the content this tool
last wrote. "Content" is what a learner writes: the cells' types, sources and tags (:func:`content_key`, recorded
in build/lesson-hashes.json), so metadata that JupyterLab or a slideshow adds on saving (language_info, RISE's
settings, slide types) is not an edit. Otherwise nothing at all is written, unless FORCE=1 (or --force), which
first copies the old file to .lesson-backups/<name>.<UTC timestamp>.

Each .ipynb carries the ``language_info`` that the python3 kernel reports, so JupyterLab finds nothing to add
when the kernel starts and the lesson opens unmodified. Its ``version`` is the building interpreter's; a lesson
that differs from the built one only there counts as up to date (neither stale nor rewritten).
"""

from __future__ import annotations

import argparse
import ast
import copy
import functools
import hashlib
import json
import os
import re
import shutil
import subprocess
import sys
from dataclasses import dataclass
from datetime import datetime, timezone
from pathlib import Path

import jupytext
import nbformat
from jupytext.config import find_jupytext_configuration_file, load_jupytext_configuration_file
from jupytext.metadata_filter import filter_metadata

ROOT = Path(__file__).resolve().parents[1]
SOLUTION_GLOB = "[0-9][0-9]_*.py"
PAIRED_FOLDER = "py"  # lessons/py/NN_topic.py, the jupytext pair of lessons/NN_topic.ipynb
# Lesson files as built; "[0-9][0-9]_*.py" directly in lessons/ is the layout before the pairs moved (extra now).
LESSON_GLOBS = ("[0-9][0-9]_*.ipynb", f"{PAIRED_FOLDER}/[0-9][0-9]_*.py", "[0-9][0-9]_*.py")
BEGIN, END = "### BEGIN SOLUTION", "### END SOLUTION"
# Anything that looks like a marker; a near miss ("## BEGIN SOLUTION") would otherwise leak a solution.
MARKER_LIKE = re.compile(r"^\s*#[#\s]*(BEGIN|END)\s+SOLUTION\b", re.IGNORECASE)
KERNELSPEC = {"display_name": "Python 3 (ipykernel)", "language": "python", "name": "python3"}
# The slideshow settings of every notebook (jupyterlab-rise): long slides scroll, and start at the top.
RISE = {"scroll": True, "center": False, "transition": "none", "start_slideshow_at": "beginning"}
DEFAULT_CELL_METADATA_FILTER = "tags,slideshow,jupyter,-all"
HASHES = Path("build") / "lesson-hashes.json"
BACKUPS = Path(".lesson-backups")
FORCE_HINT = "FORCE=1 to overwrite (a backup is kept)"


class LessonBuildError(ValueError):
    """A solution cannot be turned into a lesson (malformed exercise markers); names the file and line."""


@dataclass(frozen=True)
class Region:
    """One exercise region: 1-based line numbers of its markers, the marker indentation, the function."""

    begin: int
    end: int
    indent: str
    function: str


# --------------------------------------------------------------------------- stubbing


def find_regions(solution_text: str, source: str = "<solution>") -> list[Region]:
    """Every exercise region of a solution, in order; :class:`LessonBuildError` on malformed markers."""
    lines = solution_text.splitlines()
    functions = _functions(solution_text, source)
    regions, begin = [], None
    for number, line in enumerate(lines, start=1):
        kind = _marker(line, source, number)
        if kind == BEGIN:
            if begin is not None:
                raise LessonBuildError(f"{source}:{number}: nested {BEGIN} (the one at line {begin} has no {END})")
            begin = number
        elif kind == END:
            if begin is None:
                raise LessonBuildError(f"{source}:{number}: {END} without a {BEGIN} before it")
            regions.append(_region(lines, begin, number, functions, source))
            begin = None
    if begin is not None:
        raise LessonBuildError(f"{source}:{begin}: {BEGIN} without an {END}")
    return regions


EXERCISE_HEADING = re.compile(r"^#\s*#{2,6}\s*Exercise\s+(\d+\.\d+)\b")


def exercise_number(lines: list[str], region: Region, fallback: str) -> str:
    """The number of the nearest "### Exercise N.k" Markdown heading above a region (a class's forward and backward
    share their exercise's number), or ``fallback`` when no heading precedes it."""
    for line in reversed(lines[:region.begin - 1]):
        match = EXERCISE_HEADING.match(line)
        if match:
            return match.group(1)
    return fallback


def make_lesson_text(solution_text: str, lesson_number: int, source: str = "<solution>") -> str:
    """The lesson's py:percent text: each exercise region replaced by one ``raise NotImplementedError`` line."""
    lines = solution_text.splitlines(keepends=True)
    newline = "\r\n" if lines and lines[0].endswith("\r\n") else "\n"
    out, position = [], 0
    for k, region in enumerate(find_regions(solution_text, source), start=1):
        out += lines[position: region.begin - 1]
        number = exercise_number(lines, region, f"{lesson_number}.{k}")
        message = f"Exercise {number}: implement {region.function}"
        out.append(f'{region.indent}raise NotImplementedError("{message}"){newline}')
        position = region.end
    lesson = "".join(out + lines[position:])
    try:
        ast.parse(lesson)
    except SyntaxError as err:  # cannot happen for a valid solution; guards against a broken stub
        raise LessonBuildError(f"{source}: the lesson would not be valid Python "
                               f"(line {err.lineno}): {err.msg}") from None
    return lesson


def _marker(line: str, source: str, number: int) -> str | None:
    if not MARKER_LIKE.match(line):
        return None
    stripped = line.strip()
    if stripped not in (BEGIN, END):
        raise LessonBuildError(f"{source}:{number}: malformed marker {stripped!r}: write {BEGIN!r} or {END!r}")
    return stripped


def _functions(text: str, source: str) -> list[ast.FunctionDef | ast.AsyncFunctionDef | ast.ClassDef]:
    """Every function and class definition of a solution (regions live in functions; methods are named by class)."""
    try:
        tree = ast.parse(text)
    except SyntaxError as err:
        raise LessonBuildError(f"{source}:{err.lineno}: not valid Python: {err.msg}") from None
    return [node for node in ast.walk(tree) if isinstance(node, (ast.FunctionDef, ast.AsyncFunctionDef, ast.ClassDef))]


def _indent(line: str) -> str:
    return line[: len(line) - len(line.lstrip())]


def _region(lines: list[str], begin: int, end: int, definitions, source: str) -> Region:
    classes = [d for d in definitions if isinstance(d, ast.ClassDef)]
    functions = [d for d in definitions if not isinstance(d, ast.ClassDef)]
    indent = _indent(lines[begin - 1])
    if _indent(lines[end - 1]) != indent:
        raise LessonBuildError(f"{source}:{end}: {END} is not at the indentation of its {BEGIN} (line {begin})")
    body = [(n, line) for n, line in enumerate(lines[begin: end - 1], start=begin + 1)
            if line.strip() and not line.strip().startswith("#")]
    if not body:
        raise LessonBuildError(f"{source}:{begin}: empty exercise region (no code between the markers)")
    for number, line in body:
        if len(_indent(line)) < len(indent):
            raise LessonBuildError(f"{source}:{number}: line is less indented than its {BEGIN} (line {begin})")
    enclosing = [f for f in functions if f.lineno < begin and f.end_lineno >= body[0][0]
                 and f.col_offset < len(indent)]
    if not enclosing:
        raise LessonBuildError(f"{source}:{begin}: exercise region is not inside a function body (a top-level "
                               "stub would crash Run All): put the exercise in a `def`")
    function = max(enclosing, key=lambda f: f.lineno)  # the innermost one
    owner = [c.name for c in classes if function in c.body]  # a method is named with its class
    name = f"{owner[0]}.{function.name}" if owner else function.name
    return Region(begin, end, indent, name)


# --------------------------------------------------------------------------- notebooks


@functools.cache
def _cell_metadata_filter() -> str:
    config_file = find_jupytext_configuration_file(str(ROOT))
    config = load_jupytext_configuration_file(config_file) if config_file else None
    return (config and config.cell_metadata_filter) or DEFAULT_CELL_METADATA_FILTER


def _cell_id(cell, seen: dict[str, int]) -> str:
    """A stable cell id (a hash of the cell), so rebuilding an unchanged notebook gives the same bytes."""
    digest = hashlib.sha1(f"{cell.cell_type}\n{cell.source}".encode()).hexdigest()[:8]
    seen[digest] = seen.get(digest, 0) + 1
    return digest if seen[digest] == 1 else f"{digest}-{seen[digest]}"


def language_info() -> dict:
    """What the python3 kernel (ipykernel) reports as ``language_info``, and JupyterLab stores on kernel start."""
    from ipykernel.ipkernel import IPythonKernel  # imports IPython: only when a notebook is built
    return copy.deepcopy(IPythonKernel.language_info)


def notebook_from_py(py_text: str) -> nbformat.NotebookNode:
    """A py:percent text as an unexecuted notebook: python3 kernelspec and language_info, the slideshow settings,
    no outputs, only the kept cell metadata."""
    nb = jupytext.reads(py_text, fmt="py:percent")
    nb.metadata = nbformat.from_dict({"kernelspec": KERNELSPEC, "language_info": language_info(), "rise": RISE})
    cell_filter, seen = _cell_metadata_filter(), {}
    for cell in nb.cells:
        cell.metadata = nbformat.from_dict(filter_metadata(dict(cell.metadata), cell_filter))
        cell.id = _cell_id(cell, seen)
        if cell.cell_type == "code":
            cell.outputs, cell.execution_count = [], None
    nb.nbformat, nb.nbformat_minor = 4, 5
    return nb


def notebook_text(nb: nbformat.NotebookNode) -> str:
    """The .ipynb text of a notebook, ending with a newline (as Jupyter writes it)."""
    text = jupytext.writes(nb, fmt="ipynb")
    return text if text.endswith("\n") else text + "\n"


def ipynb_from_py(py_text: str) -> str:
    """The output-free .ipynb paired with a py:percent text."""
    return notebook_text(notebook_from_py(py_text))


def _read_notebook(name: str, text: str) -> nbformat.NotebookNode:
    return jupytext.reads(text, fmt="py:percent" if name.endswith(".py") else "ipynb")


def content_key(name: str, text: str) -> str | None:
    """sha256 of what a learner writes in a lesson file: every cell's type, source and tags. Metadata that
    JupyterLab, jupytext or a slideshow writes (language_info, rise, slide types) leaves it unchanged.
    None when the text is not a notebook jupytext can read (then it counts as edited)."""
    try:
        content = [(c.cell_type, c.source, list(c.metadata.get("tags", ()))) for c in _read_notebook(name, text).cells]
    except Exception:  # noqa: BLE001 - any unreadable file is a learner's edit, never a crash
        return None
    return hashlib.sha256(json.dumps(content, ensure_ascii=False).encode()).hexdigest()


def same_lesson(name: str, text: str, built: str) -> bool:
    """True when ``text`` is ``built`` up to the Python version in language_info (that of whoever built it)."""
    if text == built or not name.endswith(".ipynb"):
        return text == built
    try:
        ours, theirs = json.loads(text), json.loads(built)
    except json.JSONDecodeError:
        return False
    for nb in (ours, theirs):
        nb.get("metadata", {}).get("language_info", {}).pop("version", None)
    return ours == theirs


def cells(path: Path) -> list[tuple[str, str, tuple[str, ...], str | None]]:
    """(cell type, source, tags, slide type) of every cell of a .py or .ipynb, as jupytext reads it."""
    nb = jupytext.read(path, fmt="py:percent" if path.suffix == ".py" else None)
    return [(c.cell_type, c.source, tuple(c.metadata.get("tags", ())), c.metadata.get("slideshow", {}).get(
        "slide_type")) for c in nb.cells]


# --------------------------------------------------------------------------- building the lessons folder


def lesson_number(path: Path) -> int:
    return int(path.name[:2])


def build_lessons(solutions: Path) -> dict[str, str]:
    """{lesson file name: content} for every solutions/NN_topic.py, built in memory."""
    paths = sorted(solutions.glob(SOLUTION_GLOB))
    if not paths:
        raise LessonBuildError(f"{solutions}: no solutions matching {SOLUTION_GLOB}")
    built = {}
    for path in paths:
        text = make_lesson_text(path.read_text(encoding="utf-8"), lesson_number(path), source=str(path))
        built[path.with_suffix(".ipynb").name] = ipynb_from_py(text)
        built[f"{PAIRED_FOLDER}/{path.name}"] = text
    return built


def lesson_count(built: dict[str, str]) -> int:
    return sum(name.endswith(".ipynb") for name in built)


def compare(built: dict[str, str], lessons: Path) -> dict[str, list[str]]:
    """Which lesson files are stale (differ), missing, or extra (no solution) compared with ``built``."""
    on_disk = {p.relative_to(lessons).as_posix() for pattern in LESSON_GLOBS for p in lessons.glob(pattern)}
    report = {"stale": [], "missing": [], "extra": sorted(on_disk - set(built))}
    for name, content in sorted(built.items()):
        if name not in on_disk:
            report["missing"].append(name)
        elif not same_lesson(name, (lessons / name).read_text(encoding="utf-8"), content):
            report["stale"].append(name)
    return report


def _git_unmodified(path: Path) -> bool:
    """True when ``path`` is tracked by git and has no changes (staged or not); False outside a repository."""
    def git(*args: str) -> subprocess.CompletedProcess:
        return subprocess.run(["git", *args, "--", path.name], cwd=path.parent, capture_output=True, text=True)
    try:
        tracked = git("ls-files", "--error-unmatch")
        status = git("status", "--porcelain")
    except OSError:  # no git at all
        return False
    return tracked.returncode == 0 and status.returncode == 0 and not status.stdout.strip()


class Builder:
    """Writes built lessons into ``lessons``, protecting a learner's edits (state kept in the project root)."""

    def __init__(self, lessons: Path, root: Path | None = None):
        self.lessons = lessons
        self.root = root or lessons.resolve().parent
        self.hashes_file = self.root / HASHES

    def _key(self, path: Path) -> str:
        return os.path.relpath(path.resolve(), self.root.resolve()).replace(os.sep, "/")

    def _recorded(self) -> dict[str, str]:
        try:
            return json.loads(self.hashes_file.read_text(encoding="utf-8"))
        except (FileNotFoundError, json.JSONDecodeError):
            return {}

    def plan(self, built: dict[str, str]) -> tuple[list[Path], list[Path]]:
        """(files to write, files that must not be overwritten without force)."""
        recorded, to_write, protected = self._recorded(), [], []
        for name, content in sorted(built.items()):
            path = self.lessons / name
            if not path.exists():
                to_write.append(path)
                continue
            text = path.read_text(encoding="utf-8")
            if same_lesson(name, text, content) and not self._pair_written(name, to_write):
                continue
            to_write.append(path)
            key = content_key(name, text)
            safe = key is not None and key in (content_key(name, content), recorded.get(self._key(path)))
            if not (safe or _git_unmodified(path)):
                protected.append(path)
        return to_write, protected

    def _pair_written(self, name: str, to_write: list[Path]) -> bool:
        """True for a lesson's .py whose .ipynb is to be written: the .py is then rewritten after it, because
        jupytext refuses to open a notebook that is newer than its text pair (their blank lines differ)."""
        ipynb = self.lessons / f"{Path(name).stem}.ipynb"
        return name.startswith(f"{PAIRED_FOLDER}/") and ipynb in to_write

    def write(self, built: dict[str, str], force: bool = False) -> list[Path]:
        """Write what changed; refuse (writing nothing) when a learner's edit would be lost, unless ``force``."""
        to_write, protected = self.plan(built)
        if protected and not force:
            names = "\n".join(f"  {p}" for p in protected)
            raise LessonBuildError(f"these lesson files were edited since they were generated:\n{names}\n"
                                   f"Nothing was written. Keep your work, or run with {FORCE_HINT}.")
        for path in protected:
            self._backup(path)
        for path in to_write:
            path.parent.mkdir(parents=True, exist_ok=True)
            atomic_write(path, built[path.relative_to(self.lessons).as_posix()])
        self._record(built)
        return to_write

    def _backup(self, path: Path) -> Path:
        folder = self.root / BACKUPS
        folder.mkdir(parents=True, exist_ok=True)
        stamp = datetime.now(timezone.utc).strftime("%Y%m%dT%H%M%SZ")
        backup, n = folder / f"{path.name}.{stamp}", 1
        while backup.exists():
            n += 1
            backup = folder / f"{path.name}.{stamp}-{n}"
        shutil.copy2(path, backup)
        print(f"backed up {path} -> {backup}")
        return backup

    def _record(self, built: dict[str, str]) -> None:
        recorded = self._recorded()
        recorded.update({self._key(self.lessons / name): content_key(name, content) for name, content in built.items()})
        self.hashes_file.parent.mkdir(parents=True, exist_ok=True)
        atomic_write(self.hashes_file, json.dumps(recorded, indent=1, sort_keys=True) + "\n")


def atomic_write(path: Path, content: str) -> None:
    tmp = path.with_name(f".{path.name}.tmp")
    tmp.write_text(content, encoding="utf-8", newline="")
    os.replace(tmp, path)


# --------------------------------------------------------------------------- command line


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--solutions", type=Path, default=ROOT / "solutions", help="folder of NN_topic.py sources")
    parser.add_argument("--lessons", type=Path, default=ROOT / "lessons", help="folder to write the lessons into")
    parser.add_argument("--check", action="store_true", help="write nothing; exit 1 if lessons are out of date")
    parser.add_argument("--force", action="store_true", help="overwrite edited lessons (same as FORCE=1)")
    args = parser.parse_args(argv)
    force = args.force or os.environ.get("FORCE", "") not in ("", "0")
    try:
        built = build_lessons(args.solutions)
        if args.check:
            return _check(built, args.lessons)
        written = Builder(args.lessons).write(built, force=force)
    except LessonBuildError as err:
        print(f"make_lessons: {err}", file=sys.stderr)
        return 1
    for path in written:
        print(f"wrote {path}")
    print(f"{lesson_count(built)} lesson(s) in {args.lessons}: {len(written)} file(s) written")
    extra = compare(built, args.lessons)["extra"]
    if extra:
        print(f"note: lesson files with no solution (left untouched): {', '.join(extra)}")
    return 0


def _check(built: dict[str, str], lessons: Path) -> int:
    report = compare(built, lessons)
    problems = [f"{kind}: {lessons / name}" for kind, names in report.items() for name in names]
    if not problems:
        print(f"lessons in sync with solutions ({lesson_count(built)} lesson(s))")
        return 0
    print("lessons out of sync with solutions:", *problems, "run: python tools/make_lessons.py", sep="\n  ")
    return 1


if __name__ == "__main__":
    sys.exit(main())
