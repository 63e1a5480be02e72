"""Every lesson, opened in JupyterLab in a real browser: Run All gives no error, and a slider really drives its plot.

For each lesson: open it (once its kernel is idle its tab must carry no dirty mark: a learner who closes an untouched
lesson is asked nothing), run all cells from the Run menu, wait (bounded) for the kernel to go idle, save, and read
the saved notebook: every code cell executed, no error output. Then move the first slider of an interactive
widget with the keyboard and wait (bounded) until that widget's output changes. A screenshot per lesson goes to
build/browser/ (NNLIB_BROWSER_ARTIFACTS overrides).
"""

import json
import time
from pathlib import Path

import pytest
from lab_page import open_in_lab, run_all_cells, stays_dirty

ROOT = Path(__file__).resolve().parents[2]
LESSONS = sorted(path.stem for path in (ROOT / "lessons").glob("[0-9][0-9]_*.ipynb"))
WIDGET_TIMEOUT_S = 60


def _saved_outputs(path: Path, previous_mtime: float) -> list[dict]:
    """The code cells of the notebook once JupyterLab has written it (bounded wait)."""
    deadline = time.monotonic() + 30
    while path.stat().st_mtime == previous_mtime:
        assert time.monotonic() < deadline, f"JupyterLab did not save {path.name} within 30 s"
        time.sleep(0.2)
    time.sleep(0.5)  # let the write finish
    return [cell for cell in json.loads(path.read_text())["cells"] if cell["cell_type"] == "code"]


def _widget_output(widget) -> str:
    """What the interact widget shows below its controls: the plot image's data, or the printed text."""
    output = widget.locator(".widget-output, .jp-OutputArea").last
    return output.inner_html()


def _move_first_slider(page) -> tuple[str, str]:
    """Press → on the first slider inside an interact widget; returns (its output before, after the change)."""
    widget = page.locator(".widget-interact").filter(has=page.locator(".widget-slider")).first
    widget.scroll_into_view_if_needed()
    before = _widget_output(widget)
    handle = widget.locator(".widget-slider .noUi-handle").first
    handle.focus()
    for key in ("ArrowRight", "ArrowRight", "ArrowRight"):
        handle.press(key)
    deadline = time.monotonic() + WIDGET_TIMEOUT_S
    while (after := _widget_output(widget)) == before and time.monotonic() < deadline:
        time.sleep(0.25)
    return before, after


@pytest.mark.parametrize("lesson", LESSONS)
def test_lesson_runs_clean_in_jupyterlab_and_its_slider_updates_the_output(chromium, lab, artifacts, lesson):
    base, token, root = lab
    path = root / "lessons" / f"{lesson}.ipynb"
    mtime = path.stat().st_mtime
    page = chromium.new_page(viewport={"width": 1400, "height": 1000})
    try:
        open_in_lab(page, base, token, f"lessons/{lesson}.ipynb", f"w{lesson[:2]}")
        assert not stays_dirty(page), f"{lesson} is marked modified once its kernel started"
        run_all_cells(page)
        page.keyboard.press("Control+s")
        cells = _saved_outputs(path, mtime)
        not_run = [cell["source"][:60] for cell in cells if cell["execution_count"] is None]
        errors = [(out["ename"], out["evalue"]) for cell in cells for out in cell["outputs"]
                  if out["output_type"] == "error"]
        assert not not_run, f"{lesson}: {len(not_run)} code cells did not run, first {not_run[0]!r}"
        assert not errors, f"{lesson}: error outputs {errors}"
        printed = "".join("".join(out.get("text", "")) for cell in cells for out in cell["outputs"])
        assert "⏳ to do — Exercise" in printed, f"{lesson}: no unsolved check says in words that it waits"
        before, after = _move_first_slider(page)
        assert after != before, f"{lesson}: moving the first slider did not change its widget's output " \
                                f"within {WIDGET_TIMEOUT_S} s"
    finally:
        page.screenshot(path=str(artifacts / f"{lesson}.png"))
        page.close()


def test_a_lesson_opens_as_a_slideshow_with_one_slide_per_section(chromium, lab, artifacts):
    base, token, root = lab
    lesson = LESSONS[0]
    cells = json.loads((root / "lessons" / f"{lesson}.ipynb").read_text())["cells"]
    slides = sum(cell["metadata"].get("slideshow", {}).get("slide_type") == "slide" for cell in cells)
    page = chromium.new_page(viewport={"width": 1280, "height": 800})
    try:
        page.goto(f"{base}/rise/lessons/{lesson}.ipynb?token={token}")
        page.wait_for_selector(".reveal.ready", timeout=60_000)
        assert page.locator(".reveal .slides > section").count() == slides > 5
        first = page.evaluate("() => location.hash")
        page.keyboard.press("ArrowRight")
        page.wait_for_function(f"() => location.hash !== {json.dumps(first)}", timeout=10_000)
        assert page.locator(".reveal .slides section.present h2").first.is_visible()
    finally:
        page.screenshot(path=str(artifacts / f"slides-{lesson}.png"))
        page.close()
