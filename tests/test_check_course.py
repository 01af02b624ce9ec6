"""`cnncourse check` on the course's own notebooks, as a student runs it."""

from __future__ import annotations

import pytest
from autograde import reference_answers, source_notebook, with_answers, written_answers
from harness import ROOT, assignments, marker

from cnncourse.notebooks import read_notebook, write_notebook

pytestmark = pytest.mark.slow


def _params():
    return [pytest.param(a, marks=[getattr(pytest.mark, marker(a)), pytest.mark.xdist_group(a)],
                         id=a) for a in assignments()]


@pytest.mark.parametrize("assignment", _params())
def test_unanswered_notebook_gets_a_friendly_table(assignment, cli):
    """The release as a student first opens it: exit 1, a row per question, no traceback."""
    result = cli("check", f"notebooks/{assignment}/{assignment}.ipynb", "--no-progress")
    assert result.returncode == 1, result.stdout + result.stderr
    assert "not answered yet" in result.stdout
    assert "Traceback" not in result.stdout + result.stderr
    assert "visible tests: 0 /" in result.stdout
    assert "not written" in result.stdout and "write your answer in its cell" in result.stdout, \
        "every notebook has a written answer, still blank in the release"


def test_answered_notebook_passes(tmp_path, cli):
    """Notebook 01 with the reference answers typed in by a student, its written answer too:
    every visible test passes, and the written answer waits for a person."""
    a = "01_convolution"
    release = read_notebook(ROOT / "notebooks" / a / f"{a}.ipynb")
    source = source_notebook(ROOT, a)
    answered = with_answers(release, {**reference_answers(source), **written_answers(source)})
    path = tmp_path / a / f"{a}.ipynb"
    path.parent.mkdir()
    write_notebook(answered, path)
    result = cli("check", path, "--no-progress")
    assert result.returncode == 0, result.stdout + result.stderr
    assert "FAILED" not in result.stdout and "not answered" not in result.stdout
    assert "passed" in result.stdout and "not written" not in result.stdout
    assert "graded by hand (rubric in feedback)" in result.stdout
