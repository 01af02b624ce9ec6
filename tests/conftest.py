import os
import sys
from pathlib import Path

import pytest

from cnncourse.course import ensure_bin_on_path

ROOT = Path(__file__).resolve().parents[1]

# nbgrader runs `alembic` as a command; kernels and the CLI must come from this environment.
ensure_bin_on_path()
os.environ.setdefault("MPLBACKEND", "Agg")
os.environ.setdefault("PYDEVD_DISABLE_FILE_VALIDATION", "1")


@pytest.fixture(scope="session")
def root() -> Path:
    return ROOT


@pytest.fixture(scope="session")
def cli():
    """Run `cnncourse ...` as a student or instructor would, in a subprocess."""
    import subprocess

    def run(*args, cwd=ROOT, timeout=600):
        return subprocess.run(
            [sys.executable, "-m", "cnncourse", *map(str, args)], cwd=cwd, text=True,
            capture_output=True, timeout=timeout, env={**os.environ, "PYTHONWARNINGS": "ignore"})

    return run
