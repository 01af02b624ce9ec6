"""How much work a notebook's demonstrations do: all of it when a person runs the notebook, a
small budget while a grader runs it.

Most of what a notebook costs to run is not its answers and tests but its demonstrations:
training curves, timing tables, the invariance and overfitting experiments, the networks of
notebook 06's "why convolutions" (measured in issue 17: 06 spends about 6 s in its answer and
test cells and 11 s in the others; 05, 0.2 s and 8 s). A grade needs none of their figures:
no graded cell reads what they compute (`tests/test_budget.py` runs every reference notebook
both ways and proves that each graded cell sees the same values, random-number generators
included).

The signal: the environment variable ``CNNCOURSE_GRADING``. `cnncourse grade` and
`cnncourse check` set it to ``1`` in every kernel they start (`cnncourse grade --full-demos`
does not); `being_graded` reads it. The demonstrations ask `demo_budget` how much to do, and the
package's own helpers (`cnncourse.overfitting.train_curves`, `cnncourse.timing.best_time`,
`cnncourse.invariance.invariance_curve`) ask it themselves. To see what a grader's run of your
notebook does, start Jupyter with the variable set: ``CNNCOURSE_GRADING=1 jupyter lab``.

    >>> epochs = demo_budget(30, graded=2, what="epochs")  # 30 for you, 2 under cnncourse grade
"""

from __future__ import annotations

import os

__all__ = ["GRADING", "being_graded", "demo_budget", "was_cut"]

GRADING = "CNNCOURSE_GRADING"
"""The environment variable that says "this kernel runs for a grader": ``1`` (anything but
empty or ``0``)."""

_cut = False


def being_graded() -> bool:
    """True in a kernel that `cnncourse grade` or `cnncourse check` started (`GRADING` set)."""
    return os.environ.get(GRADING, "").strip() not in ("", "0")


def demo_budget(full: int, graded: int = 1, what: str = "") -> int:
    """How much of a demonstration to run: `full` (epochs, runs, images, steps...) when a
    person runs the notebook, `graded` while a grader does (`being_graded`).

    With `what` (the unit, e.g. "epochs"), a graded run prints one line saying that it ran
    `graded` of them instead of `full`, so that the figures in the feedback are not taken for
    the notebook's own. Never use it for anything a graded cell reads.

    Raises:
        ValueError: `full` or `graded` below 0.
    """
    if full < 0 or graded < 0:
        raise ValueError(f"full={full}, graded={graded}: must be >= 0")
    global _cut
    if not being_graded() or graded >= full:
        return full
    _cut = True
    if what:
        print(f"[graded run: {graded:,} of {full:,} {what}; run the notebook yourself for the "
              "whole demonstration]")
    return graded


def was_cut() -> bool:
    """True once a demonstration in this kernel ran less than its full budget."""
    return _cut
