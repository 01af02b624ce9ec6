"""The fairness harness: what every assignment's catalogues look like and how they are graded.

A catalogue lives in tests/catalogues/<assignment>.py and defines two lists of `Variant`:
MISTAKES (each must lose at least one point: wrong values), PARTIAL (right values, one rule
missed, such as a missing ValueError: each must score strictly between the plain mistakes of
the same answer and full marks) and ALTERNATIVES (each must get full marks).
A variant replaces the code of one answer cell of the reference solution.
"""

from __future__ import annotations

import importlib.util
import re
from dataclasses import dataclass
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
CATALOGUES = Path(__file__).resolve().parent / "catalogues"

# The least a catalogue may hold, by assignment (issue texts); others take DEFAULT_MINIMUM.
DEFAULT_MINIMUM = (10, 5)  # (mistakes, alternatives)
MINIMUM = {"06_lenet": (8, 3)}


@dataclass(frozen=True)
class Variant:
    """One answer cell rewritten: `cell` is its grade_id, `code` its whole new source."""

    name: str
    cell: str
    code: str
    note: str = ""

    def __post_init__(self):
        if not re.fullmatch(r"[a-z0-9][a-z0-9-]*", self.name):
            raise ValueError(f"variant name {self.name!r}: use lowercase letters, digits, dashes")


def assignments() -> list[str]:
    return sorted(
        p.name for p in (ROOT / "solutions").iterdir()
        if p.is_dir() and (p / f"{p.name}.ipynb").is_file()
    )


def load_catalogue(assignment: str):
    path = CATALOGUES / f"{assignment}.py"
    if not path.exists():
        return None
    spec = importlib.util.spec_from_file_location(f"catalogue_{assignment}", path)
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    return module


def variants(assignment: str, kind: str) -> list[Variant]:
    module = load_catalogue(assignment)
    return list(getattr(module, kind, [])) if module else []


def marker(assignment: str) -> str:
    """The pytest marker of an assignment: 01_convolution -> nb01."""
    return "nb" + assignment.split("_", 1)[0]


# ---------------------------------------------------------------------------------------------
# Packing: several variants of *independent* answer cells share one graded submission.
#
# Grading one notebook per variant costs a kernel start and a full run each; most answer cells
# are independent (each test cell calls one answer), so a mistake in `conv1d` and a mistake in
# `pad2d` can be graded in one notebook and judged on their own test cells. Two variants may
# share a submission only when nothing links them: no test cell names both answers (directly
# or through an answer that calls another), neither variant's code names the other's answer,
# and they bind no common top-level name (a helper `_pad` in one must not replace another's).

def _words(text: str) -> set[str]:
    """Names the code reads (comments and docstrings do not count); every word if unparsable."""
    import ast

    try:
        tree = ast.parse(text)
    except SyntaxError:
        return set(re.findall(r"[A-Za-z_][A-Za-z0-9_]*", text))
    return {n.id for n in ast.walk(tree) if isinstance(n, ast.Name)}  # F.max_pool2d is not ours


def _bound_names(code: str) -> dict[str, str]:
    """Top-level names a cell binds -> how (an import line binds the same object every time)."""
    import ast

    try:
        tree = ast.parse(code)
    except SyntaxError:
        return {"<syntax error>": code}  # never packed with another broken cell
    out: dict[str, str] = {}

    def visit(body):
        for node in body:
            if isinstance(node, (ast.Import, ast.ImportFrom)):
                for alias in node.names:
                    out[(alias.asname or alias.name).split(".")[0]] = ast.unparse(node)
            elif isinstance(node, (ast.FunctionDef, ast.AsyncFunctionDef, ast.ClassDef)):
                out[node.name] = f"<def at line {node.lineno}>"
            else:
                for sub in ast.walk(node):
                    if isinstance(sub, ast.Name) and isinstance(sub.ctx, ast.Store):
                        out[sub.id] = f"<bound at line {sub.lineno}>"
                for field in ("body", "orelse", "finalbody", "handlers"):
                    inner = getattr(node, field, None)
                    if isinstance(inner, list):
                        visit([n for n in inner if isinstance(n, ast.stmt)])

    visit(tree.body)
    return out


@dataclass(frozen=True)
class Cells:
    """Which test cells depend on which answer cells, read from the instructor notebook."""

    answers: dict[str, str]  # answer grade_id -> reference code
    tests: dict[str, str]  # test grade_id -> whole source (hidden part included)

    def dependents(self, answer: str) -> set[str]:
        """`answer` and every answer whose reference code calls it, transitively."""
        found, todo = {answer}, [answer]
        while todo:
            name = todo.pop()
            for other, code in self.answers.items():
                if other not in found and name in _words(code):
                    found.add(other)
                    todo.append(other)
        return found

    def reach(self, answer: str) -> set[str]:
        """Test cells whose score a change to `answer` can move."""
        users = self.dependents(answer)
        return {t for t, src in self.tests.items() if users & _words(src)
                or any(t in (f"test_{u}", f"test_{u}_hidden") for u in users)}


def cells_of(source_nb) -> Cells:
    from autograde import reference_answers

    from cnncourse.notebooks import graded_cells

    tests = {c.grade_id: c.source for c in graded_cells(source_nb) if c.kind == "test"}
    return Cells(reference_answers(source_nb), tests)


def pack(found: list[Variant], cells: Cells) -> list[list[Variant]]:
    """Variants in groups that can be graded in one submission each (greedy colouring)."""
    from collections import Counter

    per_cell = Counter(v.cell for v in found)
    packs: list[list[Variant]] = []
    for v in sorted(found, key=lambda v: -per_cell[v.cell]):  # the busiest answers first
        v_touch = {v.cell} | (_words(v.code) & set(cells.answers))
        v_reach, v_names = cells.reach(v.cell), _bound_names(v.code)
        for group in packs:
            if all(_independent(v, v_touch, v_reach, v_names, u, cells) for u in group):
                group.append(v)
                break
        else:
            packs.append([v])
    return packs


def _independent(v, v_touch, v_reach, v_names, u, cells: Cells) -> bool:
    u_touch = {u.cell} | (_words(u.code) & set(cells.answers))
    if v_touch & u_touch or v_reach & cells.reach(u.cell):
        return False
    u_names = _bound_names(u.code)
    shared = set(v_names) & set(u_names)
    return all(v_names[n] == u_names[n] and not v_names[n].startswith("<") for n in shared)
