"""Save and load a model's parameters as a NumPy ``.npz`` archive — plain arrays, never pickle.

A checkpoint maps each dotted parameter name (``"0.weight"``) to its array. :func:`save` writes it atomically:
a crash or error mid-save leaves any previous checkpoint intact. :func:`load` refuses anything that is not
such an archive and checks names, shapes and dtypes before changing a single weight.
"""

from __future__ import annotations

import glob
import os
import tempfile
import zipfile
import zlib
from pathlib import Path

import numpy as np

from ._checks import InputError
from .module import Module

__all__ = ["save", "load", "load_state"]

_EXPECTED = "expected a .npz archive of parameter arrays written by nnlib.save"


def _with_suffix(path) -> Path:
    path = Path(path)
    return path if path.suffix == ".npz" else path.with_name(path.name + ".npz")


def _check_model(model, who: str) -> None:
    if not isinstance(model, Module):
        raise InputError(f"{who}: model must be an nnlib Module, got {type(model).__name__}")


def save(model: Module, path) -> Path:
    """Write ``model``'s parameters to ``path`` (``.npz`` appended if missing) and return the final Path.

    The archive is written to a temporary file in the same directory, flushed to disk, then moved over
    ``path`` with :func:`os.replace` (atomic), so readers only ever see a complete checkpoint.
    """
    _check_model(model, "save")
    path = _check_path(path, "save")
    for folder in (path, _with_suffix(path)):
        if folder.is_dir():
            raise InputError(f"save: {folder} is a folder; give a file name, e.g. {folder / 'model.npz'}")
    path = _with_suffix(path)
    if not path.parent.is_dir():
        raise FileNotFoundError(f"save: the folder {path.parent} does not exist; create it first "
                                f"(Path({str(path.parent)!r}).mkdir(parents=True)) or save elsewhere")
    state = model.state_dict()
    for stale in path.parent.glob(f".{glob.escape(path.name)}.*.tmp"):  # left by a save that was killed
        stale.unlink(missing_ok=True)
    fd, tmp = tempfile.mkstemp(dir=path.parent, prefix=f".{path.name}.", suffix=".tmp")
    try:
        os.chmod(tmp, _file_mode(path))  # mkstemp creates files readable by their owner only
        with os.fdopen(fd, "wb") as file:
            np.savez(file, **state)
            file.flush()
            os.fsync(file.fileno())
        os.replace(tmp, path)
    except BaseException:
        Path(tmp).unlink(missing_ok=True)
        raise
    return path


def _check_path(path, who: str) -> Path:
    if not isinstance(path, (str, os.PathLike)):
        raise InputError(f"{who}: path must be a file name (str or pathlib.Path), got {type(path).__name__}")
    return Path(path)


def _file_mode(path: Path) -> int:
    """The permissions ``path`` has, or those a newly created file gets (read-write as the umask allows)."""
    if path.exists():
        return path.stat().st_mode & 0o777
    umask = os.umask(0)
    os.umask(umask)
    return 0o666 & ~umask


def _describe(path: Path) -> str:
    """What the file looks like, from its first bytes."""
    with open(path, "rb") as file:
        head = file.read(8)
    if head.startswith(b"PK"):
        return "a damaged or truncated .npz (zip) archive"
    if head.startswith(b"\x93NUMPY"):
        return "a single .npy array, not an .npz archive of named arrays"
    if head.startswith(b"\x80"):
        return "a Python pickle (refused: loading a pickle can run arbitrary code)"
    if not head:
        return "an empty file"
    return f"not a NumPy file (it starts with {head!r})"


def _resolve(path) -> Path:
    path = _check_path(path, "load")
    if not path.exists() and _with_suffix(path).exists():
        return _with_suffix(path)
    if not path.exists():
        raise FileNotFoundError(f"load: no checkpoint at {path}")
    if path.is_dir():
        raise InputError(f"load: {path} is a folder; give the checkpoint file inside it (a .npz written by save)")
    return path


def load_state(path) -> dict[str, np.ndarray]:
    """Read a checkpoint into a ``{name: array}`` dict, for inspection (no model needed)."""
    path = _resolve(path)
    try:
        with open(path, "rb") as file:  # our own handle: np.load leaks its own when a zip is damaged
            archive = np.load(file, allow_pickle=False)
            if not isinstance(archive, np.lib.npyio.NpzFile):
                raise InputError(f"load: {path} is {_describe(path)}; {_EXPECTED}")
            with archive:
                return {name: archive[name] for name in archive.files}
    except (ValueError, OSError, EOFError, zipfile.BadZipFile, zlib.error) as err:
        if isinstance(err, InputError):
            raise
        what = ("an .npz archive holding object (pickled) arrays, which are refused" if "Object arrays" in str(err)
                else _describe(path))
        raise InputError(f"load: {path} is {what}; {_EXPECTED}") from err


def load(model: Module, path, strict: bool = True) -> Module:
    """Copy a checkpoint's arrays into ``model``'s parameters and return the model.

    Names, shapes and dtypes must match exactly (the error names the parameter); on any mismatch the model
    is left unchanged. ``strict=False`` loads only the names the checkpoint and the model share (shapes must
    still match), as :meth:`~nnlib.module.Module.load_state_dict` does. ``path`` may omit the ``.npz`` suffix.
    """
    _check_model(model, "load")
    state = load_state(path)
    try:
        model.load_state_dict(state, strict=strict)
    except InputError as err:
        raise InputError(f"load({str(path)!r}): {err}") from err
    return model
