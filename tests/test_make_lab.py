"""`make lab` really serves the course: JupyterLab answers /api/status and serves lesson 01 as a notebook, without the
"get notified about Jupyter news?" popup (its plugin is disabled).

Runs the Makefile target itself (on a free port, a random token, throw-away Jupyter dirs), then stops the
server by its process group. Every wait is bounded.
"""

import shutil
import urllib.error
from pathlib import Path

import pytest
from lab_server import get_json, page_config, serve

ROOT = Path(__file__).resolve().parents[1]
pytestmark = [pytest.mark.slow,
              pytest.mark.skipif(shutil.which("make") is None or not (ROOT / ".venv/bin/jupyter").exists(),
                                 reason="needs make and the course venv (make venv-course)")]


@pytest.fixture
def lab(tmp_path):
    with serve(lambda port: ["make", "--no-print-directory", "lab", f"PORT={port}"], ROOT, tmp_path) as server:
        yield server


def test_make_lab_serves_the_lessons_on_localhost(lab):
    base, token = lab
    status = get_json(f"{base}/api/status", token)
    assert "started" in status
    lesson = get_json(f"{base}/api/contents/lessons/01_neuron_and_perceptron.ipynb?content=0", token)
    assert lesson["type"] == "notebook" and lesson["writable"]
    with pytest.raises(urllib.error.HTTPError, match="403"):
        get_json(f"{base}/api/status", "wrong-token")
    assert "@jupyterlab/apputils-extension:announcements" in page_config(base, token)["disabledExtensions"]
