"""tools/make_lessons.py and tools/execute_notebooks.py on small throw-away courses in tmp_path."""

import ast
import asyncio
import json
import os
import re
import shutil
import subprocess
import sys
import textwrap
import time
from pathlib import Path
from queue import Empty

import jupytext
import nbformat
import pytest
from jupyter_client.channels import AsyncZMQSocketChannel

sys.path.insert(0, str(Path(__file__).resolve().parents[1] / "tools"))
import execute_notebooks  # noqa: E402
import make_lessons as ml  # noqa: E402
import sliced_poll  # noqa: E402

SOLUTION = textwrap.dedent('''\
    # %% [markdown]
    # # Lesson
    # Learning goals: stubs.

    # %%
    import numpy as np


    def double(x):
        """Twice x."""
        ### BEGIN SOLUTION
        y = 2 * x
        return y
        ### END SOLUTION


    # %% tags=["nbval-ignore-output"]
    class Layer:
        def backward(self,
                     grad):
            for _ in range(1):
                ### BEGIN SOLUTION
                grad = grad * 2
                ### END SOLUTION
            return grad

        def forward(self, x):
            def inner(v):
                ### BEGIN SOLUTION
                return v + 1
                ### END SOLUTION
            return inner(x)


    # %%
    double(np.arange(3))
    ''')

LESSON = SOLUTION.replace('''\
    ### BEGIN SOLUTION
    y = 2 * x
    return y
    ### END SOLUTION''', '''\
    raise NotImplementedError("Exercise 7.1: implement double")''').replace('''\
            ### BEGIN SOLUTION
            grad = grad * 2
            ### END SOLUTION''', '''\
            raise NotImplementedError("Exercise 7.2: implement Layer.backward")''').replace('''\
            ### BEGIN SOLUTION
            return v + 1
            ### END SOLUTION''', '''\
            raise NotImplementedError("Exercise 7.3: implement inner")''')


def test_regions_are_stubbed_at_their_indentation_numbered_and_named():
    assert LESSON.count("NotImplementedError") == 3  # the expected text really has the three stubs
    assert ml.make_lesson_text(SOLUTION, 7) == LESSON
    ast.parse(LESSON)


def test_regions_report_lines_and_functions():
    regions = ml.find_regions(SOLUTION)
    assert [(r.begin, r.end, len(r.indent), r.function) for r in regions] == [
        (11, 14, 4, "double"), (22, 24, 12, "Layer.backward"), (29, 31, 12, "inner")]


def test_regions_take_the_number_of_the_exercise_heading_above_them():
    solution = _solution('''\
        # %% [markdown]
        # ### Exercise 4.2 — a layer (build)

        # %%
        class Mine:
            def forward(self, x):
                ### BEGIN SOLUTION
                return x
                ### END SOLUTION

            def backward(self, g):
                ### BEGIN SOLUTION
                return g
                ### END SOLUTION


        # %% [markdown]
        # ### Exercise 4.3 (optional challenge) — more
        def more():
            ### BEGIN SOLUTION
            return 1
            ### END SOLUTION
        ''')
    stubs = re.findall(r'NotImplementedError\("(.*)"\)', ml.make_lesson_text(solution, 4))
    assert stubs == ["Exercise 4.2: implement Mine.forward", "Exercise 4.2: implement Mine.backward",
                     "Exercise 4.3: implement more"]


def test_text_without_regions_is_unchanged_and_crlf_is_kept():
    text = "# %%\nx = 1\n"
    assert ml.make_lesson_text(text, 1) == text
    crlf = SOLUTION.replace("\n", "\r\n")
    assert ml.make_lesson_text(crlf, 7) == LESSON.replace("\n", "\r\n")


def _solution(body: str) -> str:
    return "# %%\nimport numpy as np\n\n" + textwrap.dedent(body)


MALFORMED = {
    "begin without end": ("def f(x):\n    ### BEGIN SOLUTION\n    return x\n", 5, "without an ### END"),
    "end without begin": ("def f(x):\n    return x\n    ### END SOLUTION\n", 6, "without a ### BEGIN"),
    "nested begin": ("def f(x):\n    ### BEGIN SOLUTION\n    ### BEGIN SOLUTION\n    return x\n"
                     "    ### END SOLUTION\n", 6, "nested"),
    "end at other indentation": ("def f(x):\n    if x:\n        ### BEGIN SOLUTION\n        return x\n"
                                 "    ### END SOLUTION\n", 8, "indentation"),
    "empty region": ("def f(x):\n    ### BEGIN SOLUTION\n    # nothing here\n\n    ### END SOLUTION\n    return x\n",
                     5, "empty"),
    "top level": ("### BEGIN SOLUTION\nx = 1\n### END SOLUTION\n", 4, "not inside a function"),
    "class body": ("class A:\n    ### BEGIN SOLUTION\n    x = 1\n    ### END SOLUTION\n", 5, "not inside a function"),
    "marker at def level": ("def f(x):\n    y = x\n### BEGIN SOLUTION\n    return y\n### END SOLUTION\n", 6,
                            "not inside a function"),
    "code less indented": ("def f(x):\n    for i in x:\n        ### BEGIN SOLUTION\n        i += 1\n    return x\n"
                           "        ### END SOLUTION\n", 8, "less indented"),
    "near-miss marker": ("def f(x):\n    ## BEGIN SOLUTION\n    return x\n    ### END SOLUTION\n", 5, "malformed"),
    "lower-case marker": ("def f(x):\n    ### begin solution\n    return x\n    ### END SOLUTION\n", 5, "malformed"),
    "syntax error": ("def f(x:\n    ### BEGIN SOLUTION\n    return x\n    ### END SOLUTION\n", 4, "not valid Python"),
}


@pytest.mark.parametrize(("body", "line", "reason"), MALFORMED.values(), ids=MALFORMED.keys())
def test_malformed_markers_name_the_file_and_line(body, line, reason):
    with pytest.raises(ml.LessonBuildError, match=rf"^solutions/03_x\.py:{line}: .*{reason}") as info:
        ml.make_lesson_text(_solution(body), 3, source="solutions/03_x.py")
    assert isinstance(info.value, ValueError)


# --------------------------------------------------------------------------- the command line on a tmp course


@pytest.fixture
def course(tmp_path):
    """A project with two solutions; returns the project root."""
    (tmp_path / "solutions").mkdir()
    (tmp_path / "solutions" / "01_first.py").write_text(SOLUTION)
    (tmp_path / "solutions" / "02_second.py").write_text(SOLUTION.replace("double", "triple"))
    (tmp_path / "solutions" / "notes.py").write_text("x = 1\n")  # not a lesson: no NN_ prefix
    return tmp_path


def run(root: Path, *args: str) -> int:
    return ml.main(["--solutions", str(root / "solutions"), "--lessons", str(root / "lessons"), *args])


def snapshot(root: Path) -> dict[str, bytes]:
    return {str(p.relative_to(root)): p.read_bytes() for p in sorted(root.rglob("*"))
            if p.is_file() and ".git" not in p.parts}


def test_build_writes_every_lesson_pair_and_check_passes(course, capsys):
    assert run(course) == 0
    lessons = course / "lessons"
    files = sorted(p.relative_to(lessons).as_posix() for p in lessons.rglob("*") if p.is_file())
    assert files == ["01_first.ipynb", "02_second.ipynb", "py/01_first.py", "py/02_second.py"]
    assert (lessons / "py" / "01_first.py").read_text() == LESSON.replace("Exercise 7.", "Exercise 1.")
    assert 'implement triple")' in (lessons / "py" / "02_second.py").read_text()
    recorded = json.loads((course / "build" / "lesson-hashes.json").read_text())
    assert sorted(recorded) == [f"lessons/{name}" for name in files]
    capsys.readouterr()
    assert run(course, "--check") == 0
    assert "in sync" in capsys.readouterr().out


def test_rebuilding_an_unchanged_course_writes_nothing(course):
    run(course)
    before = snapshot(course)
    assert run(course) == 0
    assert snapshot(course) == before


def test_lesson_notebook_has_no_outputs_and_round_trips(course):
    run(course)
    py, ipynb = course / "lessons" / "py" / "01_first.py", course / "lessons" / "01_first.ipynb"
    nb = nbformat.read(ipynb, as_version=4)
    nbformat.validate(nb)
    assert nb.metadata == {"kernelspec": ml.KERNELSPEC, "language_info": ml.language_info(), "rise": ml.RISE}
    code = [c for c in nb.cells if c.cell_type == "code"]
    assert code and all(c.outputs == [] and c.execution_count is None for c in code)
    assert [c.metadata.get("tags") for c in code] == [None, ["nbval-ignore-output"], None]
    assert ml.cells(ipynb) == ml.cells(py)
    # and back: the notebook written as py:percent again reads as the same cells
    again = jupytext.reads(jupytext.writes(jupytext.read(ipynb), fmt="py:percent"), fmt="py:percent")
    assert [(c.cell_type, c.source) for c in again.cells] == [c[:2] for c in ml.cells(py)]


def test_cell_ids_are_stable_and_unique():
    nb = ml.notebook_from_py("# %%\nx = 1\n\n# %%\nx = 1\n\n# %%\ny = 2\n")
    ids = [c.id for c in nb.cells]
    assert len(set(ids)) == 3
    assert ids == [c.id for c in ml.notebook_from_py("# %%\nx = 1\n\n# %%\nx = 1\n\n# %%\ny = 2\n").cells]


def _make_stale(lessons):
    (lessons / "py" / "01_first.py").write_text("# edited\n")


def _make_missing(lessons):
    (lessons / "02_second.ipynb").unlink()


def _make_extra(lessons):
    (lessons / "03_orphan.py").write_text("x = 1\n")


@pytest.mark.parametrize(("damage", "expected"), [
    (_make_stale, "stale: {}/py/01_first.py"),
    (_make_missing, "missing: {}/02_second.ipynb"),
    (_make_extra, "extra: {}/03_orphan.py"),
], ids=["stale", "missing", "extra"])
def test_check_reports_and_writes_nothing(course, capsys, damage, expected):
    run(course)
    damage(course / "lessons")
    before = snapshot(course)
    capsys.readouterr()
    assert run(course, "--check") == 1
    assert expected.format(course / "lessons") in capsys.readouterr().out
    assert snapshot(course) == before


def test_check_fails_on_a_malformed_solution(course, capsys):
    run(course)
    (course / "solutions" / "02_second.py").write_text(_solution(MALFORMED["top level"][0]))
    assert run(course, "--check") == 1
    assert "02_second.py:4:" in capsys.readouterr().err


def test_no_solutions_is_an_error(tmp_path, capsys):
    (tmp_path / "solutions").mkdir()
    assert run(tmp_path) == 1
    assert "no solutions" in capsys.readouterr().err
    assert not (tmp_path / "lessons").exists()


# --------------------------------------------------------------------------- never overwrite a learner's work


def change_solutions(root: Path) -> None:
    for path in (root / "solutions").glob("0*.py"):
        path.write_text(path.read_text() + "\n# %%\nprint('new cell')\n")


def test_lesson_last_written_by_the_tool_is_updated(course):
    run(course)
    change_solutions(course)
    assert run(course) == 0
    assert "new cell" in (course / "lessons" / "py" / "01_first.py").read_text()


@pytest.fixture
def edited(course):
    """A built course whose solutions changed since, and whose lessons/py/01_first.py a learner edited."""
    run(course)
    (course / "lessons" / "py" / "01_first.py").write_text("# my answers\n")
    change_solutions(course)
    return course


def test_edited_lesson_is_refused_and_nothing_is_written(edited, capsys, monkeypatch):
    monkeypatch.delenv("FORCE", raising=False)
    before = snapshot(edited)
    assert run(edited) == 1
    err = capsys.readouterr().err
    assert str(edited / "lessons" / "py" / "01_first.py") in err
    assert "02_second" not in err  # still unmodified since generated: not the learner's
    assert "FORCE=1 to overwrite (a backup is kept)" in err
    assert snapshot(edited) == before
    assert not (edited / ".lesson-backups").exists()


@pytest.mark.parametrize("how", ["FORCE=1", "--force"])
def test_force_overwrites_and_keeps_a_backup(edited, monkeypatch, how):
    if how == "FORCE=1":
        monkeypatch.setenv("FORCE", "1")
    assert run(edited, *([how] if how == "--force" else [])) == 0
    assert "new cell" in (edited / "lessons" / "py" / "01_first.py").read_text()
    backups = list((edited / ".lesson-backups").iterdir())
    assert [b.name.split(".")[:2] for b in backups] == [["01_first", "py"]]
    assert backups[0].name[len("01_first.py."):].endswith("Z")  # a UTC time stamp
    assert backups[0].read_text() == "# my answers\n"


def test_force_zero_does_not_force(edited, monkeypatch):
    monkeypatch.setenv("FORCE", "0")
    assert run(edited) == 1


def _slideshow_save(nb: nbformat.NotebookNode) -> None:
    """What opening a lesson as a slideshow and saving it writes: RISE settings, slide types, the kernel's info."""
    nb.metadata.rise = {**nb.metadata.rise, "autolaunch": True, "theme": "simple"}
    nb.metadata.language_info["version"] = "3.99.0"
    for cell in nb.cells:
        cell.metadata["slideshow"] = {"slide_type": "skip"}


def _edit_a_cell(nb: nbformat.NotebookNode) -> None:
    _slideshow_save(nb)
    nb.cells[-1].source += "\n# my answer"


def _edit_a_tag(nb: nbformat.NotebookNode) -> None:
    nb.cells[0].metadata["tags"] = ["mine"]


def _resave(path: Path, change) -> None:
    """``path`` (a lesson .ipynb) changed by ``change`` and saved with its jupytext pair, as JupyterLab does."""
    nb = nbformat.read(path, as_version=4)
    change(nb)
    nbformat.write(nb, path)
    pair = path.parent / "py" / f"{path.stem}.py"
    pair.write_text(jupytext.writes(nb, fmt="py:percent"))


def test_slide_only_metadata_is_not_an_edit(course, monkeypatch):
    monkeypatch.delenv("FORCE", raising=False)
    run(course)
    _resave(course / "lessons" / "01_first.ipynb", _slideshow_save)
    change_solutions(course)
    assert run(course) == 0
    assert "new cell" in (course / "lessons" / "01_first.ipynb").read_text()
    assert "new cell" in (course / "lessons" / "py" / "01_first.py").read_text()
    assert not (course / ".lesson-backups").exists()


def test_slide_only_metadata_over_an_unchanged_solution_is_reset_without_a_question(course, monkeypatch):
    monkeypatch.delenv("FORCE", raising=False)
    run(course)
    built = snapshot(course)
    _resave(course / "lessons" / "01_first.ipynb", _slideshow_save)
    assert run(course) == 0
    assert snapshot(course) == built


@pytest.mark.parametrize("change", [_edit_a_cell, _edit_a_tag], ids=["source", "tag"])
def test_a_real_edit_beside_slide_metadata_is_still_refused(course, capsys, monkeypatch, change):
    monkeypatch.delenv("FORCE", raising=False)
    run(course)
    _resave(course / "lessons" / "01_first.ipynb", change)
    change_solutions(course)
    before = snapshot(course)
    assert run(course) == 1
    err = capsys.readouterr().err
    assert "01_first.ipynb" in err and "py/01_first.py" in err and "02_second" not in err
    assert snapshot(course) == before


def test_another_python_version_in_language_info_is_in_sync(course, capsys):
    """language_info.version is that of whoever built the lessons: another one is neither stale nor rewritten."""
    run(course)
    path = course / "lessons" / "01_first.ipynb"
    path.write_text(path.read_text().replace(f'"version": "{ml.language_info()["version"]}"', '"version": "3.99.0"'))
    assert '"3.99.0"' in path.read_text()
    before = snapshot(course)
    capsys.readouterr()
    assert run(course, "--check") == 0
    assert run(course) == 0
    assert snapshot(course) == before


def test_a_rewritten_notebooks_py_is_rewritten_after_it(course):
    """jupytext refuses to open a notebook newer than its text pair: the .py is written again, after the .ipynb."""
    run(course)
    ipynb, py = course / "lessons" / "01_first.ipynb", course / "lessons" / "py" / "01_first.py"
    ipynb.write_text(ipynb.read_text().replace('"scroll": true', '"scroll": false'))  # only its metadata differs
    os.utime(py, (0, 0))
    assert run(course) == 0
    assert '"scroll": true' in ipynb.read_text()
    assert py.stat().st_mtime_ns >= ipynb.stat().st_mtime_ns > 0


def test_a_lesson_py_left_in_the_old_place_is_extra(course, capsys):
    run(course)
    (course / "lessons" / "01_first.py").write_text(LESSON)
    capsys.readouterr()
    assert run(course, "--check") == 1
    assert f"extra: {course / 'lessons' / '01_first.py'}" in capsys.readouterr().out


@pytest.mark.parametrize(("name", "text"), [("01_x.ipynb", "{not json"), ("01_x.py", None)])
def test_content_key_of_an_unreadable_file_is_none_and_of_equal_content_equal(name, text):
    if text is not None:
        assert ml.content_key(name, text) is None
    else:
        plain = "# %%\nx = 1\n"
        assert ml.content_key(name, plain) == ml.content_key(name, '# %% slideshow={"slide_type": "skip"}\nx = 1\n')
        assert ml.content_key(name, plain) != ml.content_key(name, "# %%\nx = 2\n")


def git(root: Path, *args: str) -> None:
    subprocess.run(["git", "-c", "user.name=t", "-c", "user.email=t@example.org", "-c", "commit.gpgsign=false",
                    *args], cwd=root, check=True, capture_output=True)


@pytest.fixture
def repo(course):
    """A git repository with committed lessons and no hash record, so only git can vouch for them."""
    if shutil.which("git") is None:
        pytest.skip("git is not installed")
    run(course)
    (course / "build" / "lesson-hashes.json").unlink()
    git(course, "init", "-q")
    git(course, "add", "solutions", "lessons")
    git(course, "commit", "-qm", "course")
    change_solutions(course)
    return course


def test_tracked_unmodified_lesson_is_updated(repo):
    assert run(repo) == 0
    assert "new cell" in (repo / "lessons" / "py" / "01_first.py").read_text()


@pytest.mark.parametrize("staged", [False, True], ids=["unstaged", "staged"])
def test_modified_tracked_lesson_is_refused(repo, capsys, monkeypatch, staged):
    monkeypatch.delenv("FORCE", raising=False)
    (repo / "lessons" / "01_first.ipynb").write_text("{}\n")
    if staged:
        git(repo, "add", "lessons/01_first.ipynb")
    before = snapshot(repo)
    assert run(repo) == 1
    assert "01_first.ipynb" in capsys.readouterr().err
    assert snapshot(repo) == before


def test_untracked_lesson_in_a_repository_is_refused(repo, monkeypatch):
    monkeypatch.delenv("FORCE", raising=False)
    git(repo, "rm", "-q", "--cached", "lessons/py/02_second.py")
    assert run(repo) == 1


# --------------------------------------------------------------------------- executing solution notebooks

EXECUTABLE = textwrap.dedent('''\
    # %% [markdown]
    # # Executed

    # %%
    import os
    import sys

    import matplotlib.pyplot as plt
    from ipywidgets import interact

    print(sys.executable, os.environ["PYTHONHASHSEED"], os.getcwd())

    # %%
    fig, ax = plt.subplots()
    _ = ax.plot([0, 1], [0, 1])

    # %% tags=["nbval-ignore-output"]
    interact(lambda w=1.0: print(w), w=(0.0, 2.0))
    ''')


def run_execute_notebooks(source: Path) -> subprocess.CompletedProcess:
    """The tool as a user runs it, in a process of its own."""
    return subprocess.run([sys.executable, execute_notebooks.__file__, str(source)], capture_output=True, text=True,
                          timeout=600, check=False)


def _parent_poll(waits: list, replies):
    """A stand-in for AsyncZMQSocketChannel.get_msg: waits out its timeout, then gives the next reply or Empty."""
    async def get_msg(self, timeout=None):
        waits.append(timeout)
        await asyncio.sleep(timeout)
        reply = next(replies, Empty)
        if reply is Empty:
            raise Empty
        return reply
    return get_msg


def test_a_shell_reply_missed_by_one_poll_is_found_by_the_next(monkeypatch):
    """The reply of a cell is looked for every POLL_SLICE, not once per cell timeout (300 s)."""
    waits = []
    monkeypatch.setattr(AsyncZMQSocketChannel, "get_msg", _parent_poll(waits, iter([Empty, Empty, {"id": 1}])))
    monkeypatch.setattr(sliced_poll, "POLL_SLICE", 0.01)
    channel = object.__new__(sliced_poll.SlicedPollShellChannel)  # no socket: the parent's poll is stubbed
    assert asyncio.run(channel.get_msg(timeout=300)) == {"id": 1}
    assert waits == [0.01, 0.01, 0.01]


def test_the_sliced_poll_still_gives_up_at_the_callers_timeout(monkeypatch):
    waits = []
    monkeypatch.setattr(AsyncZMQSocketChannel, "get_msg", _parent_poll(waits, iter([])))
    monkeypatch.setattr(sliced_poll, "POLL_SLICE", 0.02)
    channel = object.__new__(sliced_poll.SlicedPollShellChannel)
    start = time.monotonic()
    with pytest.raises(Empty):
        asyncio.run(channel.get_msg(timeout=0.05))
    # sliced (more than one poll, none longer than a slice), however late a busy machine wakes each poll
    assert 0.05 <= time.monotonic() - start < 1 and max(waits) <= 0.02 and len(waits) >= 2


# Tests that start kernels share one xdist group (make test: --dist loadgroup), so they never start at once.
KERNELS = pytest.mark.xdist_group(name="kernels")


@KERNELS
@pytest.mark.slow
def test_execute_runs_in_this_environment_and_is_reproducible(tmp_path):
    source = tmp_path / "01_run.py"
    source.write_text(EXECUTABLE)
    run = run_execute_notebooks(source)
    assert run.returncode == 0 and "01_run.ipynb in" in run.stdout, run.stderr
    first = (tmp_path / "01_run.ipynb").read_text()
    nb = nbformat.reads(first, as_version=4)
    code = [c for c in nb.cells if c.cell_type == "code"]
    assert [c.execution_count for c in code] == [1, 2, 3]
    assert all("execution" not in c.metadata for c in code)
    assert code[0].outputs[0].text == f"{sys.executable} 0 {tmp_path.resolve()}\n"
    assert "image/png" in code[1].outputs[0].data
    assert code[2].metadata.tags == ["nbval-ignore-output"]
    assert ml.cells(tmp_path / "01_run.ipynb") == ml.cells(source)
    assert run_execute_notebooks(source).returncode == 0
    assert (tmp_path / "01_run.ipynb").read_text() == first  # widget model ids too


@KERNELS
@pytest.mark.slow
def test_execute_fails_on_an_error_showing_the_cell(tmp_path):
    source = tmp_path / "01_bad.py"
    source.write_text("# %%\nx = 1\n\n# %%\nundefined_name + x\n")
    run = run_execute_notebooks(source)
    assert run.returncode == 1
    assert "undefined_name + x" in run.stderr and "NameError" in run.stderr
    assert not (tmp_path / "01_bad.ipynb").exists()


@KERNELS
@pytest.mark.slow
def test_execute_runs_notebooks_with_the_network_blocked(tmp_path):
    source = tmp_path / "01_offline.py"
    source.write_text(textwrap.dedent('''\
    # %%
    import urllib.request

    try:
        urllib.request.urlopen("http://example.com", timeout=5)
        print("reached the internet")
    except OSError as err:
        print("blocked" if "network access blocked" in str(err) else f"another error: {err}")
    '''))
    assert run_execute_notebooks(source).returncode == 0
    cell = nbformat.read(tmp_path / "01_offline.ipynb", as_version=4).cells[0]
    assert cell.outputs[0].text == "blocked\n"


LIVE_CHILDREN_AFTER_TWO_RUNS = """
import os, sys
from pathlib import Path
sys.path.insert(0, sys.argv[1])
import execute_notebooks
for name in ("01_a.py", "02_b.py"):
    path = Path(sys.argv[2]) / name
    path.write_text("# %%\\nprint(1)\\n")
    execute_notebooks.execute(path)
children = [pid for pid in os.listdir("/proc") if pid.isdigit() and Path(f"/proc/{pid}/stat").exists()
            and Path(f"/proc/{pid}/stat").read_text().rsplit(")", 1)[1].split()[1] == str(os.getpid())]
print(len(children))
"""


@KERNELS
@pytest.mark.slow
@pytest.mark.skipif(not Path("/proc/self/stat").exists(), reason="counts child processes through /proc (Linux)")
def test_execute_shuts_every_kernel_down(tmp_path):
    tools = str(Path(execute_notebooks.__file__).parent)
    done = subprocess.run([sys.executable, "-c", LIVE_CHILDREN_AFTER_TWO_RUNS, tools, str(tmp_path)],
                          capture_output=True, text=True, timeout=600)
    assert done.returncode == 0, done.stderr
    assert done.stdout.split()[-1] == "0", "kernels are left running after their notebook was executed"


VOLATILE = textwrap.dedent('''\
    # %%
    import sys
    import time

    for part in ("split ", "by ", "flushes"):
        print(part, end="", flush=True)
        time.sleep(0.05)

    # %% tags=["nbval-ignore-output", "timing"]
    print(time.perf_counter_ns())
    ''')


@KERNELS
@pytest.mark.slow
def test_rerunning_gives_the_same_file_and_timings_refresh_only_when_asked(tmp_path):
    source = tmp_path / "01_volatile.py"
    source.write_text(VOLATILE)
    ipynb = tmp_path / "01_volatile.ipynb"
    assert run_execute_notebooks(source).returncode == 0
    first = ipynb.read_text()
    streams = nbformat.reads(first, as_version=4).cells[0].outputs
    assert [(o.output_type, o.text) for o in streams] == [("stream", "split by flushes")]
    assert run_execute_notebooks(source).returncode == 0
    assert ipynb.read_text() == first
    refreshed = subprocess.run([sys.executable, execute_notebooks.__file__, "--refresh-timings", str(source)],
                               capture_output=True, text=True, timeout=600, check=False)
    assert refreshed.returncode == 0 and ipynb.read_text() != first
