"""The README's POSIX quick start, run as written in a clean clone: JupyterLab serves the lessons, without the news
popup, and the fresh venv imports nnlib and executes a lesson.

The fenced block after ``<!-- quickstart: posix -->`` runs in one bash (``set -euo pipefail``); its last line starts
JupyterLab, which tests/lab_server.py watches (free port, token, throw-away Jupyter dirs, a config that allows root,
as CI runs) and stops by its process group. Every wait is bounded.
"""

import json
import re
import sys
from pathlib import Path

import nbformat
from install_helpers import run

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))
from lab_server import get_json, page_config, serve  # noqa: E402
from test_install_paths import readme_block  # noqa: E402

STARTUP = 900  # seconds: the block installs the course into a fresh venv before JupyterLab starts
ANNOUNCEMENTS = "@jupyterlab/apputils-extension:announcements"
LESSON = "01_neuron_and_perceptron"


def test_the_posix_quick_start_serves_the_lessons_without_the_news_popup(clone, tmp_path):
    block = readme_block((clone / "README.md").read_text(encoding="utf-8"), "posix")
    scratch = tmp_path / "jupyter"

    def command(port: int) -> list[str]:
        (scratch / "config").mkdir(parents=True, exist_ok=True)
        settings = {"ServerApp": {"port": port, "ip": "127.0.0.1", "allow_root": True, "open_browser": False}}
        (scratch / "config" / "jupyter_server_config.json").write_text(json.dumps(settings))
        return ["bash", "-c", f"set -euo pipefail\n{block}"]

    with serve(command, clone, scratch, startup=STARTUP) as (base, token):
        lesson = get_json(f"{base}/api/contents/{LESSON}.ipynb?content=0", token)
        assert lesson["type"] == "notebook" and lesson["writable"]
        assert ANNOUNCEMENTS in page_config(base, token)["disabledExtensions"]
    python = str(clone / ".venv" / "bin" / "python")
    assert run([python, "-c", "import nnlib; print(nnlib.__version__)"], cwd=tmp_path).strip()
    run([python, "tools/execute_notebooks.py", f"lessons/py/{LESSON}.py"], cwd=clone)
    executed = nbformat.read(clone / "lessons" / "py" / f"{LESSON}.ipynb", as_version=4)  # beside the .py it ran
    printed = "".join(out.get("text", "") for cell in executed.cells for out in cell.get("outputs", []))
    checks = re.findall(r"^check_\w+\(", (clone / "solutions" / f"{LESSON}.py").read_text(), re.MULTILINE)
    assert printed.count("⏳ to do — Exercise 1.") == len(checks) >= 3, printed[-500:]  # every exercise waits

