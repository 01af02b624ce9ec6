"""Reading notebooks and their nbgrader cells, with errors a person can act on."""

from __future__ import annotations

import json
import re
from dataclasses import dataclass
from pathlib import Path

import nbformat

BEGIN_SOLUTION = "### BEGIN SOLUTION"
END_SOLUTION = "### END SOLUTION"
BEGIN_HIDDEN = "### BEGIN HIDDEN TESTS"
END_HIDDEN = "### END HIDDEN TESTS"


class CourseError(Exception):
    """A problem the user can fix; the CLI prints its message as one sentence, no traceback."""


class NotebookFileError(CourseError):
    """A file that is no notebook; `status` says which way, in grades.csv's words."""

    def __init__(self, message: str, status: str):
        super().__init__(message)
        self.status = status


EMPTY = "empty file"
NOT_JSON = "not JSON"
NOT_NOTEBOOK = "not a notebook"


def parse_notebook(raw: bytes, name: str = "the notebook") -> nbformat.NotebookNode:
    """A notebook file's bytes as a normalised nbformat 4.5 notebook: what every reader uses.

    Accepts every notebook nbformat reads (v3, and v4.0 to v4.5 as Colab, VS Code, JupyterLab
    3/4 and Notebook 6/7 write them), in UTF-8 with or without a byte-order mark (or UTF-16/32,
    which JSON allows). Cells without ids (before 4.5) get ids, duplicated ids are made unique.

    Raises:
        NotebookFileError: empty, not JSON, or JSON that is no notebook; the message says
            what to do, `status` is EMPTY, NOT_JSON or NOT_NOTEBOOK.
    """
    if not raw.strip() or not raw.strip(b"\xef\xbb\xbf \t\r\n"):
        raise NotebookFileError(f"{name} is empty: it is not a notebook. Download it again "
                                "from Jupyter.", EMPTY)
    try:
        data = json.loads(raw)  # bytes: JSON's own encoding detection, a UTF-8 BOM included
    except UnicodeDecodeError as exc:
        raise NotebookFileError(f"{name} cannot be read as text ({exc.reason}): it is not a "
                                "notebook. Open it in Jupyter or take a fresh copy.",
                                NOT_JSON) from None
    except ValueError as exc:
        where = f" (line {exc.lineno}, column {exc.colno}: {exc.msg})" \
            if isinstance(exc, json.JSONDecodeError) else ""
        raise NotebookFileError(f"{name} is not a notebook: it is not valid JSON{where}. "
                                "Open it in Jupyter or take a fresh copy.", NOT_JSON) from None
    if not isinstance(data, dict) or not isinstance(data.get("cells", data.get("worksheets")),
                                                    list):
        raise NotebookFileError(f"{name} is JSON but not a Jupyter notebook (no cells).",
                                NOT_NOTEBOOK)
    try:
        nb = nbformat.reads(json.dumps(data), as_version=4)
        return normalize(nb)
    except Exception as exc:  # nbformat raises several types for malformed notebooks
        first = str(exc).splitlines()[0][:200] if str(exc) else type(exc).__name__
        raise NotebookFileError(f"{name} is JSON but not a Jupyter notebook ({first}).",
                                NOT_NOTEBOOK) from None


def normalize(nb: nbformat.NotebookNode) -> nbformat.NotebookNode:
    """`nb` (any v4 minor) upgraded to nbformat 4.5 with nbformat's own upgrade: every cell
    has a unique id. Returns the notebook."""
    if nb.get("nbformat_minor", 0) < 5:
        nb = nbformat.v4.upgrade(nb, from_version=4, from_minor=nb.get("nbformat_minor", 0))
        nb.metadata.pop("orig_nbformat_minor", None)
    seen = set()
    for index, cell in enumerate(nb.cells):
        if not isinstance(cell.get("id"), str) or not cell["id"] or cell["id"] in seen:
            cell["id"] = f"cell-{index}-{len(seen)}"
        seen.add(cell["id"])
    return nb


def read_notebook(path: str | Path) -> nbformat.NotebookNode:
    """Read a notebook (normalised to nbformat 4.5, see `parse_notebook`), or raise CourseError
    saying what is wrong with the file."""
    path = Path(path)
    if not path.exists():
        raise CourseError(f"{path}: no such file. Check the path (tab completion helps).")
    if path.is_dir():
        raise CourseError(f"{path} is a folder; give the .ipynb file inside it.")
    try:
        raw = path.read_bytes()
    except OSError as exc:
        raise CourseError(f"{path}: cannot be read ({exc}).") from None
    return parse_notebook(raw, str(path))


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
    """A cell's nbgrader metadata; {} where there is none or it is not a dict."""
    meta = cell.get("metadata")
    found = meta.get("nbgrader") if isinstance(meta, dict) else None
    return found if isinstance(found, dict) else {}


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


@dataclass(frozen=True)
class Rubric:
    """The rubric of a hand-graded written answer, as the instructor notebook writes it below
    the model answer::

        **Rubric** (2 points)
        - 1 point: a definite prediction (a number) with a one-line reason.
        - 1 point: says whether it matched and explains the difference.

    `items` are (points, what earns them); `text` is the block as written (the feedback page
    shows it to the student after grading; the release never holds it)."""

    points: float
    items: tuple[tuple[float, str], ...]
    text: str


_RUBRIC_HEAD = re.compile(r"^\*\*Rubric\*\*\s*\((?P<points>\d+(?:\.\d+)?) points?\)\s*$")
_RUBRIC_ITEM = re.compile(r"^[-*]\s+(?P<points>\d+(?:\.\d+)?) points?:\s*(?P<what>\S.*)$")


def rubric(source: str) -> Rubric | None:
    """The rubric block at the end of a written answer's model answer; None where there is none.

    Raises:
        ValueError: a rubric heading whose items are missing or do not follow the form."""
    lines = source.splitlines()
    heads = [(i, m) for i, m in ((i, _RUBRIC_HEAD.match(line.strip()))
                                 for i, line in enumerate(lines)) if m]
    if not heads:
        return None
    start, head = heads[0]
    items = []
    for line in lines[start + 1:]:
        if not line.strip():
            continue
        item = _RUBRIC_ITEM.match(line.strip())
        if item is None:
            raise ValueError(f"a rubric item must read '- N point(s): what earns them', "
                             f"got {line.strip()!r}")
        items.append((float(item["points"]), item["what"]))
    if not items:
        raise ValueError("the rubric heading has no items below it")
    return Rubric(float(head["points"]), tuple(items), "\n".join(lines[start:]).strip())


def hidden_test_ids(nb: nbformat.NotebookNode) -> set[str]:
    """grade_ids of the test cells that hold hidden tests: the one rule, for every notebook.

    In the instructor notebook they hold a ``### BEGIN HIDDEN TESTS`` block; in a student's
    release, nbgrader has removed that block, so only comments (the cell's description) are
    left."""
    found = set()
    for cell in graded_cells(nb):
        if cell.kind != "test":
            continue
        lines = [line.strip() for line in cell.source.splitlines() if line.strip()]
        if BEGIN_HIDDEN in cell.source or all(line.startswith("#") for line in lines):
            found.add(cell.grade_id)
    return found


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
