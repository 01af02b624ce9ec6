"""Feedback back to students through nbgrader's exchange: `cnncourse release-feedback`.

`cnncourse grade` writes one page per graded row, ``grades/feedback/<student>/<assignment>.html``,
with hidden tests redacted (`cnncourse.grading.feedback`). nbgrader's `release_feedback` would
publish its own pages, which print hidden tests in full (upstream #1363, #917). Here the
scrubbed pages go where nbgrader's `release_feedback` looks for them,
``feedback/<student>/<assignment>/<assignment>.html`` in the course, beside the
``timestamp.txt`` and ``submission_secret.txt`` that nbgrader's `collect` put into
``submitted/<student>/<assignment>/``: the exchange files each page under the hash of that
secret, so `nbgrader fetch_feedback` (or the Assignments tab) gives every student their own page.

Before a page is released, the scores of its written answers graded by hand in the formgrader,
and the grader's comments, are written into it from the gradebook. A page is not released when
the notebook in ``submitted/`` is no longer the one it grades (a resubmission after grading), or
when the submission did not come through the exchange (no secret: an LMS upload).

For an LMS, `lms_feedback_zip` writes the same pages into one zip for its bulk feedback upload
(Canvas's "Re-Upload Submissions", Moodle's "Upload multiple feedback files in a zip"), each
named as that LMS named the student's notebook in the download `cnncourse grade --zip --lms`
collected.
"""

from __future__ import annotations

import hashlib
import html
import os
import shutil
import subprocess
import sys
from dataclasses import dataclass, field
from pathlib import Path

from cnncourse.course import ensure_bin_on_path
from cnncourse.grading import intake
from cnncourse.grading.protocol import Status
from cnncourse.grading.results import previous
from cnncourse.notebooks import CourseError, graded_cells, read_notebook

__all__ = ["Handback", "hand_graded", "lms_feedback_zip", "release_feedback"]

SECRET, TIMESTAMP = "submission_secret.txt", "timestamp.txt"


@dataclass
class Handback:
    """What `release_feedback` did: the students whose page was released, and the others with
    why not; `ungraded`: students with a written answer not yet graded by hand."""

    released: list[str] = field(default_factory=list)
    skipped: dict[str, str] = field(default_factory=dict)
    ungraded: list[str] = field(default_factory=list)


def hand_graded(db_url: str, assignment: str, student: str) -> list[tuple[str, float | None,
                                                                          float, str]]:
    """(grade_id, points given by hand or None when not yet, max points, the grader's comment)
    of every written answer of one submission, from the gradebook (the formgrader writes them);
    [] when there is no submission."""
    from nbgrader.api import Gradebook, MissingEntry

    out = []
    with Gradebook(db_url) as gb:
        try:
            sub = gb.find_submission_notebook(assignment, assignment, student)
        except MissingEntry:
            return []
        comments = {c.name: (c.manual_comment or "") for c in sub.comments}
        for g in sub.grades:
            if g.cell.cell_type != "markdown":  # written answers are markdown grade cells
                continue
            score = None if g.needs_manual_grade else float(g.score)  # extra credit included
            out.append((g.name, score, float(g.max_score), comments.get(g.name, "")))
    return sorted(out)


def _with_hand_grades(page: str, written: list[tuple[str, float | None, float, str]]) -> str:
    """The page with a paragraph of the hand-graded scores after its first heading."""
    if not written:
        return page
    items = []
    for name, score, most, comment in written:
        points = "not graded yet" if score is None else f"{score:g} / {most:g}"
        note = f": {html.escape(comment)}" if comment.strip() else ""
        items.append(f"<li><code>{html.escape(name)}</code> {points}{note}</li>")
    block = ('<div class="cnncourse-hand-graded"><p><strong>Written answers, graded by hand'
             "</strong></p><ul>" + "".join(items) + "</ul></div>")
    at = page.find("</h1>")
    return page[:at + 5] + block + page[at + 5:] if at >= 0 else block + page


def _pages(root: Path, assignment: str, out: Path, submitted: Path, db_url: str,
           done: Handback) -> dict[str, str]:
    """{student: their page with the hand-graded scores} for every graded row of `assignment`
    whose page grades the notebook in `submitted` now; the others into `done.skipped`.

    Raises:
        CourseError: no grades.csv in `out`, or no graded row of `assignment`."""
    if not (out / "grades.csv").is_file():
        raise CourseError(f"no {out / 'grades.csv'}: grade first (cnncourse grade {assignment})")
    rows = [r for r in previous(out, graded_only=False).values()
            if r.assignment == assignment and r.status == Status.GRADED]
    if not rows:
        raise CourseError(f"{out / 'grades.csv'} has no graded row of {assignment}: nothing to "
                          "hand back")
    grade_ids = {c.grade_id for c in graded_cells(
        read_notebook(root / "solutions" / assignment / f"{assignment}.ipynb"))}
    pages = {}
    for row in sorted(rows, key=lambda r: r.student):
        page = out / "feedback" / row.student / f"{assignment}.html"
        sub = intake.find(submitted, row.student, assignment, grade_ids)
        digest = hashlib.sha256(sub.path.read_bytes()).hexdigest() \
            if sub.path is not None and sub.path.is_file() else ""
        if not page.is_file():
            done.skipped[row.student] = f"no feedback page {page}"
        elif row.submission and digest != row.submission:
            done.skipped[row.student] = ("submitted again after grading: grade again "
                                         f"(cnncourse grade {assignment} --student "
                                         f"{row.student}), then hand back")
        else:
            written = hand_graded(db_url, assignment, row.student)
            if any(score is None for _, score, _, _ in written):
                done.ungraded.append(row.student)
            pages[row.student] = _with_hand_grades(page.read_text(), written)
    return pages


def _tell(done: Handback, assignment: str, where: str, say) -> None:
    say(f"{len(done.released)} feedback page(s) of {assignment} {where}"
        + (f"; {len(done.skipped)} not handed back:" if done.skipped else ""))
    for student, why in done.skipped.items():
        say(f"  {student}: {why}")
    if done.ungraded:
        say(f"{len(done.ungraded)} page(s) show written answers not yet graded by hand "
            f"({', '.join(done.ungraded[:5])}{', ...' if len(done.ungraded) > 5 else ''}): grade "
            "them in the formgrader and hand back again; a student gets the newest page")


def release_feedback(root: Path, assignment: str, out: Path, submitted: Path, db_url: str,
                     exchange: str | None = None, say=print) -> Handback:
    """Put the scrubbed page of every graded row of `assignment` in `out/grades.csv` where
    nbgrader's release_feedback finds it, then run `nbgrader release_feedback` (`exchange`: the
    exchange's root, else the course config's `Exchange.root`).

    Raises:
        CourseError: no grades.csv in `out`, no graded row of `assignment`, or nbgrader's
            release_feedback failed (its last line said why)."""
    root, out, submitted = Path(root), Path(out), Path(submitted)
    done = Handback()
    for student, text in _pages(root, assignment, out, submitted, db_url, done).items():
        folder = submitted / student / assignment
        if not (folder / SECRET).is_file() or not (folder / TIMESTAMP).is_file():
            done.skipped[student] = ("not submitted through nbgrader's exchange (no "
                                     f"{SECRET}): hand this page back through the LMS "
                                     "(release-feedback --lms)")
            done.ungraded = [s for s in done.ungraded if s != student]
            continue
        target = root / "feedback" / student / assignment
        target.mkdir(parents=True, exist_ok=True)
        (target / f"{assignment}.html").write_text(text)
        for name in (SECRET, TIMESTAMP):
            shutil.copy2(folder / name, target / name)
        done.released.append(student)
    if done.released:
        ensure_bin_on_path()
        args = [sys.executable, "-m", "nbgrader", "release_feedback", assignment]
        if exchange:
            args.append(f"--Exchange.root={exchange}")
        result = subprocess.run(args, cwd=root, capture_output=True, text=True,
                                env={**os.environ, "PYTHONWARNINGS": "ignore"})
        if result.returncode != 0:
            last = [line for line in result.stderr.splitlines() if line.strip()][-1:]
            raise CourseError("nbgrader release_feedback failed: "
                              + (last[0] if last else f"exit {result.returncode}"))
    _tell(done, assignment, "released to nbgrader's exchange", say)
    if done.released:
        say("students fetch their page with `nbgrader fetch_feedback "
            f"{assignment}` or from the Assignments tab")
    return done


def lms_feedback_zip(root: Path, assignment: str, out: Path, submitted: Path, db_url: str,
                     lms_name: str, say=print) -> tuple[Path, Handback]:
    """A zip of the scrubbed pages for `lms_name`'s bulk feedback upload, each named as that LMS
    names the student's files (`lms.feedback_name`, from the names of the zip that `grade --zip
    --lms` collected: ``downloaded/<assignment>/lms.json``), in `out`.

    Raises:
        CourseError: the LMS takes no feedback zip, the assignment was not collected from that
            LMS's zip with --lms, or there is nothing to hand back (`_pages`)."""
    import json
    import zipfile

    from cnncourse.grading.lms import PRESETS, feedback_name

    root, out, submitted = Path(root), Path(out), Path(submitted)
    lms = PRESETS[lms_name]
    feedback_name(lms, "", assignment)  # refuses an LMS without a feedback upload
    manifest = root / "downloaded" / assignment / "lms.json"
    collected = json.loads(manifest.read_text()) if manifest.is_file() else {}
    if collected.get("lms") != lms.name:
        raise CourseError(f"{assignment} was not collected from a {lms.name} download here "
                          f"(no {manifest} for --lms {lms.name}): the upload needs the names "
                          f"of that download; collect it with cnncourse grade {assignment} "
                          f"--zip FILE --lms {lms.name}")
    prefixes = collected["prefixes"]
    done = Handback()
    target = out / f"feedback-{assignment}-{lms.name}.zip"
    with zipfile.ZipFile(target.with_suffix(".zip.tmp"), "w", zipfile.ZIP_DEFLATED) as z:
        for student, text in _pages(root, assignment, out, submitted, db_url, done).items():
            if student not in prefixes:
                done.skipped[student] = f"not in the {lms.name} download {collected['archive']}"
                done.ungraded = [s for s in done.ungraded if s != student]
                continue
            z.writestr(feedback_name(lms, prefixes[student], assignment), text)
            done.released.append(student)
    target.with_suffix(".zip.tmp").replace(target)
    _tell(done, assignment, f"in {target}", say)
    say({"canvas": "upload it in Canvas with 'Re-Upload Submissions' on the assignment's page "
                   "(beside 'Download Submissions'): each page becomes a comment on its "
                   "submission",
         "moodle": "upload it in Moodle: the assignment's 'View all submissions', grading "
                   "action 'Upload multiple feedback files in a zip'"}[lms.name])
    return target, done
