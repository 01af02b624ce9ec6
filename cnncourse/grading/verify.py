"""Verifying answers outside the student's interpreter, so a test cell cannot be fooled.

nbgrader runs the tests in the same kernel as the student's code: an answer cell that patches
``numpy.testing``, ``print`` or ``__eq__`` fools them. Here the student's program is run again
in a separate, resource-limited process (`cnncourse.grading.sandbox`), as the kernel ran it: the
code cells of the graded notebook (every cell but the test cells), IPython syntax included, in an
IPython shell. Then the graded functions are called on seeded inputs and hand back plain
``.npy`` arrays, which this process judges against PyTorch or against properties (the probes
of each assignment, `probes/<assignment>.py` in the course: instructor material like the
hidden tests, not part of the package students read).

To stay fast, the first run takes only the cells the answers can need: the first code cell,
the answer cells, every cell the student added or edited, and any cell that binds a name one
of those reads. Where a cell raises there that raised nothing in the kernel, or a graded
function misses a name, the whole program runs again.

A verdict is per graded function, one of three (`Verdict`):

- ``verified``: the results are right;
- ``refuted``: the program ran as it did in the kernel, and the results are wrong. Only this
  lowers a score: where nbgrader gave the answer full marks, its test cells get 0 and the row
  is flagged (partly right answers that nbgrader already marked down keep nbgrader's points);
- ``could not verify``: the program did not run here as in the kernel (a cell raised here and
  not there, a graded function was missing or ran out of time). A flag for a person; no points
  are taken. A false tampering flag on honest work is the worst thing a grader can print.
"""

from __future__ import annotations

import importlib.util
import json
import pickle
import shutil
import tempfile
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path

import numpy as np

from cnncourse.grading.sandbox import Sandbox, fresh_run
from cnncourse.grading.scoring import is_test_cell
from cnncourse.notebooks import nbgrader_meta

PROBES = "probes"  # in the course root, beside solutions/: instructor material

VERIFIED, REFUTED, UNVERIFIED = "verified", "refuted", "could not verify"
# what a call may end with when the program did not run here as in the kernel
_NOT_RUN_HERE = {"NameError": "is not defined when the notebook's cells run again",
                 "TimeoutError": "ran out of time", "MemoryError": "ran out of memory"}


@dataclass(frozen=True)
class Verdict:
    """What verification found for one graded function: `status` is VERIFIED, REFUTED or
    UNVERIFIED, `reason` says why in words (empty when verified). True when verified."""

    status: str
    reason: str = ""

    def __bool__(self) -> bool:
        return self.status == VERIFIED

    @property
    def refuted(self) -> bool:
        return self.status == REFUTED


@dataclass(frozen=True)
class Step:
    """One code cell of the student's program: its place in the notebook (0-based), its code,
    and the error the kernel raised in it (its name; None when it raised nothing)."""

    index: int
    code: str
    kernel_error: str | None = None


@dataclass
class Probe:
    """How to verify one graded function: seeded calls and a judge for each result.

    `cases(rng)` gives ``[(args, kwargs), ...]``; `judge(args, kwargs, got)` says whether `got`
    is right, where `got` is the list of returned arrays, or an exception's class name (str).
    Where the answer returns no arrays (dicts, modules), `helper` is code run after the answer
    cells that defines `call`, a function turning the answer's result into arrays; the cases
    then call `call` instead of `function`.
    """

    function: str
    cases: Callable[[np.random.Generator], list[tuple[tuple, dict]]]
    judge: Callable[[tuple, dict, object], bool]
    call: str = ""
    helper: str = ""


def same_as(oracle: Callable, *, rtol: float = 1e-6, atol: float = 1e-8,
            same_kind: bool = False) -> Callable:
    """A judge: the result equals `oracle(*args, **kwargs)` (arrays, tuples or an exception).

    With `same_kind`, an integer must come back as an integer (a size of 4.0 is not 4).
    """

    def judge(args, kwargs, got) -> bool:
        try:
            want = oracle(*args, **kwargs)
        except ValueError:  # invalid arguments: the answer must refuse them the same way
            return got == "ValueError"
        if isinstance(got, str):
            return False
        parts = list(want) if isinstance(want, (tuple, list)) and want and not all(
            isinstance(v, (int, float)) for v in want) else [want]
        if len(parts) != len(got):
            return False
        for w, g in zip(parts, got, strict=True):
            w = np.asarray(w)
            if w.shape != g.shape or not np.allclose(g, w, rtol=rtol, atol=atol):
                return False
            if same_kind and (w.dtype.kind in "iu") != (g.dtype.kind in "iu"):
                return False
        return True

    return judge


def load_probes(root: Path, assignment: str, where: str | Path = PROBES) -> list[Probe]:
    """The probes of `assignment`: `<root>/probes/<assignment>.py` defines PROBES."""
    path = Path(root) / where / f"{assignment}.py"
    if not path.exists():
        return []
    spec = importlib.util.spec_from_file_location(f"probes_{assignment}", path)
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    return list(module.PROBES)


def program(notebook) -> list[Step]:
    """The code cells the kernel ran, in order, but the test cells (nbgrader's, restored).

    `notebook` is best the graded notebook nbgrader executed: its outputs say which cells
    raised. A notebook without outputs counts as one in which no cell raised."""
    steps = []
    for index, cell in enumerate(notebook.cells):
        if cell.cell_type != "code" or is_test_cell(cell) or not cell.source.strip():
            continue
        error = next((o.get("ename") or "Error" for o in cell.get("outputs", [])
                      if o.get("output_type") == "error"), None)
        steps.append(Step(index, cell.source, error))
    return steps


def _names(code: str) -> tuple[set[str], set[str]]:
    """(names the code binds at the top level, global names it reads: at the top level, and
    inside its functions and classes those they do not bind themselves, such as a parameter),
    IPython syntax allowed; a cell that does not parse binds nothing and reads every word."""
    import re
    import symtable

    try:
        from IPython.core.inputtransformer2 import TransformerManager

        table = symtable.symtable(TransformerManager().transform_cell(code), "<cell>", "exec")
    except (SyntaxError, ValueError, ImportError):
        return set(), set(re.findall(r"[A-Za-z_]\w*", code))
    binds = {s.get_name() for s in table.get_symbols() if s.is_assigned() or s.is_imported()
             or s.is_namespace()}
    reads = {s.get_name() for s in table.get_symbols() if s.is_referenced()}
    todo = list(table.get_children())
    while todo:
        scope = todo.pop()
        todo += scope.get_children()
        reads |= {s.get_name() for s in scope.get_symbols() if s.is_global()
                  and s.is_referenced()}
    return binds, reads


def needed(steps: list[Step], submission, release) -> list[Step]:
    """The steps the answers can need: the first code cell, the answer cells, every cell that
    is not one of the release's own cells unchanged (added or edited by the student), and,
    until nothing changes, every cell that binds a name one of those reads."""
    answer_ids = {i for i, c in enumerate(submission.cells) if nbgrader_meta(c).get("solution")}
    shipped = {c.source for c in release.cells if c.cell_type == "code"}
    first = steps[0].index if steps else -1
    keep = {s.index for s in steps if s.index == first or s.index in answer_ids
            or s.code not in shipped}
    names = {s.index: _names(s.code) for s in steps}
    while True:
        wanted = set().union(*(names[i][1] for i in keep)) if keep else set()
        more = {s.index for s in steps if s.index not in keep and names[s.index][0] & wanted}
        if not more:
            return [s for s in steps if s.index in keep]
        keep |= more


def verify(notebook, release, probes: list[Probe], *, seed: int = 0, timeout: float = 120,
           memory_gb: float = 4.0, sandbox: Sandbox | None = None) -> dict[str, Verdict]:
    """{function: Verdict} for every probe (see the module's docstring).

    `notebook` is the program to run again: best the graded notebook nbgrader executed (its
    outputs say which cells raised in the kernel), or a submission. Runs in `sandbox`, a warm
    fork server, when given; else in a fresh interpreter."""
    if not probes:
        return {}
    rng = np.random.default_rng(seed)
    calls, owner = [], []
    for probe in probes:
        for args, kwargs in probe.cases(rng):
            calls.append((probe.call or probe.function, args, kwargs))
            owner.append(probe)
    helpers = list(dict.fromkeys(p.helper for p in probes if p.helper))
    steps = program(notebook)
    first = needed(steps, notebook, release)
    run = _run(first, helpers, calls, timeout, memory_gb, sandbox)
    diverged = _diverged(first, run[0])
    if first != steps and (diverged or any(g == "NameError" for g in run[1])):
        run = _run(steps, helpers, calls, timeout, memory_gb, sandbox)  # the whole program
        diverged = _diverged(steps, run[0])
    results = run[1]
    verdict = {}
    for probe in probes:
        bad, failed = False, None
        for k, (p, (_, args, kwargs)) in enumerate(zip(owner, calls, strict=True)):
            if p is not probe:
                continue
            try:
                ok = results[k] is not None and bool(probe.judge(args, kwargs, results[k]))
            except Exception:
                ok = False
            if not ok:
                bad, failed = True, results[k]
                break
        verdict[probe.function] = _verdict(probe.function, bad, failed, diverged)
    return verdict


def _verdict(function: str, bad: bool, failed, diverged: str) -> Verdict:
    """The verdict on `function`: `bad` when a call failed its judge, `failed` what that call
    gave back (None: nothing, the process ended), `diverged` how the program's run here
    differed from the kernel's ('' when it did not)."""
    if not bad:
        return Verdict(VERIFIED)
    if isinstance(failed, str) and failed in _NOT_RUN_HERE:
        return Verdict(UNVERIFIED, f"`{function}` {_NOT_RUN_HERE[failed]} outside the notebook")
    if diverged:
        return Verdict(UNVERIFIED, diverged)
    what = ("ended the process" if failed is None else f"raised {failed}"
            if isinstance(failed, str) else "gave wrong results")
    return Verdict(REFUTED, f"run again outside the notebook on other inputs, `{function}` "
                            f"{what}")


def _diverged(steps: list[Step], errors: list[str | None] | None) -> str:
    """In words, the first cell that raised here but not in the kernel ('' when none did);
    `errors` is None when the cells did not all finish here."""
    if errors is None:
        return ("the notebook's cells did not finish outside the notebook within the time "
                "limit: the program did not run as the kernel ran it")
    for step, error in zip(steps, errors, strict=True):
        if error is not None and step.kernel_error is None:
            return (f"cell {step.index + 1} raised {error} outside the notebook, not in it: "
                    "the program did not run as the kernel ran it")
    return ""


def _run(steps: list[Step], helpers: list[str], calls: list, timeout: float,
         memory_gb: float, sandbox: Sandbox | None) -> tuple[list, list]:
    """Run `steps` then `calls` in the sandbox: (each step's error name or None, each call's
    result as `_read` gives it)."""
    with tempfile.TemporaryDirectory(prefix="cnncourse-verify-") as tmp:
        work = Path(tmp)
        spec = {"cells": [s.code for s in steps], "helpers": helpers, "calls": calls,
                "memory_gb": memory_gb, "cpu_s": int(timeout)}
        (work / "calls.pkl").write_bytes(pickle.dumps(spec))
        if sandbox is None or not sandbox.run(work, timeout):
            shutil.rmtree(work / "out", ignore_errors=True)
            fresh_run(work, timeout)
        errors = [_cell_error(work / "out", i) for i in range(len(steps))]
        if not (work / "out" / "cells.json").exists():  # the sandbox never got past them
            errors = None
        results = [_read(work / "out", k) for k in range(len(calls))]
    return errors, results


def _cell_error(out: Path, i: int) -> str | None:
    try:
        note = json.loads((out / f"cell{i}.json").read_text())
    except (OSError, ValueError):
        return None  # no note: it raised nothing (or the run never got there)
    error = note.get("error") if isinstance(note, dict) else None
    return error[:100] if isinstance(error, str) else None


def _read(out: Path, k: int):
    """What call k returned: a list of arrays, an exception name, or None when it said nothing."""
    try:
        note = json.loads((out / f"call{k}.json").read_text())
    except (OSError, ValueError):
        return None
    if not isinstance(note, dict):
        return None
    if isinstance(note.get("error"), str):
        return note["error"][:100]
    parts = note.get("parts")
    if not isinstance(parts, int) or not 0 < parts < 100:
        return None
    try:
        return [np.load(out / f"call{k}_{j}.npy", allow_pickle=False) for j in range(parts)]
    except (OSError, ValueError):
        return None


def reconcile(cells: dict[str, tuple[float, float]], verdict: dict):
    """Scores after verification, and the functions whose points verification took.

    An answer whose tests all got full marks in the kernel but whose verification refutes it
    was graded by tests that something in the kernel fooled: all its test cells get 0. An
    answer that nbgrader already marked down keeps nbgrader's points, and so does one that
    could not be verified; nothing is ever raised. (`verdict` holds `Verdict`s, or plain
    bools: False for refuted.)
    """
    out, disagree = dict(cells), []
    for name, v in verdict.items():
        refuted = v is False or getattr(v, "refuted", False)
        mine = [g for g in cells if g in (f"test_{name}", f"test_{name}_hidden")]
        full = bool(mine) and all(cells[g][0] >= cells[g][1] for g in mine)
        if full and refuted:
            disagree.append(name)
            for g in mine:
                out[g] = (0.0, cells[g][1])
    return out, disagree


def unverified(verdict: dict) -> dict[str, str]:
    """{function: why} for every function that could not be verified."""
    return {name: v.reason for name, v in verdict.items()
            if getattr(v, "status", None) == UNVERIFIED}
