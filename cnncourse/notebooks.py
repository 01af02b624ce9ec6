"""Reading notebooks and their nbgrader cells, with errors a person can act on."""

from __future__ import annotations

import json
from dataclasses import dataclass
from pathlib import Path

import nbformat

BEGIN_SOLUTION = "### BEGIN SOLUTION"
END_SOLUTION = "### END SOLUTION"
BEGIN_HIDDEN = "### BEGIN HIDDEN TESTS"
END_HIDDEN = "### END HIDDEN TESTS"


class CourseError(Exception):
    """A problem the user can fix; the CLI prints its message as one sentence, no traceback."""


def read_notebook(path: str | Path) -> nbformat.NotebookNode:
    """Read a notebook (nbformat v4), or raise CourseError saying what is wrong with the file."""
    path = Path(path)
    if not path.exists():
        raise CourseError(f"{path}: no such file. Check the path (tab completion helps).")
    if path.is_dir():
        raise CourseError(f"{path} is a folder; give the .ipynb file inside it.")
    try:
        text = path.read_text(encoding="utf-8")
    except (OSError, UnicodeDecodeError) as exc:
        raise CourseError(f"{path}: cannot be read as text ({exc}).") from None
    if not text.strip():
        raise CourseError(f"{path} is empty: it is not a notebook. Download it again from Jupyter.")
    try:
        json.loads(text)
    except json.JSONDecodeError as exc:
        raise CourseError(
            f"{path} is not a notebook: it is not valid JSON (line {exc.lineno}, column "
            f"{exc.colno}: {exc.msg}). Open it in Jupyter or take a fresh copy."
        ) from None
    try:
        return nbformat.reads(text, as_version=4)
    except Exception as exc:  # nbformat raises several types for malformed notebooks
        raise CourseError(f"{path} is JSON but not a Jupyter notebook ({exc}).") from None


def write_notebook(nb: nbformat.NotebookNode, path: str | Path) -> None:
    """Write a notebook the way the course commits them: stripped, stable, one trailing newline."""
    Path(path).write_text(nbformat.writes(strip_outputs(nb)) + "\n", encoding="utf-8")


def strip_outputs(nb: nbformat.NotebookNode) -> nbformat.NotebookNode:
    """Remove outputs and execution counts in place (nbstripout semantics) and return `nb`."""
    for cell in nb.cells:
        if cell.cell_type == "code":
            cell.outputs = []
            cell.execution_count = None
        cell.metadata.pop("execution", None)
        cell.metadata.pop("collapsed", None)
        cell.metadata.pop("scrolled", None)
    nb.metadata.pop("widgets", None)
    return nb


@dataclass(frozen=True)
class GradedCell:
    """One nbgrader cell of interest: an answer cell or a test cell."""

    index: int
    grade_id: str
    kind: str  # "answer" (autograded answer), "test" (autograder tests), "manual" (graded by hand)
    points: float
    source: str


def nbgrader_meta(cell) -> dict:
    return cell.get("metadata", {}).get("nbgrader", {})


def graded_cells(nb: nbformat.NotebookNode) -> list[GradedCell]:
    """The answer cells, test cells and manually graded cells of a notebook, in order."""
    cells = []
    for index, cell in enumerate(nb.cells):
        meta = nbgrader_meta(cell)
        if not meta or "grade_id" not in meta:
            continue
        solution, grade = bool(meta.get("solution")), bool(meta.get("grade"))
        if solution and not grade:
            kind = "answer"
        elif grade and not solution and cell.cell_type == "code":
            kind = "test"
        elif grade:
            kind = "manual"
        else:
            continue
        points = float(meta.get("points", 0) or 0)
        cells.append(GradedCell(index, meta["grade_id"], kind, points, cell.source))
    return cells


def split_blocks(source: str, begin: str, end: str) -> tuple[list[str], list[str]]:
    """Split a cell's lines into (inside begin/end blocks, outside them); marker lines dropped."""
    inside, outside, depth = [], [], 0
    for line in source.splitlines():
        stripped = line.strip()
        if stripped == begin:
            depth += 1
        elif stripped == end:
            depth = max(depth - 1, 0)
        elif depth:
            inside.append(line)
        else:
            outside.append(line)
    return inside, outside


def solution_code(source: str) -> str:
    """The instructor's answer as a student would type it: solution markers removed, kept code."""
    kept = [
        line for line in source.splitlines() if line.strip() not in (BEGIN_SOLUTION, END_SOLUTION)
    ]
    return "\n".join(kept)
