"""Verification outside the student's interpreter: fair to right answers, deaf to tricks."""

from __future__ import annotations

import pytest
from autograde import reference_answers, source_notebook, with_answers
from harness import ROOT, assignments, cells_of, marker, pack, variants

from cnncourse.grading.sandbox import Sandbox
from cnncourse.grading.verify import (
    REFUTED,
    UNVERIFIED,
    load_probes,
    needed,
    program,
    reconcile,
    verify,
)
from cnncourse.notebooks import read_notebook

pytestmark = pytest.mark.slow
VERIFIED = [a for a in assignments() if load_probes(ROOT, a)]


def _release(a):
    return read_notebook(ROOT / "notebooks" / a / f"{a}.ipynb")


@pytest.fixture(scope="module")
def sandbox():
    server = Sandbox()
    yield server
    server.close()


def _params():
    return [pytest.param(a, marks=[getattr(pytest.mark, marker(a)), pytest.mark.xdist_group(a)],
                         id=a) for a in VERIFIED]


@pytest.mark.parametrize("assignment", _params())
def test_probes_cover_every_answer(assignment):
    answers = set(reference_answers(source_notebook(ROOT, assignment)))
    probed = {p.function for p in load_probes(ROOT, assignment)}
    assert probed <= answers, f"probes for functions that are no answer: {probed - answers}"
    assert probed, "no probe"


@pytest.mark.parametrize("assignment", _params())
def test_reference_and_every_alternative_pass_verification(assignment, sandbox):
    release, probes = _release(assignment), load_probes(ROOT, assignment)
    reference = reference_answers(source_notebook(ROOT, assignment))
    verdict = verify(with_answers(release, reference), release, probes)  # fresh interpreter
    assert all(verdict.values()), f"the reference fails verification: {verdict}"
    verdict = verify(with_answers(release, reference), release, probes, sandbox=sandbox)
    assert all(verdict.values()), f"the reference fails verification in the server: {verdict}"
    probed = {p.function for p in probes}
    alternatives = [v for v in variants(assignment, "ALTERNATIVES") if v.cell in probed]
    for group in pack(alternatives, cells_of(source_notebook(ROOT, assignment))):
        nb = with_answers(release, {**reference, **{v.cell: v.code for v in group}})
        verdict = verify(nb, release, probes, sandbox=sandbox)
        failed = [v.name for v in group if not verdict[v.cell]]
        assert not failed, f"right answers fail verification: {failed}"


CHEATS = {
    "patched-testing": '''
import numpy as np
import numpy.testing
np.allclose = lambda *a, **k: True
np.testing.assert_allclose = lambda *a, **k: None
import cnncourse.testing
cnncourse.testing.check_close = lambda *a, **k: None

def conv1d(x, h):
    return np.zeros(len(x) + len(h) - 1)
''',
    "always-equal": '''
import numpy as np

class Anything(np.ndarray):
    def __eq__(self, other):
        return True

class Liar:
    shape = None
    def __eq__(self, other):
        return True
    def __array__(self, dtype=None, copy=None):
        return np.full(3, 7.0)

def conv1d(x, h):
    return Liar()
''',
    "exits": '''
import os

def conv1d(x, h):
    os._exit(0)
''',
    "kills-the-server": '''
import os
import signal

os.kill(os.getppid(), signal.SIGKILL)

def conv1d(x, h):
    return x
''',
    "plain-wrong": '''
import numpy as np

def conv1d(x, h):
    return np.convolve(x, h)[:-1]
''',
}


@pytest.mark.parametrize("where", ["fresh", "server"])
@pytest.mark.parametrize("cheat", sorted(CHEATS))
def test_tricks_in_the_answer_cell_fail_verification(cheat, where, sandbox):
    a = "01_convolution"
    if a not in VERIFIED:
        pytest.skip("01_convolution has no probes")
    release, probes = _release(a), load_probes(ROOT, a)
    reference = reference_answers(source_notebook(ROOT, a))
    nb = with_answers(release, {**reference, "conv1d": CHEATS[cheat]})
    if cheat == "kills-the-server" and where == "fresh":
        pytest.skip("a fresh interpreter's parent is the grader itself (same user): not a test")
    server = sandbox if where == "server" else None
    verdict = verify(nb, release, probes, sandbox=server)
    assert not verdict["conv1d"], verdict["conv1d"]
    if cheat not in ("exits", "kills-the-server"):  # these end the process the cells run in
        assert verdict["conv1d"].refuted, verdict["conv1d"]
        assert all(ok for name, ok in verdict.items() if name != "conv1d"), verdict
    # and the next student, verified right after in the same server, is judged on their own
    verdict = verify(with_answers(release, reference), release, probes, sandbox=server)
    assert all(verdict.values()), f"a cheat changed the next student's verdict: {verdict}"


@pytest.mark.parametrize("where", ["fresh", "server"])
def test_a_loop_that_never_ends_fails_within_the_time_limit(where, sandbox):
    import time

    a = "01_convolution"
    release, probes = _release(a), load_probes(ROOT, a)
    reference = reference_answers(source_notebook(ROOT, a))
    nb = with_answers(release, {**reference, "conv1d": "import signal\n"
                                "signal.signal(signal.SIGALRM, signal.SIG_IGN)\nwhile True:\n"
                                "    pass"})
    server = sandbox if where == "server" else None
    start = time.monotonic()
    verdict = verify(nb, release, probes, timeout=8, sandbox=server)
    assert not any(verdict.values())
    assert time.monotonic() - start < 8 + 30, "the limit did not stop it"
    verdict = verify(with_answers(release, reference), release, probes, sandbox=server)
    assert all(verdict.values()), f"a stopped loop changed the next verdict: {verdict}"


def test_reconcile_only_lowers_full_marks_that_verification_refutes():
    cells = {"test_f": (1.0, 1.0), "test_f_hidden": (3.0, 3.0),
             "test_g": (1.0, 1.0), "test_g_hidden": (0.0, 2.0),
             "test_h": (1.0, 1.0), "test_h_hidden": (2.0, 2.0)}
    out, disagree = reconcile(cells, {"f": False, "g": False, "h": True})
    assert disagree == ["f"]
    assert out["test_f_hidden"] == (0.0, 3.0) and out["test_f"] == (0.0, 1.0)
    assert out["test_g"] == (1.0, 1.0) and out["test_g_hidden"] == (0.0, 2.0)  # as nbgrader said
    assert out["test_h_hidden"] == (2.0, 2.0)


@pytest.mark.parametrize("assignment", _params())
def test_verification_refutes_most_catalogued_mistakes(assignment, sandbox):
    """Sharp, not only fair: most mistakes in a verified function fail verification too (some
    only break what the probes do not call, such as a message or a printed table)."""
    release, probes = _release(assignment), load_probes(ROOT, assignment)
    reference = reference_answers(source_notebook(ROOT, assignment))
    probed = {p.function for p in probes}
    mistakes = [v for v in variants(assignment, "MISTAKES") if v.cell in probed]
    refuted = []
    for group in pack(mistakes, cells_of(source_notebook(ROOT, assignment))):
        nb = with_answers(release, {**reference, **{v.cell: v.code for v in group}})
        verdict = verify(nb, release, probes, sandbox=sandbox)
        refuted += [v.name for v in group if not verdict[v.cell]]
    assert mistakes, "no catalogued mistake in a verified function"
    assert len(refuted) >= 0.6 * len(mistakes), (
        f"verification refutes only {len(refuted)} of {len(mistakes)} mistakes: "
        f"{sorted({v.name for v in mistakes} - set(refuted))} pass it")


# ------------------------------------------- the program the kernel ran, not a rebuilt one

def _pooling():
    a = "04_pooling"
    return _release(a), load_probes(ROOT, a), reference_answers(source_notebook(ROOT, a))


def _add_before(nb, grade_id, source, outputs=None):
    import nbformat

    at = next(i for i, c in enumerate(nb.cells)
              if c.metadata.get("nbgrader", {}).get("grade_id") == grade_id)
    cell = nbformat.v4.new_code_cell(source)
    if outputs:
        cell.outputs = outputs
    nb.cells.insert(at, cell)
    return nb


HELPER = ("def windows_of(x, k, s):\n"
          "    w = np.lib.stride_tricks.sliding_window_view(x, k, axis=(2, 3))\n"
          "    return w[:, :, ::s[0], ::s[1]]")
USES_HELPER = ("windows = np.lib.stride_tricks.sliding_window_view(xp, (kh, kw), axis=(2, 3))\n"
               "    windows = windows[:, :, ::sh, ::sw]",
               "windows = windows_of(xp, (kh, kw), (sh, sw))")


@pytest.mark.parametrize("where", ["fresh", "server"])
@pytest.mark.parametrize("shape", ["helper-cell", "magics", "edited-setup", "demo-global"])
def test_work_beyond_the_answer_cells_passes_verification(shape, where, sandbox):
    """Cells students add, magics, edits to the release's own cells, and a name an answer
    reads from a demo cell: verification runs them as the kernel did."""
    release, probes, ref = _pooling()
    uses = {**ref, "max_pool2d": ref["max_pool2d"].replace(*USES_HELPER)}
    assert uses["max_pool2d"] != ref["max_pool2d"]
    if shape == "helper-cell":
        nb = _add_before(with_answers(release, uses), "max_pool2d", HELPER)
    elif shape == "magics":
        nb = _add_before(with_answers(release, uses), "max_pool2d",
                         "%matplotlib inline\n!echo hello\nfound = !ls\n" + HELPER)
        nb = _add_before(nb, "max_pool2d", "%%time\ntotal = sum(range(10))")
    elif shape == "edited-setup":
        nb = with_answers(release, uses)
        first = next(c for c in nb.cells if c.cell_type == "code")
        first.source += "\n" + HELPER
    else:  # the release's `example` demo cell binds a name; the student's answer reads it
        scaled = ref["global_avg_pool2d"].replace(
            "return x.mean(", "return (example.size == 16) * x.mean(")
        assert scaled != ref["global_avg_pool2d"]
        nb = with_answers(release, {**ref, "global_avg_pool2d": scaled})
    verdict = verify(nb, release, probes, sandbox=sandbox if where == "server" else None)
    assert all(verdict.values()), verdict


def test_code_the_sandbox_cannot_rerun_is_not_refuted(sandbox):
    """A cell that runs only in a kernel: could not verify (a flag, no points), never refuted."""
    release, probes, ref = _pooling()
    uses = {**ref, "max_pool2d": ref["max_pool2d"].replace(*USES_HELPER)}
    nb = _add_before(with_answers(release, uses), "max_pool2d",
                     "kernel = get_ipython().kernel\n" + HELPER)
    verdict = verify(nb, release, probes, sandbox=sandbox)
    assert verdict["max_pool2d"].status == UNVERIFIED, verdict
    assert "max_pool2d" in verdict["max_pool2d"].reason
    assert all(v for k, v in verdict.items() if k != "max_pool2d"), verdict
    out, disagree = reconcile({"test_max_pool2d": (1.0, 1.0), "test_max_pool2d_hidden": (3.0, 3.0)},
                              verdict)
    assert not disagree and out["test_max_pool2d_hidden"] == (3.0, 3.0)


def test_a_cell_that_failed_in_the_kernel_too_does_not_shield_a_cheat(sandbox):
    """Only a cell that raises here but not in the kernel makes a run 'not as the kernel ran
    it': the same failure in both is the student's program, and its results are judged."""
    release, probes, ref = _pooling()
    wrong = ref["global_avg_pool2d"].replace("return x.mean(", "return 2 * x.mean(")
    nb = _add_before(with_answers(release, {**ref, "global_avg_pool2d": wrong}),
                     "global_avg_pool2d", "1 / 0", outputs=[{
                         "output_type": "error", "ename": "ZeroDivisionError",
                         "evalue": "division by zero", "traceback": []}])
    verdict = verify(nb, release, probes, sandbox=sandbox)
    assert verdict["global_avg_pool2d"].status == REFUTED, verdict


def test_the_first_run_takes_only_the_cells_the_answers_can_need():
    release, _, ref = _pooling()
    nb = _add_before(with_answers(release, ref), "max_pool2d", "helper_constant = 3")
    steps = program(nb)
    chosen = needed(steps, nb, release)
    shipped = {c.source for c in release.cells if c.cell_type == "code"}
    demos = [s for s in steps if s.code in shipped and s not in chosen]
    assert demos, "every demo cell of the release runs: verification pays for the experiments"
    assert any(s.code == "helper_constant = 3" for s in chosen)
    assert chosen[0] == steps[0]
    assert all(not c.metadata.get("nbgrader", {}).get("grade") or
               c.metadata["nbgrader"].get("solution") for c in
               (nb.cells[s.index] for s in steps)), "a test cell is part of the program"


def test_a_demo_that_binds_a_parameter_name_is_not_needed():
    """An answer reads the globals its functions do not bind themselves: a demo cell that binds
    `x` (a parameter of every answer) or `out` (a local) is not run again, one that binds a
    global an answer reads is (issue 17: verification had rerun almost every demo of every
    notebook, 0.5 to 5 s a notebook)."""
    from cnncourse.grading.verify import _names

    binds, reads = _names("import numpy as np\nSCALE = 2\n\ndef f(x, w=1):\n    out = x * w\n"
                          "    return np.sum(out) * SCALE + helper(x)\n\nclass M:\n"
                          "    def g(self, y):\n        return F.relu(y)\n%time f(1)\n")
    assert binds == {"np", "SCALE", "f", "M"}
    assert reads == {"np", "SCALE", "helper", "F", "get_ipython"}  # %time's code is a string
    release, _, ref = _pooling()
    nb = _add_before(with_answers(release, ref), "max_pool2d", "x = out = 1\nhelper = 3")
    chosen = [s.code for s in needed(program(nb), nb, release)]
    assert "x = out = 1\nhelper = 3" in chosen  # the student's own cell: always
    nb = _add_before(with_answers(release, ref), "max_pool2d", "x = out = 1")
    release = _add_before(release, "max_pool2d", "x = out = 1")  # now a cell of the release
    assert "x = out = 1" not in [s.code for s in needed(program(nb), nb, release)]
