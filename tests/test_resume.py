"""Results that survive a crash: each row is written as it arrives, and `--resume` finishes the
class without grading anyone twice.

A class run is interrupted part-way, by Ctrl-C (SIGINT) and by SIGKILL of the grader; what it
had finished is in grades.csv, the gradebook and the feedback pages; `cnncourse grade --resume`
then grades only the rest, and ends with the same grades.csv and gradebook as an uninterrupted
run, each student once.
"""

from __future__ import annotations

import csv
import os
import shutil
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

pytestmark = [pytest.mark.slow, pytest.mark.xdist_group("resume")]

RIGHT = {"double": "def double(x):\n    return 2.0 * np.asarray(x, dtype=float)",
         "halve": "def halve(x):\n    return np.asarray(x, dtype=float) / 2"}
WRONG_HALVE = "def halve(x):\n    return np.asarray(x, dtype=float) / 3"
STUDENTS = [f"s{k:02d}" for k in range(10)]


def _class(root: Path) -> None:
    release = read_notebook(root / "notebooks" / "00_toy" / "00_toy.ipynb")
    for k, student in enumerate(STUDENTS):
        answers = dict(RIGHT) if k % 3 else {**RIGHT, "halve": WRONG_HALVE}
        folder = root / "submitted" / student / "00_toy"
        folder.mkdir(parents=True)
        nbformat.write(with_answers(release, answers), folder / "00_toy.ipynb")
    (root / "submitted" / "zz-empty" / "00_toy").mkdir(parents=True)
    (root / "submitted" / "zz-empty" / "00_toy" / "00_toy.ipynb").write_text("")


def _course(where: Path, cli) -> Path:
    root = make_toy_course(where)
    assert cli("release", cwd=root).returncode == 0
    _class(root)
    return root


GRADE = [sys.executable, "-m", "cnncourse", "grade", "--jobs", "1", "--no-progress",
         "--timeout", "120"]


def _csv(root: Path) -> list[dict]:
    path = root / "grades" / "grades.csv"
    return list(csv.DictReader(path.open())) if path.exists() else []


def _table(root: Path) -> dict:
    """grades.csv without the seconds each row took."""
    rows = _csv(root)
    keys = [(r["student"], r["assignment"]) for r in rows]
    assert len(keys) == len(set(keys)), f"a student graded twice: {keys}"
    return {k: {c: v for c, v in r.items() if c != "seconds"} for k, r in zip(keys, rows,
                                                                            strict=True)}


def _gradebook(root: Path) -> dict:
    from nbgrader.api import Gradebook, MissingEntry

    out = {}
    with Gradebook(f"sqlite:///{root / 'gradebook.db'}") as gb:
        for student in [*STUDENTS, "zz-empty"]:
            try:
                sub = gb.find_submission_notebook("00_toy", "00_toy", student)
                out[student] = sorted((g.name, g.score) for g in sub.grades)
            except MissingEntry:
                out[student] = None
    return out


@pytest.fixture(scope="module")
def uninterrupted(tmp_path_factory, cli):
    root = _course(tmp_path_factory.mktemp("whole"), cli)
    result = subprocess.run(GRADE, cwd=root, capture_output=True, text=True, timeout=900)
    assert result.returncode == 0, result.stdout[-2000:] + result.stderr[-2000:]
    return root


@pytest.mark.parametrize("how", [signal.SIGINT, signal.SIGKILL], ids=["ctrl-c", "sigkill"])
def test_an_interrupted_run_keeps_its_rows_and_resumes_to_the_same_grades(
        uninterrupted, tmp_path, cli, how):
    root = _course(tmp_path, cli)
    grader = subprocess.Popen(GRADE, cwd=root, stdout=subprocess.PIPE, stderr=subprocess.PIPE,
                              text=True)
    deadline = time.monotonic() + 600
    while time.monotonic() < deadline and grader.poll() is None:
        graded = [r for r in _csv(root) if r["status"] == "graded"]
        if len(graded) >= 3:
            break
        time.sleep(0.2)
    assert grader.poll() is None, "the run ended before it could be interrupted: " + \
        grader.communicate()[1][-2000:]
    grader.send_signal(how)
    out, err = grader.communicate(timeout=120)
    if how == signal.SIGINT:
        assert grader.returncode == 130 and "stopped" in err, err[-2000:]
    # what it finished stands: rows, pages, gradebook records, each once
    done = {r["student"]: r for r in _csv(root) if r.get("submission")}
    assert 3 <= sum(r["status"] == "graded" for r in done.values()) < len(STUDENTS)
    book = _gradebook(root)
    for student, row in done.items():
        if row["status"] == "graded":
            assert book[student] is not None, f"{student} is in grades.csv, not the gradebook"
            assert (root / "grades" / "feedback" / student / "00_toy.html").is_file()
    for _ in range(100):  # the run's workers end with it (a closed pipe)
        if not _leftovers(root):
            break
        time.sleep(0.2)
    resumed = subprocess.run([*GRADE, "--resume"], cwd=root, capture_output=True, text=True,
                             timeout=900)
    assert resumed.returncode == 0, resumed.stdout[-2000:] + resumed.stderr[-2000:]
    kept = sum(r["status"] == "graded" for r in done.values())
    assert f"{kept} kept from the last run (--resume)" in resumed.stdout, resumed.stdout
    assert _table(root) == _table(uninterrupted)
    assert _gradebook(root) == _gradebook(uninterrupted)
    for student in STUDENTS:
        assert (root / "grades" / "feedback" / student / "00_toy.html").is_file()


def test_resume_grades_a_changed_submission_again(uninterrupted, tmp_path, cli):
    """--resume keeps a row only while the file behind it is byte-identical."""
    root = tmp_path / "course"
    shutil.copytree(uninterrupted, root)
    release = read_notebook(root / "notebooks" / "00_toy" / "00_toy.ipynb")
    nbformat.write(with_answers(release, {**RIGHT, "halve": WRONG_HALVE}),
                   root / "submitted" / "s01" / "00_toy" / "00_toy.ipynb")
    result = subprocess.run([*GRADE, "--resume"], cwd=root, capture_output=True, text=True,
                            timeout=900)
    assert result.returncode == 0, result.stderr[-2000:]
    assert "grading 1 notebook(s)" in result.stdout, result.stdout
    rows = {r["student"]: r for r in _csv(root)}
    assert rows["s01"]["score"] == "3" and rows["s02"]["score"] == "4", rows


def _leftovers(root: Path) -> list[int]:
    """Processes still running with the course as their working folder (none should)."""
    found = []
    for proc in Path("/proc").glob("[0-9]*"):
        try:
            if os.readlink(proc / "cwd").startswith(str(root)):
                found.append(int(proc.name))
        except OSError:
            continue
    return [p for p in found if p != os.getpid()]


def test_resume_with_nothing_left_to_grade_keeps_everything_quietly(uninterrupted, tmp_path):
    root = tmp_path / "course"
    shutil.copytree(uninterrupted, root)
    before = _table(root)
    result = subprocess.run([*GRADE, "--resume"], cwd=root, capture_output=True, text=True,
                            timeout=900)
    assert result.returncode == 0 and "Traceback" not in result.stderr, result.stderr[-3000:]
    assert "grading 0 notebook(s)" in result.stdout, result.stdout
    assert _table(root) == before


def test_one_student_is_regraded_and_nobody_else_is_touched(uninterrupted, tmp_path):
    """A regrade request: s00 (wrong halve, 3 / 4) hands in a fixed notebook and the grader runs
    `grade --student s00`. s00's row, page and gradebook record become 4 / 4; every other row
    of grades.csv (seconds too), every other page (its bytes and its time) and every other
    gradebook record stay exactly as they were; the report still shows the whole class."""
    root = tmp_path / "course"
    shutil.copytree(uninterrupted, root)
    pages = {p: (p.read_bytes(), p.stat().st_mtime_ns)
             for p in (root / "grades" / "feedback").rglob("*.html")}
    rows_before, book_before = {r["student"]: r for r in _csv(root)}, _gradebook(root)
    assert rows_before["s00"]["score"] == "3"
    release = read_notebook(root / "notebooks" / "00_toy" / "00_toy.ipynb")
    nbformat.write(with_answers(release, RIGHT), root / "submitted" / "s00" / "00_toy" /
                   "00_toy.ipynb")
    result = subprocess.run([*GRADE, "--student", "s00"], cwd=root, capture_output=True,
                            text=True, timeout=900)
    assert result.returncode == 0, result.stdout[-2000:] + result.stderr[-2000:]
    assert "grading 1 notebook(s) of 1 student(s)" in result.stdout, result.stdout
    rows = {r["student"]: r for r in _csv(root)}
    assert rows["s00"]["score"] == "4" and rows["s00"]["status"] == "graded"
    assert {s: r for s, r in rows.items() if s != "s00"} == \
        {s: r for s, r in rows_before.items() if s != "s00"}
    book = _gradebook(root)
    assert sum(score for _, score in book["s00"]) == 4, book["s00"]
    assert {s: g for s, g in book.items() if s != "s00"} == \
        {s: g for s, g in book_before.items() if s != "s00"}
    for page, (data, mtime) in pages.items():
        if page.parent.name != "s00":
            assert (page.read_bytes(), page.stat().st_mtime_ns) == (data, mtime), page
    page = root / "grades" / "feedback" / "s00" / "00_toy.html"
    assert "Score: 4 / 4" in page.read_text() and page.read_bytes() != pages[page][0]
    assert f"{len(STUDENTS) + 1} student(s), {len(STUDENTS) + 1} row(s)" in result.stdout, \
        result.stdout  # the summary and the report cover the whole class
    missing = subprocess.run([*GRADE, "--student", "nobody"], cwd=root, capture_output=True,
                             text=True, timeout=300)
    assert missing.returncode == 2, missing.stdout + missing.stderr
    assert "no submission folder for nobody" in missing.stderr and "s00" in missing.stderr, \
        missing.stderr
