"""Graders who share one gradebook: `cnncourse grade --db-url postgresql://...` against a real
PostgreSQL server, a throwaway cluster each run starts for itself (Debian's `postgresql`
package; `.ci/run` installs it where it is missing)."""

from __future__ import annotations

import csv
import glob
import json
import os
import shutil
import subprocess
import sys
import tempfile
import threading
import time
from pathlib import Path

import pytest
from autograde import with_answers
from test_grade import RIGHT_DOUBLE, RIGHT_HALVE, WRONG_HALVE
from toycourse import make_toy_course

from cnncourse.notebooks import read_notebook

pytestmark = [pytest.mark.slow, pytest.mark.xdist_group("postgres")]


def _server_bin() -> Path | None:
    found = sorted(glob.glob("/usr/lib/postgresql/*/bin/initdb")) or \
        [p for p in [shutil.which("initdb")] if p]
    return Path(found[-1]).parent if found else None


@pytest.fixture(scope="module")
def postgres(tmp_path_factory):
    """The URL of an empty database on a PostgreSQL server that only this module talks to,
    through a Unix socket in a temporary folder (no TCP port is opened)."""
    pytest.importorskip("psycopg2", reason="the dev extra has psycopg2-binary")
    bindir = _server_bin()
    if bindir is None:
        pytest.skip("no PostgreSQL server here: install Debian's `postgresql` (.ci/run does)")
    # its own folder right under /tmp: the server's user must reach it, and a socket's path is
    # short (pytest's temporary folders are private to the test's user)
    folder = Path(tempfile.mkdtemp(prefix="cnncourse-pg-"))
    as_user: list[str] = []
    if os.geteuid() == 0:  # the server refuses to run as root: run it as the package's user
        import pwd

        try:
            pwd.getpwnam("postgres")
        except KeyError:
            pytest.skip("running as root, and no `postgres` user to start PostgreSQL as")
        if shutil.which("runuser") is None:
            pytest.skip("running as root, and no runuser to start PostgreSQL as `postgres`")
        as_user = ["runuser", "-u", "postgres", "--"]
        folder.chmod(0o755)
        shutil.chown(folder, "postgres")
    data = folder / "data"
    subprocess.run([*as_user, bindir / "initdb", "-D", data, "-A", "trust", "-U", "grader"],
                   check=True, capture_output=True)
    subprocess.run([*as_user, bindir / "pg_ctl", "-D", data, "-l", folder / "server.log", "-w",
                    "-o", f"-k {folder} -c listen_addresses=''", "start"],
                   check=True, capture_output=True)
    try:
        import psycopg2

        c = psycopg2.connect(host=str(folder), user="grader", dbname="postgres")
        c.autocommit = True  # CREATE DATABASE runs outside a transaction
        c.cursor().execute("CREATE DATABASE gradebook")
        c.close()
        yield f"postgresql+psycopg2://grader@/gradebook?host={folder}"
    finally:
        subprocess.run([*as_user, bindir / "pg_ctl", "-D", data, "-m", "immediate", "stop"],
                       capture_output=True)
        shutil.rmtree(folder, ignore_errors=True)


def _course(where: Path, students: dict[str, str], cli, name: str = "00_toy") -> Path:
    """A grader's own copy of the toy course (its assignment called `name`), with `students`'
    halve answers handed in."""
    root = make_toy_course(where, name)
    assert cli("release", cwd=root).returncode == 0
    release = read_notebook(root / "notebooks" / name / f"{name}.ipynb")
    for student, halve in students.items():
        folder = root / "submitted" / student / name
        folder.mkdir(parents=True)
        nb = with_answers(release, {"double": RIGHT_DOUBLE, "halve": halve})
        (folder / f"{name}.ipynb").write_text(json.dumps(nb))
    return root


def _csv(root: Path) -> dict[tuple[str, str], dict]:
    with (root / "grades" / "grades.csv").open() as f:
        return {(r["student"], r["assignment"]): r for r in csv.DictReader(f)}


def test_two_graders_grade_into_one_postgresql_gradebook_at_once(tmp_path, cli, postgres):
    """Two graders, each with a copy of the course, grade two assignments at the same moment
    into one new PostgreSQL gradebook; alice is in both. It ends with every submission once,
    with the scores of both CSVs, and neither course gets a SQLite gradebook of its own."""
    from nbgrader.api import Gradebook

    one = _course(tmp_path / "one", {"alice": RIGHT_HALVE, "bob": WRONG_HALVE}, cli)
    two = _course(tmp_path / "two", {"alice": WRONG_HALVE, "carol": RIGHT_HALVE}, cli,
                  name="00_more")
    results = {}

    def grade(root):
        results[root] = cli("grade", "--jobs", "1", "--no-progress", "--db-url", postgres,
                            cwd=root)

    graders = [threading.Thread(target=grade, args=(root,)) for root in (one, two)]
    for g in graders:
        g.start()
    for g in graders:
        g.join()
    for root, result in results.items():
        assert result.returncode == 0, result.stdout + result.stderr
        assert not (root / "gradebook.db").exists(), "--db-url names the gradebook to use"
    rows = {**_csv(one), **_csv(two)}
    assert {k: (r["status"], r["score"]) for k, r in rows.items()} == {
        ("alice", "00_toy"): ("graded", "4"), ("bob", "00_toy"): ("graded", "3"),
        ("alice", "00_more"): ("graded", "3"), ("carol", "00_more"): ("graded", "4")}
    with Gradebook(postgres) as gb:
        assert sorted(a.name for a in gb.assignments) == ["00_more", "00_toy"]
        assert sorted(s.id for s in gb.students) == ["alice", "bob", "carol"]
        for (student, assignment), row in rows.items():
            assert gb.find_submission(assignment, student).score == float(row["score"])


@pytest.mark.parametrize("kind", ["postgresql", "sqlite"])
def test_graders_take_turns_to_write_the_gradebook(tmp_path, postgres, kind):
    """What keeps the graders above apart: while one process holds `gradebook_lock`, another
    one waits for it (nbgrader finds a row, then inserts it; two graders creating the tables at
    once collided in 3 runs of 20 without it)."""
    url = postgres if kind == "postgresql" else f"sqlite:///{tmp_path / 'gradebook.db'}"
    log = tmp_path / "log"
    holder = f"""
import time
from cnncourse.grading.gradebook import lock as gradebook_lock
with gradebook_lock({url!r}):
    open({str(log)!r}, "a").write("first in\\n")
    while "second waits" not in open({str(log)!r}).read():  # the other one is at the door
        time.sleep(0.05)
    time.sleep(2)
    open({str(log)!r}, "a").write("first out\\n")
"""
    waiter = f"""
from cnncourse.grading.gradebook import lock as gradebook_lock
open({str(log)!r}, "a").write("second waits\\n")
with gradebook_lock({url!r}):
    open({str(log)!r}, "a").write("second in\\n")
"""
    first = subprocess.Popen([sys.executable, "-c", holder])
    for _ in range(1200):
        if log.exists():
            break
        time.sleep(0.05)
    second = subprocess.Popen([sys.executable, "-c", waiter])
    assert first.wait(timeout=120) == 0 and second.wait(timeout=120) == 0
    assert log.read_text().splitlines() == ["first in", "second waits", "first out", "second in"]


def test_a_regrade_updates_the_postgresql_gradebook_in_place(tmp_path, cli, postgres):
    """A student who is graded again (a late fix) keeps one submission in the shared gradebook,
    with the new score; and nbgrader's own export reads it from PostgreSQL."""
    from nbgrader.api import Gradebook

    root = _course(tmp_path / "course", {"erin": WRONG_HALVE}, cli)
    assert cli("grade", "--jobs", "1", "--no-progress", "--db-url", postgres,
               cwd=root).returncode == 0
    with Gradebook(postgres) as gb:
        assert gb.find_submission("00_toy", "erin").score == 3
    release = read_notebook(root / "notebooks" / "00_toy" / "00_toy.ipynb")
    fixed = with_answers(release, {"double": RIGHT_DOUBLE, "halve": RIGHT_HALVE})
    (root / "submitted" / "erin" / "00_toy" / "00_toy.ipynb").write_text(json.dumps(fixed))
    result = cli("grade", "--jobs", "1", "--no-progress", "--db-url", postgres, cwd=root)
    assert result.returncode == 0, result.stdout + result.stderr
    with Gradebook(postgres) as gb:
        assert gb.find_submission("00_toy", "erin").score == 4
        assert len([s for s in gb.assignment_submissions("00_toy")
                    if s.student_id == "erin"]) == 1
    export = subprocess.run(
        [sys.executable, "-m", "nbgrader", "export", f"--CourseDirectory.db_url={postgres}",
         "--to", str(tmp_path / "export.csv")], cwd=root, capture_output=True, text=True,
        env={**os.environ, "PATH": f"{Path(sys.executable).parent}:{os.environ['PATH']}"})
    assert export.returncode == 0, export.stderr[-2000:]
    with (tmp_path / "export.csv").open() as f:
        exported = {r["student_id"]: r for r in csv.DictReader(f)}
    assert float(exported["erin"]["raw_score"]) == 4
