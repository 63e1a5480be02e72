"""Run the benchmarks: nnlib against PyTorch CPU side by side, with 1 and 2 threads.

    python benchmarks/run.py                   # every group, 1 and 2 threads, writes benchmarks/RESULTS.md
    python benchmarks/run.py --groups conv     # one group
    python benchmarks/run.py --smoke           # tiny shapes, one repeat, nothing written (what CI runs)

Groups: dense, conv, recurrent, attention (one layer's forward + backward against its torch twin, on nnlib's fast
kernels and on its reference code), training (whole runs against scikit-learn and torch, with accuracies), scaling
(nnlib against batch size and sequence length) and transfer (lesson 09's frozen-extractor training step against the
head alone on precomputed features).

NumPy's OpenBLAS threads spin for a while after each call before they sleep. In the 2-thread rows they then hold a
core that torch's next call needs: torch's Linear measured 2× slower, its LSTM 2× slower, than with the shortest
spin. So this script sets ``OPENBLAS_THREAD_TIMEOUT=4`` (OpenBLAS's minimum) before NumPy loads, unless it is set.
"""

from __future__ import annotations

import os

os.environ.setdefault("OPENBLAS_THREAD_TIMEOUT", "4")

import argparse  # noqa: E402  (after the environment OpenBLAS reads when NumPy loads it)
import sys  # noqa: E402
from pathlib import Path  # noqa: E402

from harness import machine_description, markdown_table, measure  # noqa: E402
from layer_cases import BARE_MATMULS, CASES, TARGETS  # noqa: E402
from training_cases import scaling_table, training_table, transfer_table  # noqa: E402

WHOLE_RUNS = {"training": training_table, "scaling": scaling_table, "transfer": transfer_table}
GROUPS = sorted(CASES) + sorted(WHOLE_RUNS)

RESULTS = Path(__file__).with_name("RESULTS.md")


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--groups", nargs="+", choices=GROUPS, default=GROUPS)
    parser.add_argument("--threads", nargs="+", type=int, default=[1, 2])
    parser.add_argument("--repeats", type=int, default=15)
    parser.add_argument("--smoke", action="store_true", help="tiny shapes, one repeat; RESULTS.md is not written")
    args = parser.parse_args(argv)
    try:
        import threadpoolctl  # noqa: F401
        import torch  # noqa: F401
    except ImportError as err:
        sys.exit(f"benchmarks need torch and threadpoolctl ({err}); run `make bench`, which installs them")

    cases = [case for group in args.groups if group in CASES for case in CASES[group](smoke=args.smoke)]
    repeats, warmup = (1, 1) if args.smoke else (args.repeats, 3)
    sections = [f"# nnlib vs PyTorch CPU\n\nMachine:\n\n{machine_description()}\n"]
    for threads in args.threads:
        title = f"{threads} thread{'s' if threads > 1 else ''}"
        if cases:
            results = [measure(case, threads, repeats=repeats, warmup=warmup,
                               target_seconds=0.0 if args.smoke else 0.02) for case in cases]
            table = markdown_table(results, None if args.smoke else TARGETS.get(threads))
            sections.append(f"## Layers, {title}\n\nMedian time of one forward + backward pass (float32); a ratio "
                            "below 1 means nnlib is faster. nnlib runs on its fast kernels (the default); the "
                            "reference columns time the same layer on the readable code the lessons teach "
                            f"(`nnlib.use_fast_kernels(False)`).{_matmul_fraction(results)}\n\n{table}")
            print(sections[-1] + "\n", flush=True)
        for group in (g for g in sorted(WHOLE_RUNS) if g in args.groups):
            sections.append(f"## {group.capitalize()}, {title}\n\n{WHOLE_RUNS[group](threads, args.smoke)}")
            print(sections[-1] + "\n", flush=True)
    if args.smoke or sorted(args.groups) != GROUPS:
        print(f"(a smoke or partial run: {RESULTS.name} is left as it was)")
    else:
        RESULTS.write_text("\n\n".join(sections) + "\n", encoding="utf-8")
        print(f"written to {RESULTS}")
    return 0


def _matmul_fraction(results) -> str:
    """A sentence: the share of the bare matmuls' speed that nnlib's Linear reaches, when both were measured."""
    seconds = {r.case.name: r.nnlib_seconds for r in results}
    if "Linear" not in seconds or BARE_MATMULS not in seconds:
        return ""
    return (f" nnlib's Linear runs at {seconds[BARE_MATMULS] / seconds['Linear']:.0%} of the throughput of its three "
            "bare matmuls.")


if __name__ == "__main__":
    sys.exit(main())
