"""The JupyterHub cycle through nbgrader's exchange, run locally: the instructor releases, two
students fetch, answer and submit from their own home folders, the instructor collects, grades
with `cnncourse grade`, exports the gradebook with `nbgrader export`, grades the written answer
by hand (as the formgrader does) and hands the feedback back with `cnncourse release-feedback`;
each student fetches their own page with `nbgrader fetch_feedback`."""

from __future__ import annotations

import csv
import os
import subprocess
import sys

import nbformat
import pytest
from autograde import with_answers
from bs4 import BeautifulSoup
from toycourse import make_toy_course, toy_notebook

from cnncourse.authoring import written
from cnncourse.course import ensure_bin_on_path
from cnncourse.notebooks import BEGIN_HIDDEN, END_HIDDEN, read_notebook, split_blocks
from cnncourse.release import secret_lines

pytestmark = [pytest.mark.slow, pytest.mark.xdist_group("exchange")]

RIGHT = {"double": "def double(x):\n    return 2.0 * np.asarray(x, dtype=float)",
         "halve": "def halve(x):\n    return np.asarray(x, dtype=float) / 2"}
WRONG_HALVE = "def halve(x):\n    return np.asarray(x, dtype=float) / 3"


def _nbgrader(*args, cwd, exchange, home=None):
    """nbgrader in `cwd`; with `home`, as a student whose home that is (nbgrader keeps a
    student's submissions in its cache there, and fetch_feedback looks for them there)."""
    ensure_bin_on_path()
    env = {**os.environ, "PYTHONWARNINGS": "ignore"}
    if home is not None:
        env.update(HOME=str(home), JUPYTER_DATA_DIR=str(home / ".local/share/jupyter"))
    result = subprocess.run([sys.executable, "-m", "nbgrader", *args,
                             f"--Exchange.root={exchange}"], cwd=cwd, capture_output=True,
                            text=True, timeout=300, env=env)
    assert result.returncode == 0, f"nbgrader {' '.join(args)}:\n{result.stderr[-3000:]}"
    return result


EXPLAIN = written("explain", 1, """
Doubling and halving are inverses.

**Rubric** (1 point)
- 1 point: says that one undoes the other.
""")


def test_release_fetch_submit_collect_grade_export_feedback(tmp_path, cli):
    root = make_toy_course(tmp_path / "course", nb=toy_notebook([EXPLAIN]))
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
                  exchange=exchange, home=home)
        fetched = home / "00_toy" / "00_toy.ipynb"
        assert fetched.exists(), f"{student} fetched nothing"
        nbformat.write(with_answers(read_notebook(fetched), answer), fetched)
        _nbgrader("submit", "00_toy", "--course", "cnncourse", f"--student={student}", cwd=home,
                  exchange=exchange, home=home)

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

    # alice's written answer graded by hand, as the formgrader would; bob's not yet
    from nbgrader.api import Gradebook

    with Gradebook(f"sqlite:///{root / 'gradebook.db'}") as gb:
        grade = gb.find_grade("explain", "00_toy", "00_toy", "alice")
        grade.manual_score, grade.needs_manual_grade = 1.0, False
        gb.find_comment("explain", "00_toy", "00_toy", "alice").manual_comment = "Clear & right."
        gb.db.commit()
    handed = cli("release-feedback", "00_toy", "--exchange", str(exchange), cwd=root)
    assert handed.returncode == 0, handed.stdout + handed.stderr
    assert "2 feedback page(s) of 00_toy released to nbgrader's exchange" in handed.stdout, \
        handed.stdout
    assert "1 page(s) show written answers not yet graded by hand (bob)" in handed.stdout
    source = read_notebook(root / "solutions" / "00_toy" / "00_toy.ipynb")
    hidden = {line.strip() for cell in source.cells if BEGIN_HIDDEN in cell.source
              for line in split_blocks(cell.source, BEGIN_HIDDEN, END_HIDDEN)[0]
              if line.strip()} & secret_lines(source)  # the lines nothing else gives away
    assert hidden, "the toy course has hidden tests"
    pages = {}
    for student in answers:
        home = tmp_path / "home" / student
        _nbgrader("fetch_feedback", "00_toy", "--course", "cnncourse", f"--student={student}",
                  cwd=home, exchange=exchange, home=home)
        fetched = list((home / "00_toy" / "feedback").glob("*/00_toy.html"))
        assert len(fetched) == 1, f"{student} fetched {fetched}"
        pages[student] = BeautifulSoup(fetched[0].read_text(), "html.parser").get_text()
        leaked = [line for line in hidden if line in pages[student]]
        assert not leaked, f"{student}'s page shows hidden-test lines: {leaked}"
    assert "Score: 4 / 4" in pages["alice"] and "Score: 3 / 4" in pages["bob"]
    assert "explain 1 / 1: Clear & right." in pages["alice"], pages["alice"][:2000]
    assert "explain not graded yet" in pages["bob"]
    assert "says that one undoes the other" in pages["alice"], "the rubric is shown"
    assert "Doubling and halving are inverses" not in pages["alice"], "the model answer is not"
