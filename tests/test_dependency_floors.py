"""The declared dependency range is the tested one: pyproject's lower bounds are the README's floors, `make test-floors`
installs exactly them, and CI runs it with torch in the floors venv."""

import re
from pathlib import Path

import pytest
import tomllib
from packaging.requirements import Requirement

ROOT = Path(__file__).resolve().parents[1]
PYPROJECT = tomllib.loads((ROOT / "pyproject.toml").read_text(encoding="utf-8"))
README = (ROOT / "README.md").read_text(encoding="utf-8")
MAKEFILE = (ROOT / "Makefile").read_text(encoding="utf-8")
CI = (ROOT / ".ci" / "run").read_text(encoding="utf-8")
TESTED_EXTRAS = ("course", "test")  # what `make test-floors` installs; browser and reference are not floors-tested


def requirements() -> list[Requirement]:
    project = PYPROJECT["project"]
    lines = [*project["dependencies"], *(r for extra in TESTED_EXTRAS for r in project["optional-dependencies"][extra])]
    return [Requirement(line) for line in lines]


def readme_table() -> dict[str, tuple[str, str]]:
    """{package: (floor, newest)} from the README's "Tested versions" table."""
    section = README.split("## Tested versions", 1)[1].split("\n## ", 1)[0]
    rows = [line.strip("|").split("|") for line in section.splitlines() if line.startswith("| ")]
    return {name.strip(): (floor.strip(), newest.strip()) for name, floor, newest in rows[1:]}


def make_recipe(target: str) -> str:
    match = re.search(rf"^{re.escape(target)}:.*\n((?:\t.*\n)+)", MAKEFILE, flags=re.MULTILINE)
    assert match, f"the Makefile has no recipe for {target}"
    return match.group(1)


def ci_commands() -> list[str]:
    """.ci/run's commands, without comments and without the ``timed`` prefix that reports each step's duration."""
    return [line.strip().removeprefix("timed ") for line in CI.splitlines()
            if line.strip() and not line.lstrip().startswith("#")]


@pytest.mark.parametrize("requirement", requirements(), ids=str)
def test_every_tested_dependency_has_one_lower_bound_and_nothing_else(requirement):
    """lowest-direct installs the lower bound itself: without one it would pick a release from years ago."""
    assert [spec.operator for spec in requirement.specifier] == [">="], requirement


def test_the_readme_floors_are_pyprojects_lower_bounds():
    floors = {r.name: next(iter(r.specifier)).version for r in requirements()}
    table = readme_table()
    stated = {name: floor for name, (floor, _) in table.items() if not name.startswith("torch")}
    assert stated == floors


def test_the_readme_states_the_python_that_requires_python_admits_and_what_is_tested():
    floor = PYPROJECT["project"]["requires-python"].removeprefix(">=")
    section = README.split("## Tested versions", 1)[1].split("\n## ", 1)[0]
    assert f"admits {floor}" in section or f"Python {floor}" in section, f"the README never mentions Python {floor}"
    assert re.search(r"Python 3\.\d+\.\d+ only", section), "the README must name the Python version it was tested on"


def test_the_torch_in_ci_is_the_readmes_at_both_ends():
    pins = set(re.findall(r'"torch==([\d.]+)"', CI))
    assert len(pins) == 1, f".ci/run installs several torch versions: {pins}"
    floor, newest = next(v for name, v in readme_table().items() if name.startswith("torch"))
    assert {floor, newest} == pins


def test_the_floors_venv_is_installed_by_uv_at_the_lowest_direct_versions_of_the_test_extras():
    floors_dir = re.search(r"^FLOORS := (\S+)$", MAKEFILE, flags=re.MULTILINE).group(1)
    install = make_recipe("$(FLOORS)/.floors-installed")
    assert "rm -rf $(FLOORS)" in install, "the floors venv must be built afresh, or a lowered bound is never installed"
    assert "uv pip install" in install and "--resolution lowest-direct" in install
    main_extras = re.search(r'-e "\.\[([\w,]+)\]"', make_recipe("$(VENV)/.test-installed")).group(1)
    floors_extras = re.search(r'-e "\.\[([\w,]+)\]"', install).group(1)
    assert floors_extras == main_extras == ",".join(TESTED_EXTRAS)
    assert f"{floors_dir}/" in (ROOT / ".gitignore").read_text().split()
    torch_loop = next(c for c in ci_commands() if c.startswith("for venv in "))
    assert floors_dir in torch_loop.removesuffix("; do").split(), ".ci/run must install torch in the floors venv"


def test_make_test_floors_runs_ruff_the_unit_tests_and_compared_solutions_in_the_floors_venv():
    recipe = make_recipe("test-floors")
    assert "VENV=$(FLOORS)" in recipe
    goals = recipe.split("VENV=$(FLOORS)", 1)[1].split()
    assert {"lint", "unit", "nbval-solutions"} <= set(goals)
    assert "--nbval --nbval-sanitize-with $(NBVAL_SANITIZE) solutions/*.ipynb" in make_recipe("nbval-solutions")


def test_ci_runs_the_floors_with_torch_installed_and_required():
    commands = ci_commands()
    assert "make test-floors" in commands, ".ci/run never runs make test-floors"
    floors_run = commands.index("make test-floors")
    built = next(i for i, c in enumerate(commands) if c.startswith("make ") and "venv-floors" in c.split())
    torch_installed = next(i for i, c in enumerate(commands) if "pip install" in c and "torch==" in c)
    required = next(i for i, c in enumerate(commands) if c.startswith("export ") and "NNLIB_REQUIRE_TORCH=1" in c)
    assert built < torch_installed < floors_run and required < floors_run
    make_test = next(i for i, c in enumerate(commands) if c.split()[:2] == ["make", "test"])
    assert make_test < floors_run, "the newest releases are tested first"


def test_the_conda_environment_has_pyprojects_lower_bounds():
    conda_names = {"matplotlib-base": "matplotlib", "jupyterlab_rise": "jupyterlab-rise"}
    text = (ROOT / "environment.yml").read_text(encoding="utf-8")
    conda = {conda_names.get(name, name): version for name, version in re.findall(r"^  - ([\w-]+)>=([\d.]+)$", text,
                                                                                   flags=re.MULTILINE)}
    assert conda == {r.name: next(iter(r.specifier)).version for r in requirements()}
