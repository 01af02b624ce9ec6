"""No grading helper outlives its grader.

Every process a class run starts (workers, warm-kernel zygotes, kernels, verification fork
servers and their children, jail relays) dies when the process that started it dies, however
it dies and whenever. A run's processes are found by the run's own temporary folder (its
TMPDIR: each of them has it in its environment, or works below it), never by name.
"""

from __future__ import annotations

import csv
import os
import signal
import subprocess
import sys
import time
from pathlib import Path

import nbformat
import pytest
from autograde import with_answers
from toycourse import make_toy_course

from cnncourse.notebooks import read_notebook

pytestmark = [pytest.mark.slow, pytest.mark.xdist_group("lifetimes")]

RIGHT = {"double": "def double(x):\n    return 2.0 * np.asarray(x, dtype=float)",
         # a notebook that takes a while: a helper that waits for it to end is caught
         "halve": "def halve(x):\n    import time\n    time.sleep(4)\n"
                  "    return np.asarray(x, dtype=float) / 2"}
PROBES = '''
from cnncourse.grading.verify import Probe, same_as

PROBES = [Probe("double", lambda rng: [((rng.normal(size=5),), {})], same_as(lambda x: 2 * x))]
'''
STUDENTS = [f"s{k}" for k in range(6)]


@pytest.fixture(scope="module")
def course(tmp_path_factory, cli):
    root = make_toy_course(tmp_path_factory.mktemp("lifetimes"))
    assert cli("release", cwd=root).returncode == 0
    (root / "probes").mkdir()
    (root / "probes" / "00_toy.py").write_text(PROBES)  # so each worker starts a sandbox
    release = read_notebook(root / "notebooks" / "00_toy" / "00_toy.ipynb")
    for student in STUDENTS:
        folder = root / "submitted" / student / "00_toy"
        folder.mkdir(parents=True)
        nbformat.write(with_answers(release, RIGHT), folder / "00_toy.ipynb")
    return root


def _of_the_run(tmp: Path) -> list[tuple[int, str]]:
    """(pid, command) of every process whose environment names the run's TMPDIR (TMPDIR
    itself, or the jail's folder below it) or that works below it."""
    mark = str(tmp).encode()
    found = []
    for proc in Path("/proc").glob("[0-9]*"):
        try:
            environ = (proc / "environ").read_bytes().split(b"\0")
            try:
                cwd = os.readlink(proc / "cwd")
            except OSError:
                cwd = ""
            if any(mark in entry for entry in environ) or cwd.startswith(str(tmp)):
                cmd = (proc / "cmdline").read_bytes().replace(b"\0", b" ").decode()[:120]
                found.append((int(proc.name), cmd))
        except OSError:
            continue
    return [(p, c) for p, c in found if p != os.getpid()]


def _gone(tmp: Path, within: float = 3.0) -> list[tuple[int, str]]:
    deadline = time.monotonic() + within
    while (left := _of_the_run(tmp)) and time.monotonic() < deadline:
        time.sleep(0.2)
    return left


def _start(course: Path, tmp: Path, *extra: str) -> subprocess.Popen:
    tmp.mkdir(parents=True, exist_ok=True)
    env = {**os.environ, "TMPDIR": str(tmp), "PYTHONWARNINGS": "ignore"}
    return subprocess.Popen([sys.executable, "-m", "cnncourse", "grade", "--jobs", "2",
                             "--no-progress", "--timeout", "120", "--out", str(tmp / "grades"),
                             *extra], cwd=course, env=env, stdout=subprocess.PIPE,
                            stderr=subprocess.PIPE, text=True)


def _rows(tmp: Path) -> list[dict]:
    path = tmp / "grades" / "grades.csv"
    return list(csv.DictReader(path.open())) if path.exists() else []


def _wait_for(what, within: float = 300.0) -> bool:
    deadline = time.monotonic() + within
    while time.monotonic() < deadline:
        if what():
            return True
        time.sleep(0.1)
    return False


def _kernels(tmp: Path) -> list[int]:
    return [p for p, cmd in _of_the_run(tmp) if "warmkernel" in cmd or "ipykernel" in cmd]


MOMENTS = {
    "workers-starting": lambda tmp, grader: _wait_for(lambda: len(_of_the_run(tmp)) >= 3),
    "mid-notebook": lambda tmp, grader: _wait_for(lambda: len(_kernels(tmp)) >= 3),
    "after-rows": lambda tmp, grader: _wait_for(lambda: len(_rows(tmp)) >= 2),
}


@pytest.mark.parametrize("moment", list(MOMENTS))
def test_a_killed_grader_leaves_no_process_and_a_rerun_grades_everyone(course, tmp_path,
                                                                       moment):
    tmp = tmp_path / "run"
    grader = _start(course, tmp)
    assert MOMENTS[moment](tmp, grader), f"the run never reached '{moment}'"
    grader.kill()  # SIGKILL: no cleanup code of the grader runs
    grader.communicate(timeout=60)
    left = _gone(tmp)
    assert not left, f"left running after the grader was killed: {left}"
    again = _start(course, tmp_path / "again")
    out, err = again.communicate(timeout=900)
    assert again.returncode == 0, out[-2000:] + err[-2000:]
    assert "not jailed" not in out, out  # the helpers tried here are the jailed ones
    rows = _rows(tmp_path / "again")
    assert sorted(r["student"] for r in rows) == STUDENTS
    assert all(r["status"] == "graded" and r["score"] == "4" for r in rows), rows
    assert not _gone(tmp_path / "again")


def test_a_killed_worker_takes_its_helpers_and_the_run_goes_on(course, tmp_path):
    tmp = tmp_path / "run"
    grader = _start(course, tmp)
    assert _wait_for(lambda: len(_kernels(tmp)) >= 2), "no kernel started"
    workers = [p for p, cmd in _of_the_run(tmp) if "multiprocessing" in cmd]
    assert workers, _of_the_run(tmp)
    victim = workers[0]
    helpers = [p for p in _descendants(victim)]
    os.kill(victim, signal.SIGKILL)
    deadline = time.monotonic() + 3
    while any(_alive(p) for p in helpers) and time.monotonic() < deadline:
        time.sleep(0.2)
    assert not [p for p in helpers if _alive(p)], "helpers outlived their worker"
    out, err = grader.communicate(timeout=900)
    assert grader.returncode == 0, out[-2000:] + err[-2000:]
    rows = _rows(tmp)
    assert sorted(r["student"] for r in rows) == STUDENTS
    assert not _gone(tmp)


def test_the_grader_and_its_workers_killed_at_once_leave_nothing(course, tmp_path):
    """As an out-of-memory killer or a stopped container kills them: no process of the run gets
    to clean up after another, so each helper must end by itself."""
    tmp = tmp_path / "run"
    grader = _start(course, tmp)
    assert _wait_for(lambda: len(_kernels(tmp)) >= 3), "no kernel started"
    workers = [p for p, cmd in _of_the_run(tmp) if "multiprocessing" in cmd]
    grader.kill()
    for pid in workers:
        os.kill(pid, signal.SIGKILL)
    grader.communicate(timeout=60)
    left = _gone(tmp)
    assert not left, f"left running: {left}"


def test_ctrl_c_leaves_nothing_behind(course, tmp_path):
    tmp = tmp_path / "run"
    grader = _start(course, tmp)
    assert _wait_for(lambda: len(_kernels(tmp)) >= 2), "no kernel started"
    grader.send_signal(signal.SIGINT)
    out, err = grader.communicate(timeout=120)
    assert grader.returncode == 130 and "stopped" in err, err[-2000:]
    left = _gone(tmp)
    assert not left, f"left running after Ctrl-C: {left}"


def _descendants(pid: int) -> list[int]:
    from cnncourse.grading.procs import descendants

    return descendants(pid)


def _alive(pid: int) -> bool:
    from cnncourse.grading.procs import alive

    return alive(pid)
