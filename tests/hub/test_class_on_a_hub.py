"""A class on one JupyterHub, under load (make test-hub; needs the hub's venv and the proxy, which make installs).

The hub of `make hub` (tools/hub/jupyterhub_config.py) starts on free loopback ports with a fresh state folder. Ten
learners log in through the login form at the same moment, start their servers and run lesson 03 from their own
synced copy, top to bottom, through the Jupyter server's kernels API and websocket, all at once. One learner's kernel
is killed mid-run: the others must finish untouched, and that learner restarts and finishes. Peak memory of each
learner's processes (server + kernel), their CPU time, time to first kernel and time to finish are measured. Then a
re-sync keeps a learner's edits; the instructor releases lesson 03 through nbgrader's exchange; three learners fetch
it and submit it (right, wrong, empty) from nbgrader's Assignments API; the instructor collects, autogrades and
exports, and the grades must be full, one check short, and zero. The figures go to build/hub-test/report.md.
"""

from __future__ import annotations

import os
import secrets
import shutil
import signal
import socket
import statistics
import subprocess
import sys
import threading
import time
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path

import nbformat
import pytest

pytest.importorskip("jupyterhub", reason="the hub's venv is not this one: make test-hub installs it (.venv-hub)")
import psutil  # noqa: E402
import requests  # noqa: E402
from hubclient import HTTP_TIMEOUT, KernelDied, Learner, code_cells  # noqa: E402

ROOT = Path(__file__).resolve().parents[2]
sys.path.insert(0, str(ROOT / "tools" / "hub"))
import instructor  # noqa: E402
import sync_lessons  # noqa: E402

STATE = ROOT / "build" / "hub-test"
REPORT = STATE / "report.md"
PROXY = ROOT / "build" / "hub" / "proxy" / "node_modules" / ".bin" / "configurable-http-proxy"
LESSON = "03_backpropagation_by_hand"
LEARNERS = [f"learner-{n:02d}" for n in range(1, 11)]
VICTIM = LEARNERS[3]  # whose kernel is killed
KILL_AT_CELL = 20  # ... just after this code cell is sent
HUB_START_TIMEOUT = 90  # seconds
STOP_TIMEOUT = 30  # seconds for the hub to stop its servers and itself
SAMPLE_EVERY = 0.25  # seconds between memory samples
# The answer that costs one check (as in tests/grading): lesson 03's build exercise, a step forgotten.
WRONG_ID = "answer-update_all"
WRONG_ANSWER = ("def update_all(params, eta, inputs=(0.05, 0.10), targets=(0.01, 0.99)):\n"
                "    return dict(params)  # forgot the step\n")


def free_port() -> int:
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        return probe.getsockname()[1]


def percentile(values: list[float], q: float) -> float:
    """The q-th percentile (0–100), linear between ranks (numpy's default)."""
    ordered, rank = sorted(values), (len(values) - 1) * q / 100
    low = int(rank)
    return ordered[low] + (ordered[min(low + 1, len(ordered) - 1)] - ordered[low]) * (rank - low)


class Hub:
    """The class hub, started in a process group of its own; stop() ends it and everything it started."""

    def __init__(self):
        assert PROXY.exists(), f"{PROXY} is missing: make test-hub installs JupyterHub's proxy from npm"
        shutil.rmtree(STATE, ignore_errors=True)
        (STATE / "proxy").mkdir(parents=True)
        (STATE / "proxy" / "node_modules").symlink_to(PROXY.parents[1])
        self.url = f"http://127.0.0.1:{free_port()}"
        self.password, self.token = secrets.token_urlsafe(12), secrets.token_hex(32)
        env = os.environ | {"NNLIB_HUB_DIR": str(STATE), "NNLIB_HUB_PORT": self.url.rsplit(":", 1)[1],
                            "NNLIB_HUB_PASSWORD": self.password, "NNLIB_HUB_TOKEN": self.token}
        self.log = open(STATE / "jupyterhub.log", "w")  # noqa: SIM115 (closed by stop)
        self.process = subprocess.Popen([str(Path(sys.executable).with_name("jupyterhub")), "-f",
                                         str(ROOT / "tools" / "hub" / "jupyterhub_config.py")], cwd=STATE, env=env,
                                        stdout=self.log, stderr=subprocess.STDOUT, start_new_session=True)
        self.api = requests.Session()
        self.api.headers["Authorization"] = f"token {self.token}"
        self.wait_until_up()

    def wait_until_up(self) -> None:
        deadline = time.monotonic() + HUB_START_TIMEOUT
        while time.monotonic() < deadline:
            assert self.process.poll() is None, f"the hub exited: {self.log_tail()}"
            try:
                if requests.get(f"{self.url}/hub/api/", timeout=5).ok:
                    return
            except requests.ConnectionError:
                pass
            time.sleep(0.5)
        raise TimeoutError(f"the hub did not answer within {HUB_START_TIMEOUT} s: {self.log_tail()}")

    def log_tail(self, lines: int = 40) -> str:
        return "\n".join((STATE / "jupyterhub.log").read_text(errors="replace").splitlines()[-lines:])

    def server_pid(self, name: str) -> int:
        """The pid (and process group) of ``name``'s Jupyter server, from the spawner's state."""
        reply = self.api.get(f"{self.url}/hub/api/users/{name}", timeout=HTTP_TIMEOUT)
        reply.raise_for_status()
        return reply.json()["servers"][""]["state"]["pid"]

    def stop_server(self, name: str) -> None:
        reply = self.api.delete(f"{self.url}/hub/api/users/{name}/server", timeout=HTTP_TIMEOUT)
        assert reply.status_code in (202, 204), reply.text
        deadline = time.monotonic() + STOP_TIMEOUT
        while self.api.get(f"{self.url}/hub/api/users/{name}", timeout=HTTP_TIMEOUT).json()["servers"]:
            assert time.monotonic() < deadline, f"{name}'s server did not stop within {STOP_TIMEOUT} s"
            time.sleep(0.5)

    def stop(self) -> list[int]:
        """SIGTERM to the hub's group (it stops the servers and the proxy it started), then SIGKILL to the group of
        every process it started that is still alive; the pids that needed it."""
        started = psutil.Process(self.process.pid).children(recursive=True)
        os.killpg(self.process.pid, signal.SIGTERM)
        try:
            self.process.wait(STOP_TIMEOUT)
        except subprocess.TimeoutExpired:
            os.killpg(self.process.pid, signal.SIGKILL)
            self.process.wait(STOP_TIMEOUT)
        _, alive = psutil.wait_procs(started, timeout=STOP_TIMEOUT)
        for process in alive:
            try:
                os.killpg(os.getpgid(process.pid), signal.SIGKILL)
            except ProcessLookupError:
                pass
        self.log.close()
        return [process.pid for process in alive]

    def rss(self) -> int:
        """Resident memory of the hub and its proxy (bytes); 0 while a process comes or goes."""
        try:
            hub = psutil.Process(self.process.pid)
            proxy = [p for p in hub.children() if "configurable-http-proxy" in " ".join(p.cmdline())]
            return sum(p.memory_info().rss for p in [hub, *proxy])
        except psutil.Error:  # a learner's server just stopped (a zombie until the hub reaps it)
            return 0


class Meter:
    """Samples, in a thread, each learner's server and kernel memory (RSS over the process tree); keeps the peaks."""

    def __init__(self):
        self.pids: dict[str, int] = {}
        self.peak: dict[str, dict[str, int]] = {}
        self.cpu: dict[str, float] = {}
        self.hub_peak = 0
        self._stop = threading.Event()
        self._thread = threading.Thread(target=self._loop, daemon=True)

    def start(self, hub: Hub) -> None:
        self.hub = hub
        self._thread.start()

    def _loop(self) -> None:
        while not self._stop.wait(SAMPLE_EVERY):
            self.hub_peak = max(self.hub_peak, self.hub.rss())
            for name, pid in list(self.pids.items()):
                self.sample(name, pid)

    def sample(self, name: str, pid: int) -> None:
        try:
            server = psutil.Process(pid)
            children = server.children(recursive=True)
            sizes = {"server": server.memory_info().rss, "kernel": sum(c.memory_info().rss for c in children)}
            cpu = sum(sum(p.cpu_times()[:2]) for p in [server, *children])
        except psutil.Error:  # a kernel or server that just died or restarted: the next sample counts
            return
        peak = self.peak.setdefault(name, {"server": 0, "kernel": 0, "total": 0})
        for part, size in (*sizes.items(), ("total", sum(sizes.values()))):
            peak[part] = max(peak[part], size)
        self.cpu[name] = max(self.cpu.get(name, 0.0), cpu)

    def stop(self) -> None:
        self._stop.set()
        self._thread.join(5)


@pytest.fixture(scope="module")
def hub():
    hub = Hub()
    yield hub
    leftovers = hub.stop()
    print(f"hub stopped; processes it left behind, killed by their group: {leftovers}")


@pytest.fixture(scope="module")
def meter(hub):
    meter = Meter()
    meter.start(hub)
    yield meter
    meter.stop()


def kill_kernel(hub: Hub, learner: Learner) -> int:
    """SIGKILL the kernel process of ``learner`` (the child of their server running that kernel id); its pid."""
    for process in psutil.Process(hub.server_pid(learner.name)).children(recursive=True):
        if any(learner.kernel_id in part for part in process.cmdline()):
            process.kill()
            return process.pid
    raise AssertionError(f"no kernel process {learner.kernel_id} under {learner.name}'s server")


def one_learner(hub: Hub, meter: Meter, name: str, start: threading.Barrier) -> dict:
    """Log in, start a server, run lesson 03 (the victim's kernel is killed, then it restarts and runs it again)."""
    learner = Learner(hub.url, name, hub.password)
    start.wait(HUB_START_TIMEOUT)
    t0 = time.monotonic()
    learner.log_in()
    learner.start_server()
    meter.pids[name] = hub.server_pid(name)
    cells = code_cells(learner.read_notebook(f"lessons/{LESSON}.ipynb"))
    learner.start_kernel()
    result = {"learner": learner, "first_kernel": time.monotonic() - t0, "cells": len(cells), "killed": None}

    def kill_mid_run(index: int) -> None:
        if name == VICTIM and index == KILL_AT_CELL and result["killed"] is None:
            result["killed"] = kill_kernel(hub, learner)

    try:
        result["run"] = learner.execute(cells, on_sent=kill_mid_run)
    except KernelDied:
        result["died_after"] = time.monotonic() - t0
        learner.restart_kernel()
        result["restarted_after"] = time.monotonic() - t0
        result["run"] = learner.execute(cells)
    result["finish"] = time.monotonic() - t0
    meter.sample(name, meter.pids[name])
    return result


@pytest.fixture(scope="module")
def class_run(hub, meter):
    """All ten learners at once; {name: result}, and the wall time of the whole run."""
    start = threading.Barrier(len(LEARNERS))
    t0 = time.monotonic()
    pool = ThreadPoolExecutor(len(LEARNERS))
    try:
        futures = {name: pool.submit(one_learner, hub, meter, name, start) for name in LEARNERS}
        results = {name: future.result() for name, future in futures.items()}
    finally:  # interrupted (make test-hub's time bound): don't wait for the learners, stop the hub now
        pool.shutdown(wait=False, cancel_futures=True)
    for result in results.values():
        result["learner"].close()
    return {"results": results, "wall": time.monotonic() - t0}


def mib(size: float) -> str:
    return f"{size / 2**20:.0f}"


def test_every_learner_runs_lesson_03_to_the_end_with_no_error_output(class_run):
    for name, result in class_run["results"].items():
        run = result["run"]
        assert run.cells == result["cells"] > 20, f"{name} ran {run.cells} of {result['cells']} cells"
        assert run.errors == [], f"{name}: {run.errors}"


def test_a_killed_kernel_leaves_the_others_alone_and_its_learner_restarts_and_finishes(class_run):
    results = class_run["results"]
    assert results[VICTIM]["killed"], "the victim's kernel was not found, so not killed"
    assert "died_after" in results[VICTIM], f"{VICTIM}'s client never saw its kernel die"
    assert [name for name, result in results.items() if "died_after" in result] == [VICTIM]
    assert results[VICTIM]["run"].errors == [] and results[VICTIM]["run"].cells == results[VICTIM]["cells"]


def test_the_figures_are_measured_and_written(class_run, meter, hub):
    results, peaks = class_run["results"], meter.peak
    assert set(peaks) == set(LEARNERS) and all(peak["kernel"] > 0 and peak["server"] > 0 for peak in peaks.values())
    others = [name for name in LEARNERS if name != VICTIM]
    finish = [results[name]["finish"] for name in others]
    first = [results[name]["first_kernel"] for name in LEARNERS]
    totals = [peaks[name]["total"] for name in LEARNERS]
    cpu = [meter.cpu[name] for name in others]
    victim = results[VICTIM]
    rows = "\n".join(f"| {name} | {mib(peaks[name]['server'])} | {mib(peaks[name]['kernel'])} | "
                     f"{mib(peaks[name]['total'])} | {meter.cpu[name]:.1f} | {results[name]['first_kernel']:.1f} | "
                     f"{results[name]['finish']:.1f} |" for name in LEARNERS)
    REPORT.write_text(f"""# A class on one JupyterHub: {len(LEARNERS)} learners run lesson 03 at once

Measured by tests/hub/test_class_on_a_hub.py on {os.cpu_count()} cores, {mib(psutil.virtual_memory().total)} MiB;
lesson 03 has {victim['cells']} code cells. Memory is the peak resident set (RSS) of the learner's Jupyter server
and of its kernel(s), sampled every {SAMPLE_EVERY} s; CPU is the user + system time of those processes.

| learner | server MiB | kernel MiB | server + kernel MiB | CPU s | first kernel s | finish s |
| --- | ---: | ---: | ---: | ---: | ---: | ---: |
{rows}

- Peak memory per learner (server + kernel): median {mib(statistics.median(totals))} MiB, max {mib(max(totals))} MiB.
  The hub and its proxy: {mib(meter.hub_peak)} MiB at peak.
- CPU per learner for the lesson (server + kernel, {VICTIM} left out): median {statistics.median(cpu):.1f} s,
  max {max(cpu):.1f} s.
- Time to first kernel (login, server start, kernel ready): p50 {percentile(first, 50):.1f} s,
  p95 {percentile(first, 95):.1f} s.
- Time to finish the lesson (from login; {VICTIM} left out): p50 {percentile(finish, 50):.1f} s,
  p95 {percentile(finish, 95):.1f} s. Whole class run: {class_run['wall']:.1f} s.
- {VICTIM}'s kernel (pid {victim['killed']}) was killed with SIGKILL as code cell {KILL_AT_CELL} was sent; the
  learner saw it die at {victim['died_after']:.1f} s, restarted it at {victim['restarted_after']:.1f} s and finished
  the lesson at {victim['finish']:.1f} s, with no error output. The other {len(others)} finished with no error
  output and never saw a restart.
""", encoding="utf-8")
    print(REPORT.read_text(encoding="utf-8"))


def test_a_resync_keeps_the_learners_edits_and_restores_what_they_deleted(hub, class_run):
    learner = class_run["results"][LEARNERS[4]]["learner"]
    lessons = STATE / "homes" / learner.name / "lessons"
    nb = learner.read_notebook(f"lessons/{LESSON}.ipynb")
    nb.cells.append(nbformat.v4.new_markdown_cell("My notes: δ = (y − t)·σ′"))
    learner.write_notebook(f"lessons/{LESSON}.ipynb", nb)
    learner.server("DELETE", "api/contents/lessons/01_neuron_and_perceptron.ipynb")
    hub.stop_server(learner.name)
    learner.start_server()  # the hub syncs the lessons before the server starts
    assert learner.read_notebook(f"lessons/{LESSON}.ipynb").cells[-1].source == "My notes: δ = (y − t)·σ′"
    assert (lessons / "01_neuron_and_perceptron.ipynb").read_bytes() == (
        ROOT / "lessons" / "01_neuron_and_perceptron.ipynb").read_bytes()
    assert sync_lessons.read_manifest(lessons), "the learner's folder has no sync manifest"


def test_submissions_through_the_exchange_are_autograded_full_partial_and_zero(hub, class_run):
    course = instructor.Course(STATE)
    course.release(LESSON)
    source = nbformat.read(course.folder / "source" / LESSON / f"{LESSON}.ipynb", as_version=4)
    solved = {cell.metadata["nbgrader"]["grade_id"]: cell.source for cell in source.cells
              if cell.metadata.get("nbgrader", {}).get("solution")}
    full = sum(cell.metadata.get("nbgrader", {}).get("points", 0) for cell in source.cells)
    answers = {"right": solved, "wrong": solved | {WRONG_ID: WRONG_ANSWER}, "empty": {}}
    submitters = dict(zip(answers, LEARNERS[:3], strict=True))
    t0 = time.monotonic()
    for kind, name in submitters.items():
        learner = class_run["results"][name]["learner"]
        fetched = learner.nbgrader("fetch", instructor.COURSE_ID, LESSON)
        assert fetched["success"], fetched
        path = f"{LESSON}/{LESSON}.ipynb"
        nb = learner.read_notebook(path)
        for cell in nb.cells:
            cell.source = answers[kind].get(cell.metadata.get("nbgrader", {}).get("grade_id"), cell.source)
        learner.write_notebook(path, nb)
        submitted = learner.nbgrader("submit", instructor.COURSE_ID, LESSON)
        assert submitted["success"], submitted
    grades = course.grade(LESSON)
    elapsed = time.monotonic() - t0
    expected = {"right": full, "wrong": full - 1, "empty": 0}
    got = {kind: grades[(name, LESSON)] for kind, name in submitters.items()}
    with open(REPORT, "a", encoding="utf-8") as report:
        report.write(f"- nbgrader through the hub's exchange: lesson 03 released, fetched and submitted by three "
                     f"learners, collected, autograded and exported in {elapsed:.1f} s. Scores out of {full}: "
                     + ", ".join(f"{kind} {score:g}" for kind, score in got.items()) + ".\n")
    assert full >= 4 and got == expected, (got, expected)
