"""The network guard that makes every notebook run hermetic (tools/offline/sitecustomize.py): other hosts are refused
by name and by address, this machine stays reachable, and both notebook runners — `make nbval` (hence `make test`)
and tools/execute_notebooks.py (`make notebooks`) — start their kernels with it."""

import os
import shutil
import subprocess
import sys
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[1]
OFFLINE = ROOT / "tools" / "offline"
sys.path.insert(0, str(ROOT / "tools"))
import execute_notebooks  # noqa: E402


def run_offline(code: str) -> str:
    """What ``code`` prints in a fresh Python with the guard on its path."""
    env = {**os.environ, "PYTHONPATH": str(OFFLINE)}
    done = subprocess.run([sys.executable, "-c", code], env=env, capture_output=True, text=True, timeout=60)
    assert done.returncode == 0, done.stderr
    return done.stdout


REACH_OUT = '''
import socket, urllib.request
attempts = {
    "urlopen by name": lambda: urllib.request.urlopen("http://example.com", timeout=5),
    "create_connection by address": lambda: socket.create_connection(("203.0.113.5", 80), timeout=5),
    "connect by address": lambda: socket.socket().connect(("203.0.113.5", 80)),
    "connect_ex by address": lambda: socket.socket().connect_ex(("198.51.100.7", 443)),
    "lookup": lambda: socket.getaddrinfo("pypi.org", 443),
}
for what, attempt in attempts.items():
    try:
        attempt()
        print(what, "REACHED")
    except OSError as err:
        print(what, "blocked" if "network access blocked" in str(err) else f"other error: {err}")
'''

STAY_LOCAL = '''
import socket
server = socket.socket()
server.bind(("127.0.0.1", 0))
server.listen()
port = server.getsockname()[1]
for host in ("127.0.0.1", "localhost"):
    socket.create_connection((host, port), timeout=5).close()
    print(host, "connected")
'''


def test_other_hosts_are_refused_by_name_and_by_address():
    lines = run_offline(REACH_OUT).splitlines()
    assert len(lines) == 5 and all(line.endswith(" blocked") for line in lines), lines


def test_this_machine_stays_reachable():
    assert run_offline(STAY_LOCAL).splitlines() == ["127.0.0.1 connected", "localhost connected"]


def test_without_the_guard_nothing_is_patched():
    done = subprocess.run([sys.executable, "-c", "import socket; print(socket.getaddrinfo.__module__)"],
                          capture_output=True, text=True, timeout=60, env={**os.environ, "PYTHONPATH": ""})
    assert done.stdout.strip() == "socket"


def test_execute_notebooks_starts_kernels_with_the_guard():
    assert execute_notebooks.KERNEL_ENV["PYTHONPATH"].split(os.pathsep)[0] == str(OFFLINE)


@pytest.mark.skipif(shutil.which("make") is None, reason="needs make")
@pytest.mark.parametrize(("lessons_in_browser", "folders"), [("", ["solutions", "lessons"]), ("1", ["solutions"])])
def test_make_nbval_runs_every_notebook_with_the_guard(lessons_in_browser, folders):
    """Both folders, or (CI: LESSONS_IN_BROWSER=1, set explicitly here since make passes it down) the solutions."""
    plan = subprocess.run(["make", "-n", "--no-print-directory", "nbval", f"LESSONS_IN_BROWSER={lessons_in_browser}"],
                          cwd=ROOT, capture_output=True, text=True, timeout=60).stdout
    runs = [line for line in plan.splitlines() if "--nbval" in line]
    assert [line.split()[-1].split("/")[0] for line in runs] == folders, runs
    assert all(f'PYTHONPATH="{OFFLINE}' in line for line in runs), runs
