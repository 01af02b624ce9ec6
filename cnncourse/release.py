"""`cnncourse release`: instructors' notebooks in solutions/ -> student notebooks in notebooks/.

nbgrader's generate_assignment does the work in a scratch copy of the course; the result is
stripped of outputs, checked for leaked answers, and only then copied into notebooks/.
"""

from __future__ import annotations

import re
import shutil
import tempfile
from dataclasses import dataclass
from pathlib import Path

import nbformat

from cnncourse.course import CONFIG_NAME, nbgrader_api, run_api
from cnncourse.notebooks import (
    BEGIN_HIDDEN,
    BEGIN_SOLUTION,
    END_HIDDEN,
    END_SOLUTION,
    CourseError,
    nbgrader_meta,
    read_notebook,
    split_blocks,
    write_notebook,
)


@dataclass(frozen=True)
class Leak:
    """A line of a solution or hidden-test block found in a student notebook."""

    path: str
    cell: int  # 1-based, as JupyterLab counts
    line: int  # 1-based within the cell
    text: str

    def __str__(self) -> str:
        return f"{self.path}: cell {self.cell}, line {self.line} gives away: {self.text.strip()}"


_HARMLESS = re.compile(
    r"(import\s.+|from\s+\S+\s+import\s.+|else:|try:|finally:|pass|continue|break|return"
    r"|raise|[^A-Za-z0-9]*"
    # the boilerplate of every PyTorch module and experiment: it gives no answer away
    r"|def __init__\(self\):|super\(\)\.__init__\(\)|def forward\(self, x\):"
    r"|with torch\.no_grad\(\):|torch\.manual_seed\(\d+\)|return x)"
)


def secret_lines(source: nbformat.NotebookNode) -> set[str]:
    """Every line inside a solution or hidden-test block of the instructor notebook.

    Lines that give nothing away are left out: blank lines, punctuation, imports, bare
    keywords (`else:`, `return`) and the boilerplate of a PyTorch module (`def forward(self, x):`,
    `super().__init__()`). A solution cell without markers is secret as a whole.
    """
    secret: set[str] = set()
    for cell in source.cells:
        meta = nbgrader_meta(cell)
        text = cell.source
        if meta.get("solution"):
            if BEGIN_SOLUTION in text:
                inside, _ = split_blocks(text, BEGIN_SOLUTION, END_SOLUTION)
            else:  # a whole-cell solution: nbgrader replaces all of it
                inside = text.splitlines()
        elif BEGIN_HIDDEN in text:
            inside, _ = split_blocks(text, BEGIN_HIDDEN, END_HIDDEN)
        else:
            continue
        secret.update(line.strip() for line in inside)
    return {line for line in secret if not _HARMLESS.fullmatch(line)}


def find_leaks(source: nbformat.NotebookNode, release: nbformat.NotebookNode,
               path: str) -> list[Leak]:
    """Lines of the release that stand inside a solution or hidden-test block of the source.

    Any such line anywhere in the student notebook counts: in a demo cell, in the markdown, in
    a test. Only the lines `secret_lines` leaves out may appear in both.
    """
    secret = secret_lines(source)
    markers = (BEGIN_SOLUTION, END_SOLUTION, BEGIN_HIDDEN, END_HIDDEN)
    leaks = []
    for ci, cell in enumerate(release.cells, start=1):
        for li, line in enumerate(cell.source.splitlines(), start=1):
            if line.strip() in secret or any(m in line for m in markers):
                leaks.append(Leak(path, ci, li, line))
    return leaks


def generate(root: Path, assignment: str, into: Path) -> Path:
    """Generate the student notebook of `assignment` with nbgrader into the folder `into`.

    Runs in a scratch copy of the course, so the course's own gradebook and notebooks/ are not
    touched. Returns the path of the stripped student notebook.
    """
    with tempfile.TemporaryDirectory(prefix="cnncourse-release-") as tmp:
        scratch = Path(tmp)
        shutil.copy2(root / CONFIG_NAME, scratch / CONFIG_NAME)
        shutil.copytree(
            root / "solutions" / assignment,
            scratch / "solutions" / assignment,
            ignore=shutil.ignore_patterns(".ipynb_checkpoints", "__pycache__"),
        )
        api = nbgrader_api(scratch)
        run_api(api.generate_assignment, assignment, force=True, create=True,
                what=f"generate the student version of {assignment}")
        out = into / assignment
        if out.exists():
            shutil.rmtree(out)
        shutil.copytree(scratch / "notebooks" / assignment, out)
    notebook = out / f"{assignment}.ipynb"
    write_notebook(read_notebook(notebook), notebook)
    return notebook


SHARED_FILES = ("GLOSSARY.md",)


def release(root: Path, assignments: list[str], say=print) -> list[Path]:
    """Release `assignments` into root/notebooks, refusing any whose release leaks an answer."""
    written = []
    with tempfile.TemporaryDirectory(prefix="cnncourse-staged-") as tmp:
        staged = Path(tmp)
        for name in assignments:
            say(f"releasing {name}: nbgrader generate_assignment solutions/{name} ...")
            notebook = generate(root, name, staged)
            source = read_notebook(root / "solutions" / name / f"{name}.ipynb")
            rel_path = f"notebooks/{name}/{name}.ipynb"
            leaks = find_leaks(source, read_notebook(notebook), rel_path)
            if leaks:
                shown = "\n".join(f"  {leak}" for leak in leaks[:10])
                more = f"\n  ... and {len(leaks) - 10} more" if len(leaks) > 10 else ""
                raise CourseError(
                    f"refusing to release {name}: the student notebook would hold "
                    f"{len(leaks)} line(s) of the solution or hidden tests:\n{shown}{more}\n"
                    f"Put answer code between '{BEGIN_SOLUTION}' and '{END_SOLUTION}' and "
                    f"hidden tests between '{BEGIN_HIDDEN}' and '{END_HIDDEN}' in "
                    f"solutions/{name}/{name}.ipynb."
                )
            target = root / "notebooks" / name
            if target.exists():
                shutil.rmtree(target)
            shutil.copytree(staged / name, target)
            say(f"  wrote {rel_path} (outputs stripped, no answer text found)")
            written.append(target / f"{name}.ipynb")
    for extra in SHARED_FILES:  # course-wide pages the notebooks link to (../GLOSSARY.md)
        if (root / "solutions" / extra).is_file():
            shutil.copy2(root / "solutions" / extra, root / "notebooks" / extra)
            say(f"  wrote notebooks/{extra}")
    return written
