"""save / load: exact round trip, atomic writes, and clear refusals of mismatched or foreign files."""

import os
import pickle
import subprocess
import sys
import time

import numpy as np
import pytest

from nnlib import InputError, Linear, Sequential, Tanh, io


def mlp(seed=0, hidden=3, dtype=np.float32):
    return Sequential(Linear(2, hidden, rng=seed, dtype=dtype), Tanh(), Linear(hidden, 1, rng=seed + 1, dtype=dtype))


def assert_same_parameters(a, b):
    for (name_a, p), (name_b, q) in zip(a.named_parameters(), b.named_parameters(), strict=True):
        assert name_a == name_b and p.dtype == q.dtype
        np.testing.assert_array_equal(p.data, q.data)


@pytest.mark.parametrize("dtype", [np.float32, np.float64])
def test_round_trip_is_exact(tmp_path, dtype):
    source, target = mlp(0, dtype=dtype), mlp(5, dtype=dtype)
    path = io.save(source, tmp_path / "model.npz")
    arrays = [p.data for p in target.parameters()]
    assert io.load(target, path) is target
    assert_same_parameters(source, target)
    assert all(p.data is a for p, a in zip(target.parameters(), arrays, strict=True))


def test_suffix_added_and_optional_on_load(tmp_path):
    path = io.save(mlp(), tmp_path / "checkpoint")
    assert path == tmp_path / "checkpoint.npz" and path.exists()
    assert_same_parameters(io.load(mlp(7), str(tmp_path / "checkpoint")), mlp())


def test_load_state_gives_named_arrays(tmp_path):
    state = io.load_state(io.save(mlp(), tmp_path / "m.npz"))
    assert list(state) == ["0.weight", "0.bias", "2.weight", "2.bias"]
    assert state["0.weight"].shape == (2, 3) and state["0.weight"].dtype == np.float32


@pytest.mark.parametrize("fail_in", ["savez", "replace"])
def test_failed_save_keeps_previous_checkpoint_and_leaves_no_temp_file(tmp_path, monkeypatch, fail_in):
    path = io.save(mlp(0), tmp_path / "model.npz")

    def broken(*args, **kwargs):
        raise OSError("disk full")

    monkeypatch.setattr(np if fail_in == "savez" else os, fail_in, broken)
    with pytest.raises(OSError, match="disk full"):
        io.save(mlp(9), path)
    monkeypatch.undo()
    assert os.listdir(tmp_path) == ["model.npz"]
    assert_same_parameters(io.load(mlp(9), path), mlp(0))


def test_wrong_shape_names_the_parameter_and_changes_nothing(tmp_path):
    path = io.save(mlp(hidden=3), tmp_path / "m.npz")
    target = mlp(4, hidden=4)
    before = target.state_dict()
    with pytest.raises(InputError, match=r"parameter '0.weight' expects shape \(2, 4\).*got shape \(2, 3\)"):
        io.load(target, path)
    for name, value in target.state_dict().items():
        np.testing.assert_array_equal(value, before[name])


def test_non_strict_load_takes_a_pretrained_body_under_a_new_head(tmp_path):
    path = io.save(mlp(0, hidden=3), tmp_path / "m.npz")
    target = Sequential(Linear(2, 3, rng=8), Tanh(), Linear(3, 1, rng=9), Tanh(), Linear(1, 4, rng=10))
    with pytest.raises(InputError, match=r"load\('.*m.npz'\): .*missing \['4.bias', '4.weight'\]"):
        io.load(target, path)
    assert io.load(target, path, strict=False) is target
    np.testing.assert_array_equal(target[2].weight.data, mlp(0)[2].weight.data)


@pytest.mark.parametrize("umask", [0o022, 0o077])
def test_saved_files_get_the_usual_permissions_and_keep_existing_ones(tmp_path, umask):
    old = os.umask(umask)
    try:
        path = io.save(mlp(), tmp_path / "new.npz")
    finally:
        os.umask(old)
    assert path.stat().st_mode & 0o777 == 0o666 & ~umask
    path.chmod(0o640)
    assert io.save(mlp(1), path).stat().st_mode & 0o777 == 0o640


def test_wrong_dtype_names_the_parameter(tmp_path):
    path = io.save(mlp(dtype=np.float64), tmp_path / "m.npz")
    with pytest.raises(InputError, match=r"'0.weight' expects shape \(2, 3\) and dtype float32.*dtype float64"):
        io.load(mlp(), path)


@pytest.mark.parametrize(("model", "match"), [
    (Sequential(Linear(2, 3, rng=0), Tanh()), r"missing none, unexpected \['2.bias', '2.weight'\]"),
    (Sequential(Linear(2, 3, rng=0), Tanh(), Linear(3, 1), Linear(1, 1)), r"missing \['3.bias', '3.weight'\]"),
])
def test_missing_and_unexpected_names(tmp_path, model, match):
    path = io.save(mlp(), tmp_path / "m.npz")
    with pytest.raises(InputError, match=match):
        io.load(model, path)


def write_pickle(path):
    with open(path, "wb") as file:
        pickle.dump({"0.weight": np.zeros((2, 3))}, file)


def write_npy(path):
    with open(path, "wb") as file:  # np.save on a file name would append .npy
        np.save(file, np.zeros(3))


def write_truncated(path):
    io.save(mlp(), path)
    data = path.read_bytes()
    path.write_bytes(data[: len(data) // 2])


FOREIGN = [
    (write_pickle, "a Python pickle"),
    (lambda path: np.savez(path, w=np.array([{}, 1], dtype=object)), "object \\(pickled\\) arrays"),
    (write_npy, "a single .npy array"),
    (lambda path: path.write_text("weights = [1, 2, 3]"), "not a NumPy file"),
    (write_truncated, "damaged or truncated .npz"),
    (lambda path: path.write_bytes(b""), "an empty file"),
]


@pytest.mark.parametrize(("write", "what"), FOREIGN)
def test_foreign_files_are_refused(tmp_path, write, what):
    path = tmp_path / "bad.npz"
    write(path)
    with pytest.raises(InputError, match=f"bad.npz is .*{what}.*expected a .npz archive"):
        io.load(mlp(), path)


def test_missing_file_and_non_module(tmp_path):
    with pytest.raises(FileNotFoundError, match="no checkpoint at"):
        io.load(mlp(), tmp_path / "nothing.npz")
    with pytest.raises(InputError, match="save: model must be an nnlib Module"):
        io.save({"w": np.zeros(2)}, tmp_path / "m.npz")


def test_a_missing_folder_or_a_folder_as_path_is_named(tmp_path):
    with pytest.raises(FileNotFoundError, match=r"^save: the folder .*nowhere does not exist; create it first"):
        io.save(mlp(), tmp_path / "nowhere" / "m.npz")
    (tmp_path / "runs.npz").mkdir()
    with pytest.raises(InputError, match=r"^save: .*runs.npz is a folder; give a file name"):
        io.save(mlp(), tmp_path / "runs")
    with pytest.raises(InputError, match=r"^load: .* is a folder; give the checkpoint file inside it"):
        io.load(mlp(), tmp_path)


@pytest.mark.parametrize("call", [lambda: io.save(mlp(), None), lambda: io.load(mlp(), None),
                                  lambda: io.load_state(3)], ids=["save", "load", "load_state"])
def test_a_path_that_is_no_file_name_is_refused(call):
    with pytest.raises(InputError, match=r"^(save|load): path must be a file name \(str or pathlib.Path\), got "):
        call()


def test_a_stale_temporary_file_from_a_killed_save_is_removed_by_the_next_save(tmp_path):
    stale = tmp_path / ".model.npz.k1ll3d.tmp"
    stale.write_bytes(b"half a checkpoint")
    keep = tmp_path / ".other.npz.abc.tmp"
    keep.write_bytes(b"another checkpoint's")
    io.save(mlp(), tmp_path / "model.npz")
    assert not stale.exists() and keep.exists()
    assert sorted(p.name for p in tmp_path.iterdir()) == [".other.npz.abc.tmp", "model.npz"]


SAVE_FOREVER = """
import sys
from nnlib import Linear, io
model = Linear(1500, 1500, rng=1, dtype="float64")      # an 18 MB checkpoint: each save takes a while
while True:
    io.save(model, sys.argv[1])
"""


@pytest.mark.slow
@pytest.mark.parametrize("delay", [0.0, 0.05, 0.2])
def test_a_save_killed_midway_never_corrupts_the_checkpoint(tmp_path, delay):
    """A process killed (SIGKILL: no cleanup) while writing leaves the checkpoint readable: the old one or the new."""
    path = tmp_path / "model.npz"
    old, new = Linear(1500, 1500, rng=0, dtype=np.float64), Linear(1500, 1500, rng=1, dtype=np.float64)
    io.save(old, path)
    writer = subprocess.Popen([sys.executable, "-c", SAVE_FOREVER, str(path)])
    try:
        deadline = time.monotonic() + 60
        while not list(tmp_path.glob(".model.npz.*.tmp")):   # a save is under way
            assert writer.poll() is None and time.monotonic() < deadline, "the writer never started a save"
            time.sleep(0.005)
        time.sleep(delay)
    finally:
        writer.kill()
        writer.wait(timeout=30)
    loaded = io.load(Linear(1500, 1500, dtype=np.float64), path)
    assert any(np.array_equal(loaded.weight.data, m.weight.data) and np.array_equal(loaded.bias.data, m.bias.data)
               for m in (old, new))
