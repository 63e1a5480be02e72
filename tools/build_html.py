"""Build an offline static site of the course: an index in the README's syllabus order, a page per lesson.

Usage::

    python tools/build_html.py --learners [--out build/html]     # the learners' site: no solution in it
    python tools/build_html.py --out build/html-instructor         # the instructors' site: the executed solutions

The learners' site shows ``lessons/`` executed (each ``lessons/py/NN_topic.py`` run by tools/execute_notebooks.py in
``--work``, lessons/ itself untouched): every exercise stubbed and its check showing ⏳, every other output shown.
The instructors' site shows ``solutions/NN_topic.ipynb`` as stored. Each notebook becomes ``NN_topic.html``
(nbconvert's "lab" template: plots are the notebooks' inline PNGs, widgets are rendered from the saved widget
state, equations by MathJax). Nothing is fetched from a CDN when the site is viewed: MathJax, require.js and the
widget renderer come from the npm registry at build time (``npm pack`` of the exact versions pinned below, cached in
``--cache``) and are copied into ``<out>/_static/``. The site works opened straight from disk (``file://``). Sliders
show their saved state; without a kernel, moving them changes nothing.
"""

from __future__ import annotations

import argparse
import fnmatch
import hashlib
import html
import json
import re
import shutil
import subprocess
import sys
import tarfile
import tempfile
import time
from dataclasses import dataclass
from pathlib import Path

import nbformat
from jinja2 import DictLoader
from nbconvert import HTMLExporter

sys.path.insert(0, str(Path(__file__).resolve().parent))
from execute_notebooks import execute  # noqa: E402
from make_lessons import PAIRED_FOLDER  # noqa: E402

ROOT = Path(__file__).resolve().parents[1]
STATIC = "_static"
SITE_MARKER = ".nnlib-site"  # written into every built site: only such a folder (or an empty one) is ever replaced

# Exact versions: nbconvert's lab template configures MathJax 2 (MathJax.Hub.Config, the TeX-AMS_CHTML-full config)
# and ipywidgets 8 writes widget state version 2, which @jupyter-widgets/html-manager 1.0.x renders.
NPM_PACKAGES = {
    "mathjax": "2.7.9",
    "requirejs": "2.3.8",
    "@jupyter-widgets/html-manager": "1.0.15",
}
# What the site needs of each package: fnmatch patterns (a * also spans folders) over the paths inside the tarball's
# package/ folder.
ASSET_PATTERNS = {
    "mathjax": ["MathJax.js", "config/TeX-AMS_CHTML-full.js", "config/Safe.js", "extensions/*",
                "jax/input/TeX/*", "jax/output/CommonHTML/*", "jax/element/*", "fonts/HTML-CSS/TeX/woff/*",
                "localization/en/*", "LICENSE"],
    "requirejs": ["require.js"],
    # embed-amd.js bundles the base, controls and output widgets; the fonts are font-awesome's (button icons), in
    # the two formats every current browser reads (the bundle's CSS also lists eot, ttf and svg, for old ones).
    "@jupyter-widgets/html-manager": ["dist/embed-amd.js", "dist/*.woff2", "dist/*.woff"],
}
ASSET_DIRS = {"mathjax": "mathjax", "requirejs": "requirejs", "@jupyter-widgets/html-manager": "html-manager"}

MATHJAX_URL = f"{STATIC}/mathjax/MathJax.js?config=TeX-AMS_CHTML-full,Safe"
REQUIRE_JS_URL = f"{STATIC}/requirejs/require.js"
WIDGET_RENDERER_URL = f"{STATIC}/html-manager/dist/embed-amd.js"
# Where the widget renderer's webpack bundle finds its font files. Without it, it derives an absolute URL from its
# own script's origin, which is the string "null" under file://.
WIDGET_ASSETS_PATH = f"{STATIC}/html-manager/dist/"

TITLE_HEADING = re.compile(r"^#\s+Lesson\s+(\d+)\s*[—–-]+\s*(.+?)\s*$", re.MULTILINE)
LESSON_FILE = re.compile(r"^(\d\d)_.")

SITE_CSS = """
.site-nav { display: flex; gap: 1.5em; align-items: baseline; padding: 0.6em 1em; margin-bottom: 1em;
  border-bottom: 1px solid #ddd; font-family: var(--jp-ui-font-family, sans-serif); font-size: 14px; }
.site-nav a { text-decoration: none; }
.site-nav .site-next { margin-left: auto; }
/* Widget labels and controls in JupyterLab's sans-serif, as in the lab (the static page defines no --jp-widgets-*
   font, so they fell back to the browser's serif). */
.jupyter-widgets, .jupyter-widgets input, .jupyter-widgets select, .jupyter-widgets button, .widget-label,
.widget-readout { font-family: var(--jp-ui-font-family, system-ui, -apple-system, "Segoe UI", Roboto, sans-serif); }
"""

# The lab template, with a navigation bar on every page and without mermaid.js (no lesson has a diagram, and its
# loader names a CDN).
LESSON_TEMPLATE = """{%- extends 'index.html.j2' -%}
{% block extra_css %}<style type="text/css">{{ resources.site.css }}</style>
<script>window.__jupyter_widgets_assets_path__ = "{{ resources.site.widget_assets_path }}";</script>
{% endblock extra_css %}
{%- block html_head_js_mermaidjs -%}{%- endblock html_head_js_mermaidjs -%}
{%- block body_header -%}
{{ super() }}
<nav class="site-nav">
  <a class="site-index" href="index.html">&#8592; {{ resources.site.course_title | e }}</a>
  {%- if resources.site.previous %}
  <a class="site-previous" href="{{ resources.site.previous.html_name }}">
    Previous: {{ resources.site.previous.heading | e }}</a>
  {%- endif %}
  {%- if resources.site.next %}
  <a class="site-next" href="{{ resources.site.next.html_name }}">
    Next: {{ resources.site.next.heading | e }}</a>
  {%- endif %}
</nav>
{%- endblock body_header -%}
"""

SOLUTIONS_INTRO = "The executed solutions of every lesson, with their plots and equations."
LEARNERS_INTRO = ("Every lesson, executed, with its plots and equations. The exercises are left for you: their check "
                  "cells show ⏳ until you solve them in JupyterLab.")

INDEX_PAGE = """<!DOCTYPE html>
<html lang="en">
<head>
<meta charset="utf-8">
<meta name="viewport" content="width=device-width, initial-scale=1.0">
<title>{title}</title>
<style>
body {{ font-family: system-ui, -apple-system, "Segoe UI", Roboto, sans-serif; max-width: 50em; margin: 2em auto;
  padding: 0 1em; line-height: 1.5; color: #222; }}
ol.lessons {{ list-style: none; padding: 0; }}
ol.lessons li {{ margin: 0 0 1em; }}
ol.lessons .number {{ display: inline-block; min-width: 2em; color: #777; font-variant-numeric: tabular-nums; }}
ol.lessons .summary {{ margin: 0.2em 0 0 2em; color: #444; }}
</style>
</head>
<body>
<h1>{title}</h1>
<p>{intro} Interactive widgets show their saved state: moving a slider needs a running kernel (open the notebook in
JupyterLab: <code>make lab</code>).</p>
<ol class="lessons">
{entries}
</ol>
</body>
</html>
"""


@dataclass(frozen=True)
class Lesson:
    """One lesson page of the site."""

    number: str  # "01"
    stem: str  # "01_neuron_and_perceptron"
    title: str  # "The neuron and the perceptron"
    summary: str  # the syllabus's "You will" text, or ""
    source: Path

    @property
    def html_name(self) -> str:
        return f"{self.stem}.html"

    @property
    def heading(self) -> str:
        return f"Lesson {self.number} — {self.title}"


# --- the syllabus and the lessons -----------------------------------------------------------------------------------

def course_title(readme_text: str) -> str:
    """The README's first level-1 heading."""
    match = re.search(r"^#\s+(.+?)\s*$", readme_text, re.MULTILINE)
    return match.group(1) if match else "Course"


def _table_cells(line: str) -> list[str]:
    return [cell.strip() for cell in line.strip().strip("|").split("|")]


def _plain(markdown: str) -> str:
    """Markdown inline text without links' targets: ``[Title](url)`` -> ``Title``."""
    return re.sub(r"\[([^\]]*)\]\([^)]*\)", r"\1", markdown).strip()


def parse_syllabus(readme_text: str) -> list[tuple[str, str, str]]:
    """(number, lesson name, "You will" text) of each row of the README's "## Syllabus" table, in table order."""
    section = re.search(r"^## Syllabus\s*$(.*?)(?=^## |\Z)", readme_text, re.MULTILINE | re.DOTALL)
    if section is None:
        return []
    rows = [line for line in section.group(1).splitlines() if line.lstrip().startswith("|")]
    if len(rows) < 2:
        return []
    header = _table_cells(rows[0])
    try:
        number_col, lesson_col, you_will_col = header.index("#"), header.index("Lesson"), header.index("You will")
    except ValueError:
        return []
    entries = []
    for row in rows[2:]:  # rows[1] is the |---| separator
        cells = _table_cells(row)
        if len(cells) != len(header) or not cells[number_col].isdigit():
            continue
        entries.append((cells[number_col].zfill(2), _plain(cells[lesson_col]), _plain(cells[you_will_col])))
    return entries


def lesson_title(nb, fallback: str) -> str:
    """The title of the notebook's first ``# Lesson NN — Title`` heading, else ``fallback``."""
    for cell in nb.cells:
        if cell.cell_type == "markdown" and (match := TITLE_HEADING.search(cell.source)):
            return match.group(2)
    return fallback


def find_lessons(notebooks: list[Path], readme_text: str) -> list[Lesson]:
    """The notebooks as lessons, in syllabus order (notebooks the syllabus does not list follow, by number)."""
    syllabus = parse_syllabus(readme_text)
    order = {number: position for position, (number, _, _) in enumerate(syllabus)}
    summaries = {number: summary for number, _, summary in syllabus}
    names = {number: name for number, name, _ in syllabus}
    lessons = []
    for path in notebooks:
        match = LESSON_FILE.match(path.stem)
        if match is None:
            raise ValueError(f"{path.name}: expected a lesson notebook named NN_topic.ipynb")
        number = match.group(1)
        fallback = names.get(number) or path.stem[3:].replace("_", " ").capitalize()
        title = lesson_title(nbformat.read(path, as_version=4), fallback)
        lessons.append(Lesson(number, path.stem, title, summaries.get(number, ""), path))
    return sorted(lessons, key=lambda lesson: (order.get(lesson.number, len(order)), lesson.number))


# --- pages ----------------------------------------------------------------------------------------------------------

def make_exporter() -> HTMLExporter:
    """nbconvert's lab-template HTML exporter, every script URL pointing into _static/."""
    exporter = HTMLExporter(template_name="lab", extra_loaders=[DictLoader({"site.html.j2": LESSON_TEMPLATE})])
    exporter.template_file = "site.html.j2"
    exporter.mathjax_url = MATHJAX_URL
    exporter.require_js_url = REQUIRE_JS_URL
    exporter.widget_renderer_url = WIDGET_RENDERER_URL
    return exporter


def render_lesson(exporter: HTMLExporter, lesson: Lesson, course: str,
                  previous: Lesson | None, next_: Lesson | None) -> str:
    """The HTML page of one lesson."""
    nb = nbformat.read(lesson.source, as_version=4)
    resources = {
        "metadata": {"name": lesson.heading},
        "site": {"course_title": course, "previous": previous, "next": next_, "css": SITE_CSS,
                 "widget_assets_path": WIDGET_ASSETS_PATH},
    }
    body, _ = exporter.from_notebook_node(nb, resources=resources)
    return body


def _sentence(text: str) -> str:
    """``text`` capitalised and ending with a full stop (the syllabus's cells are fragments)."""
    text = text[:1].upper() + text[1:]
    return text if text.endswith((".", "!", "?")) else f"{text}."


def render_index(lessons: list[Lesson], course: str, intro: str = SOLUTIONS_INTRO) -> str:
    """The index page: the course title and one entry per lesson, in syllabus order."""
    entries = []
    for lesson in lessons:
        summary = f'\n  <p class="summary">{html.escape(_sentence(lesson.summary))}</p>' if lesson.summary else ""
        entries.append(f'<li><span class="number">{lesson.number}</span>'
                       f'<a href="{lesson.html_name}">{html.escape(lesson.title)}</a>{summary}</li>')
    return INDEX_PAGE.format(title=html.escape(course), intro=intro, entries="\n".join(entries))


def build_site(out: Path, static: Path, notebooks: list[Path], readme_text: str,
               intro: str = SOLUTIONS_INTRO) -> list[Lesson]:
    """Write the site into ``out`` (replacing it): index.html, a page per notebook, and ``static`` as _static/."""
    if not notebooks:
        raise ValueError("no lesson notebooks to build: expected solutions/NN_topic.ipynb files")
    course = course_title(readme_text)
    lessons = find_lessons(notebooks, readme_text)
    if out.exists() and any(out.iterdir()) and not (out / SITE_MARKER).exists():
        raise SystemExit(f"{out} exists and is not a site built by this tool (no {SITE_MARKER} in it): refusing to "
                         "replace it; choose another --out or an empty folder")
    if out.exists():
        shutil.rmtree(out)
    out.mkdir(parents=True)
    (out / SITE_MARKER).touch()
    shutil.copytree(static, out / STATIC)
    exporter = make_exporter()
    for position, lesson in enumerate(lessons):
        previous = lessons[position - 1] if position > 0 else None
        next_ = lessons[position + 1] if position + 1 < len(lessons) else None
        page = render_lesson(exporter, lesson, course, previous, next_)
        (out / lesson.html_name).write_text(page, encoding="utf-8")
    (out / "index.html").write_text(render_index(lessons, course, intro), encoding="utf-8")
    return lessons


# --- assets from the npm registry -----------------------------------------------------------------------------------

def npm_pack(package: str, version: str, cache: Path) -> Path:
    """``npm pack package@version`` into ``cache`` (once); the tarball's path.

    npm writes the tarball into a private folder, from which it is moved into ``cache`` whole: another build running
    at the same time (two test workers, say) finds either no tarball or a complete one, never a half-written one.
    """
    npm = shutil.which("npm")
    if npm is None:
        raise SystemExit("npm not found: make html downloads MathJax, require.js and the Jupyter widget renderer "
                         "from the npm registry at build time. Install Node.js's npm (Debian: apt-get install npm).")
    cache.mkdir(parents=True, exist_ok=True)
    with tempfile.TemporaryDirectory(dir=cache) as scratch:
        # Run in the folder rather than pass --pack-destination, which older npm releases lack.
        result = subprocess.run([npm, "pack", "--json", "--silent", f"{package}@{version}"], cwd=scratch,
                                capture_output=True, text=True, timeout=600)
        if result.returncode != 0:
            raise SystemExit(f"npm pack {package}@{version} failed (exit {result.returncode}):\n"
                             f"{result.stderr.strip()}")
        packed = Path(scratch) / json.loads(result.stdout)[0]["filename"]
        if not packed.is_file():
            raise SystemExit(f"npm pack {package}@{version} reported {packed.name}, but {packed} does not exist")
        tarball = cache / packed.name
        packed.replace(tarball)
    return tarball


def _cached_tarball(package: str, version: str, cache: Path) -> Path:
    """The tarball of package@version in ``cache``, fetched with npm only if absent (npm's scoped-name scheme)."""
    tarball = cache / f"{package.lstrip('@').replace('/', '-')}-{version}.tgz"
    return tarball if tarball.is_file() else npm_pack(package, version, cache)


def extract_assets(tarball: Path, patterns: list[str], destination: Path) -> int:
    """Copy the tarball's files under package/ that match ``patterns`` into ``destination``; how many."""
    count = 0
    with tarfile.open(tarball) as archive:
        for member in archive.getmembers():
            name = member.name.removeprefix("package/")
            if not member.isfile() or not any(fnmatch.fnmatch(name, pattern) for pattern in patterns):
                continue
            target = destination / name
            if not target.resolve().is_relative_to(destination.resolve()):
                raise ValueError(f"{tarball.name}: {member.name} would be written outside {destination}")
            target.parent.mkdir(parents=True, exist_ok=True)
            target.write_bytes(archive.extractfile(member).read())
            count += 1
    if count == 0:
        raise ValueError(f"{tarball.name}: no file matches {patterns}; expected the package's published layout")
    return count


def prepare_static(cache: Path) -> Path:
    """The _static/ tree (MathJax, require.js, the widget renderer), assembled once per versions and patterns."""
    recipe = json.dumps([NPM_PACKAGES, ASSET_PATTERNS, ASSET_DIRS], sort_keys=True).encode()
    static = cache / f"static-{hashlib.sha256(recipe).hexdigest()[:12]}"
    if static.is_dir():
        return static
    cache.mkdir(parents=True, exist_ok=True)
    with tempfile.TemporaryDirectory(dir=cache) as scratch:
        staging = Path(scratch) / STATIC
        for package, version in NPM_PACKAGES.items():
            tarball = _cached_tarball(package, version, cache)
            extract_assets(tarball, ASSET_PATTERNS[package], staging / ASSET_DIRS[package])
        try:
            staging.rename(static)  # all or nothing: an interrupted build leaves no half-filled cache
        except OSError:
            if not static.is_dir():
                raise
            # another build finished the same tree first: keep its copy
    for stale in cache.glob("static-*"):
        if stale != static:
            shutil.rmtree(stale)
    return static


def learner_notebooks(lessons: Path, work: Path) -> list[Path]:
    """Every ``lessons/py/NN_topic.py`` copied into ``work`` and executed there; the executed notebooks' paths."""
    sources = sorted((lessons / PAIRED_FOLDER).glob("[0-9][0-9]_*.py"))
    if not sources:
        raise ValueError(f"{lessons}: no lesson {PAIRED_FOLDER}/NN_topic.py to execute (make notebooks writes them)")
    work.mkdir(parents=True, exist_ok=True)
    executed = []
    for source in sources:
        shutil.copyfile(source, work / source.name)
        executed.append(execute(work / source.name))
    return executed


def _size(path: Path) -> int:
    return sum(file.stat().st_size for file in path.rglob("*") if file.is_file())


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--out", type=Path, default=ROOT / "build" / "html", help="the site's folder (replaced)")
    parser.add_argument("--cache", type=Path, default=ROOT / "build" / "html-cache",
                        help="where the npm tarballs and the assembled assets are kept between builds")
    parser.add_argument("--solutions", type=Path, default=ROOT / "solutions", help="the executed notebooks' folder")
    parser.add_argument("--readme", type=Path, default=ROOT / "README.md", help="the README with the syllabus")
    parser.add_argument("--learners", action="store_true",
                        help="build the learners' site from lessons/ (executed in --work), not the solutions")
    parser.add_argument("--lessons", type=Path, default=ROOT / "lessons", help="the lessons' folder (--learners)")
    parser.add_argument("--work", type=Path, default=ROOT / "build" / "learner-notebooks",
                        help="where --learners executes the lessons")
    args = parser.parse_args(argv)
    start = time.monotonic()
    static = prepare_static(args.cache)
    if args.learners:
        notebooks, intro = learner_notebooks(args.lessons, args.work), LEARNERS_INTRO
    else:
        notebooks, intro = sorted(args.solutions.glob("[0-9][0-9]_*.ipynb")), SOLUTIONS_INTRO
    lessons = build_site(args.out, static, notebooks, args.readme.read_text(encoding="utf-8"), intro)
    print(f"{args.out / 'index.html'}: {len(lessons)} lessons, {_size(args.out) / 1e6:.1f} MB, "
          f"{time.monotonic() - start:.0f} s")
    return 0


if __name__ == "__main__":
    sys.exit(main())
