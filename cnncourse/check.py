"""`cnncourse check NOTEBOOK`: run a notebook in a fresh kernel and say how each test went.

nbgrader's own Validate exits 0 whatever happens; this exits 1 when a visible test fails, and
shows one row per graded test cell, so a student knows what to fix before submitting. A cell
is scored by the rule `cnncourse grade` and Validate use (`cnncourse.grading.scoring`): only a
raised error fails it, and a cell that gives partial credit shows its groups of checks.
The kernel runs with the grading signal (`cnncourse.budget`), as `cnncourse grade` does: the
demonstrations run a small budget, and no test reads them.
"""

from __future__ import annotations

import os
import re
import subprocess
import sys
from dataclasses import dataclass, field
from pathlib import Path

from cnncourse.budget import GRADING
from cnncourse.grading.scoring import cell_score
from cnncourse.notebooks import (
    BEGIN_HIDDEN,
    CourseError,
    graded_cells,
    hidden_test_ids,
    read_notebook,
)
from cnncourse.testing import GroupResult, groups_in

_ANSI = re.compile(r"\x1b\[[0-9;]*m")
_FRAME = re.compile(r"in (\w+)\(")
DEFAULT_TIMEOUT = 120


@dataclass
class Row:
    question: str
    points: float
    status: str  # "passed", "failed", "not answered", "hidden", "not run", "by hand", "not written"
    message: str = ""
    score: float | None = None  # the points the cell earned, where it ran (partial credit)
    groups: list[GroupResult] = field(default_factory=list)

    @property
    def earned(self) -> float:
        if self.score is not None:
            return self.score
        return self.points if self.status == "passed" else 0.0


def _failure(outputs) -> str | None:
    """The first line of the error a cell raised, in words; None when it raised nothing."""
    for out in outputs:
        if out.get("output_type") != "error":
            continue
        ename, evalue = out.get("ename", "Error"), _ANSI.sub("", out.get("evalue", ""))
        first = evalue.strip().splitlines()[0] if evalue.strip() else ""
        if ename == "NotImplementedError":
            frames = _FRAME.findall(_ANSI.sub("", "\n".join(out.get("traceback", []))))
            return f"not answered yet: write {frames[-1]}" if frames else "not answered yet"
        return f"{ename}: {first}" if first else ename
    return None


def execute(path: Path, timeout: int = DEFAULT_TIMEOUT, progress: bool = True):
    """Run every cell of the notebook at `path` in a fresh kernel, as a grader does (with the
    grading signal, `cnncourse.budget`); errors do not stop the run."""
    from nbclient import NotebookClient
    from nbclient.exceptions import CellTimeoutError, DeadKernelError
    from tqdm.auto import tqdm

    nb = read_notebook(path)
    client = NotebookClient(
        nb,
        timeout=timeout,
        kernel_name="python3",
        allow_errors=True,
        resources={"metadata": {"path": str(path.parent.resolve())}},
    )
    died = None
    code_cells = [i for i, c in enumerate(nb.cells) if c.cell_type == "code"]
    bar = tqdm(total=len(code_cells), desc=f"running {path.name}", unit="cell",
               disable=not progress, file=sys.stderr, leave=False)
    # The kernel's own stderr (start-up warnings) is not the student's business; cell errors
    # come back through the notebook's outputs.
    with client.setup_kernel(stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL,
                             env={**os.environ, GRADING: "1"}):
        for index in code_cells:
            try:
                client.execute_cell(nb.cells[index], index)
            except CellTimeoutError:
                nb.cells[index].outputs.append({
                    "output_type": "error", "ename": "TimeoutError",
                    "evalue": f"the cell ran longer than {timeout} s (an endless loop?)",
                    "traceback": []})
                client.km.interrupt_kernel()
            except DeadKernelError:
                died = index
                break
            bar.update()
    bar.close()
    return nb, died


def tabulate(nb, died: int | None = None) -> list[Row]:
    """One row per graded test cell of an executed notebook."""
    rows = []
    hidden = hidden_test_ids(nb)
    for cell in graded_cells(nb):
        if cell.kind == "manual":
            # as nbgrader's Validate: a written answer left as the release gave it is no answer
            if not cell.source.strip() or cell.source.strip() == "YOUR ANSWER HERE":
                rows.append(Row(cell.grade_id, cell.points, "not written",
                                "write your answer in its cell"))
            else:
                rows.append(Row(cell.grade_id, cell.points, "by hand",
                                "graded by hand (rubric in feedback)"))
            continue
        if cell.kind != "test":
            continue
        if died is not None and cell.index >= died:
            rows.append(Row(cell.grade_id, cell.points, "not run",
                            f"the kernel died in cell {died + 1}, before this test"))
            continue
        executed = nb.cells[cell.index]
        outputs = executed.get("outputs", [])
        failure = _failure(outputs)
        score, most = cell_score(executed)
        groups = groups_in(outputs)
        if failure is None and cell.grade_id in hidden and BEGIN_HIDDEN not in cell.source:
            rows.append(Row(cell.grade_id, cell.points, "hidden", "runs when your work is graded"))
        elif failure is None and score is not None and score >= most:
            rows.append(Row(cell.grade_id, cell.points, "passed", score=score, groups=groups))
        elif failure is None:  # partial credit: some groups of checks failed
            missed = [g.description for g in groups if not g.passed]
            message = f"{score:g} of {most:g} points" + (
                f"; failed: {missed[0]}" if missed else "")
            rows.append(Row(cell.grade_id, cell.points, "failed", message, score=score,
                            groups=groups))
        elif failure.startswith("not answered"):
            rows.append(Row(cell.grade_id, cell.points, "not answered", failure, score=0.0))
        else:
            rows.append(Row(cell.grade_id, cell.points, "failed", failure, score=0.0,
                            groups=groups))
    return rows


def render(rows: list[Row], width: int = 100) -> str:
    """The table a student reads, with the visible total and what to do next."""
    if not rows:
        return "This notebook has no graded cells."
    qw = max(len("question"), *(len(r.question) for r in rows))
    lines = [f"{'question':<{qw}}  points  {'result':<12}  details", "-" * min(width, qw + 60)]
    for r in rows:
        mark = {"passed": "passed", "failed": "FAILED", "not answered": "not answered"}.get(
            r.status, r.status)
        room = width - qw - 24
        message = r.message if len(r.message) <= room else r.message[: room - 3] + "..."
        lines.append(f"{r.question:<{qw}}  {r.points:>6g}  {mark:<12}  {message}".rstrip())
        for g in r.groups:  # partial credit: each group of checks by its description
            word = "passed" if g.passed else "FAILED"
            lines.append(f"{'':<{qw}}  {g.earned:>3g}/{g.points:<2g}  {word:<12}  "
                         f"{g.description}"[:width].rstrip())
    visible = [r for r in rows if r.status in ("passed", "failed", "not answered", "not run")]
    earned = sum(r.earned for r in visible)
    possible = sum(r.points for r in visible)
    hidden = sum(r.points for r in rows if r.status == "hidden")
    by_hand = sum(r.points for r in rows if r.status in ("by hand", "not written"))
    blank = [r for r in rows if r.status == "not written"]
    lines.append("-" * min(width, qw + 60))
    lines.append(f"visible tests: {earned:g} / {possible:g} points")
    if hidden:
        lines.append(f"hidden tests: {hidden:g} more points, run when your notebook is graded")
    if by_hand:
        lines.append(f"written answers: {by_hand:g} points, graded by your instructor")
    todo = [r for r in visible if r.status != "passed"]
    if not todo and blank:
        lines.append(f"All visible tests pass. {len(blank)} written answer(s) still blank "
                     f"({', '.join(r.question for r in blank)}): write them, save the notebook "
                     "and submit it.")
    elif not todo:
        lines.append("All visible tests pass. Save the notebook and submit it.")
    elif all(r.status == "not answered" for r in todo):
        lines.append(f"{len(todo)} test(s) wait for answers: fill in the cells marked "
                     "'YOUR CODE HERE', then run this check again.")
    else:
        first = next(r for r in todo if r.status != "not answered")
        lines.append(f"Fix '{first.question}' first: read its error in the notebook, "
                     "change your answer, and run this check again.")
    return "\n".join(lines)


def check(path: str | Path, timeout: int = DEFAULT_TIMEOUT, say=print,
          progress: bool = True) -> int:
    """Run the check and print the table; returns the exit status (0: every visible test passes
    and no written answer is blank, as nbgrader's Validate wants it)."""
    path = Path(path)
    nb = read_notebook(path)
    if not any(c.kind == "test" for c in graded_cells(nb)):
        raise CourseError(f"{path} has no graded test cells: is it one of the course notebooks?")
    say(f"checking {path}: running every cell in a fresh kernel (this can take a minute) ...")
    executed, died = execute(path, timeout=timeout, progress=progress)
    rows = tabulate(executed, died)
    import shutil

    # the terminal's width (COLUMNS where set), never less than 100: details are not cut short
    say(render(rows, width=max(100, shutil.get_terminal_size((160, 24)).columns)))
    if died is not None:
        say(f"The kernel died while running cell {died + 1}: the code there ended Python "
            "(os._exit, sys.exit in a loop, or too much memory). Fix that cell first.")
    return 0 if all(r.status in ("passed", "hidden", "by hand") for r in rows) else 1
