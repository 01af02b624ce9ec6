"""The leak check that guards every release: what counts as giving an answer away."""

import copy

import pytest
from nbformat.v4 import new_output
from toycourse import make_toy_course, toy_notebook

from cnncourse.authoring import answer, code, markdown, notebook, written
from cnncourse.authoring import tests as graded_test
from cnncourse.release import find_leaks, secret_lines


def test_secret_lines_are_solution_and_hidden_lines_minus_harmless_ones():
    secret = secret_lines(toy_notebook())
    assert "return 2.0 * np.asarray(x, dtype=float)" in secret
    assert 'check_close("double(random)", double(x), x * 2, say=False)' in secret
    assert "import numpy as np" not in secret
    assert "from cnncourse.testing import check_close" not in secret


def test_an_honest_release_has_no_leak():
    source = toy_notebook()
    release = notebook([markdown("# Toy"), code("import numpy as np"),
                        code("def double(x):\n    # YOUR CODE HERE\n"
                             "    raise NotImplementedError()")])
    assert find_leaks(source, release, "r.ipynb") == []


def test_a_hidden_line_in_a_visible_test_is_found_with_cell_and_line():
    source = toy_notebook()
    release = notebook([markdown("# Toy"),
                        graded_test("t", 1, "# oops\nx = np.random.default_rng(0).normal(size=7)")])
    (leak,) = find_leaks(source, release, "r.ipynb")
    assert (leak.cell, leak.line) == (2, 2)
    assert str(leak).startswith("r.ipynb: cell 2, line 2 gives away: x = np.random")


def test_leftover_markers_are_leaks():
    release = notebook([code("### BEGIN SOLUTION\npass\n### END SOLUTION")])
    assert len(find_leaks(toy_notebook(), release, "r")) == 2


def test_module_boilerplate_is_not_a_secret_but_the_layers_are():
    source = notebook([
        answer("Net", "class Net(nn.Module):\n    def __init__(self):\n        ### BEGIN SOLUTION\n"
               "        super().__init__()\n        self.fc = nn.Linear(4, 2)\n\n"
               "    def forward(self, x):\n        return self.fc(x)\n        ### END SOLUTION"),
    ])
    secret = secret_lines(source)
    assert secret == {"self.fc = nn.Linear(4, 2)", "return self.fc(x)"}


PNG = "iVBORw0KGgoAAAANSUhEUgAAAAEAAAABCAYAAAAfFcSJAAAADUlEQVR42mNgAAIAAAUAAeIhvDMAAAAASUVORK5CYII="
OTHER_PNG = PNG.replace("AAAAASUVORK5CYII=", "AAAAASUVORK5CYIJ=")
SECRET = "return 2.0 * np.asarray(x, dtype=float)"  # a line of the toy's solution of `double`
STUB = "def double(x):\n    # YOUR CODE HERE\n    raise NotImplementedError()"


def _release_of_toy():
    """What nbgrader makes of the toy notebook: stubs for answers, no hidden tests."""
    release = copy.deepcopy(toy_notebook())
    release.cells[2].source = STUB
    release.cells[4].source = "# hidden tests for double: random arrays"
    release.cells[5].source = "def halve(x):\n    # YOUR CODE HERE\n    raise NotImplementedError()"
    assert find_leaks(toy_notebook(), release, "r.ipynb") == []
    return release


def test_release_refuses_a_picture_on_a_solution_cell_and_leaves_notebooks_alone(tmp_path, cli):
    """An instructor's answer sketch attached to a written-answer cell: nbgrader replaces the
    text with 'YOUR ANSWER HERE' but keeps the attachment, so the release must refuse."""
    sketch = written("sketch", 1, "The pooled map:\n\n![sketch](attachment:sketch.png)")
    sketch.attachments = {"sketch.png": {"image/png": PNG}}
    root = make_toy_course(tmp_path, nb=toy_notebook([sketch]))
    previous = root / "notebooks" / "00_toy" / "00_toy.ipynb"
    previous.parent.mkdir(parents=True)
    previous.write_text("the previous release\n")
    result = cli("release", cwd=root)
    assert result.returncode == 2, result.stdout + result.stderr
    assert "refusing to release 00_toy" in result.stderr
    assert ("notebooks/00_toy/00_toy.ipynb: cell 8, attachment sketch.png gives away"
            in result.stderr), result.stderr
    assert "Remove the attachment from the solution cell" in result.stderr
    assert "Traceback" not in result.stderr
    assert previous.read_text() == "the previous release\n"
    assert [p.name for p in previous.parent.iterdir()] == ["00_toy.ipynb"]


def test_an_attachment_on_a_code_solution_cell_is_a_leak():
    source, release = toy_notebook(), _release_of_toy()
    source.cells[2].attachments = {"sketch.png": {"image/png": PNG}}
    release.cells[2].attachments = {"sketch.png": {"image/png": PNG}}
    (leak,) = find_leaks(source, release, "r.ipynb")
    assert (leak.cell, leak.where) == (3, "attachment sketch.png")
    assert str(leak) == ("r.ipynb: cell 3, attachment sketch.png gives away a picture on "
                         "solution cell 3 of the source")


def test_an_attachment_on_a_solution_cell_counts_even_when_the_source_had_none():
    """Whatever nbgrader does with attachments, a picture on an answer cell is the answer's."""
    release = _release_of_toy()
    release.cells[2].attachments = {"new.png": {"image/png": [PNG[:40] + "\n", PNG[40:]]}}
    (leak,) = find_leaks(toy_notebook(), release, "r.ipynb")
    assert (leak.cell, leak.where) == (3, "attachment new.png")


def test_a_solution_picture_copied_into_another_cell_is_a_leak():
    """Same data under another name, or the same name, in a cell students may see."""
    source = toy_notebook([markdown("A picture for everyone")])
    source.cells[2].attachments = {"sketch.png": {"image/png": PNG}}
    source.cells[-2].attachments = {"grid.png": {"image/png": OTHER_PNG}}
    release = _release_of_toy()
    release.cells[0].attachments = {"copy.png": {"image/png": PNG}}
    release.cells[1].attachments = {"sketch.png": {"image/png": OTHER_PNG}}
    release.cells.insert(-1, copy.deepcopy(source.cells[-2]))  # not a solution: may be seen
    leaks = find_leaks(source, release, "r.ipynb")
    assert [(leak.cell, leak.where) for leak in leaks] == [
        (1, "attachment copy.png"), (2, "attachment sketch.png")]
    assert "under another name" in str(leaks[0])
    assert "named like one on solution cell 3" in str(leaks[1])


@pytest.mark.parametrize("output", [
    new_output("stream", name="stdout", text=f"the answer:\n    {SECRET}\n"),
    new_output("execute_result", execution_count=1, data={"text/plain": f"'{SECRET}'\n{SECRET}"}),
    new_output("display_data", data={"text/html": f"<pre>\n<code>{SECRET.replace('*', '&#42;')}"
                                                  "</code>\n</pre>"}),
    new_output("display_data", data={"text/markdown": f"```\n{SECRET}\n```"}),
    new_output("error", ename="ValueError", evalue=f"expected\n{SECRET}", traceback=[]),
    new_output("error", ename="NameError", evalue="name 'y' is not defined", traceback=[
        "\x1b[0;31mNameError\x1b[0m    Traceback (most recent call last)",
        "Cell \x1b[0;32mIn[2], line 3\x1b[0m\n\x1b[1;32m      2\x1b[0m y\n"
        f"\x1b[0;32m----> 3\x1b[0m     \x1b[38;5;28;01m{SECRET}\x1b[0m\n"]),
], ids=["stream", "text/plain", "text/html", "text/markdown", "evalue", "traceback"])
def test_a_secret_line_in_an_output_is_a_leak(output):
    release = _release_of_toy()
    release.cells[1].outputs = [new_output("stream", name="stdout", text="ok\n"), output]
    (leak,) = find_leaks(toy_notebook(), release, "r.ipynb")
    assert (leak.cell, leak.where) == (2, "output 2")
    assert str(leak).startswith("r.ipynb: cell 2, output 2, line ")
    assert SECRET in str(leak)


def test_a_traceback_quoting_the_notebooks_own_code_is_not_an_output_leak():
    """A graded notebook whose answer equals the solution: a visible test's traceback quotes
    it. The source check reports that line where it stands; the output adds nothing."""
    release = _release_of_toy()
    release.cells[2].source = f"def double(x):\n    {SECRET}"
    release.cells[3].outputs = [new_output("error", ename="E", evalue="", traceback=[
        f"\x1b[0;32m----> 2\x1b[0m     {SECRET}\n"])]
    assert [leak.where for leak in find_leaks(toy_notebook(), release, "r")] == ["source"]


def test_a_secret_line_in_cell_metadata_is_a_leak():
    release = _release_of_toy()
    release.cells[2].metadata["hint"] = SECRET
    release.cells[3].metadata["instructor"] = {"notes": [
        "fine", "x = np.random.default_rng(0).normal(size=7)"]}
    leaks = find_leaks(toy_notebook(), release, "r.ipynb")
    assert [(leak.cell, leak.where) for leak in leaks] == [
        (3, "metadata hint"), (4, "metadata instructor.notes[1]")]
    assert str(leaks[0]) == f"r.ipynb: cell 3, metadata hint, line 1 gives away: {SECRET}"


def test_a_secret_line_in_notebook_metadata_is_a_leak():
    release = _release_of_toy()
    release.metadata["hint"] = f"Pool with\n    {SECRET}"
    (leak,) = find_leaks(toy_notebook(), release, "r.ipynb")
    assert (leak.cell, leak.line, leak.where) == (0, 2, "metadata hint")
    assert str(leak) == f"r.ipynb: notebook, metadata hint, line 2 gives away: {SECRET}"
