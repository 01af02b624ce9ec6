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


@pytest.hookimpl(trylast=True)
def pytest_collection_modifyitems(config, items):
    """Make `--dist loadgroup` group again. pytest-xdist 3.8 tells the scheduler an item's
    `xdist_group` by setting ``item._nodeid`` to ``NODEID@GROUP``, which pytest 9.2 no longer
    reads (a node's id is ``item._id``): every test was scheduled alone, and each worker
    graded the class run and every fairness batch for itself."""
    try:
        from _pytest.nodeid import NodeId
    except ImportError:  # an older pytest reads _nodeid itself
        return
    for item in items:
        grouped = item.__dict__.get("_nodeid")
        if grouped and grouped != item.nodeid:
            item._id = NodeId.parse(grouped)


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
