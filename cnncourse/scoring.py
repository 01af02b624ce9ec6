"""How a test cell is scored: one rule for `cnncourse check`, JupyterLab's Validate and
`cnncourse grade`.

nbgrader's `determine_grade` gives a test cell 0 points when it raised an error *or when it
wrote anything to stderr*: a NumPy or PyTorch warning, a progress bar, a `logging` line. A
correct answer must not lose its points over that. Here only a raised error fails a test
cell; otherwise nbgrader's rule stands: the number a test cell's last line evaluates to is
its (partial) score (see `cnncourse.testing.Checks`), anything else is full marks.

nbgrader itself is told through the course's ``nbgrader_config.py``: its kernel runner
(nbclient, under nbgrader's `Execute`) calls `stderr_is_not_a_failure` after every cell, and
that turns a test cell's stderr streams into stdout streams (the text stays, in order). Both
Validate (the server extension reads the course config) and autograde run it; `cell_score`
applies the same rule to a notebook executed elsewhere (`cnncourse check`).
"""

from __future__ import annotations

import copy

__all__ = ["cell_score", "is_test_cell", "stderr_is_not_a_failure"]


def is_test_cell(cell) -> bool:
    """An autograded test cell: a graded code cell that is not an answer cell."""
    meta = cell.get("metadata", {}).get("nbgrader", {})
    return cell.get("cell_type") == "code" and bool(meta.get("grade")) \
        and not meta.get("solution")


def stderr_is_not_a_failure(cell, **_) -> None:
    """nbclient's ``on_cell_executed`` hook: a test cell's stderr output becomes stdout.

    Configured in ``nbgrader_config.py`` as ``c.Execute.on_cell_executed``; nbclient calls it
    once a cell's outputs are all in, before nbgrader reads them."""
    if not is_test_cell(cell):
        return
    for output in cell.get("outputs", []):
        if output.get("output_type") == "stream" and output.get("name") == "stderr":
            output["name"] = "stdout"


def cell_score(cell) -> tuple[float | None, float]:
    """(score, max) of a graded cell of an executed notebook, as `cnncourse grade` gives it.

    nbgrader's own `determine_grade`, on a copy of the cell whose stderr counts as stdout.
    The score is None for a cell graded by hand, and for an answer cell."""
    from nbgrader.utils import determine_grade

    cell = copy.deepcopy(cell)
    stderr_is_not_a_failure(cell)
    return determine_grade(cell)
