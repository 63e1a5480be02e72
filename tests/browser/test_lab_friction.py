"""What a learner and an instructor meet in JupyterLab before running anything (issue 24).

- a lesson opens unmodified: closing it untouched asks nothing (that every lesson's tab has no dirty mark once its
  kernel is idle is checked where each lesson is run, tests/browser/test_lessons_in_browser.py);
- the file browser lists each lesson once (its jupytext pair is in lessons/py/), and saving writes that pair;
- opening a lesson as a slideshow and saving it is not a learner's edit for ``make notebooks``.
Screenshots go to build/browser/ (NNLIB_BROWSER_ARTIFACTS overrides).
"""

import json
import sys
import time
from pathlib import Path

from lab_page import closes_without_a_question, open_in_lab, stays_dirty

ROOT = Path(__file__).resolve().parents[2]
sys.path.insert(0, str(ROOT / "tools"))
import make_lessons as ml  # noqa: E402

LESSONS = sorted(path.stem for path in (ROOT / "lessons").glob("[0-9][0-9]_*.ipynb"))


def _open(chromium, base, token, path, workspace, viewport=(1400, 900)):
    page = chromium.new_page(viewport={"width": viewport[0], "height": viewport[1]})
    open_in_lab(page, base, token, path, workspace)
    return page


def _save_and_wait(page, written: Path, mtime_before: float, failure: str) -> None:
    """Ctrl+S in the notebook, then wait (bounded, 30 s) until ``written`` has a new mtime."""
    page.locator(".jp-Notebook").first.click()
    page.keyboard.press("Control+s")
    deadline = time.monotonic() + 30
    while written.stat().st_mtime == mtime_before:
        assert time.monotonic() < deadline, failure
        time.sleep(0.2)


def test_an_untouched_lesson_opens_unmodified_and_closes_without_a_question(chromium, lab):
    base, token, _ = lab
    lesson = LESSONS[0]
    page = _open(chromium, base, token, f"lessons/{lesson}.ipynb", "untouched")
    try:
        assert not stays_dirty(page), f"{lesson} is marked modified once its kernel started"
        assert closes_without_a_question(page), f"closing the untouched {lesson} asked a question"
    finally:
        page.close()


def test_the_file_browser_lists_each_lesson_once_and_saving_writes_its_pair(chromium, lab, artifacts):
    base, token, root = lab
    lesson = LESSONS[0]
    pair = root / "lessons" / ml.PAIRED_FOLDER / f"{lesson}.py"
    before = pair.stat().st_mtime
    page = _open(chromium, base, token, f"lessons/{lesson}.ipynb", "listing")
    try:
        page.wait_for_selector(".jp-DirListing-item", timeout=30_000)
        names = page.locator(".jp-DirListing-item .jp-DirListing-itemText").all_inner_texts()
        expected = [ml.PAIRED_FOLDER, "jupytext.toml", "rise.css", *(f"{name}.ipynb" for name in LESSONS)]
        assert sorted(names) == sorted(expected), names
        _save_and_wait(page, pair, before, f"saving {lesson}.ipynb did not write lessons/py/{lesson}.py")
        assert not (root / "lessons" / f"{lesson}.py").exists()
    finally:
        page.screenshot(path=str(artifacts / "file-browser.png"))
        page.close()


def test_saving_a_lesson_opened_as_a_slideshow_is_no_learners_edit(chromium, lab, artifacts):
    """Alt+R (jupyterlab-rise) on a lesson, then save: make_lessons still rewrites it without FORCE=1."""
    base, token, root = lab
    lesson = next(name for name in LESSONS if name.startswith("03"))
    path = root / "lessons" / f"{lesson}.ipynb"
    before = path.stat().st_mtime
    page = _open(chromium, base, token, f"lessons/{lesson}.ipynb", "slides")
    try:
        page.locator(".jp-Notebook").first.click()
        page.keyboard.press("Escape")
        page.keyboard.press("Alt+r")
        page.wait_for_selector(".jp-RISEViewer, iframe", timeout=60_000)
        time.sleep(3)
        page.screenshot(path=str(artifacts / f"slideshow-opened-{lesson}.png"))
        _save_and_wait(page, path, before, f"JupyterLab did not save {lesson}.ipynb")
        time.sleep(1)
    finally:
        page.close()
    built = ml.build_lessons(ROOT / "solutions")
    saved = {name: content for name, content in built.items() if lesson in name}
    to_write, protected = ml.Builder(root / "lessons", root=root).plan(saved)
    assert protected == [], f"a slideshow save counted as a learner's edit: {protected}"
    assert json.loads(path.read_text())["cells"], "the saved lesson is empty"
