"""The benchmark scripts run (tiny shapes, one repeat) and print a well-formed table, so they cannot rot.

Speed itself is never asserted here: ratios are measured by ``make bench`` and reported in benchmarks/RESULTS.md.
"""

import re
import subprocess
import sys
from pathlib import Path

BENCHMARKS = Path(__file__).resolve().parents[1] / "benchmarks"
ROW = re.compile(r"^\| (?P<case>[^|]+) \| (?P<ours>[\d.]+) \| torch \| (?P<peer>[\d.]+) \| (?P<ratio>[\d.]+) \| "
                 r"(?P<reference>[\d.]*) \| (?P<reference_ratio>[\d.]*) \|")


def test_smoke_run_prints_a_ratio_for_every_case_and_thread_count(torch, tmp_path):
    run = subprocess.run([sys.executable, str(BENCHMARKS / "run.py"), "--smoke"], capture_output=True, text=True,
                         timeout=300, cwd=tmp_path, check=False)
    assert run.returncode == 0, run.stderr
    rows = [ROW.match(line) for line in run.stdout.splitlines() if ROW.match(line)]
    cases = {row["case"] for row in rows}
    assert {"Linear", "Conv2d 1→16 on 28×28", "Conv2d 16→32 on 14×14", "MaxPool2d 2×2", "RNN", "LSTM", "GRU",
            "MultiHeadAttention"} <= cases
    assert len(rows) == 2 * len(cases)  # one table for 1 thread, one for 2
    for row in rows:
        ours, peer, ratio = (float(row[k]) for k in ("ours", "peer", "ratio"))
        assert ours > 0 and peer > 0 and abs(ratio - ours / peer) <= 0.01 + 0.01 * ratio
        # every layer is also timed on its reference code (fast kernels off); the bare matmuls have none
        assert (row["reference"] == "") == (row["case"] == "Linear's 3 bare matmuls"), row["case"]
        if row["reference"]:
            reference, reference_ratio = float(row["reference"]), float(row["reference_ratio"])
            assert reference > 0 and abs(reference_ratio - reference / peer) <= 0.01 + 0.01 * reference_ratio
    assert "written to" not in run.stdout  # a smoke run never overwrites RESULTS.md
    accuracies = {}
    for contender in ("nnlib", "NumPy floor", "scikit-learn", "torch"):  # the end-to-end table: time and accuracy
        row = re.search(rf"^\| MLP 64-128-10 on digits.* \| {contender} \| [\d.]+ \| (0\.\d{{3}}) \|", run.stdout, re.M)
        accuracies[contender] = row[1]
    assert accuracies["NumPy floor"] == accuracies["nnlib"]  # the floor computes nnlib's run, without the overhead
    assert re.search(r"^\| MultiHeadAttention\(64, 4\), batch 8, forward \+ backward \| T = 16 \| [\d.]+ \| [\d.]+ \|",
                     run.stdout, re.M)
    step_row = r"^\| ((?:head alone|frozen CNN|the extractor)[^|]*) \| [\d.]+ \| ([\d.]+) \|"
    transfer = dict(re.findall(step_row, run.stdout, re.M))  # lesson 09's frozen step, as a ratio to the head alone
    assert len(transfer) == 4 and transfer["head alone on precomputed features"] == "1.00"


def _training_cases():
    sys.path.insert(0, str(BENCHMARKS))
    try:
        import training_cases
    finally:
        sys.path.remove(str(BENCHMARKS))
    return training_cases


def test_the_mlp_target_needs_both_the_time_and_the_accuracy():
    verdict = _training_cases()._mlp_verdict
    assert verdict(0.55, 0.966, 0.964).endswith("✅")
    assert verdict(0.65, 0.966, 0.964).endswith("❌")  # too slow
    assert verdict(0.55, 0.958, 0.964).endswith("❌")  # fast, but 0.006 less accurate
    assert verdict(0.55, 0.971, 0.964).endswith("❌")  # a different result, even if better


def test_only_attentions_doubling_to_t_512_is_held_to_its_target():
    growth = _training_cases()._growth_cell
    assert growth("MultiHeadAttention(64, 4)", 512, 4.2, 2) == "4.20 (target ≤ 4.3 ✅)"
    assert growth("MultiHeadAttention(64, 4)", 512, 4.4, 2) == "4.40 (target ≤ 4.3 ❌)"
    assert growth("MultiHeadAttention(64, 4)", 256, 4.4, 2) == "4.40"
    assert growth("MultiHeadAttention(64, 4) on the reference code", 512, 4.4, 2) == "4.40"
    assert growth("LSTM(64, 64)", 512, 2.0, 2) == "2.00"
    assert growth("MLP", 64, 16.0, 4) == "4.00"  # batch ×4 = two doublings
