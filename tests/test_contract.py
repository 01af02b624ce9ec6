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


@pytest.mark.parametrize("assignment", assignments())
def test_every_written_answer_has_a_rubric_that_adds_up(assignment):
    """A hand-graded written answer carries its rubric below the model answer (the feedback page
    shows it): items of 'N point(s): what earns them' adding up to the heading and the cell."""
    from cnncourse.notebooks import graded_cells, rubric

    nb = read_notebook(ROOT / "solutions" / assignment / f"{assignment}.ipynb")
    for cell in graded_cells(nb):
        if cell.kind != "manual":
            continue
        found = rubric(cell.source)
        assert found is not None, f"{assignment}: {cell.grade_id} has no **Rubric** block"
        assert found.points == cell.points == sum(p for p, _ in found.items), \
            (cell.grade_id, found.points, cell.points, found.items)
        assert cell.source.index("**Rubric**") > 0, f"{cell.grade_id}: no model answer above"


@pytest.mark.parametrize("assignment", assignments())
def test_every_notebook_asks_for_a_prediction_before_it_shows_the_answer(assignment):
    """At least one 'predict, then run' question: the question (markdown), the student's
    hand-graded written prediction, then the code cell that shows the answer."""
    from cnncourse.notebooks import nbgrader_meta

    nb = read_notebook(ROOT / "solutions" / assignment / f"{assignment}.ipynb")
    found = []
    for i, cell in enumerate(nb.cells[:-2]):
        if cell.cell_type == "markdown" and cell.source.startswith("**Predict, then run.**"):
            written, shown = nb.cells[i + 1], nb.cells[i + 2]
            meta = nbgrader_meta(written)
            assert written.cell_type == "markdown" and meta.get("grade") and \
                meta.get("solution"), f"{assignment}: cell {i + 2} is not a written answer"
            assert shown.cell_type == "code", f"{assignment}: cell {i + 3} shows nothing"
            found.append(meta["grade_id"])
    assert found, f"{assignment}: no '**Predict, then run.**' question"


TIME = re.compile(r"\*\*Time:\*\* about (\d+(?:\.\d+)?) hours?")


@pytest.mark.parametrize("assignment", assignments())
def test_every_notebook_states_its_student_time_as_the_readme_does(assignment):
    """The first markdown cell says how long a student needs ('**Time:** about 3 hours'); the
    README's course table says the same; no notebook takes longer than an afternoon (4 h)."""
    nb = read_notebook(ROOT / "solutions" / assignment / f"{assignment}.ipynb")
    first = next(c for c in nb.cells if c.cell_type == "markdown")
    stated = TIME.search(first.source)
    assert stated, f"{assignment}: the first markdown cell states no '**Time:** about N hours'"
    hours = float(stated.group(1))
    assert 0.5 <= hours <= 4, f"{assignment}: {hours} hours"
    row = next(line for line in (ROOT / "README.md").read_text().splitlines()
               if line.startswith(f"| [`{assignment}`]"))
    assert f"| about {hours:g} h |" in row, f"README's row for {assignment}: {row[:80]}..."


def test_the_contract_lists_each_notebooks_written_answers():
    """Each notebook's section ends with the written answers graded by hand ('Written answers,
    graded by hand: `a` (2 points), ...'), exactly those of the notebook, with their points."""
    from cnncourse.notebooks import graded_cells

    listed: dict[str, dict[str, float]] = {}
    section = None
    for line in CONTRACT.read_text().splitlines():
        heading = re.match(r"## (\d\d_\w+)", line)
        if heading:
            section = heading.group(1)
        elif section and line.startswith("Written answers, graded by hand:"):
            listed[section] = {name: float(points) for name, points in
                               re.findall(r"`(\w+)` \((\d+(?:\.\d+)?) points?\)", line)}
    for assignment in assignments():
        nb = read_notebook(ROOT / "solutions" / assignment / f"{assignment}.ipynb")
        written = {c.grade_id: c.points for c in graded_cells(nb) if c.kind == "manual"}
        assert listed.get(assignment) == written, (assignment, listed.get(assignment), written)
