"""nbgrader's gradebook, as the grader uses it: taking turns, registering, recording, reading.

The course gradebook (SQLite, or a PostgreSQL server several graders share) is written by the
class run's own process only, one row at a time as results arrive (`record`), under a lock
(`lock`). A worker reads the scores nbgrader wrote into its scratch gradebook
(`autograded_scores`).
"""

from __future__ import annotations

import os
import tempfile
from contextlib import contextmanager
from pathlib import Path

from cnncourse.course import generate
from cnncourse.grading.protocol import Status

_LOCK_KEY = int.from_bytes(b"cnncgrad", "big") >> 1  # one advisory lock key for the course


@contextmanager
def lock(db_url: str):
    """Hold the gradebook for this process alone while it writes there.

    Graders who share a gradebook run `cnncourse grade` at the same time, each on part of the
    class. nbgrader finds a row, then adds it if it was missing: two graders who both create
    the tables, register an assignment or add a student then collide on the second one's
    insert (measured on PostgreSQL: 3 runs of 20 lost the whole write to a UniqueViolation).
    PostgreSQL gets a session advisory lock; a SQLite file, a lock on its folder (creates
    nothing). Grading itself runs unlocked: only the short writes take turns."""
    if db_url.startswith("sqlite:///"):
        import fcntl

        try:
            folder = os.open(Path(db_url[len("sqlite:///"):]).resolve().parent, os.O_RDONLY)
        except OSError:  # no such folder: nbgrader will say so
            yield
            return
        try:
            fcntl.flock(folder, fcntl.LOCK_EX)
            yield
        finally:
            os.close(folder)  # releases the lock
    elif db_url.startswith(("postgresql:", "postgresql+", "postgres:")):
        from sqlalchemy import create_engine, text

        engine = create_engine(db_url)
        try:
            with engine.connect() as conn:
                conn.execute(text("SELECT pg_advisory_lock(:key)"), {"key": _LOCK_KEY})
                try:
                    yield
                finally:
                    conn.execute(text("SELECT pg_advisory_unlock(:key)"), {"key": _LOCK_KEY})
        finally:
            engine.dispose()
    else:  # another database: nbgrader's own behaviour
        yield


def register(root: Path, assignments: list[str], db_url: str) -> None:
    """Make the course gradebook know each assignment (generated in a scratch copy). An
    assignment the grader added with only a due date (`nbgrader db assignment add NAME
    --duedate=...`) gets its notebooks and cells; its due date stays."""
    from nbgrader.api import Gradebook

    with Gradebook(db_url) as gb:
        known = {a.name for a in gb.assignments if a.notebooks}
    for a in assignments:
        if a not in known:
            with tempfile.TemporaryDirectory(prefix="cnncourse-register-") as tmp:
                generate(root, [a], Path(tmp), db_url=db_url)


def record(gb, row) -> None:
    """Write one `protocol.Row` into the open course gradebook `gb` (an nbgrader Gradebook).

    A graded row's scores replace the old ones. A row that could not be graded leaves no score:
    a submission graded before (and since replaced by an empty file, say) is removed, so the
    gradebook and `nbgrader export` never show a score grades.csv does not."""
    from nbgrader.api import MissingEntry

    if row.status != Status.GRADED:
        try:
            gb.remove_submission(row.assignment, row.student)
        except MissingEntry:
            pass
        return
    gb.update_or_create_student(row.student)
    submission = gb.update_or_create_submission(row.assignment, row.student)
    for nb in submission.notebooks:
        for g in nb.grades:
            if g.name in row.cells:
                g.auto_score = row.cells[g.name][0]
                g.needs_manual_grade = False
        # the late penalty of the notebook (one per assignment here), as nbgrader's
        # AssignLatePenalties sets it: nbgrader's export subtracts it from the score
        nb.late_submission_penalty = row.penalty or None
    gb.db.commit()


def autograded_scores(db_url: str, assignment: str, student: str) -> dict:
    """{test cell grade_id: (points, max points)} of the code cells nbgrader scored for one
    submission (the notebook is named after the assignment); {} when there is none.

    Raises:
        sqlalchemy.exc.SQLAlchemyError: the gradebook itself cannot be read (an error of the
            grader, not an empty score table)."""
    from nbgrader.api import Gradebook, MissingEntry

    with Gradebook(db_url) as gb:
        try:
            sub = gb.find_submission_notebook(assignment, assignment, student)
        except MissingEntry:
            return {}
        return {g.name: (float(g.auto_score or 0), float(g.max_score)) for g in sub.grades
                if g.cell.cell_type == "code" and g.max_score}
