"""Late work priced by nbgrader's late-submission plugin mechanism, end to end.

The course names `cnncourse.grading.late.PercentPerDay` in nbgrader_config.py (10 % of the score
per started day, nothing after a week); the due date is set with nbgrader's own `nbgrader db
assignment add --duedate`; each submission's time is the timestamp.txt nbgrader's collect writes.
A class of four is graded: on time, 1.5 days late, 10 days late, and no timestamp at all.
"""

from __future__ import annotations

import csv
import subprocess
import sys

import nbformat
import pytest
from autograde import with_answers
from toycourse import make_toy_course

from cnncourse.course import ensure_bin_on_path
from cnncourse.grading.late import PercentPerDay, describe_late
from cnncourse.notebooks import read_notebook

pytestmark = [pytest.mark.slow, pytest.mark.xdist_group("late")]

RIGHT = {"double": "def double(x):\n    return 2.0 * np.asarray(x, dtype=float)",
         "halve": "def halve(x):\n    return np.asarray(x, dtype=float) / 2"}
POLICY = """
c.AssignLatePenalties.plugin_class = "cnncourse.grading.late.PercentPerDay"
c.PercentPerDay.percent_per_day = 10
c.PercentPerDay.zero_after_days = 7
"""
DUE = "2026-11-02 17:00:00 UTC"
HANDED_IN = {"ontime": "2026-11-02 16:59:00.000000 UTC", "late": "2026-11-04 05:00:00.000000 UTC",
             "verylate": "2026-11-12 17:00:00.000000 UTC", "notime": None}


def test_percent_per_day_counts_started_days_and_zeroes_after_the_limit():
    plugin = PercentPerDay(percent_per_day=10, zero_after_days=7)
    assert plugin.late_submission_penalty("a", 4.0, 0) is None
    assert plugin.late_submission_penalty("a", 4.0, 60) == pytest.approx(0.4)  # 1 started day
    assert plugin.late_submission_penalty("a", 4.0, 1.5 * 86400) == pytest.approx(0.8)
    assert plugin.late_submission_penalty("a", 4.0, 8 * 86400) == 4.0
    assert PercentPerDay(percent_per_day=60).late_submission_penalty("a", 4.0, 2 * 86400) == 4.0
    assert describe_late(36 * 3600) == "1 day 12 h" and describe_late(30) == "1 min"


def test_late_submissions_lose_what_the_course_policy_says_everywhere(tmp_path, cli):
    root = make_toy_course(tmp_path / "course")
    with (root / "nbgrader_config.py").open("a") as f:
        f.write(POLICY)
    assert cli("release", cwd=root).returncode == 0
    release = read_notebook(root / "notebooks" / "00_toy" / "00_toy.ipynb")
    for student, when in HANDED_IN.items():
        folder = root / "submitted" / student / "00_toy"
        folder.mkdir(parents=True)
        nbformat.write(with_answers(release, RIGHT), folder / "00_toy.ipynb")
        if when:
            (folder / "timestamp.txt").write_text(when)
    ensure_bin_on_path()
    added = subprocess.run([sys.executable, "-m", "nbgrader", "db", "assignment", "add", "00_toy",
                            f"--duedate={DUE}"], cwd=root, capture_output=True, text=True)
    assert added.returncode == 0, added.stderr[-2000:]

    result = cli("grade", "00_toy", "--jobs", "2", "--no-progress", cwd=root)
    assert result.returncode == 0, result.stdout + result.stderr
    rows = {r["student"]: r for r in csv.DictReader((root / "grades" / "grades.csv").open())}
    got = {s: (r["score"], r["max_score"], r["penalty"], r["seconds_late"])
           for s, r in rows.items()}
    assert got == {"ontime": ("4", "4", "", ""), "notime": ("4", "4", "", ""),
                   "late": ("3.2", "4", "0.8", "129600"),
                   "verylate": ("0", "4", "4", "864000")}, got
    page = (root / "grades" / "feedback" / "late" / "00_toy.html").read_text()
    assert "Late by 1 day 12 h (due 2026-11-02 17:00 UTC): 0.8 point(s) taken" in page
    assert "score after the penalty: 3.2 / 4" in page
    assert "Late by" not in (root / "grades" / "feedback" / "ontime" / "00_toy.html").read_text()

    from nbgrader.api import Gradebook

    with Gradebook(f"sqlite:///{root / 'gradebook.db'}") as gb:
        assert gb.find_assignment("00_toy").duedate is not None, "the due date stays"
        penalties = {s: gb.find_submission_notebook("00_toy", "00_toy", s).late_submission_penalty
                     for s in HANDED_IN}
    assert penalties == {"ontime": None, "notime": None, "late": 0.8, "verylate": 4.0}
    exported = subprocess.run([sys.executable, "-m", "nbgrader", "export", "--to",
                               str(tmp_path / "nbgrader.csv")], cwd=root, capture_output=True,
                              text=True)
    assert exported.returncode == 0, exported.stderr[-2000:]
    nbg = {r["student_id"]: r for r in csv.DictReader((tmp_path / "nbgrader.csv").open())}
    assert {s: float(nbg[s]["score"]) for s in HANDED_IN} == {
        "ontime": 4.0, "notime": 4.0, "late": 3.2, "verylate": 0.0}
    canvas = cli("export", "--format", "canvas", "--out", str(tmp_path / "canvas.csv"), cwd=root)
    assert canvas.returncode == 0, canvas.stdout + canvas.stderr
    lines = list(csv.reader((tmp_path / "canvas.csv").open()))
    column = lines[0].index("00_toy")
    by_name = {line[0]: line[column] for line in lines[2:]}
    assert sorted(by_name.values()) == ["0", "3.2", "4", "4"], by_name
