"""Execute solution notebooks: build each NN_topic.ipynb from its NN_topic.py and run it top to bottom.

Usage::

    python tools/execute_notebooks.py solutions/*.py

Each notebook runs in a fresh kernel of *this* Python environment (the "python3" kernelspec resolved to
``sys.executable``, never whatever ``python`` is first on PATH), in the notebook's folder, with
PYTHONHASHSEED=0, one BLAS thread and matplotlib's inline backend, so outputs (figures as inline PNGs) are reproducible.
No per-cell timing is stored and widget model ids are renumbered, so rerunning an unchanged notebook rewrites
the same bytes. Any error fails the run, showing the cell; the previous .ipynb is then left as it was.
"""

from __future__ import annotations

import argparse
import os
import sys
import time
from pathlib import Path

import nbformat
from ipykernel.kernelspec import RESOURCES, get_kernel_dict
from jupyter_client.kernelspec import KernelSpecManager
from jupyter_client.manager import AsyncKernelManager
from nbclient import NotebookClient
from nbclient.exceptions import CellExecutionError, CellTimeoutError, DeadKernelError
from nbconvert.preprocessors import CoalesceStreamsPreprocessor

sys.path.insert(0, str(Path(__file__).resolve().parent))
from make_lessons import atomic_write, notebook_from_py, notebook_text  # noqa: E402
from sliced_poll import SlicedPollClient  # noqa: E402

CELL_TIMEOUT = 300  # seconds
WIDGET_STATE = "application/vnd.jupyter.widget-state+json"
# One BLAS thread: course-sized matrices gain nothing from more, and on a busy machine a second spinning thread
# slowed training cells tenfold. The Makefile's nbval runs use the same environment.
# A fixed hash seed, inline figures, one BLAS thread, and no network: tools/offline on the path blocks every host
# but this one, so a lesson that reaches for the internet fails here rather than on a learner's offline laptop.
OFFLINE = Path(__file__).resolve().parent / "offline"
TIMING = "timing"  # the tag of cells whose outputs are measurements of this machine (nbval ignores them too)
KERNEL_ENV = {"PYTHONHASHSEED": "0", "MPLBACKEND": "module://matplotlib_inline.backend_inline",
              "OPENBLAS_NUM_THREADS": "1",
              "PYTHONPATH": os.pathsep.join(filter(None, [str(OFFLINE), os.environ.get("PYTHONPATH")]))}


class CurrentEnvKernelSpecManager(KernelSpecManager):
    """Resolves "python3" to an ipykernel started with this process's interpreter (as nbval's current-env)."""

    def get_kernel_spec(self, kernel_name):
        if kernel_name == "python3":
            return self.kernel_spec_class(resource_dir=RESOURCES, **get_kernel_dict())
        return super().get_kernel_spec(kernel_name)


def execute(py_path: Path, timeout: int = CELL_TIMEOUT, refresh_timings: bool = False) -> Path:
    """Build ``py_path``'s notebook, execute it, write it beside the .py with outputs; return the .ipynb path.

    Rerunning gives the same file: streams are merged as they would have been without flush timing, and cells
    tagged ``timing`` (they measure this machine) keep their stored outputs while their source is unchanged, unless
    ``refresh_timings``.
    """
    nb = notebook_from_py(py_path.read_text(encoding="utf-8"))
    manager = AsyncKernelManager(kernel_name="python3", kernel_spec_manager=CurrentEnvKernelSpecManager(),
                                 client_factory=SlicedPollClient)
    client = NotebookClient(
        nb, km=manager, timeout=timeout, allow_errors=False, record_timing=False,
        store_widget_state=True,  # also required: nbclient's Output-widget capture fails without it
        resources={"metadata": {"path": str(py_path.resolve().parent)}},
    )
    # cleanup_kc: nbclient shuts down only kernels it started itself; without it, every notebook's kernel would
    # outlive its run, and a long `make notebooks` ends up waiting on a stalled new kernel among the stale ones.
    client.execute(env={**os.environ, **KERNEL_ENV}, cleanup_kc=True)
    ipynb = py_path.with_suffix(".ipynb")
    CoalesceStreamsPreprocessor().preprocess(nb, {})  # how a kernel splits a print depends on flush timing
    if not refresh_timings and ipynb.exists():
        keep_timings(nb, nbformat.read(ipynb, as_version=4))
    atomic_write(ipynb, stable_widget_ids(notebook_text(nb), nb))
    return ipynb


def keep_timings(nb, stored) -> None:
    """Give every ``timing`` cell of ``nb`` the outputs it has in ``stored`` if its source is the same there."""
    previous = {cell.id: cell for cell in stored.cells if cell.cell_type == "code"}
    for cell in nb.cells:
        old = previous.get(cell.id)
        if TIMING in cell.metadata.get("tags", ()) and old is not None and old.source == cell.source:
            cell.outputs = old.outputs


def stable_widget_ids(text: str, nb) -> str:
    """Replace the random widget model ids by ones numbered in creation order, so a rerun gives the same file."""
    state = nb.metadata.get("widgets", {}).get(WIDGET_STATE, {}).get("state", {})
    for number, model_id in enumerate(state, start=1):
        text = text.replace(model_id, f"{number:032x}")
    return notebook_text(nbformat.reads(text, as_version=4)) if state else text  # re-sorted by the new ids


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("notebooks", nargs="+", type=Path, help="solutions/NN_topic.py files")
    parser.add_argument("--timeout", type=int, default=CELL_TIMEOUT, help="seconds allowed per cell")
    parser.add_argument("--refresh-timings", action="store_true",
                        help=f"store new outputs for cells tagged {TIMING!r} too (by default they keep theirs)")
    args = parser.parse_args(argv)
    failed = []
    for path in args.notebooks:
        start = time.perf_counter()
        try:
            ipynb = execute(path, args.timeout, args.refresh_timings)
        except (CellExecutionError, CellTimeoutError, DeadKernelError, OSError) as err:
            failed.append(path)
            print(f"FAILED {path} after {time.perf_counter() - start:.1f} s:\n{err}", file=sys.stderr)
            continue
        print(f"executed {ipynb} in {time.perf_counter() - start:.1f} s", flush=True)
    if failed:
        print(f"{len(failed)} notebook(s) failed: {', '.join(map(str, failed))}", file=sys.stderr)
    return 1 if failed else 0


if __name__ == "__main__":
    sys.exit(main())
