"""The install paths agree: the README's quick starts (POSIX and PowerShell), conda's environment.yml and pyproject.

make test-install runs the POSIX quick start itself, from a clean clone (tests/install/test_quickstart.py).
"""

import re
from pathlib import Path

import pytest
import yaml
from packaging.requirements import Requirement
from packaging.utils import canonicalize_name

tomllib = pytest.importorskip("tomllib", reason="tomllib is in the standard library from Python 3.11")
ROOT = Path(__file__).resolve().parents[1]
# conda-forge names that differ from PyPI's (after PEP 503 normalisation): matplotlib without its Qt backend.
CONDA_NAMES = {"matplotlib": "matplotlib-base"}
# What environment.yml installs besides the packages: the interpreter, pip, and the course itself (pip: -e .).
NOT_PACKAGES = {"python", "pip"}


def readme_block(readme: str, name: str) -> str:
    """The fenced block that follows ``<!-- quickstart: name -->`` in the README."""
    match = re.search(rf"<!-- quickstart: {name} -->\s*```\w*\n(.*?)```", readme, re.DOTALL)
    assert match, f"README.md has no fenced block after <!-- quickstart: {name} -->"
    return match.group(1)


def floors(requirements: list[str]) -> dict[str, str]:
    """{normalised name: ">=floor"} of requirement strings, PyPI or conda (``name>=x``)."""
    out = {}
    for text in requirements:
        requirement = Requirement(text)
        out[canonicalize_name(requirement.name)] = str(requirement.specifier)
    return out


def pyproject_floors(*extras: str) -> dict[str, str]:
    """{conda name: floor} of what pyproject installs with ``extras``."""
    project = tomllib.loads((ROOT / "pyproject.toml").read_text(encoding="utf-8"))["project"]
    requirements = project["dependencies"] + [r for extra in extras for r in project["optional-dependencies"][extra]]
    return {CONDA_NAMES.get(name, name): floor for name, floor in floors(requirements).items()}


def hub_image_floors() -> dict[str, str]:
    """The course image of a hub: the course with nbgrader, and the hub's server at the hub's version."""
    expected = pyproject_floors("course", "test", "grading")
    expected["jupyterhub-singleuser"] = pyproject_floors("hub")["jupyterhub"]
    return expected


# conda runs pip from the environment file's folder: each file installs the repository it sits in.
@pytest.mark.parametrize(("path", "expected", "course"), [
    ("environment.yml", lambda: pyproject_floors("course", "test"), "."),
    ("tools/hub/environment.yml", hub_image_floors, "../.."),
])
def test_environment_yml_lists_what_pyproject_installs_with_the_same_floors(path, expected, course):
    expected = expected()
    environment = yaml.safe_load((ROOT / path).read_text(encoding="utf-8"))
    conda = [item for item in environment["dependencies"]
             if isinstance(item, str) and re.split(r"[=<>!\s]", item)[0] not in NOT_PACKAGES]
    listed = floors(conda)
    assert listed == expected, (f"{path} and pyproject.toml differ: only in {path} "
                                f"{sorted(set(listed.items()) - set(expected.items()))}, only in pyproject.toml "
                                f"{sorted(set(expected.items()) - set(listed.items()))}")
    pip = [item["pip"] for item in environment["dependencies"] if isinstance(item, dict)]
    assert pip == [[f"--editable {course}"]], f"{path} must install the course itself with pip: --editable {course}"


def test_the_powershell_quick_start_is_the_posix_one_with_windows_paths():
    readme = (ROOT / "README.md").read_text(encoding="utf-8")
    posix = readme_block(readme, "posix").splitlines()
    powershell = readme_block(readme, "powershell").splitlines()
    windows = {"python3 -m venv .venv": "py -m venv .venv", ". .venv/bin/activate": r".venv\Scripts\Activate.ps1"}
    assert len(posix) >= 4 and powershell == [windows.get(line, line) for line in posix]
