"""Course integrity: solutions/ and lessons/ in sync, solutions executed, every lesson has checked exercises.

Fix a failure with `python tools/make_lessons.py` (lessons) or `python tools/execute_notebooks.py solutions/*.py`
(solution notebooks).
"""

import ast
import re
import sys
from pathlib import Path

import jupytext
import nbformat
import pytest
from IPython.core.displayhook import DisplayHook
from jupytext.config import find_jupytext_configuration_file, load_jupytext_configuration_file
from jupytext.paired_paths import paired_paths

import nnlib.exercises

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT / "tools"))
import make_lessons as ml  # noqa: E402
import slides  # noqa: E402

pytestmark = pytest.mark.course

SOLUTIONS, LESSONS = ROOT / "solutions", ROOT / "lessons"
LESSON_PY = LESSONS / ml.PAIRED_FOLDER  # the lessons' jupytext pairs, out of the learner's listing
NAMES = [p.stem for p in sorted(SOLUTIONS.glob(ml.SOLUTION_GLOB))]
# (.py, .ipynb) of every pair, relative to the project: solutions/X.py + solutions/X.ipynb,
# lessons/py/X.py + lessons/X.ipynb
PAIRED = sorted({(py.relative_to(ROOT).as_posix(), (folder / f"{stem}.ipynb").relative_to(ROOT).as_posix())
                 for folder, py_folder in ((SOLUTIONS, SOLUTIONS), (LESSONS, LESSON_PY))
                 for stem in {p.stem for p in [*py_folder.glob("*.py"), *folder.glob("*.ipynb")]}
                 for py in [py_folder / f"{stem}.py"]})
WIDGET = re.compile(r"\binteract(ive)?\b|\bwidgets\b|\bipywidgets\b")
IGNORE_OUTPUT = "nbval-ignore-output"
REBUILD = "run: python tools/make_lessons.py"
EXECUTE = "run: python tools/execute_notebooks.py solutions/*.py"


def read(path: Path) -> nbformat.NotebookNode:
    text(path)
    return nbformat.read(path, as_version=4)


def text(path: Path) -> str:
    assert path.exists(), f"{path.relative_to(ROOT)} is missing; {EXECUTE if path.parent == SOLUTIONS else REBUILD}"
    return path.read_text(encoding="utf-8")


def code_cells(nb) -> list:
    return [c for c in nb.cells if c.cell_type == "code"]


def test_there_is_at_least_one_lesson():
    assert NAMES, f"no solutions matching {ml.SOLUTION_GLOB} in {SOLUTIONS}"


@pytest.mark.parametrize(("py", "ipynb"), PAIRED)
def test_py_and_ipynb_pair_have_the_same_cells(py, ipynb):
    assert (ROOT / py).exists() and (ROOT / ipynb).exists(), f"both {py} and {ipynb} must exist"
    assert ml.cells(ROOT / ipynb) == ml.cells(ROOT / py), f"{ipynb} is out of date with {py}"


@pytest.mark.parametrize(("py", "ipynb"), PAIRED)
def test_saving_the_pair_in_jupyterlab_rewrites_the_same_py(py, ipynb):
    """JupyterLab's jupytext reads the inputs from the .py and writes it back with the project's config:
    the stored .py must already be that canonical text, or every save by a learner churns the file."""
    config = load_jupytext_configuration_file(str(ROOT / "pyproject.toml"))
    stored = text(ROOT / py)
    rendered = jupytext.writes(jupytext.reads(stored, fmt="py:percent"), fmt="py:percent", config=config)
    assert rendered == stored, f"{py} is not what a JupyterLab save writes (check its header)"


@pytest.mark.parametrize("name", NAMES)
def test_lesson_is_paired_with_its_py_out_of_the_listing(name):
    """jupytext (in JupyterLab too) pairs lessons/X.ipynb with lessons/py/X.py, as lessons/jupytext.toml says."""
    path = LESSONS / f"{name}.ipynb"
    config = load_jupytext_configuration_file(find_jupytext_configuration_file(str(LESSONS)))
    paired = paired_paths(str(path), "ipynb", config.default_formats(str(path)))
    assert sorted(Path(p) for p, _ in paired) == [path, LESSON_PY / f"{name}.py"]
    assert "jupytext" not in read(path).metadata  # a notebook's own pairing would win over the folder's


def test_lessons_and_solutions_share_the_slideshow_style_sheet():
    """jupyterlab-rise loads rise.css from the notebook's folder: both folders lecture with the same one."""
    assert text(LESSONS / "rise.css") == text(SOLUTIONS / "rise.css")


def test_the_lessons_jupytext_settings_filter_as_the_projects():
    lessons = load_jupytext_configuration_file(str(LESSONS / "jupytext.toml"))
    project = load_jupytext_configuration_file(str(ROOT / "pyproject.toml"))
    assert (lessons.notebook_metadata_filter, lessons.cell_metadata_filter) == \
        (project.notebook_metadata_filter, project.cell_metadata_filter)


@pytest.mark.parametrize("name", NAMES)
def test_notebooks_store_the_language_info_the_kernel_reports(name):
    """JupyterLab writes the kernel's language_info into a notebook on kernel start: stored already, the lesson
    opens unmodified (the Python version aside, which is the building interpreter's)."""
    expected = {key: value for key, value in ml.language_info().items() if key != "version"}
    for path in (LESSONS / f"{name}.ipynb", SOLUTIONS / f"{name}.ipynb"):
        stored = dict(read(path).metadata.get("language_info", {}))
        assert stored.pop("version", None), f"{path.relative_to(ROOT)} has no language_info version; {REBUILD}"
        assert stored == expected, f"{path.relative_to(ROOT)}: language_info differs from the kernel's; {REBUILD}"


@pytest.mark.parametrize("name", NAMES)
def test_lesson_is_built_from_its_solution(name):
    lesson = ml.make_lesson_text((SOLUTIONS / f"{name}.py").read_text(encoding="utf-8"), ml.lesson_number(
        Path(name)), source=f"solutions/{name}.py")
    for path, expected in [(LESSON_PY / f"{name}.py", lesson),
                           (LESSONS / f"{name}.ipynb", ml.ipynb_from_py(lesson))]:
        assert ml.same_lesson(path.name, text(path), expected), f"{path.relative_to(ROOT)} is stale; {REBUILD}"


def test_no_lesson_without_a_solution():
    assert ml.compare(ml.build_lessons(SOLUTIONS), LESSONS)["extra"] == []


@pytest.mark.parametrize("name", NAMES)
def test_solution_notebook_is_executed_top_to_bottom(name):
    code = code_cells(read(SOLUTIONS / f"{name}.ipynb"))
    assert [c.execution_count for c in code] == list(range(1, len(code) + 1)), f"not executed in order; {EXECUTE}"
    errors = [c.source for c in code if any(o.output_type == "error" for o in c.outputs)]
    assert not errors, f"cells with errors: {errors}"


@pytest.mark.parametrize("name", NAMES)
def test_solution_notebook_stores_no_timing(name):
    timed = [i for i, c in enumerate(read(SOLUTIONS / f"{name}.ipynb").cells) if "execution" in c.metadata]
    assert not timed, f"cells {timed} store execution timing metadata; {EXECUTE}"


@pytest.mark.parametrize("name", NAMES)
def test_lesson_notebook_has_no_outputs(name):
    code = code_cells(read(LESSONS / f"{name}.ipynb"))
    assert code and all(c.outputs == [] and c.execution_count is None for c in code), REBUILD


@pytest.mark.parametrize("name", NAMES)
def test_solution_has_at_least_two_exercises(name):
    regions = ml.find_regions((SOLUTIONS / f"{name}.py").read_text(encoding="utf-8"), f"solutions/{name}.py")
    assert len(regions) >= 2, f"{len(regions)} exercise region(s); a lesson needs 2-4"


def check_calls(source: str) -> list[str]:
    """Names of nnlib.exercises check_* functions called in ``source`` (imported by name or through the module)."""
    tree = ast.parse(source)
    functions, modules = set(), set()
    for node in ast.walk(tree):
        if isinstance(node, ast.ImportFrom) and node.module == "nnlib.exercises":
            functions |= {a.asname or a.name for a in node.names if a.name.startswith("check_")}
        elif isinstance(node, ast.ImportFrom) and node.module == "nnlib":
            modules |= {a.asname or a.name for a in node.names if a.name == "exercises"}
        elif isinstance(node, ast.Import):
            modules |= {a.asname for a in node.names if a.name == "nnlib.exercises" and a.asname}
    missing = sorted(f for f in functions if not hasattr(nnlib.exercises, f))
    assert not missing, f"imported from nnlib.exercises but not defined there: {missing}"
    calls = []
    for node in ast.walk(tree):
        if not isinstance(node, ast.Call):
            continue
        if isinstance(node.func, ast.Name) and node.func.id in functions:
            calls.append(node.func.id)
        elif (isinstance(node.func, ast.Attribute) and node.func.attr.startswith("check_")
              and isinstance(node.func.value, ast.Name) and node.func.value.id in modules):
            calls.append(node.func.attr)
    return calls


@pytest.mark.parametrize("name", NAMES)
def test_lesson_checks_its_exercises(name):
    calls = check_calls(text(LESSON_PY / f"{name}.py"))
    assert len(calls) >= 2, f"{len(calls)} call(s) of nnlib.exercises.check_*: {calls}"


@pytest.mark.parametrize("name", NAMES)
def test_lesson_has_a_widget_cell_whose_output_nbval_ignores(name):
    text(LESSON_PY / f"{name}.py")
    cells = ml.cells(LESSON_PY / f"{name}.py")
    widgets = [source for kind, source, tags, _ in cells if kind == "code" and WIDGET.search(source)]
    assert widgets, "no ipywidgets cell (interact / widgets)"
    assert any(IGNORE_OUTPUT in tags for kind, source, tags, _ in cells if source in widgets), \
        f"tag the widget cells {IGNORE_OUTPUT}: nbval sees what an Output widget captures, nbclient does not"


@pytest.mark.parametrize("name", NAMES)
def test_solution_states_goals_and_ends_with_review(name):
    markdown = [source for kind, source, *_ in ml.cells(SOLUTIONS / f"{name}.py") if kind == "markdown"]
    assert any(re.search(r"learning goals?", text, re.IGNORECASE) for text in markdown), "no learning goals"
    assert any(re.search(r"review questions?|summary", text, re.IGNORECASE) for text in markdown), \
        "no summary / review questions"


@pytest.mark.parametrize("name", NAMES)
def test_compared_cells_do_not_rely_on_a_semicolon(name):
    # nbval runs cells with store_history=False, where IPython ignores a trailing `;` (nbval issue #194):
    # the output it hides in the stored notebook reappears under nbval. Assign to `_` instead.
    cells = ml.cells(SOLUTIONS / f"{name}.py")
    bad = [source for kind, source, tags, _ in cells if kind == "code" and IGNORE_OUTPUT not in tags
           and "nbval-skip" not in tags and source.strip() and DisplayHook.semicolon_at_end_of_expression(source)]
    assert not bad, f"cells ending with `;` (use `_ = ...`): {bad}"


@pytest.mark.parametrize("name", NAMES)
def test_lesson_is_marked_up_as_a_slideshow(name):
    missing = slides.missing_slide_types(text(SOLUTIONS / f"{name}.py"))
    assert not missing, f"cells without their slide type (line, type): {missing}; run: python tools/slides.py " \
                        f"solutions/{name}.py"
    for nb in (read(SOLUTIONS / f"{name}.ipynb"), read(LESSONS / f"{name}.ipynb")):
        assert nb.metadata.get("rise") == ml.RISE, f"{name}: the notebook lacks the slideshow settings; {REBUILD}"
        assert nb.cells[0].metadata.get("slideshow", {}).get("slide_type") == "slide", "the title is no slide"


SOURCES = sorted(p.relative_to(ROOT) for folder in ("nnlib", "tests", "tools", "solutions", "lessons", "benchmarks")
                 for p in (ROOT / folder).rglob("*.py"))


@pytest.mark.parametrize("path", SOURCES, ids=str)
def test_source_has_no_control_characters(path):
    """A backslash sequence such as \\frac or \\text in a non-raw string becomes a form feed or a tab."""
    text = (ROOT / path).read_text(encoding="utf-8")
    bad = [(n, repr(c)) for n, line in enumerate(text.splitlines(), 1) for c in line if ord(c) < 32]
    assert not bad, f"{path}: control characters at (line, char) {bad[:5]}"


def _private(name: str) -> bool:
    return name.startswith("_") and not name.startswith("__")


def _private_uses(path: Path, anything: bool) -> list[str]:
    """Private names a file reaches across a module boundary: imported by name, or read off an imported module.

    With ``anything``, every ``obj._name`` counts (lessons must show only public names).
    """
    tree = ast.parse((ROOT / path).read_text(encoding="utf-8"))
    modules = {alias.asname or alias.name for node in ast.walk(tree) if isinstance(node, (ast.Import, ast.ImportFrom))
               for alias in node.names if isinstance(node, ast.Import) or node.module in (None, "nnlib")}
    found = [f"line {node.lineno}: import {alias.name}" for node in ast.walk(tree)
             if isinstance(node, ast.ImportFrom) and (node.level or (node.module or "").startswith("nnlib"))
             for alias in node.names if _private(alias.name)]
    found += [f"line {node.lineno}: .{node.attr}" for node in ast.walk(tree) if isinstance(node, ast.Attribute)
              and _private(node.attr) and (anything or isinstance(node.value, ast.Name) and node.value.id in modules)]
    return found


@pytest.mark.parametrize("path", [p for p in SOURCES if p.parts[0] in ("solutions", "lessons")], ids=str)
def test_lesson_uses_no_private_name(path):
    """Lessons read what nnlib documents (``layer.cache.h``), never internals such as ``layer._cache``."""
    found = _private_uses(path, anything=True)
    assert not found, f"{path}: private names {found}"


@pytest.mark.parametrize("path", [p for p in SOURCES if p.parts[0] in ("nnlib", "tests", "benchmarks")], ids=str)
def test_no_private_name_crosses_a_module_boundary(path):
    """nnlib's modules and the tests use each other's public names only (a private helper stays in its module)."""
    found = _private_uses(path, anything=False)
    assert not found, f"{path}: private names of other modules {found}"


# Cells that only draw a figure or show a widget: their code is hidden (``jupyter.source_hidden``, honoured by
# JupyterLab and the slideshow), so slides show the figure. Each entry: a lesson and a line that starts such a cell.
FIGURE_ONLY_CELLS = [
    ("03", "draw_222_network(PARAMS)"), ("03", "draw_graph(E_graph)"), ("07", "draw_unrolled_rnn(T=4)"),
    ("06", '_ = kernel_editor(image[0, 0], KERNELS, start="Sobel x")'), ("06", "edges = edge_magnitude[None, None]"),
    ("06", "filters = cnn[0].weight.data[:, 0]"), ("10", "def show_attention_weights("),
    ("10", "def show_positional_encoding("), ("10", "ax = history.plot()"), ("10", "def show_trained_attention("),
]


@pytest.mark.parametrize(("lesson", "first_line"), FIGURE_ONLY_CELLS)
@pytest.mark.parametrize("folder", ["solutions", "lessons"])
def test_a_cell_that_only_draws_hides_its_code(folder, lesson, first_line):
    path = next((ROOT / folder).glob(f"{lesson}_*.ipynb"))
    cells = [cell for cell in nbformat.read(path, as_version=4).cells
             if cell.cell_type == "code" and cell.source.lstrip().startswith(first_line)]
    assert len(cells) == 1, f"{path.name}: {len(cells)} code cells start with {first_line!r}, expected one"
    assert cells[0].metadata.get("jupyter", {}).get("source_hidden") is True, \
        f"{path.name}: the cell starting {first_line!r} only draws; give it jupyter={{\"source_hidden\": true}}"
