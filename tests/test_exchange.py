"""The JupyterHub cycle through nbgrader's exchange, run locally: the instructor releases, two
students fetch, answer and submit from their own home folders, the instructor collects, grades
with `cnncourse grade`, and exports the gradebook with `nbgrader export`."""

from __future__ import annotations

import csv
import os
import subprocess
import sys

import nbformat
import pytest
from autograde import with_answers
from toycourse import make_toy_course

from cnncourse.course import ensure_bin_on_path
from cnncourse.notebooks import read_notebook

pytestmark = [pytest.mark.slow, pytest.mark.xdist_group("exchange")]

RIGHT = {"double": "def double(x):\n    return 2.0 * np.asarray(x, dtype=float)",
         "halve": "def halve(x):\n    return np.asarray(x, dtype=float) / 2"}
WRONG_HALVE = "def halve(x):\n    return np.asarray(x, dtype=float) / 3"


def _nbgrader(*args, cwd, exchange):
    ensure_bin_on_path()
    result = subprocess.run([sys.executable, "-m", "nbgrader", *args,
                             f"--Exchange.root={exchange}"], cwd=cwd, capture_output=True,
                            text=True, timeout=300, env={**os.environ, "PYTHONWARNINGS": "ignore"})
    assert result.returncode == 0, f"nbgrader {' '.join(args)}:\n{result.stderr[-3000:]}"
    return result


def test_release_fetch_submit_collect_grade_export(tmp_path, cli):
    root = make_toy_course(tmp_path / "course")
    assert cli("release", cwd=root).returncode == 0
    exchange = tmp_path / "exchange"
    exchange.mkdir()
    exchange.chmod(0o777)  # as JupyterHub's shared exchange is
    _nbgrader("release_assignment", "00_toy", cwd=root, exchange=exchange)

    answers = {"alice": RIGHT, "bob": {**RIGHT, "halve": WRONG_HALVE}}
    for student, answer in answers.items():
        home = tmp_path / "home" / student
        home.mkdir(parents=True)
        _nbgrader("fetch_assignment", "00_toy", "--course", "cnncourse", cwd=home,
                  exchange=exchange)
        fetched = home / "00_toy" / "00_toy.ipynb"
        assert fetched.exists(), f"{student} fetched nothing"
        nbformat.write(with_answers(read_notebook(fetched), answer), fetched)
        _nbgrader("submit", "00_toy", "--course", "cnncourse", f"--student={student}", cwd=home,
                  exchange=exchange)

    _nbgrader("collect", "00_toy", cwd=root, exchange=exchange)
    for student in answers:
        assert (root / "submitted" / student / "00_toy" / "00_toy.ipynb").exists()

    result = cli("grade", "00_toy", "--jobs", "2", "--no-progress", cwd=root)
    assert result.returncode == 0, result.stdout + result.stderr
    rows = {r["student"]: r for r in csv.DictReader((root / "grades" / "grades.csv").open())}
    assert {s: (r["status"], r["score"]) for s, r in rows.items()} == {
        "alice": ("graded", "4"), "bob": ("graded", "3")}

    # the grades are in the course gradebook, where nbgrader's own tools read them
    _nbgrader("export", "--to", str(tmp_path / "export.csv"), cwd=root, exchange=exchange)
    exported = {r["student_id"]: r for r in csv.DictReader((tmp_path / "export.csv").open())}
    assert {s: float(exported[s]["raw_score"]) for s in answers} == {"alice": 4.0, "bob": 3.0}
