"""Late work, priced by nbgrader's own late-submission plugin mechanism.

When a submission was handed in comes from ``submitted/<student>/<assignment>/timestamp.txt``,
which nbgrader's `collect` writes from the exchange, and its `zip_collect` from an LMS file name
whose pattern has a ``timestamp`` group. The due date is the gradebook's (`nbgrader db assignment
add NAME --duedate="2026-12-01 17:00:00 UTC"`, or the formgrader's "Manage Assignments"). The
penalty is what the plugin named in ``nbgrader_config.py`` says, as nbgrader's autograde would
ask it::

    c.AssignLatePenalties.plugin_class = "cnncourse.grading.late.PercentPerDay"
    c.PercentPerDay.percent_per_day = 10      # of the score, per started day late
    c.PercentPerDay.zero_after_days = 7       # nothing after a week

nbgrader's own `LateSubmissionPlugin` (``c.LateSubmissionPlugin.penalty_method = "zero"``) or
any subclass works the same. A late graded row shows the penalty in grades.csv (``penalty``,
``seconds_late``; ``score`` is after it), on the feedback page and in the gradebook
(``late_submission_penalty``, which nbgrader's export and the LMS export subtract).
"""

from __future__ import annotations

import datetime
import html
import math
from dataclasses import dataclass, replace
from pathlib import Path

from traitlets import Float

from cnncourse.grading.protocol import Row, Status

try:
    from nbgrader.plugins.latesubmission import LateSubmissionPlugin
except ImportError:  # nbgrader is a dependency; this keeps the module importable for docs
    LateSubmissionPlugin = object  # type: ignore[misc,assignment]

__all__ = ["LatePolicy", "PercentPerDay", "describe_late"]


class PercentPerDay(LateSubmissionPlugin):
    """A late-submission plugin for nbgrader: `percent_per_day` of the score per started day
    late, and the whole score after `zero_after_days` (0: never)."""

    percent_per_day = Float(10.0, help="percent of the score taken per started day late "
                            "(24 h)").tag(config=True)
    zero_after_days = Float(0.0, help="after this many days late the penalty is the whole "
                            "score (0: never)").tag(config=True)

    def late_submission_penalty(self, student_id: str, score: float,
                                total_seconds_late: float) -> float | None:
        if total_seconds_late <= 0:
            return None
        days = total_seconds_late / 86400
        if self.zero_after_days and days > self.zero_after_days:
            return score
        return min(score, score * self.percent_per_day / 100 * math.ceil(days))


def describe_late(seconds: float) -> str:
    """'1 day 2 h 5 min' for a lateness in seconds."""
    minutes = int(math.ceil(seconds / 60))
    days, minutes = divmod(minutes, 1440)
    hours, minutes = divmod(minutes, 60)
    parts = [f"{days} day{'s' if days != 1 else ''}"] if days else []
    parts += [f"{hours} h"] if hours else []
    parts += [f"{minutes} min"] if minutes or not parts else []
    return " ".join(parts)


def _naive_utc(value) -> datetime.datetime | None:
    """A datetime as nbgrader stores it (naive, UTC), from text or a datetime."""
    if value is None or value == "":
        return None
    if isinstance(value, str):
        from nbgrader.utils import parse_utc

        value = parse_utc(value.strip())
    if value.tzinfo is not None:
        value = value.astimezone(datetime.timezone.utc).replace(tzinfo=None)
    return value


@dataclass
class LatePolicy:
    """The due dates (by assignment, naive UTC; None: no due date), the plugin that prices a
    late submission, and the folder of submissions whose timestamp.txt says when."""

    duedates: dict[str, datetime.datetime | None]
    plugin: object
    submitted: Path

    @classmethod
    def load(cls, root: Path, assignments: list[str], db_url: str,
             submitted: Path) -> LatePolicy:
        """The course's policy: nbgrader_config.py's `AssignLatePenalties.plugin_class` (with
        its options), the gradebook's due dates."""
        from nbgrader.api import Gradebook, MissingEntry
        from traitlets.utils.importstring import import_item

        from cnncourse.course import load_config

        config = load_config(root)
        plugin_class = config.AssignLatePenalties.get("plugin_class", LateSubmissionPlugin)
        if isinstance(plugin_class, str):
            plugin_class = import_item(plugin_class)
        duedates = {}
        with Gradebook(db_url) as gb:
            for a in assignments:
                try:
                    duedates[a] = _naive_utc(gb.find_assignment(a).duedate)
                except MissingEntry:
                    duedates[a] = None
        return cls(duedates, plugin_class(config=config), Path(submitted))

    def submitted_at(self, student: str, assignment: str) -> datetime.datetime | None:
        path = self.submitted / student / assignment / "timestamp.txt"
        try:
            return _naive_utc(path.read_text())
        except (OSError, ValueError):
            return None

    def apply(self, row: Row) -> Row:
        """The row with its lateness and penalty: score after the penalty, both in grades.csv,
        a paragraph on the feedback page. Rows not graded, on time or without a due date or a
        timestamp come back as they are."""
        due = self.duedates.get(row.assignment)
        when = self.submitted_at(row.student, row.assignment)
        if row.status != Status.GRADED or row.score is None or due is None or when is None:
            return row
        seconds = (when - due).total_seconds()
        if seconds <= 0:
            return row
        penalty = self.plugin.late_submission_penalty(row.student, row.score, seconds) or 0.0
        penalty = max(0.0, min(float(penalty), row.score))
        note = (f"late by {describe_late(seconds)} (due {due:%Y-%m-%d %H:%M} UTC): "
                f"{penalty:g} point(s) taken")
        page = row.feedback
        if page:
            block = f'<p class="cnncourse-late"><strong>{html.escape(note[0].upper() + note[1:])}' \
                    f"</strong>; score after the penalty: {row.score - penalty:g} / " \
                    f"{row.max_score:g}.</p>"
            at = page.find("</h1>")
            page = page[:at + 5] + block + page[at + 5:] if at >= 0 else block + page
        return replace(row, score=row.score - penalty, penalty=penalty, seconds_late=seconds,
                       feedback=page)
