"""Figures and slides as a lecture hall sees them (issue 24), in JupyterLab and jupyterlab-rise in headless chromium.

- lesson 03's graph stepper draws its labels at least 10 px tall in a 1400×900 window;
- a slide whose cell only draws a figure shows the figure, not the plotting code (``jupyter.source_hidden``);
- a display equation wider than the narrow split slide view scrolls instead of being cut off (lessons/rise.css).
Screenshots go to build/browser/ (NNLIB_BROWSER_ARTIFACTS overrides).
"""

import json
from pathlib import Path

from lab_page import open_in_lab, run_all_cells

from nnlib import viz

ROOT = Path(__file__).resolve().parents[2]
LESSON_03 = next(path.stem for path in (ROOT / "lessons").glob("03_*.ipynb"))
MIN_LABEL_PX = 10


def test_the_graph_steppers_labels_are_at_least_10_px_tall(chromium, lab, artifacts):
    base, token, _ = lab
    page = chromium.new_page(viewport={"width": 1400, "height": 900})
    try:
        open_in_lab(page, base, token, f"lessons/{LESSON_03}.ipynb", "stepper")
        run_all_cells(page)
        cell = page.locator(".jp-CodeCell").filter(has_text="step_through_graph(E_graph)")
        image = cell.locator(".widget-interact img").first
        image.wait_for(timeout=60_000)
        image.scroll_into_view_if_needed()
        natural, shown = image.evaluate("img => [img.naturalWidth, img.getBoundingClientRect().width]")
        label_px = viz.GRAPH_FONT_PT * viz.GRAPH_DPI / 72 * shown / natural
        page.screenshot(path=str(artifacts / f"graph-stepper-{LESSON_03}.png"))
        assert label_px >= MIN_LABEL_PX, f"labels {label_px:.1f} px tall (figure shown at {shown / natural:.0%})"
    finally:
        page.close()


def _slideshow(chromium, base, token, lesson, viewport):
    page = chromium.new_page(viewport={"width": viewport[0], "height": viewport[1]})
    page.goto(f"{base}/rise/lessons/{lesson}.ipynb?token={token}")
    page.wait_for_selector(".reveal.ready", timeout=60_000)
    return page


def _go_to_slide(page, heading: str) -> None:
    """Press → until the present slide has ``heading`` (bounded by the number of slides)."""
    for _ in range(page.locator(".reveal .slides > section").count()):
        if heading in page.locator(".reveal .slides section.present").first.inner_text():
            return
        page.keyboard.press("ArrowRight")
        page.wait_for_timeout(300)
    raise AssertionError(f"no slide with {heading!r}")


def test_a_figure_slide_shows_the_figure_not_its_code(chromium, lab, artifacts):
    base, token, root = lab
    cells = json.loads((root / "lessons" / f"{LESSON_03}.ipynb").read_text())["cells"]
    hidden = ["".join(c["source"]) for c in cells if c["metadata"].get("jupyter", {}).get("source_hidden")]
    assert any("draw_222_network" in source for source in hidden), "the network picture's code is not hidden"
    page = _slideshow(chromium, base, token, LESSON_03, (1280, 800))
    try:
        _go_to_slide(page, "The 2-2-2 network of the slides")
        slide = page.locator(".reveal .slides section.present").first
        page.screenshot(path=str(artifacts / f"slide-network-{LESSON_03}.png"))
        assert "PARAMS = dict(" in slide.inner_text(), "the slide lost the cell that states the numbers"
        assert "draw_222_network" not in slide.inner_text(), "the slide shows the figure's code"
    finally:
        page.close()


def test_wide_equations_scroll_in_the_split_slide_view_instead_of_being_cut(chromium, lab, artifacts):
    base, token, _ = lab
    page = _slideshow(chromium, base, token, LESSON_03, (440, 800))  # a third of a screen: the split view
    try:
        _go_to_slide(page, "The 2-2-2 network of the slides")
        page.wait_for_function("() => document.querySelectorAll('.reveal section.present mjx-container').length > 0",
                               timeout=30_000)
        equations = page.evaluate("""() => Array.from(document.querySelectorAll(
            '.reveal section.present mjx-container[display="true"]')).map(e => {
                const style = getComputedStyle(e);
                return [e.scrollWidth, e.clientWidth, style.overflowX];
            })""")
        page.screenshot(path=str(artifacts / f"slide-split-view-{LESSON_03}.png"))
        assert equations, "no display equation on the slide"
        cut = [eq for eq in equations if eq[0] > eq[1] + 1 and eq[2] not in ("auto", "scroll")]
        assert not cut, f"equations wider than the slide and cut off (scrollWidth, clientWidth, overflow): {cut}"
    finally:
        page.close()
