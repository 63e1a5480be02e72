"""A clean clone of this repository (its committed HEAD) for the install-path tests (make test-install)."""

from pathlib import Path

import pytest
from install_helpers import run

ROOT = Path(__file__).resolve().parents[2]


@pytest.fixture(scope="session")
def clone(tmp_path_factory) -> Path:
    """``git clone`` of this repository: what a learner or a hub image starts from (uncommitted edits excluded)."""
    target = tmp_path_factory.mktemp("clone") / "course"
    run(["git", "clone", "--quiet", "--no-hardlinks", str(ROOT), str(target)], cwd=ROOT)
    return target
