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


@pytest.fixture(scope="session")
def dask():
    """A real Dask cluster on this machine (tests/daskcluster.py): a TLS scheduler on 127.0.0.1
    and two workers, started as the README says; stopped, every process of it, at the end."""
    import shutil
    import tempfile

    from daskcluster import Cluster

    folder = Path(tempfile.mkdtemp(prefix="cnncourse-daskcluster-"))
    cluster = Cluster(folder, workers=2)
    try:
        yield cluster
    finally:
        cluster.stop()
        shutil.rmtree(folder, ignore_errors=True)


# session-wide: xdist may run another module's test between two of these, which would end a
# module-scoped fixture and grade the class again; tests/test_grade.py and tests/test_cluster.py
# (xdist group "grade") share it
@pytest.fixture(scope="session")
def graded(tmp_path_factory, cli, dask):
    """The class run of tests/test_grade.py, graded with local workers: (course root, the
    CompletedProcess of `cnncourse grade`, grades.csv's rows by student). tom also knows the
    port of the session's Dask scheduler (tests/test_cluster.py grades this class there)."""
    import csv

    from test_grade import TOY_PROBES, _class, host_listeners
    from toycourse import make_toy_course

    root = make_toy_course(tmp_path_factory.mktemp("class"))
    assert cli("release", cwd=root).returncode == 0
    (root / "probes").mkdir(parents=True)
    (root / "probes" / "00_toy.py").write_text(TOY_PROBES)
    with host_listeners() as reach:
        reach["PORTS"].append(int(dask.address.rsplit(":", 1)[1]))
        _class(root, reach)
        result = cli("grade", "--jobs", "2", "--timeout", "25", "--memory-gb", "4",
                     "--no-progress", "--db-url", f"sqlite:///{root / 'class.db'}", cwd=root)
    rows = {}
    grades = root / "grades" / "grades.csv"
    if grades.exists():
        with grades.open() as f:
            rows = {r["student"]: r for r in csv.DictReader(f)}
    return root, result, rows
