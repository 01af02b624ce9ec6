"""Honest statuses: a fault in the grader's own code is a status of its own, with its traceback
in a log the run names; never "kernel died", never a lost student."""

from __future__ import annotations

from pathlib import Path

from cnncourse.grading.protocol import Job, Limits, Reply, Row, Status
from cnncourse.grading.run import Run, status_of
from cnncourse.grading.worker import Grader


def test_a_fault_in_the_worker_is_a_reply_with_its_traceback(tmp_path):
    """Grader.grade_one catches a fault in its own steps: here the scratch course is a file, so
    the submission cannot be placed. The reply carries the traceback; nobody is lost."""
    grader = object.__new__(Grader)  # no worker process: only the steps' error handling
    grader.jobs, grader.course = 0, tmp_path / "course"
    grader.course.write_text("not a folder")
    reply, page = grader.grade_one(Job("li[2]", "00_toy", "{}"))
    assert page is None and not reply.success and not reply.cells
    assert "Traceback (most recent call last)" in reply.error
    assert "place" in reply.error and ("NotADirectoryError" in reply.error
                                       or "FileExistsError" in reply.error), reply.error
    assert status_of(reply) == Status.GRADER_ERROR


def test_the_run_writes_a_grader_error_row_and_names_the_log(tmp_path):
    log = tmp_path / "grader-errors.log"
    run = Run(Path("."), ["00_toy"], Limits(), None, warm=False, jailed=False, log=log)
    error = 'Traceback (most recent call last):\n  File "worker.py"\nKeyError: \'cells\'\n'
    row = run._row(Job("bob", "00_toy", "{}"), Reply(success=False, error=error))
    assert row.status == Status.GRADER_ERROR == "grader error"
    assert row.score is None and not row.cells
    assert any("KeyError: 'cells'" in f and str(log) in f for f in row.flags), row.flags
    assert "bob / 00_toy" in log.read_text() and "KeyError: 'cells'" in log.read_text()


def test_statuses_come_from_the_reply():
    assert status_of(Reply(success=True, cells={"test_a": (1.0, 1.0)})) == Status.GRADED
    assert status_of(Reply(success=True)) == Status.AUTOGRADE_FAILED  # no score: no grade
    assert status_of(Reply(success=False, log="DeadKernelError: Kernel died")) == \
        Status.KERNEL_DIED
    assert status_of(Reply(success=False, log="CellTimeoutError")) == Status.TIMED_OUT
    assert status_of(Reply(success=False, log="[ERROR] Missing cell")) == \
        Status.AUTOGRADE_FAILED
    assert status_of(Reply(success=True, cells={"a": (1.0, 1.0)}, error="Traceback ...")) == \
        Status.GRADER_ERROR


def test_a_row_reads_as_grades_csv_writes_it():
    row = Row("alice", "00_toy", Status.GRADED, 3.0, 4.0, flags=["renamed: x", "y"],
              seconds=1.234, submission="ab12")
    assert row.csv() == {"student": "alice", "assignment": "00_toy", "status": "graded",
                         "score": "3", "max_score": "4", "flags": "renamed: x; y",
                         "seconds": "1.2", "submission": "ab12", "penalty": "",
                         "seconds_late": ""}
    assert list(row.csv()) == list(Row.COLUMNS)
    late = Row("bob", "00_toy", Status.GRADED, 3.2, 4.0, penalty=0.8, seconds_late=129600.4)
    assert (late.csv()["penalty"], late.csv()["seconds_late"]) == ("0.8", "129600")
    assert f"{Status.TIMED_OUT}" == "timed out" and str(Status.EMPTY) == "empty file"
