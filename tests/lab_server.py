"""Run a JupyterLab server for a test, and always stop it.

A free port on 127.0.0.1, a random token, throw-away Jupyter config/runtime/settings/workspace dirs; the server
is started in its own process group and stopped through it, and every wait is bounded.
"""

from __future__ import annotations

import json
import os
import re
import secrets
import signal
import socket
import subprocess
import time
import urllib.error
import urllib.request
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from pathlib import Path

import pytest


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def get_json(url: str, token: str):
    request = urllib.request.Request(url, headers={"Authorization": f"token {token}"})
    with urllib.request.urlopen(request, timeout=5) as response:
        return json.load(response)


def page_config(base: str, token: str) -> dict:
    """JupyterLab's page configuration: the JSON it embeds in /lab (disabledExtensions among others)."""
    with urllib.request.urlopen(f"{base}/lab?token={token}", timeout=10) as response:
        html = response.read().decode()
    found = re.search(r'<script id="jupyter-config-data" type="application/json">(.*?)</script>', html, re.DOTALL)
    assert found, f"no jupyter-config-data in {base}/lab"
    return json.loads(found.group(1))


def _lab_settings(settings: Path) -> None:
    """User settings that keep JupyterLab offline and quiet: no news, no update check (no popup over the page)."""
    notification = settings / "@jupyterlab" / "apputils-extension" / "notification.jupyterlab-settings"
    notification.parent.mkdir(parents=True, exist_ok=True)
    notification.write_text(json.dumps({"checkForUpdates": False, "fetchNews": "false"}))


@contextmanager
def serve(command: Callable[[int], list[str]], cwd: Path, scratch: Path, startup: float = 60,
          extra_env: dict[str, str] | None = None) -> Iterator[tuple]:
    """Start ``command(port)`` (a JupyterLab server) in ``cwd``, its environment (which its kernels inherit) updated
    with ``extra_env``; yield (base URL, token); stop it on exit."""
    port, token = free_port(), secrets.token_hex(16)
    _lab_settings(scratch / "settings")
    env = {**os.environ, **(extra_env or {}), "JUPYTER_TOKEN": token, "BROWSER": "true",  # never open a browser
           "JUPYTER_CONFIG_DIR": str(scratch / "config"), "JUPYTER_RUNTIME_DIR": str(scratch / "runtime"),
           "JUPYTERLAB_SETTINGS_DIR": str(scratch / "settings"), "JUPYTERLAB_WORKSPACES_DIR": str(scratch / "ws")}
    log_path = scratch / "lab.log"
    with open(log_path, "w") as log:
        server = subprocess.Popen(command(port), cwd=cwd, env=env, stdout=log, stderr=subprocess.STDOUT,
                                  start_new_session=True)
        base = f"http://127.0.0.1:{port}"
        try:
            deadline = time.monotonic() + startup
            while True:
                try:
                    get_json(f"{base}/api/status", token)
                    break
                except (urllib.error.URLError, ConnectionError):
                    if server.poll() is not None or time.monotonic() > deadline:
                        pytest.fail(f"JupyterLab did not answer within {startup:.0f} s:\n{log_path.read_text()}")
                    time.sleep(0.5)
            yield base, token
        finally:
            os.killpg(server.pid, signal.SIGTERM)
            try:
                server.wait(timeout=20)
            except subprocess.TimeoutExpired:
                os.killpg(server.pid, signal.SIGKILL)
                server.wait(timeout=10)
