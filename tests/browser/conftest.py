"""A headless Debian chromium driven by Python playwright, and a JupyterLab serving a scratch copy of lessons/.

Skipped, with the reason, where playwright or chromium is missing (``make test-browser`` installs playwright;
.ci/run installs chromium from Debian's packages). The lessons are copied, so nothing a learner wrote is touched.
"""

import os
import shutil
import sys
from pathlib import Path

import pytest
from lab_server import serve

ROOT = Path(__file__).resolve().parents[2]
CHROMIUM_FLAGS = ["--headless", "--no-sandbox", "--disable-gpu", "--disable-background-networking",
                  "--disable-component-update", "--disable-sync", "--no-first-run"]
ARTIFACTS = Path(os.environ.get("NNLIB_BROWSER_ARTIFACTS", ROOT / "build" / "browser"))
REQUIRED = os.environ.get("NNLIB_REQUIRE_BROWSER") == "1"   # CI: a missing browser is a failure, not a skip


def _unavailable(reason: str):
    if REQUIRED:
        pytest.fail(f"NNLIB_REQUIRE_BROWSER=1 but {reason}")
    pytest.skip(reason)


def pytest_collection_modifyitems(items):
    for item in items:
        item.add_marker(pytest.mark.browser)


@pytest.fixture(scope="session")
def chromium():
    """A launched headless chromium (Debian's, never a downloaded one)."""
    try:
        from playwright import sync_api as playwright_api
    except ImportError:
        _unavailable("playwright is not installed: make test-browser installs it (pip install -e '.[browser]')")
    executable = shutil.which("chromium") or shutil.which("chromium-browser")
    if executable is None:
        _unavailable("chromium is not installed (apt-get install chromium); browser tests skipped")
    with playwright_api.sync_playwright() as playwright:
        browser = playwright.chromium.launch(executable_path=executable, args=CHROMIUM_FLAGS)
        yield browser
        browser.close()


@pytest.fixture(scope="session")
def course_copy(tmp_path_factory) -> Path:
    """A scratch copy of lessons/ to open in JupyterLab (which saves into it)."""
    root = tmp_path_factory.mktemp("course")
    shutil.copytree(ROOT / "lessons", root / "lessons", ignore=shutil.ignore_patterns(".*"))
    return root


@pytest.fixture(scope="session")
def lab(course_copy, tmp_path_factory):
    """(base URL, token, served root) of a JupyterLab on 127.0.0.1 serving the scratch copy.

    Its kernels get one BLAS thread, as every other notebook run of the tests: two labs run lessons side by side on
    CI's two cores, and there BLAS threads spinning for a core the other lab holds made lessons 08 and 10 take
    145 s and 132 s.
    """
    allow_root = ["--allow-root"] if os.geteuid() == 0 else []

    def command(port):
        return [sys.executable, "-m", "jupyter", "lab", "--no-browser", "--ip=127.0.0.1", f"--port={port}",
                f"--ServerApp.root_dir={course_copy}", *allow_root]

    with serve(command, course_copy, tmp_path_factory.mktemp("jupyter"),
               extra_env={"OPENBLAS_NUM_THREADS": "1"}) as (base, token):
        yield base, token, course_copy


@pytest.fixture(scope="session")
def artifacts() -> Path:
    ARTIFACTS.mkdir(parents=True, exist_ok=True)
    return ARTIFACTS
