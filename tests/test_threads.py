"""Every grading kernel uses its share of the cores: cores ÷ the notebooks graded at once
(issue 17). Intra-op threads that outnumber the free cores spin-wait at every operation, so
`cnncourse grade` sets OMP/MKL/OpenBLAS threads for its kernels before any of them imports
PyTorch, and `--jobs` counts the cores this process may really use (affinity, a container's
quota), not os.cpu_count()."""

from __future__ import annotations

import os
import re

import nbformat
import pytest
from autograde import with_answers
from toycourse import make_toy_course

from cnncourse.grading.env import THREADS, passed_to_sandbox, share_threads, usable_cores
from cnncourse.notebooks import read_notebook

pytestmark = [pytest.mark.slow, pytest.mark.xdist_group("threads")]

PROBE = """def double(x):
    return 2.0 * np.asarray(x, dtype=float)

import os, torch
print("THREADS", torch.get_num_threads(), os.environ.get("OMP_NUM_THREADS"))"""
RIGHT_HALVE = "def halve(x):\n    return np.asarray(x, dtype=float) / 2"


@pytest.mark.parametrize(("quota", "expected"), [
    ("max 100000", None), ("150000 100000", 2), ("50000 100000", 1), ("100000 100000", 1),
    ("garbage", None)])
def test_usable_cores_reads_affinity_and_the_cgroup_quota(tmp_path, quota, expected):
    affinity = len(os.sched_getaffinity(0))
    (tmp_path / "cpu.max").write_text(quota + "\n")
    assert usable_cores(str(tmp_path)) == (affinity if expected is None
                                           else min(affinity, expected))


def test_usable_cores_reads_cgroup_v1_too(tmp_path):
    (tmp_path / "cpu").mkdir()
    (tmp_path / "cpu" / "cpu.cfs_quota_us").write_text("100000\n")
    (tmp_path / "cpu" / "cpu.cfs_period_us").write_text("100000\n")
    assert usable_cores(str(tmp_path)) == 1
    (tmp_path / "cpu" / "cpu.cfs_quota_us").write_text("-1\n")
    assert usable_cores(str(tmp_path)) == len(os.sched_getaffinity(0))


def test_the_share_goes_to_every_library_and_to_the_sandbox(monkeypatch):
    for name in THREADS:
        monkeypatch.delenv(name, raising=False)
    share_threads(3)
    assert all(os.environ[name] == "3" for name in THREADS)
    assert {k: v for k, v in passed_to_sandbox().items() if k in THREADS} == \
        dict.fromkeys(THREADS, "3")


@pytest.mark.parametrize("jobs", [1, 2])
def test_each_kernel_gets_its_share_of_the_cores(tmp_path, cli, jobs):
    """Two students graded with --jobs N: PyTorch in each kernel runs cores // N threads (at
    least 1), and the run says so."""
    root = make_toy_course(tmp_path / "course")
    assert cli("release", cwd=root).returncode == 0
    release = read_notebook(root / "notebooks" / "00_toy" / "00_toy.ipynb")
    for student in ("ann", "ben"):
        folder = root / "submitted" / student / "00_toy"
        folder.mkdir(parents=True)
        nbformat.write(with_answers(release, {"double": PROBE, "halve": RIGHT_HALVE}),
                       folder / "00_toy.ipynb")
    result = cli("grade", "00_toy", "--jobs", str(jobs), "--no-progress", cwd=root)
    assert result.returncode == 0, result.stdout + result.stderr
    share = max(1, usable_cores() // jobs)
    assert f"with {jobs} worker(s), {share} thread(s) per kernel" in result.stdout, result.stdout
    for student in ("ann", "ben"):
        page = (root / "grades" / "feedback" / student / "00_toy.html").read_text()
        found = re.search(r"THREADS (\d+) (\d+)", page)
        assert found and found.groups() == (str(share), str(share)), (student, found)
