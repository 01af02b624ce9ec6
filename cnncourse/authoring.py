"""Building instructor notebooks from Python: cells with the nbgrader metadata they need.

For instructors who script a new assignment instead of clicking through JupyterLab's
"Create Assignment" toolbar. Example::

    nb = notebook([
        markdown("# 07 Something"),
        answer("my_function", "def my_function(x):\\n    ### BEGIN SOLUTION\\n    ..."),
        tests("test_my_function", 2, "assert my_function(1) == 2"),
    ])
    write_notebook(nb, "solutions/07_something/07_something.ipynb")
"""

from __future__ import annotations

import nbformat
from nbformat.v4 import new_code_cell, new_markdown_cell, new_notebook

KERNELSPEC = {"display_name": "Python 3 (ipykernel)", "language": "python", "name": "python3"}


def _meta(grade_id: str, *, grade: bool, solution: bool, locked: bool, points: float = 0) -> dict:
    meta = {"schema_version": 3, "grade_id": grade_id, "grade": grade, "solution": solution,
            "locked": locked, "task": False}
    if grade:
        meta["points"] = points
    return {"nbgrader": meta}


def markdown(text: str):
    """An explanation cell."""
    return new_markdown_cell(text.strip("\n"))


def code(text: str):
    """An ordinary code cell (demo, experiment): students may edit it, it is not graded."""
    return new_code_cell(text.strip("\n"))


def answer(grade_id: str, text: str):
    """An autograded answer cell; put the solution between ### BEGIN/END SOLUTION."""
    return new_code_cell(text.strip("\n"), id=grade_id,
                         metadata=_meta(grade_id, grade=False, solution=True, locked=False))


def tests(grade_id: str, points: float, text: str):
    """A locked autograder test cell worth `points`; hidden parts go in ### BEGIN HIDDEN TESTS."""
    return new_code_cell(text.strip("\n"), id=grade_id,
                         metadata=_meta(grade_id, grade=True, solution=False, locked=True,
                                        points=points))


def written(grade_id: str, points: float, text: str):
    """A manually graded written answer (markdown); `text` is the instructor's model answer."""
    return new_markdown_cell(text.strip("\n"), id=grade_id,
                             metadata=_meta(grade_id, grade=True, solution=True, locked=False,
                                            points=points))


def notebook(cells) -> nbformat.NotebookNode:
    """A notebook with a Python 3 kernel and cell ids for the cells that had none."""
    nb = new_notebook(cells=list(cells))
    nb.metadata["kernelspec"] = dict(KERNELSPEC)
    nb.metadata["language_info"] = {"name": "python"}
    for i, cell in enumerate(nb.cells):
        if "nbgrader" not in cell.metadata:
            cell.id = f"cell-{i:03d}"  # stable ids, so releases diff cleanly
    seen = set()
    for cell in nb.cells:
        if cell.id in seen:
            raise ValueError(f"duplicate cell id {cell.id!r}")
        seen.add(cell.id)
    return nb
