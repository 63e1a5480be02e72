"""Timing nnlib against a peer (PyTorch CPU, scikit-learn) fairly, in one process.

Fair means: the same thread count on both sides (threadpoolctl for NumPy's BLAS, ``torch.set_num_threads``
for torch), a warm-up, both sides timed alternately within every repeat (so a noisy neighbour or a clock change
hurts both), and medians. The ratio is nnlib's median over the peer's: below 1 means nnlib is faster.

A layer case also times nnlib on its reference code (``nnlib.use_fast_kernels(False)``), in the same rotation: the
readable layers the lessons teach, whose ratio shows what the fast kernels buy.
"""

from __future__ import annotations

import os
import platform
import statistics
import time
from collections.abc import Callable
from contextlib import contextmanager
from dataclasses import dataclass


@dataclass
class Case:
    """One comparison: ``nnlib()`` and ``peer()`` each run the same work once (e.g. a forward and a backward).

    ``reference()``, when given, runs nnlib's side on the reference code (fast kernels off).
    """

    name: str
    nnlib: Callable[[], object]
    peer: Callable[[], object]
    peer_name: str = "torch"
    note: str = ""
    reference: Callable[[], object] | None = None


@dataclass
class Result:
    case: Case
    threads: int
    nnlib_seconds: float
    peer_seconds: float
    reference_seconds: float | None = None

    @property
    def ratio(self) -> float:
        return self.nnlib_seconds / self.peer_seconds

    @property
    def reference_ratio(self) -> float | None:
        return None if self.reference_seconds is None else self.reference_seconds / self.peer_seconds


@contextmanager
def pinned_threads(threads: int):
    """Limit NumPy's BLAS (and every other native thread pool) and torch to ``threads`` threads."""
    from threadpoolctl import threadpool_limits

    torch = _torch_or_none()
    previous = torch.get_num_threads() if torch else None
    with threadpool_limits(limits=threads):
        if torch:
            torch.set_num_threads(threads)
        try:
            yield
        finally:
            if torch:
                torch.set_num_threads(previous)


def _torch_or_none():
    try:
        import torch
    except ImportError:
        return None
    return torch


def _calls_per_sample(fn: Callable, target_seconds: float) -> int:
    """How many calls of ``fn`` take about ``target_seconds`` (at least one): short calls are timed in groups."""
    start = time.perf_counter()
    fn()
    once = max(time.perf_counter() - start, 1e-7)
    return max(1, int(target_seconds / once))


def seconds_per_call(fn: Callable, calls: int = 1) -> float:
    """Wall-clock seconds of one call of ``fn``, averaged over ``calls`` back-to-back calls."""
    start = time.perf_counter()
    for _ in range(calls):
        fn()
    return (time.perf_counter() - start) / calls


def measure(case: Case, threads: int, repeats: int = 15, warmup: int = 3, target_seconds: float = 0.02) -> Result:
    """Median seconds per call of every side of ``case``, timed in turn, with ``threads`` threads each."""
    sides = ["nnlib", "peer"] + (["reference"] if case.reference else [])
    with pinned_threads(threads):
        for _ in range(warmup):
            for side in sides:
                getattr(case, side)()
        calls = {side: _calls_per_sample(getattr(case, side), target_seconds) for side in sides}
        times: dict[str, list[float]] = {side: [] for side in sides}
        for repeat in range(repeats):
            order = sides[repeat % len(sides):] + sides[:repeat % len(sides)]  # each side leads in turn
            for side in order:
                times[side].append(seconds_per_call(getattr(case, side), calls[side]))
    median = {side: statistics.median(seconds) for side, seconds in times.items()}
    return Result(case, threads, median["nnlib"], median["peer"], median.get("reference"))


def _milliseconds(seconds: float) -> str:
    return f"{seconds * 1e3:.3f}" if seconds < 0.01 else f"{seconds * 1e3:.1f}"


def markdown_table(results: list[Result], targets: dict[str, float] | None = None) -> str:
    """The results as a markdown table; a target column (ratio ≤ target is met) when ``targets`` names the case.

    nnlib's columns are its fast kernels (the default); the reference columns are empty for a case without one.
    """
    targets = targets or {}
    lines = ["| case | nnlib (ms) | peer | peer (ms) | ratio nnlib/peer | reference (ms) | ratio reference/peer "
             "| target | note |",
             "|---|---:|---|---:|---:|---:|---:|---|---|"]
    for r in results:
        target = targets.get(r.case.name)
        verdict = "" if target is None else f"≤ {target} {'✅' if r.ratio <= target else '❌'}"
        reference = (["", ""] if r.reference_seconds is None
                     else [_milliseconds(r.reference_seconds), f"{r.reference_ratio:.2f}"])
        cells = [r.case.name, _milliseconds(r.nnlib_seconds), r.case.peer_name, _milliseconds(r.peer_seconds),
                 f"{r.ratio:.2f}", *reference, verdict, r.case.note]
        lines.append("| " + " | ".join(cells) + " |")
    return "\n".join(lines)


def machine_description() -> str:
    """CPU, cores, Python, NumPy with its BLAS, torch and scikit-learn versions: what the numbers depend on."""
    import numpy as np
    from threadpoolctl import threadpool_info

    blas = ", ".join(sorted({f"{p.get('internal_api')} {p.get('version')} ({p.get('architecture')})"
                             for p in threadpool_info() if p.get("user_api") == "blas"})) or "unknown"
    torch = _torch_or_none()
    lines = [f"- CPU: {_cpu_model()}, {_cpu_count()} cores available",
             f"- Python {platform.python_version()} on {platform.system()} {platform.machine()}",
             f"- NumPy {np.__version__}, BLAS: {blas}, OPENBLAS_THREAD_TIMEOUT="
             f"{os.environ.get('OPENBLAS_THREAD_TIMEOUT', 'unset')}",
             f"- torch {torch.__version__ if torch else 'not installed'}"]
    try:
        import sklearn
        lines.append(f"- scikit-learn {sklearn.__version__}")
    except ImportError:
        pass
    return "\n".join(lines)


def _cpu_model() -> str:
    try:
        with open("/proc/cpuinfo", encoding="utf-8") as info:
            for line in info:
                if line.startswith("model name"):
                    return line.split(":", 1)[1].strip()
    except OSError:
        pass
    return platform.processor() or "unknown CPU"


def _cpu_count() -> int:
    import os

    return len(os.sched_getaffinity(0)) if hasattr(os, "sched_getaffinity") else os.cpu_count()
