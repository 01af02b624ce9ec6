"""How a test cell is scored: one rule for `cnncourse check`, JupyterLab's Validate and
`cnncourse grade`.

nbgrader's `determine_grade` gives a test cell 0 points when it raised an error *or when it
wrote anything to stderr*: a NumPy or PyTorch warning, a progress bar, a `logging` line. A
correct answer must not lose its points over that. Here only a raised error fails a test
cell; otherwise nbgrader's rule stands: the number a test cell's last line evaluates to is its
(partial) score (see `cnncourse.testing.Checks`), anything else is full marks.

nbgrader has no setting for this, and its scorer is called from two places (the Validate
button's server extension and autograde's SaveAutoGrades), so the course's
``nbgrader_config.py`` calls `only_errors_fail`, which wraps ``nbgrader.utils.determine_grade``
in every process that loads the course config: the Jupyter server (Validate), ``nbgrader
autograde`` and the `cnncourse grade` workers. Outputs stay as they are (a warning still shows
as stderr in the feedback). `cell_score` applies the same rule to a notebook executed
elsewhere (`cnncourse check`). nbgrader is pinned (0.9.6); a test holds the rule against it.
"""

from __future__ import annotations

import copy

__all__ = ["cell_score", "is_test_cell", "only_errors_fail", "without_stderr"]


def is_test_cell(cell) -> bool:
    """An autograded test cell: a graded code cell that is not an answer cell."""
    meta = cell.get("metadata", {}).get("nbgrader", {})
    return cell.get("cell_type") == "code" and bool(meta.get("grade")) \
        and not meta.get("solution")


def without_stderr(cell):
    """A copy of `cell` without its stderr stream outputs."""
    cell = copy.deepcopy(cell)
    if "outputs" in cell:
        cell["outputs"] = [o for o in cell["outputs"] if not (
            o.get("output_type") == "stream" and o.get("name") == "stderr")]
    return cell


def _nbgrader_rule():
    import nbgrader.utils

    rule = nbgrader.utils.determine_grade
    return getattr(rule, "__wrapped__", rule)


def cell_score(cell, log=None) -> tuple[float | None, float]:
    """(score, max) of a graded cell of an executed notebook, as `cnncourse grade` gives it:
    nbgrader's own `determine_grade`, on a copy of the cell without its stderr output. The
    score is None for a cell graded by hand and for an answer cell that was changed."""
    return _nbgrader_rule()(without_stderr(cell), log)


def only_errors_fail() -> None:
    """Make nbgrader score test cells by `cell_score` in this process (idempotent)."""
    import functools

    import nbgrader.utils

    rule = _nbgrader_rule()
    if nbgrader.utils.determine_grade is not rule:
        return  # already wrapped

    @functools.wraps(rule)
    def determine_grade(cell, log=None):
        return rule(without_stderr(cell), log)

    nbgrader.utils.determine_grade = determine_grade
