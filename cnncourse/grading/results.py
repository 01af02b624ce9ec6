"""What a class run writes, as each result arrives: so a crash or Ctrl-C at student 400 of 500
loses nothing of the 399 before.

For every finished `protocol.Row`, at once: its line in ``grades.csv`` (flushed to disk), its
record in the course gradebook (`gradebook.record`, under the gradebook's lock), and its
feedback page (``feedback/<student>/<assignment>.html``; a row that is not graded removes an
old one). At the end, ``grades.csv`` is written again in student order, and the report.

``--resume`` (`previous`): a student whose submission is byte-identical (SHA-256) to the one
behind their last graded row in ``grades.csv`` is not graded again; that row, its gradebook
record and its page stand.
"""

from __future__ import annotations

import csv
import os
from pathlib import Path

from cnncourse.grading import gradebook
from cnncourse.grading.protocol import Row, Status


class Results:
    """The run's output folder `out` and the course gradebook `db_url`, written row by row."""

    def __init__(self, out: Path, db_url: str, kept: list[Row] | None = None,
                 hidden: dict[str, set[str]] | None = None,
                 ours: set[tuple[str, str]] | None = None, late=None):
        """`kept`: rows of the last run that stand (--resume); `ours`: the (student,
        assignment) pairs this run grades: every other row of an existing grades.csv (another
        assignment, a student not in this run's folder) is carried over, so grades.csv keeps
        one row per student and assignment ever graded into `out`; `late`: the course's
        `late.LatePolicy`, which prices each late graded row before it is written."""
        from nbgrader.api import Gradebook

        self.out, self.db_url, self.hidden = Path(out), db_url, hidden or {}
        self.late = late
        self.out.mkdir(parents=True, exist_ok=True)
        self.rows: list[Row] = []
        self.path = self.out / "grades.csv"
        others = [row for key, row in previous(self.out, graded_only=False).items()
                  if ours is not None and key not in ours]  # read before it is written anew
        self._file = self.path.open("w", newline="")
        self._csv = csv.DictWriter(self._file, fieldnames=list(Row.COLUMNS))
        self._csv.writeheader()
        self._gradebook = Gradebook(db_url)
        for row in [*others, *(kept or [])]:  # rows that stand, already in the gradebook
            self.rows.append(row)
            self._csv.writerow(row.csv())
        self._sync()

    def add(self, row: Row) -> None:
        """A finished row: its page, its gradebook record and its line in grades.csv, now."""
        if self.late is not None:
            row = self.late.apply(row)
        self._page(row)
        with gradebook.lock(self.db_url):  # other graders may share the gradebook
            gradebook.record(self._gradebook, row)
        self.rows.append(row)
        self._csv.writerow(row.csv())
        self._sync()

    def _page(self, row: Row) -> None:
        target = self.out / "feedback" / row.student / f"{row.assignment}.html"
        if row.status == Status.GRADED and row.feedback:
            target.parent.mkdir(parents=True, exist_ok=True)
            target.write_text(row.feedback)
        else:  # a page from an earlier run would show a grade this run did not give
            target.unlink(missing_ok=True)

    def _sync(self) -> None:
        self._file.flush()
        os.fsync(self._file.fileno())

    def close(self) -> list[Row]:
        """grades.csv again, in student order, and the report; the rows, sorted."""
        self._file.close()
        self._gradebook.close()
        rows = sorted(self.rows, key=lambda r: (r.student, r.assignment))
        write_csv(rows, self.path)
        from cnncourse.grading.report import report_html

        (self.out / "report.html").write_text(report_html(rows, self.hidden))
        return rows

    def abandon(self) -> None:
        """The run stops early: what was written stands; close the files."""
        if not self._file.closed:
            self._file.close()
        self._gradebook.close()


def write_csv(rows: list[Row], path: Path) -> None:
    tmp = path.with_suffix(".csv.tmp")
    with tmp.open("w", newline="") as f:
        writer = csv.DictWriter(f, fieldnames=list(Row.COLUMNS))
        writer.writeheader()
        for row in rows:
            writer.writerow(row.csv())
    tmp.replace(path)  # never half a file


def previous(out: Path, *, graded_only: bool = True) -> dict[tuple[str, str], Row]:
    """The rows of the last grades.csv in `out`, by (student, assignment). For ``--resume``
    (`graded_only`), the graded rows that name their submission's hash; a row cut off by a
    crash is not kept."""
    path = Path(out) / "grades.csv"
    if not path.is_file():
        return {}
    found = {}
    with path.open(newline="") as f:
        for r in csv.DictReader(f):
            try:
                status = Status(r.get("status"))
                score = float(r["score"]) if r.get("score") else None
                most = float(r["max_score"]) if r.get("max_score") else None
                row = Row(r["student"], r["assignment"], status, score, most,
                          flags=[x for x in (r.get("flags") or "").split("; ") if x],
                          seconds=float(r.get("seconds") or 0),
                          submission=r.get("submission") or "",
                          penalty=float(r.get("penalty") or 0),
                          seconds_late=float(r.get("seconds_late") or 0))
            except (KeyError, ValueError, TypeError):
                continue
            if graded_only and (status != Status.GRADED or not row.submission
                                or score is None or most is None):
                continue
            found[(row.student, row.assignment)] = row
    return found


def summary(rows: list[Row]) -> str:
    graded = sum(r.status == Status.GRADED for r in rows)
    flagged = sum(bool(r.flags) for r in rows)
    students = len({r.student for r in rows})
    return (f"{students} student(s), {len(rows)} row(s): {graded} graded, "
            f"{len(rows) - graded} could not be graded, {flagged} flagged for a look")
