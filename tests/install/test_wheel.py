"""The built wheel installs in a fresh venv, outside the repository, and imports with its version and data."""

import sys
import venv
import zipfile
from pathlib import Path

from install_helpers import run

import nnlib

SMOKE = """
import importlib.metadata, pathlib, numpy as np, nnlib
from nnlib.pretrained import __file__ as pretrained
print(nnlib.__version__, importlib.metadata.version("nnlib-course"), nnlib.__file__)
assert sorted(p.name for p in pathlib.Path(pretrained).parent.glob("*.npz")), "no pretrained weights in the wheel"
assert nnlib.Linear(2, 3, rng=0)(np.ones((1, 2), dtype=np.float32)).shape == (1, 3)
"""


def test_the_wheel_installs_in_a_fresh_venv_and_imports(clone, tmp_path):
    run([sys.executable, "-m", "pip", "wheel", "--quiet", "--no-deps", "--wheel-dir", str(tmp_path / "dist"), "."],
        cwd=clone)
    (wheel,) = (tmp_path / "dist").glob("nnlib_course-*.whl")
    assert wheel.name.startswith(f"nnlib_course-{nnlib.__version__}-py3-none-any")
    with zipfile.ZipFile(wheel) as archive:
        names = archive.namelist()
    assert any(name.endswith(".dist-info/licenses/LICENSE") for name in names), names[-8:]
    venv.create(tmp_path / "venv", with_pip=True)
    python = str(tmp_path / "venv" / "bin" / "python")
    run([python, "-m", "pip", "install", "--quiet", str(wheel)], cwd=tmp_path)
    version, installed, location = run([python, "-c", SMOKE], cwd=tmp_path).split()
    assert version == installed == nnlib.__version__
    assert Path(location).is_relative_to(tmp_path / "venv"), location
