"""`cnncourse release`: instructors' notebooks in solutions/ -> student notebooks in notebooks/.

nbgrader's generate_assignment does the work in a scratch copy of the course; the result is
stripped of outputs, checked for leaked answers, and only then copied into notebooks/.
"""

from __future__ import annotations

import html
import re
import shutil
import tempfile
from dataclasses import dataclass
from pathlib import Path

import nbformat

from cnncourse.course import generate as generate_course
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
    """Something of a solution or hidden-test cell found in a student notebook."""

    path: str
    cell: int  # 1-based, as JupyterLab counts; 0 for the notebook's own metadata
    line: int  # 1-based within the cell's source, output or metadata value; 0: no lines
    text: str
    where: str = "source"  # "source", "attachment NAME", "output N" or "metadata KEY"

    def __str__(self) -> str:
        place = "notebook" if self.cell == 0 else f"cell {self.cell}"
        if self.where == "source":
            return f"{self.path}: {place}, line {self.line} gives away: {self.text.strip()}"
        if self.where.startswith("attachment "):
            return f"{self.path}: {place}, {self.where} gives away {self.text}"
        return (f"{self.path}: {place}, {self.where}, line {self.line} gives away: "
                f"{self.text.strip()}")


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
    """What of the source's solution and hidden-test cells the release would show students.

    Read are the source, attachments, outputs and metadata of every cell, and the notebook's:

    - a source line, output line or metadata string that is a line of `secret_lines`, or holds
      a solution / hidden-test marker. Output lines are compared without colours, HTML tags
      and traceback line numbers. An output or metadata line that the release's own source
      holds too is reported once, as a source line (a traceback quoting a student's answer
      cell in a graded notebook is no leak of its own).
    - an attachment named like, or with the data of, an attachment of a solution or
      hidden-test cell; and any attachment of a cell that is a solution or hidden-test cell
      in the source. nbgrader replaces such a cell's text but keeps its attachments.
    """
    secret = secret_lines(source)

    def gives_away(line: str) -> bool:
        return line.strip() in secret or any(m in line for m in _MARKERS)

    leaks = []
    for ci, cell in enumerate(release.cells, start=1):
        for li, line in enumerate(cell.source.splitlines(), start=1):
            if gives_away(line):
                leaks.append(Leak(path, ci, li, line))
    own = {line.strip() for cell in release.cells for line in cell.source.splitlines()}
    leaks += _attachment_leaks(source, release, path)
    for ci, cell in enumerate(release.cells, start=1):
        for oi, text in enumerate(_output_texts(cell), start=1):
            for li, line in enumerate(text.splitlines(), start=1):
                seen = {line.strip(), _GUTTER.sub("", line).strip()} - own
                if any(gives_away(candidate) for candidate in seen):
                    leaks.append(Leak(path, ci, li, line, f"output {oi}"))
    for ci, meta in [(0, release.metadata)] + [
            (ci, cell.get("metadata", {})) for ci, cell in enumerate(release.cells, start=1)]:
        for key, text in _strings(meta):
            for li, line in enumerate(text.splitlines(), start=1):
                if line.strip() not in own and gives_away(line):
                    leaks.append(Leak(path, ci, li, line, f"metadata {key}"))
    return leaks


_MARKERS = (BEGIN_SOLUTION, END_SOLUTION, BEGIN_HIDDEN, END_HIDDEN)
_ANSI = re.compile(r"\x1b\[[0-9;]*[A-Za-z]")
_TAG = re.compile(r"<[^>]*>")
# IPython's traceback gutter: "----> 3 " marks the failing line, "      2 " the lines around it
_GUTTER = re.compile(r"^\s*(?:-*>\s*)?\d+\s")


def _secret_kind(cell) -> str | None:
    """"solution" or "hidden-test" for those cells of the instructor notebook, else None."""
    meta = cell.get("metadata", {}).get("nbgrader", {})
    if isinstance(meta, dict) and meta.get("solution"):
        return "solution"
    return "hidden-test" if BEGIN_HIDDEN in cell.source else None


def _grade_id(cell):
    meta = cell.get("metadata", {}).get("nbgrader", {})
    return meta.get("grade_id") if isinstance(meta, dict) else None


def _origins(source, release) -> list[int | None]:
    """For each release cell, the index of the source cell it was generated from: by cell id,
    by nbgrader's grade_id, or by position when both have as many cells."""
    by_id = {cell.get("id"): i for i, cell in enumerate(source.cells) if cell.get("id")}
    by_grade_id = {_grade_id(cell): i for i, cell in enumerate(source.cells) if _grade_id(cell)}
    same_length = len(source.cells) == len(release.cells)
    found = [by_id.get(cell.get("id"), by_grade_id.get(_grade_id(cell)))
             for cell in release.cells]
    return [i if i is not None or not same_length else n for n, i in enumerate(found)]


def _attachment_data(bundle) -> set[str]:
    """The data of an attachment's mime bundle, base64 line breaks taken out."""
    return {_text(value).replace("\n", "") for value in bundle.values()}


def _attachment_leaks(source, release, path: str) -> list[Leak]:
    by_name, by_data = {}, {}  # -> "solution cell 5" for the first secret cell holding it
    for si, cell in enumerate(source.cells, start=1):
        kind = _secret_kind(cell)
        for name, bundle in (cell.get("attachments") or {}).items() if kind else ():
            by_name.setdefault(name, f"{kind} cell {si}")
            for data in _attachment_data(bundle):
                by_data.setdefault(data, f"{kind} cell {si}")
    leaks = []
    origins = _origins(source, release)
    for ci, (cell, origin) in enumerate(zip(release.cells, origins, strict=True), start=1):
        kind = _secret_kind(source.cells[origin]) if origin is not None else None
        for name, bundle in (cell.get("attachments") or {}).items():
            same_data = [by_data[d] for d in _attachment_data(bundle) if d in by_data]
            if kind:
                why = f"a picture on {kind} cell {origin + 1} of the source"
            elif name in by_name:
                why = f"a picture named like one on {by_name[name]} of the source"
            elif same_data:
                why = f"a picture on {same_data[0]} of the source, under another name"
            else:
                continue
            leaks.append(Leak(path, ci, 0, why, f"attachment {name}"))
    return leaks


def _output_texts(cell) -> list[str]:
    """The text of each output of a code cell, without colours; HTML without its tags."""
    texts = []
    for output in cell.get("outputs", []):
        kind = output.get("output_type")
        if kind == "stream":
            parts = [_text(output.get("text", ""))]
        elif kind in ("execute_result", "display_data"):
            parts = [html.unescape(_TAG.sub("", _text(value))) if mime == "text/html"
                     else _text(value)
                     for mime, value in output.get("data", {}).items() if mime.startswith("text/")]
        elif kind == "error":
            parts = [_text(output.get("evalue", "")), *map(_text, output.get("traceback", []))]
        else:
            parts = []
        texts.append(_ANSI.sub("", "\n".join(parts)))
    return texts


def _text(value) -> str:
    """A notebook's multiline string, stored as one string or as a list of lines."""
    return "".join(map(str, value)) if isinstance(value, list) else str(value)


def _strings(value, key: str = ""):
    """(dotted key, text) for every string inside a metadata value, however deep."""
    if isinstance(value, str):
        yield key, value
    elif isinstance(value, dict):
        for k, v in value.items():
            yield from _strings(v, f"{key}.{k}" if key else str(k))
    elif isinstance(value, (list, tuple)):
        for i, v in enumerate(value):
            yield from _strings(v, f"{key}[{i}]")


def generate(root: Path, assignment: str, into: Path) -> Path:
    """Generate the student notebook of `assignment` with nbgrader into the folder `into`.

    Runs in a scratch copy of the course, so the course's own gradebook and notebooks/ are not
    touched. Returns the path of the stripped student notebook.
    """
    with tempfile.TemporaryDirectory(prefix="cnncourse-release-") as tmp:
        scratch = generate_course(root, [assignment], Path(tmp))
        out = into / assignment
        if out.exists():
            shutil.rmtree(out)
        shutil.copytree(scratch / "notebooks" / assignment, out)
    notebook = out / f"{assignment}.ipynb"
    write_notebook(read_notebook(notebook), notebook)
    return notebook


def _refusal(name: str, leaks: list[Leak]) -> str:
    """Why `name` is not released: where its answers would show, and how to hide them."""
    shown = "\n".join(f"  {leak}" for leak in leaks[:10])
    more = f"\n  ... and {len(leaks) - 10} more" if len(leaks) > 10 else ""
    solutions = f"solutions/{name}/{name}.ipynb"
    kinds = {leak.where.split()[0] for leak in leaks}
    todo = []
    if "source" in kinds:
        todo.append(f"Put answer code between '{BEGIN_SOLUTION}' and '{END_SOLUTION}' and hidden "
                    f"tests between '{BEGIN_HIDDEN}' and '{END_HIDDEN}' in {solutions}.")
    if "attachment" in kinds:
        todo.append(f"Remove the attachment from the solution cell in {solutions}, or move a "
                    "picture students may see into a cell that is not a solution (under a name "
                    "no solution attachment has).")
    if "output" in kinds:
        todo.append(f"Clear the outputs of those cells in {solutions}.")
    if "metadata" in kinds:
        todo.append(f"Remove the answer from that metadata in {solutions} (JupyterLab: "
                    "Property Inspector, cell and notebook metadata).")
    return (f"refusing to release {name}: the student notebook would give away the solution or "
            f"hidden tests in {len(leaks)} place(s):\n{shown}{more}\n" + " ".join(todo))


SHARED_FILES = ("GLOSSARY.md", "CONTRACT.md")


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
                raise CourseError(_refusal(name, leaks))
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
