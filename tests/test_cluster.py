"""`cnncourse grade --scheduler`: a class graded on a real Dask cluster on this machine.

A `dask scheduler` and two `dask worker` processes on 127.0.0.1, over TLS with temporary
certificates (`daskcluster`, the session's `dask` fixture), started as the README's cluster
section says. The class run of tests/test_grade.py gets the grades the local run gives it; a
worker killed mid-notebook costs that student one retry, a notebook whose worker dies every
time gets a row saying so, and a notebook that only waited on a dying worker is graded, never a
stopped run; clients and workers whose certificate the cluster's CA did not sign are refused,
and so is a TLS client without one; workers with other code, or daemonic ones, are refused by
name; the jailed trespasser cannot reach the scheduler.
"""

from __future__ import annotations

import ast
import csv
import json
import os
import shutil
import signal
import subprocess
import sys
import time
from pathlib import Path

import pytest
from autograde import with_answers
from daskcluster import certificates
from test_grade import (
    RIGHT_DOUBLE,
    RIGHT_HALVE,
    TOY_PROBES,
    WRONG_HALVE,
    _text,
)
from toycourse import make_toy_course

from cnncourse.grading import cluster as dask_cluster
from cnncourse.notebooks import CourseError, read_notebook

# the session's one cluster, and the class run of tests/test_grade.py: with those tests
pytestmark = [pytest.mark.slow, pytest.mark.xdist_group("grade")]

SLEEPY_HALVE = "import time\ntime.sleep(12)\n" + RIGHT_HALVE


def _course(where: Path, cli, answers: dict[str, dict | None],
            files: dict[str, str] | None = None) -> Path:
    """The toy course at `where`, released, with probes; a student's answers are the right
    ones but those given (None: the release handed in blank); `files` as they are."""
    root = make_toy_course(where)
    assert cli("release", cwd=root).returncode == 0
    (root / "probes").mkdir(parents=True)
    (root / "probes" / "00_toy.py").write_text(TOY_PROBES)
    release = read_notebook(root / "notebooks" / "00_toy" / "00_toy.ipynb")
    for student, answer in answers.items():
        folder = root / "submitted" / student / "00_toy"
        folder.mkdir(parents=True)
        nb = release if answer is None else with_answers(
            release, {"double": RIGHT_DOUBLE, "halve": RIGHT_HALVE, **answer})
        (folder / "00_toy.ipynb").write_text(json.dumps(nb))
    for student, text in (files or {}).items():
        folder = root / "submitted" / student / "00_toy"
        folder.mkdir(parents=True)
        (folder / "00_toy.ipynb").write_text(text)
    return root


def _rows(out: Path) -> dict[str, dict]:
    with (out / "grades.csv").open() as f:
        return {r["student"]: r for r in csv.DictReader(f)}


def _without_seconds(rows: dict[str, dict]) -> dict[str, dict]:
    return {s: {k: v for k, v in r.items() if k != "seconds"} for s, r in rows.items()}


def _grade_on(dask, root: Path, out: str, *extra, env=None, **kwargs):
    return subprocess.run(
        [sys.executable, "-m", "cnncourse", "grade", "--no-progress", "--out", out,
         "--db-url", f"sqlite:///{root / (out + '.db')}", "--scheduler", dask.address,
         *dask.tls_args(), *extra], cwd=root, capture_output=True, text=True, timeout=900,
        env={**os.environ, **(env or {})}, **kwargs)


def test_the_class_run_gets_on_the_cluster_the_grades_it_gets_locally(graded, dask, tmp_path):
    """The class run of tests/test_grade.py (27 students, honest, broken and hostile), graded
    again on the cluster from a copy of its course: the same grades.csv (statuses, scores,
    flags, submissions), a feedback page per graded row, the rows in the gradebook, all
    written by the client; tom, who knows the scheduler's port, reaches nothing from his jail
    on a worker (as in the local run)."""
    course, _, here = graded
    root = tmp_path / "course"
    shutil.copytree(course, root, ignore=shutil.ignore_patterns("grades", "*.db"))
    remote = subprocess.run(
        [sys.executable, "-m", "cnncourse", "grade", "--no-progress", "--timeout", "25",
         "--memory-gb", "4", "--db-url", f"sqlite:///{root / 'cluster.db'}", "--scheduler",
         dask.address, *dask.tls_args()], cwd=root, capture_output=True, text=True,
        timeout=900)
    assert remote.returncode == 0, remote.stdout + remote.stderr[-3000:]
    assert f"on the Dask cluster at {dask.address} (2 worker(s) now; a task whose worker " \
           "dies is tried 2 time(s) in all)" in remote.stdout, remote.stdout
    assert "student code runs jailed on every Dask worker" in remote.stdout
    there = _rows(root / "grades")
    assert len(there) == 27
    assert _without_seconds(there) == _without_seconds(here)
    for student, row in there.items():
        assert (root / "grades" / "feedback" / student / "00_toy.html").exists() == \
            (row["status"] == "graded"), student
    page = _text((root / "grades" / "feedback" / "tom" / "00_toy.html").read_text())
    reached = ast.literal_eval(page[page.find("REACHED: [") + len("REACHED: "):].splitlines()[0])
    assert reached == [], reached
    from nbgrader.api import Gradebook

    with Gradebook(f"sqlite:///{root / 'cluster.db'}") as gb:  # written by the client
        scores = {s.student.id: s.score for s in gb.assignment_submissions("00_toy")}
    assert scores == {s: float(r["score"]) for s, r in there.items() if r["status"] == "graded"}


def test_a_killed_worker_costs_one_retry_and_a_killer_notebook_gets_a_row(dask, tmp_path, cli):
    """SIGKILL the Dask worker process grading sleepy, once: sleepy is graded again elsewhere,
    right. Kill whichever worker grades kim, every time: after the one retry the scheduler
    allows, kim's row says the worker died; the run goes on, and every student has one row."""
    root = _course(tmp_path / "course", cli, {
        "alice": {}, "bob": {"halve": WRONG_HALVE}, "kim": {"halve": SLEEPY_HALVE},
        "sleepy": {"halve": SLEEPY_HALVE}, "zed": {}})
    run = subprocess.Popen(
        [sys.executable, "-m", "cnncourse", "grade", "--no-progress", "--out", "grades",
         "--db-url", f"sqlite:///{root / 'class.db'}", "--scheduler", dask.address,
         *dask.tls_args()], cwd=root, stdout=subprocess.PIPE, stderr=subprocess.PIPE,
        text=True)
    kills = {"sleepy": 0, "kim": 0}
    seen = set()  # start events handled
    try:
        with dask.client() as client:
            deadline = time.monotonic() + 600
            while run.poll() is None and time.monotonic() < deadline:
                # every task logs its start ({"key", "worker"}) on one topic
                for when, event in client.get_events(dask_cluster.STARTED):
                    student = event["key"].split()[2]  # "cnncourse-grade 00_toy kim RUN"
                    if (when, event["key"]) in seen or student not in kills:
                        continue
                    seen.add((when, event["key"]))
                    if student == "kim" or kills[student] == 0:
                        time.sleep(4)  # mid-notebook: its kernel sleeps in halve
                        worker = event["worker"]
                        pid = client.run(os.getpid, workers=[worker])[worker]
                        os.kill(pid, signal.SIGKILL)
                        kills[student] += 1
                time.sleep(0.5)
        out, err = run.communicate(timeout=300)
    finally:
        if run.poll() is None:
            run.kill()
    assert run.returncode == 0, out + err[-3000:]
    # kim's 2 kills; or 3 where kim also waited in line on a worker killed for sleepy, so that
    # the scheduler gave up after kim had started once, and kim was sent again
    assert kills["sleepy"] == 1 and kills["kim"] in (2, 3), kills
    rows = _rows(root / "grades")
    assert {s: (r["status"], r["score"]) for s, r in rows.items()} == {
        "alice": ("graded", "4"), "bob": ("graded", "3"), "kim": ("worker lost", ""),
        "sleepy": ("graded", "4"), "zed": ("graded", "4")}, rows
    assert f"the Dask worker grading it died {kills['kim']} time(s)" in rows["kim"]["flags"], \
        rows["kim"]
    assert "--resume" in rows["kim"]["flags"]
    dask.wait_for_workers(2)  # the nannies restarted the killed worker processes


def test_a_client_without_the_clusters_certificate_is_refused(dask, tmp_path, cli):
    """No certificate, or one of another CA: the scheduler does not let the client in (and
    `cnncourse grade` says it could not connect); a scheduler not on this machine needs TLS."""
    import socket
    import ssl

    from distributed import Client
    from distributed.security import Security

    # trusts the cluster's CA, so it can talk TLS to the scheduler, but shows no certificate
    # (Dask's own client will not even try that: the TLS handshake, by hand)
    host, port = dask.address.removeprefix("tls://").rsplit(":", 1)
    context = ssl.create_default_context(cafile=dask.certs["ca"])
    with socket.create_connection((host, int(port)), timeout=10) as raw, \
            context.wrap_socket(raw, server_hostname="localhost") as tls:
        with pytest.raises(ssl.SSLError, match="CERTIFICATE_REQUIRED"):
            tls.recv(1)
    other = certificates(tmp_path / "other", name="another-ca")
    with pytest.raises((OSError, TimeoutError)):
        Client(dask.address, timeout=5, set_as_default=False,
               security=Security(tls_ca_file=other["ca"], tls_client_cert=other["cert"],
                                 tls_client_key=other["key"], require_encryption=True))
    root = _course(tmp_path / "course", cli, {"alice": {}})
    refused = subprocess.run(
        [sys.executable, "-m", "cnncourse", "grade", "--no-progress", "--scheduler",
         dask.address, "--tls-ca-file", other["ca"], "--tls-cert", other["cert"],
         "--tls-key", other["key"]], cwd=root, capture_output=True, text=True, timeout=300,
        env={**os.environ, "DASK_DISTRIBUTED__COMM__TIMEOUTS__CONNECT": "5s"})
    said = refused.stdout + refused.stderr
    assert refused.returncode != 0 and "could not connect to the Dask scheduler" in said, said
    assert "Traceback" not in said, said
    bare = subprocess.run([sys.executable, "-m", "cnncourse", "grade", "--scheduler",
                           dask.address, "--jobs", "3"], cwd=root, capture_output=True,
                          text=True, timeout=120)
    assert bare.returncode != 0 and "give --tls-ca-file" in bare.stdout + bare.stderr
    assert "--jobs 3 is not used with --scheduler" in bare.stdout, bare.stdout
    plain = subprocess.run(  # the TLS scheduler's port, reached as tcp://
        [sys.executable, "-m", "cnncourse", "grade", "--no-progress", "--scheduler",
         dask.address.replace("tls://", "tcp://")], cwd=root, capture_output=True, text=True,
        timeout=300, env={**os.environ, "DASK_DISTRIBUTED__COMM__TIMEOUTS__CONNECT": "5s"})
    said = plain.stdout + plain.stderr
    assert plain.returncode != 0 and "could not connect to the Dask scheduler" in said, said
    assert "is reached as tls://HOST:PORT" in said, said
    assert not (root / "grades" / "grades.csv").exists()


def test_a_worker_whose_certificate_the_clusters_ca_did_not_sign_never_joins(dask, tmp_path):
    """It trusts the cluster's CA (so it talks TLS to the scheduler) but shows a certificate of
    another CA: the scheduler refuses it, and it never grades."""
    other = certificates(tmp_path / "other", name="another-ca")
    scheduler_log = dask.folder / "scheduler.log"
    before = scheduler_log.stat().st_size
    proc = dask.add_worker("stranger", certs={"ca": dask.certs["ca"], "cert": other["cert"],
                                              "key": other["key"]})
    try:
        proc.wait(120)  # it gives up: its nanny cannot register
        assert proc.returncode not in (None, 0), dask.log("stranger")
        assert "stranger" not in dask.names()
        deadline, said = time.monotonic() + 30, ""
        while "CERTIFICATE_VERIFY_FAILED" not in said and time.monotonic() < deadline:
            time.sleep(0.5)
            with scheduler_log.open("rb") as f:
                f.seek(before)
                said = f.read().decode(errors="replace")
        # the scheduler's side: it checked the worker's certificate against the CA, and refused
        assert "TLS handshake failed" in said and "CERTIFICATE_VERIFY_FAILED" in said, said
    finally:
        dask.stop_worker(proc)


def test_a_non_local_scheduler_needs_tls_with_a_certificate(tmp_path):
    for address in ("tcp://10.20.30.40:8786", "10.20.30.40:8786", "tls://grader.example.edu:8786"):
        with pytest.raises(CourseError, match="not on this machine"):
            dask_cluster.security(address)
    certs = certificates(tmp_path)
    sec = dask_cluster.security("tls://grader.example.edu:8786", certs["ca"], certs["cert"],
                                certs["key"])
    assert sec.require_encryption and sec.tls_client_cert == certs["cert"]
    assert dask_cluster.security("tcp://127.0.0.1:8786").tls_client_cert is None
    with pytest.raises(CourseError, match="all three"):
        dask_cluster.security("tls://127.0.0.1:8786", certs["ca"])


def test_workers_with_other_code_or_daemonic_ones_are_refused(dask, tmp_path, cli):
    """A worker whose cnncourse differs from the client's (a stale copy: one edited line), and
    a worker left daemonic (Dask's default): `cnncourse grade` grades nobody and names them."""
    import cnncourse

    root = _course(tmp_path / "course", cli, {"alice": {}})
    stale = tmp_path / "stale"
    shutil.copytree(Path(cnncourse.__file__).parent, stale / "cnncourse",
                    ignore=shutil.ignore_patterns("__pycache__"))
    with (stale / "cnncourse" / "testing.py").open("a") as f:
        f.write("\n# an older copy\n")
    for name, env, says in (
            ("stale", {"PYTHONPATH": str(stale)}, "has cnncourse 0.1.0 (code "),
            ("daemonic", {"DASK_DISTRIBUTED__WORKER__DAEMON": None}, "is daemonic")):
        proc = dask.add_worker(name, env=env, wait=True)
        try:
            refused = _grade_on(dask, root, "grades")
            said = refused.stdout + refused.stderr
            assert refused.returncode != 0, said
            assert "these Dask workers cannot grade for this grader" in said, said
            assert says in said and "Traceback" not in said, said
            assert not (root / "grades" / "grades.csv").exists()
        finally:
            dask.stop_worker(proc)
        deadline = time.monotonic() + 60
        while name in dask.names() and time.monotonic() < deadline:
            time.sleep(0.5)
