"""Every assignment is graded fairly and sharply, through nbgrader itself, on every run.

For each assignment in solutions/: the committed release is fresh and holds no answer; the
reference solution gets full marks; the unanswered release gets 0 and still runs to the end;
every catalogued mistake loses points; every catalogued partial answer (right values, one rule
missed) scores strictly between the plain mistakes and full marks; every catalogued alternative
gets full marks; the small demonstrations of a grader's run (`cnncourse.budget`) change no
grade.
All submissions of one assignment are autograded in one nbgrader process (one batch).
"""

from __future__ import annotations

import os

import pytest
from autograde import (
    answer_ids,
    grade_batch,
    reference_answers,
    source_notebook,
    with_answers,
)
from harness import (
    DEFAULT_MINIMUM,
    MINIMUM,
    ROOT,
    assignments,
    cells_of,
    marker,
    pack,
    variants,
)

from cnncourse.budget import GRADING
from cnncourse.notebooks import read_notebook
from cnncourse.release import find_leaks, generate

ASSIGNMENTS = assignments()


def _params(kind: str | None = None):
    out = []
    for a in ASSIGNMENTS:
        marks = [getattr(pytest.mark, marker(a)), pytest.mark.xdist_group(a), pytest.mark.slow]
        if kind is None:
            out.append(pytest.param(a, marks=marks, id=a))
        else:
            out += [pytest.param(a, v, marks=marks, id=f"{a}-{v.name}") for v in variants(a, kind)]
    return out


def _release(assignment):
    return read_notebook(ROOT / "notebooks" / assignment / f"{assignment}.ipynb")


_BATCHES: dict = {}


def slim(nb):
    """The notebook without its demo cells: the catalogue variants are judged by test cells only.

    Ungraded code cells after the first (the setup cell with the imports) are experiments and
    plots; no answer or test may depend on them, and skipping them halves the grading time.
    The reference and the unanswered release are graded whole.
    """
    out = nb.copy()
    code = [i for i, c in enumerate(nb.cells) if c.cell_type == "code"]
    first = code[0] if code else -1
    out.cells = [c for i, c in enumerate(nb.cells)
                 if c.cell_type != "code" or i == first or "nbgrader" in c.metadata]
    return out


def graded(assignment, tmp_path_factory):
    """Grade the whole batch of one assignment once (per worker), then serve it to every test.

    The reference and the blank release are graded whole; the catalogue variants are packed
    (`harness.pack`): variants of independent answers share one slim submission and each is
    judged on the test cells its answer can reach.
    """
    if assignment not in _BATCHES:
        source = source_notebook(ROOT, assignment)
        release = _release(assignment)
        reference = reference_answers(source)
        subs = {"reference": with_answers(release, reference), "blank": release}
        lean = slim(release)
        cells = cells_of(source)
        where_is = {}
        for kind, prefix in (("MISTAKES", "mistake"), ("PARTIAL", "partial"),
                             ("ALTERNATIVES", "alt")):
            for i, group in enumerate(pack(variants(assignment, kind), cells)):
                name = f"{prefix}s-{i:02d}"
                subs[name] = with_answers(lean, {**reference, **{v.cell: v.code for v in group}})
                for v in group:
                    where_is[f"{prefix}-{v.name}"] = (name, cells.reach(v.cell))
        where = tmp_path_factory.mktemp(f"grade-{assignment}")
        results = grade_batch(ROOT, assignment, subs, where)
        _BATCHES[assignment] = (results, where_is)
    return _BATCHES[assignment]


# Cells that run less under the grading signal: they call one of these.
BUDGETED = ("demo_budget", "train_curves", "best_time", "timing_table", "invariance_curve",
            "invariance_curves")
_SMALL: dict = {}


def budget_reaches(source_nb) -> set[str]:
    """Answer cells whose code a budgeted demonstration runs before a test cell that the answer
    can reach (`Cells.reach`): a variant of one of them might leave something behind that the
    grading signal changes, and only a test cell after the demonstration can see it. (A variant
    changes only the test cells it reaches: the packing rests on it.)"""
    from harness import _words

    cells = cells_of(source_nb)
    where = {c.metadata["nbgrader"]["grade_id"]: i for i, c in enumerate(source_nb.cells)
             if c.cell_type == "code" and c.metadata.get("nbgrader", {}).get("grade")}
    reached = set()
    for i, cell in enumerate(source_nb.cells):
        if cell.cell_type != "code" or "nbgrader" in cell.metadata or \
                not _words(cell.source) & set(BUDGETED):
            continue
        runs = _words(cell.source) & set(cells.answers)
        reached |= {a for a in cells.answers if cells.dependents(a) & runs
                    and any(where[t] > i for t in cells.reach(a))}
    return reached


def graded_small(assignment, tmp_path_factory):
    """The batch again, under the grading signal as `cnncourse grade` runs it: the reference
    and the blank release whole; every catalogue submission holding a variant of an answer
    that a budgeted demonstration runs (`budget_reaches`), whole up to its last graded cell
    instead of slim. Returns (results, {submission: the variants it holds})."""
    if assignment not in _SMALL:
        source = source_notebook(ROOT, assignment)
        release = _release(assignment)
        reference = reference_answers(source)
        last = max(i for i, c in enumerate(release.cells) if "nbgrader" in c.metadata
                   and c.metadata["nbgrader"].get("grade"))
        upto = release.copy()
        upto.cells = release.cells[:last + 1]
        reached = budget_reaches(source)
        subs = {"reference": with_answers(release, reference), "blank": release}
        holds = {"reference": [], "blank": []}
        cells = cells_of(source)
        for kind, prefix in (("MISTAKES", "mistake"), ("PARTIAL", "partial"),
                             ("ALTERNATIVES", "alt")):
            for i, group in enumerate(pack(variants(assignment, kind), cells)):
                if {v.cell for v in group} & reached:
                    name = f"{prefix}s-{i:02d}"
                    subs[name] = with_answers(upto, {**reference,
                                                     **{v.cell: v.code for v in group}})
                    holds[name] = [v.name for v in group]
        where = tmp_path_factory.mktemp(f"grade-small-{assignment}")
        before = os.environ.get(GRADING)
        os.environ[GRADING] = "1"  # the kernels nbgrader starts inherit it
        try:
            results = grade_batch(ROOT, assignment, subs, where)
        finally:
            if before is None:
                del os.environ[GRADING]
            else:
                os.environ[GRADING] = before
        _SMALL[assignment] = (results, holds)
    return _SMALL[assignment]


def judged(assignment, key, tmp_path_factory):
    """(score, max score, the pack's result) of one variant over the test cells it can reach."""
    results, where_is = graded(assignment, tmp_path_factory)
    name, reach = where_is[key]
    result = results[name]
    mine = {g: sm for g, sm in result.cells.items() if g in reach}
    assert mine, f"{key}: no test cell reaches this answer"
    return sum(s for s, _ in mine.values()), sum(m for _, m in mine.values()), result


def _errors(nb):
    """(cell number, first line) of every error output in an executed notebook."""
    found = []
    for i, cell in enumerate(nb.cells, start=1):
        for out in cell.get("outputs", []):
            if out.get("output_type") == "error":
                found.append((i, f"{out.get('ename')}: {str(out.get('evalue'))[:200]}"))
    return found


@pytest.mark.parametrize("assignment", _params())
def test_committed_release_is_fresh(assignment, tmp_path):
    """notebooks/<a> equals what nbgrader generates from solutions/<a> now."""
    fresh = generate(ROOT, assignment, tmp_path)
    committed = ROOT / "notebooks" / assignment / f"{assignment}.ipynb"
    assert committed.exists(), f"{committed} is missing: run `cnncourse release {assignment}`"
    assert fresh.read_text() == committed.read_text(), (
        f"{committed} is stale: run `cnncourse release {assignment}` and commit notebooks/")
    extra_fresh = sorted(p.name for p in fresh.parent.iterdir())
    extra_committed = sorted(p.name for p in committed.parent.iterdir())
    assert extra_fresh == extra_committed, "the release folder holds other files than a fresh one"


@pytest.mark.parametrize("assignment", _params())
def test_release_holds_no_answer(assignment):
    """No line of a solution or hidden-test block appears in the student notebook."""
    leaks = find_leaks(source_notebook(ROOT, assignment), _release(assignment),
                       f"notebooks/{assignment}")
    assert not leaks, "\n".join(map(str, leaks))


@pytest.mark.parametrize("assignment", _params())
def test_catalogue_covers_every_exercise(assignment):
    """Every answer cell has at least one catalogued mistake and one catalogued alternative."""
    answers = set(answer_ids(source_notebook(ROOT, assignment)))
    mistakes, alternatives = variants(assignment, "MISTAKES"), variants(assignment, "ALTERNATIVES")
    least_m, least_a = MINIMUM.get(assignment, DEFAULT_MINIMUM)
    assert len(mistakes) >= least_m, f"{len(mistakes)} mistakes catalogued, need {least_m}"
    assert len(alternatives) >= least_a, f"{len(alternatives)} alternatives, need {least_a}"
    for kind, entries in (("mistake", mistakes), ("alternative", alternatives)):
        unknown = {v.cell for v in entries} - answers
        assert not unknown, f"{kind}s name cells that are not answer cells: {unknown}"
        uncovered = answers - {v.cell for v in entries}
        assert not uncovered, f"no catalogued {kind} for: {sorted(uncovered)}"
    names = [v.name for v in mistakes + alternatives]
    assert len(names) == len(set(names)), "variant names must be unique"


@pytest.mark.parametrize("assignment", _params())
def test_reference_gets_full_marks(assignment, tmp_path_factory):
    """The instructor's solution, submitted as a student, earns every point and raises nothing."""
    ref = graded(assignment, tmp_path_factory)[0]["reference"]
    assert ref.max_score > 0
    assert ref.score == ref.max_score, f"lost points in {ref.lost()}"
    assert not _errors(ref.notebook), f"errors while grading the reference: {_errors(ref.notebook)}"


@pytest.mark.parametrize("assignment", _params())
def test_unanswered_release_gets_zero_and_runs_to_the_end(assignment, tmp_path_factory):
    """The release as handed out scores 0, and its kernel executes every cell to the last."""
    blank = graded(assignment, tmp_path_factory)[0]["blank"]
    earned = [g for g, (s, _) in blank.cells.items() if s]
    assert blank.score == 0, f"points without answers in {earned}"
    code = [c for c in blank.notebook.cells if c.cell_type == "code"]
    assert code and all(c.get("execution_count") for c in code), (
        "the kernel stopped before the last cell")


@pytest.mark.parametrize(("assignment", "variant"), _params("MISTAKES"))
def test_mistake_loses_points(assignment, variant, tmp_path_factory):
    """A common mistake, written as code in the catalogue, loses at least one point."""
    score, most, result = judged(assignment, f"mistake-{variant.name}", tmp_path_factory)
    code = [c for c in result.notebook.cells if c.cell_type == "code"]
    assert all(c.get("execution_count") for c in code), (
        f"the kernel died in the submission holding {variant.name}: it cannot be judged")
    assert score < most, (
        f"{variant.name} ({variant.note}) got full marks: the tests do not catch it")


@pytest.mark.parametrize(("assignment", "variant"), _params("ALTERNATIVES"))
def test_alternative_gets_full_marks(assignment, variant, tmp_path_factory):
    """Another correct way to write the answer earns every point."""
    score, most, result = judged(assignment, f"alt-{variant.name}", tmp_path_factory)
    assert score == most, (
        f"{variant.name} ({variant.note}) lost points in {result.lost()}: "
        f"{_errors(result.notebook)[:3]}")
    assert result.score == result.max_score, (
        f"the submission holding {variant.name} lost points in {result.lost()}")


def _last_line(source_cell: str) -> str:
    """The last line of code (comments and markers are not code): its value is the score."""
    code = [line.strip() for line in source_cell.splitlines()
            if line.strip() and not line.strip().startswith("#")]
    return code[-1] if code else ""


def _groups(source_cell: str) -> int:
    """How many groups of checks (partial credit) a test cell of the instructor notebook has."""
    return source_cell.count("checks.group(")


@pytest.mark.parametrize("assignment", _params())
def test_hidden_tests_give_partial_credit(assignment):
    """Every hidden test cell shares its points out over groups of checks (`Checks`), and every
    answer whose hidden tests grade a rule besides the values has a catalogued partial answer."""
    from cnncourse.notebooks import graded_cells

    source = source_notebook(ROOT, assignment)
    hidden = {c.grade_id: c.source for c in graded_cells(source)
              if c.kind == "test" and "BEGIN HIDDEN TESTS" in c.source}
    assert hidden, "no hidden test cells"
    flat = [gid for gid, src in hidden.items() if _groups(src) < 1 or _last_line(src)
            != "checks.score()"]
    assert not flat, f"hidden test cells without groups of checks ending in checks.score(): {flat}"
    partial = {v.cell for v in variants(assignment, "PARTIAL")}
    ruled = {gid.removeprefix("test_").removesuffix("_hidden") for gid, src in hidden.items()
             if _groups(src) >= 2}
    missing = sorted(ruled - partial)
    assert not missing, f"answers graded on several groups with no catalogued partial: {missing}"


@pytest.mark.parametrize(("assignment", "variant"), _params("PARTIAL"))
def test_partial_answer_scores_between_mistakes_and_full_marks(assignment, variant,
                                                                tmp_path_factory):
    """Right values with one rule missed (no ValueError for stride=0, say) loses points, but
    fewer than any plain mistake of the same answer: the size of the mistake decides."""
    score, most, result = judged(assignment, f"partial-{variant.name}", tmp_path_factory)
    assert score < most, (
        f"{variant.name} ({variant.note}) got full marks: the tests do not catch it")
    plain = {m.name: judged(assignment, f"mistake-{m.name}", tmp_path_factory)[0]
             for m in variants(assignment, "MISTAKES") if m.cell == variant.cell}
    above = {name: s for name, s in plain.items() if s >= score}
    assert not above, (
        f"{variant.name} ({variant.note}) scored {score:g}/{most:g}, no more than the plain "
        f"mistakes {above}: partial credit does not follow the size of the mistake")


@pytest.mark.parametrize("assignment", _params())
def test_small_demos_change_no_grade(assignment, tmp_path_factory):
    """Under the grading signal (`cnncourse.budget`), the demonstrations run a small budget and
    every test cell of the reference, of the blank release and of every catalogue submission a
    budgeted demonstration can reach scores what it scores in the student's own run.
    (tests/test_budget.py proves the same one level down: every graded cell's inputs.)"""
    full, _ = graded(assignment, tmp_path_factory)
    small, holds = graded_small(assignment, tmp_path_factory)
    budgeted = "demo_budget(" in "".join(c.source for c in _release(assignment).cells)
    printed = "".join(o.get("text", "") for c in small["reference"].notebook.cells
                      for o in c.get("outputs", []) if o.get("output_type") == "stream")
    assert ("[graded run:" in printed) == budgeted, "the signal did not reach the kernel"
    changed = []
    for name, result in small.items():
        assert result.notebook is not None, f"{name} was not graded under the signal"
        theirs = full[name].cells if name in full else None
        assert theirs is not None, f"{name} is not in the main batch"
        changed += [f"{name} ({', '.join(holds[name]) or 'whole'}) {gid}: "
                    f"{theirs[gid][0]:g} -> {score:g}"
                    for gid, (score, _) in result.cells.items() if theirs[gid][0] != score]
        assert set(result.cells) == set(theirs), f"{name}: other graded cells"
    assert not changed, "the small demonstrations changed grades:\n" + "\n".join(changed)


@pytest.mark.parametrize("assignment", _params())
def test_check_validate_and_grade_agree_on_every_cell(assignment, tmp_path_factory):
    """On every graded notebook of the batch (reference, blank, every packed mistake, partial
    answer and alternative), each test cell gets the same verdict from `cnncourse check`'s
    table, from JupyterLab's Validate (nbgrader's Validator, under the course config) and from
    nbgrader's autograded score."""
    from nbgrader.validator import Validator

    from cnncourse.check import tabulate
    from cnncourse.course import load_config

    load_config(ROOT)  # the course config, as the Jupyter server and the graders load it
    validator = Validator()
    results, _ = graded(assignment, tmp_path_factory)
    disagree = []
    for name, result in results.items():
        nb = result.notebook
        failed_validate = {c.metadata["nbgrader"]["grade_id"]
                           for c in validator._get_failed_cells(nb)}
        rows = {r.question: r for r in tabulate(nb)}
        for gid, (score, most) in result.cells.items():
            by_grade = score >= most
            by_check = rows[gid].status == "passed"
            by_validate = gid not in failed_validate
            if not by_grade == by_check == by_validate:
                disagree.append(f"{name}/{gid}: grade {score:g}/{most:g}, check "
                                f"{rows[gid].status}, validate "
                                f"{'passed' if by_validate else 'failed'}")
            if rows[gid].score is not None and rows[gid].score != score:
                disagree.append(f"{name}/{gid}: grade {score:g}, check {rows[gid].score:g}")
    assert not disagree, "\n".join(disagree[:20])
