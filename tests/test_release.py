"""Release hygiene: one version everywhere, the MIT license the metadata declares, a citation, a changelog."""

import importlib.metadata
import re
from pathlib import Path

import pytest
import yaml

import nnlib

tomllib = pytest.importorskip("tomllib", reason="tomllib is in the standard library from Python 3.11")
ROOT = Path(__file__).resolve().parents[1]
DISTRIBUTION = "nnlib-course"


@pytest.fixture(scope="module")
def project() -> dict:
    return tomllib.loads((ROOT / "pyproject.toml").read_text(encoding="utf-8"))["project"]


def test_the_version_is_written_once_and_installed_as_is(project):
    assert "version" not in project and "version" in project["dynamic"]
    setuptools = tomllib.loads((ROOT / "pyproject.toml").read_text(encoding="utf-8"))["tool"]["setuptools"]
    assert setuptools["dynamic"]["version"] == {"attr": "nnlib.__version__"}
    assert re.fullmatch(r"\d+\.\d+\.\d+", nnlib.__version__)
    assert importlib.metadata.version(DISTRIBUTION) == nnlib.__version__, \
        "the installed metadata is stale: reinstall (pip install -e .)"


def test_the_distribution_name_is_free_of_the_unrelated_nnlib_on_pypi(project):
    assert project["name"] == DISTRIBUTION  # "nnlib" on PyPI is another project; the import name stays nnlib
    assert tomllib.loads((ROOT / "pyproject.toml").read_text(encoding="utf-8"))["tool"]["setuptools"]["packages"][
        "find"]["include"] == ["nnlib*"]


def test_the_license_file_is_the_mit_license_the_metadata_declares(project):
    assert project["license"] == "MIT" and project["license-files"] == ["LICENSE"]
    text = (ROOT / "LICENSE").read_text(encoding="utf-8")
    assert text.startswith("MIT License\n") and "Permission is hereby granted, free of charge" in text


def test_the_citation_names_this_version_and_license():
    citation = yaml.safe_load((ROOT / "CITATION.cff").read_text(encoding="utf-8"))
    assert citation["cff-version"] == "1.2.0" and citation["type"] == "software"
    assert citation["version"] == nnlib.__version__ and citation["license"] == "MIT"
    assert citation["title"] and citation["authors"]


def test_the_changelog_opens_with_this_version():
    headings = re.findall(r"^## (\S+)", (ROOT / "CHANGELOG.md").read_text(encoding="utf-8"), re.MULTILINE)
    assert headings and headings[0] == nnlib.__version__, headings[:1]
