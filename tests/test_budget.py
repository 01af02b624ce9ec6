"""A grader's run does less demonstration work (`cnncourse.budget`), and no graded cell can tell.

For every assignment, the instructor notebook (answers and hidden tests) and the unanswered
release run twice in real kernels: as a student runs them, and with the grading signal
``CNNCOURSE_GRADING=1`` as `cnncourse grade` runs them. Before each graded cell (answer cells
and test cells), `budget_probe` takes a digest of every value the cell can read: the globals
it names, those the notebook's functions and classes it names read in turn, and the global
random-number generators. The digests must be equal in both runs, cell by cell, name by name.
That the grades stay the same on the fairness catalogue is tested in test_fairness.py
(`test_small_demos_change_no_grade`).
"""

from __future__ import annotations

import json
import os
from pathlib import Path

import nbformat
import pytest
from autograde import source_notebook
from harness import ROOT, assignments, marker

from cnncourse.budget import GRADING, being_graded, demo_budget, was_cut
from cnncourse.notebooks import read_notebook

TESTS = Path(__file__).resolve().parent


def _params():
    return [pytest.param(a, id=a, marks=[getattr(pytest.mark, marker(a)), pytest.mark.slow,
                                         pytest.mark.xdist_group(f"budget-{a}")])
            for a in assignments()]


def graded_sources(nb) -> dict[str, str]:
    """Source -> grade_id of every code cell nbgrader grades or that holds an answer."""
    out = {}
    for cell in nb.cells:
        meta = cell.metadata.get("nbgrader", {})
        if cell.cell_type == "code" and (meta.get("grade") or meta.get("solution")):
            out[cell.source] = meta["grade_id"]
    return out


def probe_run(nb, grading: bool, cwd: Path) -> tuple[dict, nbformat.NotebookNode]:
    """Run `nb` in a fresh kernel with or without the grading signal; (digests before each
    graded cell, the executed notebook)."""
    from nbclient import NotebookClient

    nb = nbformat.reads(nbformat.writes(nb), as_version=4)
    watch = (f"__import__('sys').path.insert(0, {str(TESTS)!r}); "
             f"__import__('budget_probe').watch({graded_sources(nb)!r}); "
             "__import__('sys').path.pop(0); "
             # the global generators start alike in both runs (each process seeds them at random)
             "__import__('random').seed(0); __import__('numpy').random.seed(0); "
             "__import__('torch').manual_seed(0)")
    nb.cells.insert(0, nbformat.v4.new_code_cell(watch))
    nb.cells.append(nbformat.v4.new_code_cell("print(__import__('budget_probe').digests())"))
    env = {k: v for k, v in os.environ.items() if k != GRADING}
    env.update(OMP_NUM_THREADS="1", MKL_NUM_THREADS="1", PYTHONWARNINGS="ignore")
    if grading:
        env[GRADING] = "1"
    client = NotebookClient(nb, timeout=600, kernel_name="python3", allow_errors=True,
                            resources={"metadata": {"path": str(cwd)}})
    client.execute(env=env)
    last = nb.cells[-1].outputs
    text = "".join(o.get("text", "") for o in last if o.get("output_type") == "stream")
    assert text.strip(), f"the probe gave nothing: {last}"
    return json.loads(text), nb


def differences(full: dict, small: dict) -> list[str]:
    """Every (graded cell, input) whose digest differs between the two runs."""
    out = []
    for gid in sorted(set(full) | set(small)):
        a, b = full.get(gid), small.get(gid)
        if a is None or b is None:
            out.append(f"{gid}: ran in only one of the runs")
            continue
        out += [f"{gid}: {name} differs" for name in sorted(set(a) | set(b))
                if a.get(name) != b.get(name)]
    return out


def _printed(nb) -> str:
    return "".join(o.get("text", "") for c in nb.cells if c.cell_type == "code"
                   for o in c.get("outputs", []) if o.get("output_type") == "stream")


@pytest.mark.parametrize("assignment", _params())
def test_graded_cells_see_the_same_inputs(assignment, tmp_path):
    """The reference and the blank release: every graded cell's inputs are the same with and
    without the grading signal, while the demonstrations do run smaller."""
    notebooks = {
        "reference": source_notebook(ROOT, assignment),
        "blank": read_notebook(ROOT / "notebooks" / assignment / f"{assignment}.ipynb"),
    }
    budgeted = "demo_budget(" in "".join(c.source for c in notebooks["reference"].cells)
    found = []
    for name, nb in notebooks.items():
        full, ran_full = probe_run(nb, False, tmp_path)
        small, ran_small = probe_run(nb, True, tmp_path)
        expected = set(graded_sources(nb).values())
        assert full and set(full) == expected, (
            f"{name}: the probe missed graded cells: {expected - set(full)}")
        found += [f"{name}: {d}" for d in differences(full, small)]
        assert "[graded run:" not in _printed(ran_full), "a student's own run was cut"
        if budgeted and name == "reference":
            assert "[graded run:" in _printed(ran_small), (
                "the grading signal did not reach the notebook: nothing ran smaller")
    assert not found, "graded cells see other values under the grading signal:\n" + \
        "\n".join(found[:30])


def test_the_probe_sees_a_demo_that_feeds_a_graded_cell(tmp_path):
    """The check can fail: a graded cell that reads a demo's budget, or draws from torch's
    generator after a demo that drew a budgeted number of times, is caught."""
    def cell(src, gid=None):
        c = nbformat.v4.new_code_cell(src)
        if gid:
            c.metadata["nbgrader"] = {"grade": True, "grade_id": gid, "points": 1,
                                      "solution": False, "locked": True}
        return c

    nb = nbformat.v4.new_notebook(cells=[
        cell("import torch\nfrom cnncourse.budget import demo_budget\ntorch.manual_seed(0)"),
        cell("runs = demo_budget(10, graded=2)\nsamples = torch.rand(runs)"),
        cell("assert len(samples) > 0", "reads_the_demo"),
        cell("x = torch.rand(3)", "draws_after_the_demo"),
        cell("torch.manual_seed(1)\ny = 1", "unaffected"),
    ])
    full, _ = probe_run(nb, False, tmp_path)
    small, _ = probe_run(nb, True, tmp_path)
    found = differences(full, small)
    assert "reads_the_demo: samples differs" in found
    assert "draws_after_the_demo: <torch random state> differs" in found
    assert not [d for d in found if d.startswith("unaffected") and "random" not in d]


def test_demo_budget(monkeypatch, capsys):
    monkeypatch.delenv(GRADING, raising=False)
    assert not being_graded()
    assert demo_budget(30, graded=2, what="epochs") == 30
    assert capsys.readouterr().out == ""
    for off in ("", "0"):
        monkeypatch.setenv(GRADING, off)
        assert not being_graded() and demo_budget(30, 2) == 30
    monkeypatch.setenv(GRADING, "1")
    assert being_graded()
    assert demo_budget(30, graded=2, what="epochs") == 2
    assert "[graded run: 2 of 30 epochs" in capsys.readouterr().out
    assert was_cut()
    assert demo_budget(3, graded=5) == 3  # never more than a student's run
    with pytest.raises(ValueError, match="must be >= 0"):
        demo_budget(-1)


def test_helpers_run_smaller_when_graded(monkeypatch):
    """train_curves trains 2 epochs, best_time times one run, invariance_curve uses 20 images;
    the claim boxes say they were measured in a grader's run."""
    import numpy as np

    from cnncourse import budget
    from cnncourse.claims import claim_box
    from cnncourse.invariance import invariance_curve
    from cnncourse.overfitting import make_mlp, mnist_subset, train_curves
    from cnncourse.timing import best_time

    monkeypatch.setattr(budget, "_cut", False)
    monkeypatch.delenv(GRADING, raising=False)
    assert "grader" not in str(claim_box("c", "padding", "填充", "m", "holds"))
    calls = []
    best_time(lambda: calls.append(1), repeat=3)
    assert len(calls) == 3
    monkeypatch.setenv(GRADING, "1")
    calls.clear()
    best_time(lambda: calls.append(1), repeat=3)
    assert len(calls) == 1
    seen = []
    invariance_curve(np.zeros((50, 1, 8, 8)), lambda im: seen.append(len(im)) or im, shifts=[0])
    assert set(seen) == {20}
    train, held = mnist_subset(n_train=50, seed=0)
    history = train_curves(make_mlp(hidden=(8,)), train, held, epochs=5, batch_size=25)
    assert len(history["train accuracy"]) == 2
    box = claim_box("c", "padding", "填充", "m", "holds")
    assert "grader's run" in str(box) and "grader's run" in box._repr_markdown_()


DEMO = ('from cnncourse.budget import demo_budget\n'
        'print("EPOCHS", demo_budget(30, graded=2, what="epochs"))')


@pytest.mark.parametrize("full", [False, True], ids=["grade", "grade --full-demos"])
def test_cnncourse_grade_sends_the_signal(tmp_path, cli, full):
    """`cnncourse grade` runs the kernels with the grading signal, so a demonstration runs its
    small budget and says so on the feedback page; `--full-demos` runs it in full. The grade is
    the same either way."""
    from autograde import reference_answers, with_answers
    from toycourse import make_toy_course, toy_notebook

    from cnncourse.authoring import code

    root = make_toy_course(tmp_path / "course", nb=toy_notebook([code(DEMO)]))
    assert cli("release", cwd=root).returncode == 0
    release = read_notebook(root / "notebooks" / "00_toy" / "00_toy.ipynb")
    folder = root / "submitted" / "ann" / "00_toy"
    folder.mkdir(parents=True)
    answers = reference_answers(read_notebook(root / "solutions" / "00_toy" / "00_toy.ipynb"))
    nbformat.write(with_answers(release, answers), folder / "00_toy.ipynb")
    result = cli("grade", "00_toy", "--no-progress", *(["--full-demos"] if full else []),
                 cwd=root)
    assert result.returncode == 0, result.stdout + result.stderr
    page = (root / "grades" / "feedback" / "ann" / "00_toy.html").read_text()
    assert ("EPOCHS 30" if full else "EPOCHS 2") in page
    assert ("[graded run: 2 of 30 epochs" in page) != full
    grades = (root / "grades" / "grades.csv").read_text().splitlines()
    assert grades[1].split(",")[2:5] == ["graded", "4", "4"], grades


def test_cnncourse_check_runs_as_a_grader_does(tmp_path):
    """`cnncourse check` runs the notebook with the grading signal too."""
    from toycourse import toy_notebook

    from cnncourse.authoring import code
    from cnncourse.check import execute
    from cnncourse.notebooks import write_notebook

    path = tmp_path / "toy.ipynb"
    write_notebook(toy_notebook([code(DEMO)]), path)
    nb, died = execute(path, progress=False)
    assert died is None
    printed = _printed(nb)
    assert "EPOCHS 2" in printed and "[graded run: 2 of 30 epochs" in printed


def test_the_worker_passes_the_signal_to_kernels_and_verification(monkeypatch):
    """The grading worker's environment carries the signal to the kernels (they inherit it)
    and to the verification sandbox, which runs a program again whole as the kernel ran it."""
    from cnncourse.grading.env import ask_for_small_demos, passed_to_sandbox

    monkeypatch.delenv(GRADING, raising=False)
    ask_for_small_demos(True)
    assert os.environ[GRADING] == "1" and passed_to_sandbox()[GRADING] == "1"
    ask_for_small_demos(False)
    assert GRADING not in os.environ and GRADING not in passed_to_sandbox()
