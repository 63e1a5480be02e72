"""The static sites of ``make html``, opened from disk (file://) in headless chromium: they fetch nothing from a
network, and the learners' site holds no solution.

Both sites are built once per session into a temporary folder (the npm assets come from build/html-cache/, fetched
with npm on the first build): the instructors' from the stored solutions, the learners' from lessons/ executed as
`make html` does. On the index and on one lesson every request is recorded: none may fail, none may go to a host
(file:// and data: only, or 127.0.0.1). The lesson's equations are typeset by the local MathJax, its plots are
embedded images, and its widgets are rendered from the saved state. Every page of the learners' site is read as the
browser shows it, and no exercise region of solutions/*.py may appear in it. A screenshot of each page goes to
build/browser/.
"""

import os
import re
import shutil
import sys
from pathlib import Path
from urllib.parse import urlsplit

import pytest

# Both sites and their npm cache are built once, in one worker (make test-browser runs two).
pytestmark = pytest.mark.xdist_group("site")
ROOT = Path(__file__).resolve().parents[2]
sys.path.insert(0, str(ROOT / "tools"))
import build_html  # noqa: E402
import make_lessons  # noqa: E402

LESSON = "03"  # the most math: the worked backpropagation example
LOAD_TIMEOUT_MS = 30_000
MATH_TIMEOUT_MS = 60_000
# MathJax 2 is done: its queue is empty, the fast previews are cleared, and every math/tex script it found has its
# CommonHTML frame ("<id>-Frame").
MATH_TYPESET = """() => {
    if (!(window.MathJax && MathJax.isReady && MathJax.Hub.queue.pending === 0 && !MathJax.Hub.queue.running)) {
        return false;
    }
    const scripts = Array.from(document.querySelectorAll('script[type^="math/tex"]'));
    const frame = s => document.getElementById(s.id + '-Frame');
    return scripts.length > 0 && scripts.every(s => s.id && frame(s) && frame(s).classList.contains('MathJax_CHTML'))
        && document.querySelectorAll('.MathJax_Preview:not(:empty)').length === 0;
}"""


class Requests:
    """Every request a page makes, the failed ones, and the responses with an HTTP error status."""

    def __init__(self, page):
        self.urls, self.failed, self.errors = [], [], []
        page.on("request", lambda request: self.urls.append(request.url))
        page.on("requestfailed", lambda request: self.failed.append((request.url, request.failure)))
        page.on("response", lambda response: response.status >= 400 and self.errors.append(
            (response.url, response.status)))

    def assert_offline(self) -> None:
        remote = [url for url in self.urls if urlsplit(url).scheme not in ("file", "data")
                  and urlsplit(url).hostname != "127.0.0.1"]
        assert not remote, f"requests to other hosts (expected file:// only): {remote}"
        assert not self.failed, f"failed requests: {self.failed}"
        assert not self.errors, f"responses with an error status: {self.errors}"


@pytest.fixture(scope="session")
def static() -> Path:
    """The sites' _static/ tree (the real npm assets)."""
    if shutil.which("npm") is None:
        reason = "npm is not installed (apt-get install npm): make html fetches its assets with it"
        if os.environ.get("NNLIB_REQUIRE_BROWSER") == "1":
            pytest.fail(f"NNLIB_REQUIRE_BROWSER=1 but {reason}")
        pytest.skip(reason)
    return build_html.prepare_static(ROOT / "build" / "html-cache")


def _build(out: Path, static: Path, notebooks: list[Path], intro: str) -> Path:
    build_html.build_site(out, static, notebooks, (ROOT / "README.md").read_text(encoding="utf-8"), intro)
    return out


@pytest.fixture(scope="session")
def site(tmp_path_factory, static) -> Path:
    """The instructors' site: the stored solutions."""
    notebooks = sorted((ROOT / "solutions").glob("[0-9][0-9]_*.ipynb"))
    return _build(tmp_path_factory.mktemp("site") / "html", static, notebooks, build_html.SOLUTIONS_INTRO)


@pytest.fixture(scope="session")
def learner_site(tmp_path_factory, static) -> Path:
    """The learners' site: lessons/ executed (a few minutes), as make html builds it."""
    notebooks = build_html.learner_notebooks(ROOT / "lessons", tmp_path_factory.mktemp("learner-notebooks"))
    return _build(tmp_path_factory.mktemp("learner-site") / "html", static, notebooks, build_html.LEARNERS_INTRO)


def _flat(text: str) -> str:
    return " ".join(text.split())


def solution_regions() -> list[tuple[str, str, str]]:
    """(lesson, where, body with whitespace collapsed) of every exercise region of solutions/*.py."""
    regions = []
    for path in sorted((ROOT / "solutions").glob(make_lessons.SOLUTION_GLOB)):
        lines = path.read_text(encoding="utf-8").splitlines()
        for region in make_lessons.find_regions("\n".join(lines), str(path)):
            regions.append((path.stem, f"{path.name}:{region.begin} ({region.function})",
                            _flat("\n".join(lines[region.begin: region.end - 1]))))
    return regions


def page_texts(page, site: Path) -> dict[str, str]:
    """{page name: its text as the browser shows it, whitespace collapsed} for every page of the site."""
    texts = {}
    for html_page in sorted(site.glob("*.html")):
        page.goto(html_page.as_uri(), wait_until="domcontentloaded")
        texts[html_page.name] = _flat(page.evaluate("document.body.innerText"))
    return texts


@pytest.fixture
def page(chromium):
    page = chromium.new_page(viewport={"width": 1400, "height": 1000})
    page.set_default_timeout(LOAD_TIMEOUT_MS)
    yield page
    page.close()


def test_index_links_every_lesson_and_a_link_opens_it(page, site, artifacts):
    requests = Requests(page)
    page.goto((site / "index.html").as_uri(), wait_until="load")
    page.screenshot(path=str(artifacts / "site-index.png"), full_page=True)
    links = page.locator("ol.lessons a")
    hrefs = [links.nth(i).get_attribute("href") for i in range(links.count())]
    expected = sorted(f"{path.stem}.html" for path in (ROOT / "solutions").glob("[0-9][0-9]_*.ipynb"))
    assert sorted(hrefs) == expected
    target = next(href for href in hrefs if href.startswith(LESSON))
    page.locator(f'ol.lessons a[href="{target}"]').click()
    page.wait_for_url(f"**/{target}", timeout=LOAD_TIMEOUT_MS)
    page.wait_for_load_state("load")
    assert page.locator("h1").first.inner_text().startswith(f"Lesson {LESSON}")
    page.locator("nav.site-nav a.site-index").click()
    page.wait_for_url("**/index.html", timeout=LOAD_TIMEOUT_MS)
    requests.assert_offline()


def test_a_lesson_renders_its_math_plots_and_widgets_offline(page, site, artifacts):
    lesson = next(site.glob(f"{LESSON}_*.html"))
    requests = Requests(page)
    page.goto(lesson.as_uri(), wait_until="load")
    page.wait_for_function(MATH_TYPESET, timeout=MATH_TIMEOUT_MS)
    page.wait_for_selector(".widget-slider", timeout=LOAD_TIMEOUT_MS)
    page.wait_for_load_state("networkidle", timeout=LOAD_TIMEOUT_MS)  # the fonts the math asked for
    page.screenshot(path=str(artifacts / f"site-{lesson.stem}.png"))

    assert page.locator(".MathJax_CHTML").count() > 10
    markdown = "\n".join(page.locator(".jp-MarkdownOutput").all_inner_texts())
    assert "$$" not in markdown, "display math left untypeset"
    assert "Math Processing Error" not in markdown

    images = page.evaluate("Array.from(document.querySelectorAll('.jp-OutputArea-output img'))"
                           ".map(img => [img.src.slice(0, 22), img.naturalWidth])")
    assert images, "no plot in the lesson's outputs"
    assert all(src.startswith("data:image/") and width > 0 for src, width in images), images
    widget_plots = page.locator(".widget-interact img[src^='data:image/png']")
    assert widget_plots.count() >= 1, "no widget shows its saved plot"
    label_fonts = set(page.evaluate("Array.from(document.querySelectorAll('.widget-label, .widget-readout'))"
                                    ".map(e => getComputedStyle(e).fontFamily)"))
    assert label_fonts and all("sans-serif" in font for font in label_fonts), label_fonts
    requests.assert_offline()


def test_the_learner_site_shows_no_solution_and_every_check_waits(page, site, learner_site, artifacts):
    regions = solution_regions()
    assert len(regions) >= 30, regions
    instructors = "\n".join(page_texts(page, site).values())
    assert [where for _, where, body in regions if body not in instructors] == [], "the scan must find the solutions"
    learners = page_texts(page, learner_site)
    assert len(learners) == len(list(site.glob("*.html"))) > 10
    leaks = [(name, where) for name, text in learners.items() for _, where, body in regions if body in text]
    assert not leaks, f"solution code in the learners' site: {leaks}"
    for name, text in learners.items():
        solution = ROOT / "solutions" / name.replace(".html", ".py")  # the index page has none
        text_of_solution = solution.read_text(encoding="utf-8") if solution.exists() else ""
        checks = len(re.findall(r"^check_\w+\(", text_of_solution, re.MULTILINE))  # one verdict each (a class's methods
        waiting = len(re.findall(r"⏳ to do — Exercise \d+\.\d+", text))         # are two regions, one check)
        assert (waiting, "✅" in text, "❌" in text) == (checks, False, False), name
    page.goto((learner_site / "index.html").as_uri())
    page.screenshot(path=str(artifacts / "learner-site-index.png"), full_page=True)
