"""tools/build_html.py without npm or a browser: the syllabus parser, the index, the pages' links and assets.

The site is built from two small notebooks (and one real lesson) with a fake _static/ tree; the npm side is tested
on fake tarballs in a pre-filled cache, with npm hidden.
"""

import io
import json
import re
import shutil
import subprocess
import sys
import tarfile
from fnmatch import fnmatch
from pathlib import Path
from urllib.parse import unquote, urlsplit

import nbformat
import pytest
from nbformat.v4 import new_code_cell, new_markdown_cell, new_notebook, new_output

sys.path.insert(0, str(Path(__file__).resolve().parents[1] / "tools"))
import build_html as bh  # noqa: E402

ROOT = Path(__file__).resolve().parents[1]
README = """# A tiny course

Intro.

## Syllabus

| # | Lesson | You will | Status |
|---|--------|----------|--------|
| 02 | [Second things](lessons/02_second.ipynb) | see the [second](https://example.org) thing | ready |
| 01 | [First things](lessons/01_first.ipynb) | derive $a$ first | ready |
| 03 | Third | plan ahead | planned |

## How to study
| not | the | syllabus |
"""
PNG = "iVBORw0KGgoAAAANSUhEUgAAAAEAAAABCAYAAAAfFcSJAAAADUlEQVR42mNk+M9QDwADhgGAWjR9awAAAABJRU5ErkJggg=="
# Attributes that make the browser fetch something at view time (links in Markdown text are <a href>, not these).
FETCHING = re.compile(r"<(script|img|link|iframe|source|video|audio)\b[^>]*?\b(src|href)=\"([^\"]*)\"", re.IGNORECASE)
RENDERER_URL = re.compile(r"widgetRendererSrc = '([^']*)'")


def _notebook(path: Path, heading: str) -> Path:
    nb = new_notebook(cells=[
        new_markdown_cell(f"{heading}\n\nSome math: $$E = \\frac{{1}}{{2}}(y - t)^2$$ and [docs](https://numpy.org)."),
        new_code_cell("plot()", outputs=[new_output("display_data", data={"image/png": PNG, "text/plain": "<Fig>"})]),
    ])
    nbformat.write(nb, path)
    return path


@pytest.fixture
def fake_static(tmp_path) -> Path:
    """A _static/ tree with (empty) files at every URL the pages reference."""
    static = tmp_path / "static"
    for url in (bh.MATHJAX_URL, bh.REQUIRE_JS_URL, bh.WIDGET_RENDERER_URL):
        file = static / urlsplit(url).path.removeprefix(f"{bh.STATIC}/")
        file.parent.mkdir(parents=True, exist_ok=True)
        file.write_text("// fake asset\n")
    return static


@pytest.fixture
def small_site(tmp_path, fake_static) -> tuple[Path, list]:
    solutions = tmp_path / "solutions"
    solutions.mkdir()
    notebooks = [_notebook(solutions / "01_first.ipynb", "# Lesson 01 — The first lesson"),
                 _notebook(solutions / "02_second.ipynb", "# Lesson 02 — The second lesson"),
                 _notebook(solutions / "11_extra.ipynb", "# An extra without a lesson heading")]
    out = tmp_path / "site"
    lessons = bh.build_site(out, fake_static, notebooks, README)
    return out, lessons


def _local_targets(page: Path) -> list[str]:
    """Every URL the page makes the browser fetch: src/href of fetching tags and the widget renderer's script."""
    text = page.read_text(encoding="utf-8")
    return [match[2] for match in FETCHING.findall(text)] + RENDERER_URL.findall(text)


def _assert_offline(page: Path) -> None:
    """No URL the page fetches is remote, and every local one exists in the site."""
    for url in _local_targets(page):
        parts = urlsplit(url)
        assert parts.scheme in ("", "data"), f"{page.name} fetches {url!r} at view time; expected a _static/ path"
        if parts.scheme == "" and parts.path:
            assert (page.parent / unquote(parts.path)).is_file(), f"{page.name} references missing {url!r}"


def test_the_readme_syllabus_lists_every_lesson_in_order_with_its_text():
    syllabus = bh.parse_syllabus((ROOT / "README.md").read_text(encoding="utf-8"))
    numbers = [number for number, _, _ in syllabus]
    assert numbers[0] == "01" and numbers == sorted(set(numbers)), numbers
    assert all(name and you_will for _, name, you_will in syllabus), syllabus
    assert all("](" not in name for _, name, _ in syllabus), "link targets should be stripped"


def test_parse_syllabus_reads_the_table_under_its_heading_only():
    assert bh.parse_syllabus(README) == [("02", "Second things", "see the second thing"),
                                         ("01", "First things", "derive $a$ first"),
                                         ("03", "Third", "plan ahead")]
    assert bh.parse_syllabus("# No syllabus here\n") == []
    assert bh.course_title(README) == "A tiny course"


def test_lesson_title_comes_from_the_lesson_heading_with_a_fallback():
    nb = new_notebook(cells=[new_markdown_cell("Intro"), new_markdown_cell("# Lesson 07 — Recurrent networks\ntext")])
    assert bh.lesson_title(nb, "fallback") == "Recurrent networks"
    assert bh.lesson_title(new_notebook(cells=[new_markdown_cell("# Something")]), "fallback") == "fallback"


def test_index_follows_the_syllabus_order_and_every_link_exists(small_site):
    out, lessons = small_site
    assert [lesson.stem for lesson in lessons] == ["02_second", "01_first", "11_extra"]
    index = (out / "index.html").read_text(encoding="utf-8")
    links = re.findall(r'<a href="([^"]+)">([^<]+)</a>', index)
    assert links == [("02_second.html", "The second lesson"), ("01_first.html", "The first lesson"),
                     ("11_extra.html", "Extra")]
    assert all((out / href).is_file() for href, _ in links)
    assert "See the second thing." in index and "Derive $a$ first." in index
    assert "<h1>A tiny course</h1>" in index


def test_every_lesson_page_links_back_to_the_index_and_to_its_neighbours(small_site):
    out, _ = small_site
    first = (out / "02_second.html").read_text(encoding="utf-8")
    assert 'href="index.html"' in first and 'href="01_first.html"' in first
    assert 'class="site-previous"' not in first
    last = (out / "11_extra.html").read_text(encoding="utf-8")
    assert 'href="01_first.html"' in last and 'class="site-next"' not in last
    assert "<title>Lesson 02 — The second lesson</title>" in first


def test_pages_fetch_nothing_remote_and_embed_their_plots(small_site):
    out, _ = small_site
    for page in out.glob("*.html"):
        _assert_offline(page)
    lesson = (out / "01_first.html").read_text(encoding="utf-8")
    assert f'src="data:image/png;base64,{PNG}"' in lesson
    assert "cdnjs" not in lesson and "unpkg" not in lesson and "jsdelivr" not in lesson
    assert 'href="https://numpy.org"' in lesson  # links in the text stay


def test_a_real_lesson_with_widget_state_fetches_nothing_remote(tmp_path, fake_static):
    notebook = next(iter(sorted((ROOT / "solutions").glob("02_*.ipynb"))), None)
    if notebook is None:
        pytest.skip("solutions/02_*.ipynb is absent")
    out = tmp_path / "site"
    bh.build_site(out, fake_static, [notebook], (ROOT / "README.md").read_text(encoding="utf-8"))
    page = out / f"{notebook.stem}.html"
    _assert_offline(page)
    text = page.read_text(encoding="utf-8")
    assert "application/vnd.jupyter.widget-state+json" in text
    assert set(RENDERER_URL.findall(text)) == {bh.WIDGET_RENDERER_URL}


def test_build_site_without_notebooks_says_what_it_expected(tmp_path, fake_static):
    with pytest.raises(ValueError, match="NN_topic.ipynb"):
        bh.build_site(tmp_path / "site", fake_static, [], README)


def test_asset_patterns_cover_every_url_the_pages_reference():
    for package, url in (("mathjax", bh.MATHJAX_URL), ("requirejs", bh.REQUIRE_JS_URL),
                         ("@jupyter-widgets/html-manager", bh.WIDGET_RENDERER_URL)):
        prefix = f"{bh.STATIC}/{bh.ASSET_DIRS[package]}/"
        path = urlsplit(url).path
        assert path.startswith(prefix), (url, prefix)
        inner = path.removeprefix(prefix)
        assert any(fnmatch(inner, pattern) for pattern in bh.ASSET_PATTERNS[package]), (package, inner)
    assert set(bh.ASSET_PATTERNS) == set(bh.NPM_PACKAGES) == set(bh.ASSET_DIRS)


def _tarball(path: Path, files: dict[str, bytes]) -> Path:
    with tarfile.open(path, "w:gz") as archive:
        for name, data in files.items():
            info = tarfile.TarInfo(name)
            info.size = len(data)
            archive.addfile(info, io.BytesIO(data))
    return path


def test_extract_assets_copies_only_the_matching_files(tmp_path):
    tarball = _tarball(tmp_path / "pkg-1.0.0.tgz", {"package/dist/a.js": b"a", "package/dist/a.js.map": b"m",
                                                    "package/src/a.ts": b"t", "package/fonts/x.woff": b"w"})
    count = bh.extract_assets(tarball, ["dist/*.js", "fonts/*"], tmp_path / "out")
    assert count == 2
    assert sorted(str(p.relative_to(tmp_path / "out")) for p in (tmp_path / "out").rglob("*.*")) == [
        "dist/a.js", "fonts/x.woff"]
    with pytest.raises(ValueError, match="no file matches"):
        bh.extract_assets(tarball, ["nothing/*"], tmp_path / "none")


def test_extract_assets_refuses_paths_outside_the_destination(tmp_path):
    tarball = _tarball(tmp_path / "evil.tgz", {"package/../../escape.js": b"x"})
    with pytest.raises(ValueError, match="outside"):
        bh.extract_assets(tarball, ["*"], tmp_path / "out")


def _cached_tarballs(cache: Path) -> Path:
    """``cache`` holding a small tarball of every npm package, files named as prepare_static expects."""
    cache.mkdir()
    for package, version in bh.NPM_PACKAGES.items():
        files = {f"package/{pattern.replace('*', 'file.js')}": b"x" for pattern in bh.ASSET_PATTERNS[package]}
        _tarball(cache / f"{package.lstrip('@').replace('/', '-')}-{version}.tgz", files)
    return cache


def test_prepare_static_uses_the_cache_without_npm(tmp_path, monkeypatch):
    cache = _cached_tarballs(tmp_path / "cache")
    monkeypatch.setattr(bh.shutil, "which", lambda name: None)  # any npm call would now fail
    static = bh.prepare_static(cache)
    assert (static / "requirejs" / "require.js").is_file()
    assert (static / "html-manager" / "dist" / "embed-amd.js").is_file()
    assert (static / "mathjax" / "MathJax.js").is_file()
    assert bh.prepare_static(cache) == static
    assert [path.name for path in cache.iterdir() if path.is_dir()] == [static.name]  # no staging left behind


def test_npm_pack_moves_only_a_whole_tarball_into_the_cache(tmp_path, monkeypatch):
    """A build running beside this one looks for cache/<name>.tgz: npm must never write there directly."""
    cache = tmp_path / "cache"
    name = "requirejs-2.3.8.tgz"
    seen_while_packing = []

    def fake_npm(command, cwd, **kwargs):
        (Path(cwd) / name).write_bytes(b"\x1f\x8b")  # npm has begun writing the tarball
        seen_while_packing.append((cache / name).exists())
        _tarball(Path(cwd) / name, {"package/require.js": b"x"})
        return subprocess.CompletedProcess(command, 0, stdout=json.dumps([{"filename": name}]), stderr="")

    monkeypatch.setattr(bh.shutil, "which", lambda program: "/usr/bin/npm")
    monkeypatch.setattr(bh.subprocess, "run", fake_npm)
    tarball = bh.npm_pack("requirejs", "2.3.8", cache)
    assert tarball == cache / name and seen_while_packing == [False]
    assert bh.extract_assets(tarball, ["require.js"], tmp_path / "out") == 1
    assert [path.name for path in cache.iterdir()] == [name]  # npm's private folder is gone


def test_prepare_static_keeps_the_tree_another_build_finished_first(tmp_path, monkeypatch):
    other_build = bh.prepare_static(_cached_tarballs(tmp_path / "other"))
    cache = _cached_tarballs(tmp_path / "cache")
    extract = bh.extract_assets

    def extract_while_the_other_build_finishes(tarball, patterns, destination):
        if not (cache / other_build.name).exists():
            shutil.copytree(other_build, cache / other_build.name)
        return extract(tarball, patterns, destination)

    monkeypatch.setattr(bh, "extract_assets", extract_while_the_other_build_finishes)
    static = bh.prepare_static(cache)
    assert static == cache / other_build.name and (static / "mathjax" / "MathJax.js").is_file()
    assert [path.name for path in cache.iterdir() if path.is_dir()] == [static.name]  # no staging left behind


def test_a_missing_npm_names_what_to_install(tmp_path, monkeypatch):
    monkeypatch.setattr(bh.shutil, "which", lambda name: None)
    with pytest.raises(SystemExit, match="apt-get install npm"):
        bh.prepare_static(tmp_path / "cache")


def test_a_folder_that_is_not_a_built_site_is_never_replaced(tmp_path, fake_static):
    notebook = sorted((ROOT / "solutions").glob("01_*.ipynb"))
    precious = tmp_path / "notes"
    precious.mkdir()
    (precious / "mine.txt").write_text("my notes")
    with pytest.raises(SystemExit, match=r"is not a site built by this tool \(no .nnlib-site in it\): refusing"):
        bh.build_site(precious, fake_static, notebook, README)
    assert (precious / "mine.txt").read_text() == "my notes"
    bh.build_site(tmp_path / "site", fake_static, notebook, README)
    bh.build_site(tmp_path / "site", fake_static, notebook, README)    # a site it built is replaced
    assert (tmp_path / "site" / "index.html").exists()


def test_learner_notebooks_needs_lessons_and_names_the_folder(tmp_path):
    with pytest.raises(ValueError, match="no lesson py/NN_topic.py to execute"):
        bh.learner_notebooks(tmp_path, tmp_path / "work")


LESSON = '''# %% [markdown]
# # Lesson 42 — Tiny

# %%
from nnlib.exercises import check_sigmoid_prime


def sigmoid_prime(z):
    raise NotImplementedError("Exercise 42.1: implement sigmoid_prime")


# %%
check_sigmoid_prime(sigmoid_prime)
'''


@pytest.mark.xdist_group(name="kernels")
def test_learner_notebooks_executes_copies_and_leaves_the_lessons_alone(tmp_path):
    lessons = tmp_path / "lessons"
    (lessons / "py").mkdir(parents=True)
    (lessons / "py" / "42_tiny.py").write_text(LESSON)
    (executed,) = bh.learner_notebooks(lessons, tmp_path / "work")
    assert executed == tmp_path / "work" / "42_tiny.ipynb"
    assert sorted(path.relative_to(lessons).as_posix() for path in lessons.rglob("*")) == ["py", "py/42_tiny.py"]
    outputs = [out for cell in nbformat.read(executed, as_version=4).cells for out in cell.get("outputs", [])]
    assert [out.get("text", "").split(":")[0] for out in outputs] == ["⏳ to do — Exercise 2.1"]
