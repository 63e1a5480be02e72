"""Work split over cores: the fast kernels' products of independent pieces (images, heads) run side by side.

NumPy releases the GIL inside its BLAS calls and most ufuncs, so Python threads that each multiply their own
piece really run at once. How many threads the kernels use is the BLAS thread limit that threadpoolctl reports
and sets: ``with threadpoolctl.threadpool_limits(1):`` still means one core, and without a limit OpenBLAS's own
default (one thread per core) applies. While the pieces run, BLAS is held to one thread per piece, so that two
pieces never each start a BLAS thread pool of their own on the same cores.

Example::

    >>> import numpy as np
    >>> from nnlib.kernels.parallel import run_split
    >>> run_split(lambda rows: int(rows.sum()), [np.arange(3), np.arange(4)])
    [3, 6]
"""

from __future__ import annotations

import os
from collections.abc import Callable, Sequence
from concurrent.futures import ThreadPoolExecutor, wait
from typing import TypeVar

import numpy  # noqa: F401  (loads NumPy's BLAS, which threadpoolctl must find below)
from threadpoolctl import ThreadpoolController

__all__ = ["worker_count", "run_split", "even_slices"]

Piece = TypeVar("Piece")
Result = TypeVar("Result")

_blas = ThreadpoolController().select(user_api="blas")


class _Pool:
    """One thread pool per process, made on first use and again after a fork (a forked child has no threads)."""

    executor: ThreadPoolExecutor | None = None
    owner_pid = 0

    @classmethod
    def get(cls) -> ThreadPoolExecutor:
        if cls.executor is None or cls.owner_pid != os.getpid():
            cls.executor = ThreadPoolExecutor(max_workers=os.cpu_count() or 1, thread_name_prefix="nnlib")
            cls.owner_pid = os.getpid()
        return cls.executor


def worker_count() -> int:
    """How many threads the kernels split their work over: BLAS's thread limit (1 inside a split, or under
    ``threadpool_limits(1)``), at most the number of cores; 1 when no BLAS library reports a limit."""
    limits = [info["num_threads"] for info in _blas.info()]
    return max(1, min(min(limits, default=1), os.cpu_count() or 1))


def even_slices(total: int, parts: int) -> list[slice]:
    """``parts`` contiguous slices of range(total) whose lengths differ by at most one (fewer when total < parts).

    >>> even_slices(7, 3)
    [slice(0, 2, None), slice(2, 4, None), slice(4, 7, None)]
    """
    parts = max(1, min(parts, total))
    bounds = [total * k // parts for k in range(parts + 1)]
    return [slice(start, stop) for start, stop in zip(bounds, bounds[1:], strict=False)]


def run_split(task: Callable[[Piece], Result], pieces: Sequence[Piece]) -> list[Result]:
    """``[task(piece) for piece in pieces]``, the pieces shared among :func:`worker_count` threads.

    Each thread takes a contiguous run of pieces, the calling thread the first one. The tasks must not write to
    memory another piece reads. With one worker or one piece everything runs here, in order, with BLAS as it is.
    """
    workers = min(worker_count(), len(pieces))
    if workers <= 1:
        return [task(piece) for piece in pieces]

    def run_group(group: slice) -> list[Result]:
        return [task(piece) for piece in pieces[group]]

    first, *rest = even_slices(len(pieces), workers)
    with _blas.limit(limits=1):
        futures = [_Pool.get().submit(run_group, group) for group in rest]
        try:
            results = run_group(first)
        finally:
            wait(futures)  # an error here must not leave pieces running after BLAS's limit is restored
        for future in futures:
            results.extend(future.result())
    return results
