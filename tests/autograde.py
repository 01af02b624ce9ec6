"""Grading notebooks with nbgrader's autograde on a real gradebook, many in one process.

Test material (it lived in the package; only tests and benchmarks use it). Used by the fairness
harness to grade the reference solution, the unanswered release
and every catalogued mistake and alternative in one nbgrader run per assignment.
"""

from __future__ import annotations

import copy
from dataclasses import dataclass, field
from pathlib import Path

import nbformat

from cnncourse.course import generate, nbgrader_api, run_api
from cnncourse.grading.worker import kernel_never_started
from cnncourse.notebooks import (
    CourseError,
    graded_cells,
    nbgrader_meta,
    read_notebook,
    solution_code,
)


def answer_ids(nb: nbformat.NotebookNode) -> list[str]:
    """grade_ids of the autograded answer cells, in order."""
    return [c.grade_id for c in graded_cells(nb) if c.kind == "answer"]


def with_answers(nb: nbformat.NotebookNode, answers: dict[str, str]) -> nbformat.NotebookNode:
    """A copy of `nb` whose answer cells named in `answers` hold that code instead."""
    out = copy.deepcopy(nb)
    missing = set(answers)
    for cell in out.cells:
        gid = nbgrader_meta(cell).get("grade_id")
        if gid in answers:
            cell.source = answers[gid]
            missing.discard(gid)
    if missing:
        raise CourseError(f"no answer cell named {', '.join(sorted(missing))}")
    return out


def reference_answers(source: nbformat.NotebookNode) -> dict[str, str]:
    """The instructor's answers as a student would write them, by answer cell grade_id."""
    return {
        c.grade_id: solution_code(c.source) for c in graded_cells(source) if c.kind == "answer"
    }


def written_answers(source: nbformat.NotebookNode) -> dict[str, str]:
    """The instructor's model answers of the written (hand-graded) cells, without their
    rubric, as a student who answered them would hand them in; by grade_id."""
    return {c.grade_id: c.source.split("**Rubric**")[0].strip()
            for c in graded_cells(source) if c.kind == "manual"}


@dataclass
class Graded:
    """What nbgrader recorded for one submission: autograded test cells only."""

    student: str
    score: float  # sum over autograded test cells
    max_score: float
    cells: dict[str, tuple[float, float]] = field(default_factory=dict)  # id -> (score, max)
    manual: list[str] = field(default_factory=list)  # grade_ids left for a person to grade
    notebook: nbformat.NotebookNode | None = None  # the autograded notebook, with outputs

    def lost(self) -> list[str]:
        """grade_ids of the test cells that did not get full points."""
        return [gid for gid, (score, most) in self.cells.items() if (score or 0) < most]


def grade_batch(root: Path, assignment: str, submissions: dict[str, nbformat.NotebookNode],
                where: Path, **overrides) -> dict[str, Graded]:
    """Generate `assignment` and autograde every submission in one nbgrader process.

    `root` is the course; the work happens in the folder `where` (created), on its own
    gradebook. Returns what the gradebook holds for each student, with the autograded notebook.
    """
    from nbgrader.api import Gradebook

    course = generate(root, [assignment], where,
                      db_url=overrides.get("CourseDirectory__db_url"))
    api = nbgrader_api(course, **overrides)
    for student, nb in submissions.items():
        folder = course / "submitted" / student / assignment
        folder.mkdir(parents=True, exist_ok=True)
        nbformat.write(nb, folder / f"{assignment}.ipynb")
    result = api.autograde(assignment, "*", force=True, create=True)
    if not result.get("success") and kernel_never_started(result):
        # a kernel died before running a line (two kernels took one free port at once, a
        # race of jupyter_client's): grade those students again, once
        for student in submissions:
            if not (course / "autograded" / student / assignment).exists():
                run_api(api.autograde, assignment, student, force=True, create=True,
                        what=f"autograde {assignment} for {student} again")
    elif not result.get("success"):
        run_api(lambda: result, what=f"autograde {assignment}")

    results = {}
    with Gradebook(f"sqlite:///{course / 'gradebook.db'}") as gb:
        for student in submissions:
            sub = gb.find_submission_notebook(assignment, assignment, student)
            graded = Graded(student, 0.0, 0.0)
            for grade in sub.grades:
                if grade.cell.cell_type != "code" or not grade.max_score:
                    graded.manual.append(grade.name)  # written answers: graded by hand
                    continue
                graded.cells[grade.name] = (float(grade.score or 0), float(grade.max_score))
            graded.score = sum(s for s, _ in graded.cells.values())
            graded.max_score = sum(m for _, m in graded.cells.values())
            path = course / "autograded" / student / assignment / f"{assignment}.ipynb"
            graded.notebook = read_notebook(path) if path.exists() else None
            results[student] = graded
    return results


def source_notebook(root: Path, assignment: str) -> nbformat.NotebookNode:
    return read_notebook(root / "solutions" / assignment / f"{assignment}.ipynb")
