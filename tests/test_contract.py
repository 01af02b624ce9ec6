"""The exercise contract (solutions/CONTRACT.md, released as notebooks/CONTRACT.md) says what the
notebooks grade: every name an answer cell defines, with its parameters and defaults, and no
other; linked from every notebook (as the glossary is) and the README."""

from __future__ import annotations

import ast
import re

import pytest
from harness import ROOT, assignments

from cnncourse.notebooks import read_notebook

CONTRACT = ROOT / "solutions" / "CONTRACT.md"


def _contract() -> dict[str, dict[str, ast.FunctionDef | ast.ClassDef]]:
    """assignment -> name -> the entry's signature, parsed as Python: `f(a, b=1)` as a def,
    `Name()` as a class."""
    out: dict[str, dict] = {}
    section = None
    for line in CONTRACT.read_text().splitlines():
        heading = re.match(r"## (\d\d_\w+)", line)
        if heading:
            section = out.setdefault(heading.group(1), {})
            continue
        entry = re.match(r"\| `(\w+)\((.*?)\)` \|", line)
        if section is None or not entry:
            continue
        name, params = entry.groups()
        if name[0].isupper():
            assert not params, f"{name}: a class is listed as Name()"
            section[name] = ast.ClassDef(name=name)
        else:
            section[name] = ast.parse(f"def {name}({params}): pass").body[0]
    return out


def _answers(assignment: str) -> dict[str, ast.FunctionDef | ast.ClassDef]:
    """The public functions and classes the instructor's answer cells define."""
    nb = read_notebook(ROOT / "solutions" / assignment / f"{assignment}.ipynb")
    found = {}
    for cell in nb.cells:
        meta = cell.metadata.get("nbgrader", {})
        if cell.cell_type != "code" or not meta.get("solution"):
            continue
        for node in ast.parse(cell.source).body:
            if isinstance(node, (ast.FunctionDef, ast.ClassDef)) and not node.name.startswith("_"):
                found[node.name] = node
    return found


def _parameters(fn: ast.FunctionDef) -> list[tuple[str, str | None]]:
    """(name, default as written) of every parameter, annotations left out."""
    args = fn.args
    positional = args.posonlyargs + args.args
    defaults = [None] * (len(positional) - len(args.defaults)) + list(args.defaults)
    out = [(a.arg, None if d is None else ast.unparse(d)) for a, d in zip(positional, defaults,
                                                                          strict=True)]
    out += [(a.arg, None if d is None else ast.unparse(d))
            for a, d in zip(args.kwonlyargs, args.kw_defaults, strict=True)]
    return out


def test_the_contract_has_a_section_for_every_notebook():
    assert sorted(_contract()) == assignments()


@pytest.mark.parametrize("assignment", assignments())
def test_the_contract_lists_exactly_what_the_answer_cells_define(assignment):
    listed, defined = _contract()[assignment], _answers(assignment)
    assert sorted(listed) == sorted(defined), (
        f"in the contract only: {sorted(set(listed) - set(defined))}; "
        f"in the answer cells only: {sorted(set(defined) - set(listed))}")
    for name, entry in listed.items():
        assert type(entry) is type(defined[name]), \
            f"{name}: a function in one, a class in the other"
        if isinstance(entry, ast.FunctionDef):
            assert _parameters(entry) == _parameters(defined[name]), (
                f"{name}: the contract says {_parameters(entry)}, the notebook "
                f"{_parameters(defined[name])}")


def test_the_released_contract_is_the_instructors_one():
    assert (ROOT / "notebooks" / "CONTRACT.md").read_text() == CONTRACT.read_text(), \
        "run `make release`"


@pytest.mark.parametrize("page", ["CONTRACT.md", "GLOSSARY.md"])
@pytest.mark.parametrize("folder", ["solutions", "notebooks"])
@pytest.mark.parametrize("assignment", assignments())
def test_every_notebook_links_the_course_pages_at_the_top(folder, assignment, page):
    """The contract and the bilingual glossary, from the first markdown cell, to a file that is
    there (in solutions/ and in the release)."""
    nb = read_notebook(ROOT / folder / assignment / f"{assignment}.ipynb")
    first = next(c for c in nb.cells if c.cell_type == "markdown")
    links = re.findall(r"\]\(([^)]*" + re.escape(page) + r")\)", first.source)
    assert links, f"{assignment}: the first markdown cell does not link {page}"
    assert (ROOT / folder / assignment / links[0]).resolve().is_file(), links[0]
    assert "course-spec.md" not in "".join(c.source for c in nb.cells), \
        "a file the repository does not have"


def test_the_readme_links_the_contract():
    assert "(notebooks/CONTRACT.md)" in (ROOT / "README.md").read_text()
