"""Shared by the install-path tests: run a command, bounded, failing with its output."""

import subprocess
from pathlib import Path

TIMEOUT = 900  # seconds for one install command (a fresh venv with the course's packages)


def run(command: list[str], cwd: Path, **kwargs) -> str:
    """Run ``command`` (bounded); its output, or a failure that shows it."""
    result = subprocess.run(command, cwd=cwd, capture_output=True, text=True, timeout=TIMEOUT, **kwargs)
    assert result.returncode == 0, \
        f"{' '.join(command)} failed ({result.returncode}):\n{result.stdout}\n{result.stderr}"
    return result.stdout
