"""Feedback pages render as nbconvert's HTMLExporter renders them, in a fifth of the time.

`cnncourse.grading.feedback` skips bleach where the markup is only pygments' highlighting of
code, and does the BeautifulSoup pass's two touches (alt text, tab stops) on the string. Here a
notebook with everything a student can put in one (raw HTML and scripts in markdown and
outputs, images without alt text, errors) renders to the same document both ways, and what is
not highlighted code is still sanitized. And a notebook whose metadata nbconvert rejects (a
widget state without `state`, tags that are not a list) still gets its page:
`feedback.renderable` renders a copy without it.
"""

from __future__ import annotations

import base64
import copy

import pytest
from autograde import reference_answers, with_answers
from bs4 import BeautifulSoup
from nbconvert import HTMLExporter
from nbformat.v4 import new_code_cell, new_markdown_cell, new_notebook, new_output
from toycourse import toy_notebook

from cnncourse.grading import feedback

PNG = base64.b64encode(bytes.fromhex(
    "89504e470d0a1a0a0000000d4948445200000001000000010806000000"
    "1f15c4890000000d49444154789c6360000002000100e221bc330000000049454e44ae426082")).decode()


def _notebook():
    return new_notebook(cells=[
        new_markdown_cell("# Answers\n<img src=x onerror=alert(1)> <b>bold</b> $x^2$ `code`"),
        new_code_cell("def conv1d(x, h):\n    return '<script>' + \"&amp;\"  # <b>", outputs=[
            new_output("stream", name="stdout", text="<script>alert('out')</script>\n"),
            new_output("display_data", data={"image/png": PNG, "text/plain": "<Figure>"}),
            new_output("display_data", data={"text/html": "<div onclick='x()'>hi</div>"
                                                          "<script>alert(2)</script>"}),
        ]),
        new_code_cell("1 / 0", outputs=[new_output(
            "error", ename="ZeroDivisionError", evalue="division by zero",
            traceback=["\x1b[0;31mZeroDivisionError\x1b[0m: division by zero"])]),
        new_code_cell("x = [i for i in range(3) if i < 2 and i > -1]", outputs=[
            new_output("stream", name="stderr", text="a warning\n")]),
    ])


def _tree(page: str) -> list:
    """Every element (name, attributes in order-free form) and every string, in document order."""
    out = []
    for node in BeautifulSoup(page, "html.parser").descendants:
        if getattr(node, "name", None):
            attrs = {k: " ".join(v) if isinstance(v, list) else v for k, v in node.attrs.items()}
            out.append((node.name, sorted(attrs.items())))
        else:
            out.append(str(node))
    return out


def test_a_feedback_page_is_the_document_nbconvert_would_render():
    nb = _notebook()
    ours, _ = feedback._exporter().from_notebook_node(nb)
    theirs, _ = HTMLExporter(template_name="lab").from_notebook_node(nb)
    assert _tree(ours) == _tree(theirs)
    assert 'alt="No description has been provided for this image"' in ours
    assert ours.count('tabindex="0"') == theirs.count('tabindex="0"') > 0


def test_only_pygments_markup_skips_the_sanitizer():
    from nbconvert.filters.strings import clean_html

    highlighted = ('<div class="highlight hl-ipython3"><pre><span></span>'
                   '<span class="k">def</span> <span class="nf">f</span><span class="p">():</span>'
                   ' &lt;script&gt;</pre></div>')
    assert feedback._clean_html(highlighted) == highlighted == clean_html(highlighted)
    for hostile in ('<span class="k" onclick="x()">def</span>', "<script>alert(1)</script>",
                    '<span class="k">a</span><img src=x onerror=alert(1)>',
                    '<span class="a" style="background:url(x)">a</span>'):
        cleaned = feedback._clean_html(hostile)
        assert cleaned == clean_html(hostile)
        assert "onclick=" not in cleaned and "<script" not in cleaned and "<img" not in cleaned


WIDGETS = "application/vnd.jupyter.widget-state+json"
CELLS = {"test_double": (1, 1), "test_double_hidden": (2, 2), "test_halve": (1, 1)}


def _graded_toy():
    """The toy notebook, its release, and a correct graded notebook with an output."""
    source = toy_notebook()
    release = copy.deepcopy(source)
    for i, name in ((2, "double"), (5, "halve")):
        release.cells[i].source = (f"def {name}(x):\n    # YOUR CODE HERE\n"
                                   "    raise NotImplementedError()")
    release.cells[4].source = "# hidden tests for double: random arrays"
    graded = with_answers(release, reference_answers(source))
    graded.cells[4].source = source.cells[4].source  # autograde puts the hidden tests back
    graded.cells[3].outputs = [new_output("execute_result", execution_count=4,
                                          data={"text/plain": "1.0"})]
    return graded, source, release


def _set(path, value):
    def put(nb):
        *keys, last = path
        node = nb
        for key in keys:
            node = node[key]
        node[last] = value
    return put


@pytest.mark.parametrize("odd", [
    _set(("metadata", "widgets"), {WIDGETS: {}}),
    _set(("metadata", "widgets"), {WIDGETS: {"state": None}}),
    _set(("metadata", "widgets"), {WIDGETS: {"state": []}}),
    _set(("metadata", "widgets"), "none"),
    _set(("cells", 2, "metadata", "jupyter"), {"source_hidden": "yes"}),
    _set(("cells", 2, "metadata", "collapsed"), "no"),
    _set(("cells", 3, "metadata", "tags"), "not a list"),
    _set(("cells", 3, "metadata", "tags"), ["a,b", 1, None]),
    _set(("metadata", "language"), 3),
    _set(("metadata", "title"), {"odd": [None, 1.5, {"deep": [True]}]}),
    _set(("metadata", "language_info"), "python"),
    _set(("metadata", "kernelspec"), {"name": None}),
], ids=["widgets without state", "widgets state None", "widgets state list", "widgets string",
        "source_hidden yes", "collapsed no", "tags string", "tags with a comma and not strings",
        "language a number", "title odd values", "language_info a string", "kernelspec no name"])
def test_metadata_nbconvert_rejects_still_gets_a_page(odd):
    """Metadata JupyterLab or an extension left ill-shaped: the page is written all the same,
    with the student's code and the score table."""
    graded, source, release = _graded_toy()
    odd(graded)
    page = feedback.feedback_html(graded, source, release, "00_toy", CELLS)
    text = BeautifulSoup(page, "html.parser").get_text()
    assert "return 2.0 * np.asarray(x, dtype=float)" in text
    assert "Score: 4 / 4" in text and "test_double_hidden" in text


def test_renderable_keeps_only_the_metadata_the_page_reads():
    graded, _, _ = _graded_toy()
    graded.metadata.update(widgets={WIDGETS: {}}, language=3, extension={"x": [None]})
    graded.cells[2].metadata.update(jupyter={"source_hidden": True}, collapsed=False)
    graded.cells[3].metadata["tags"] = ["visible-test"]
    before = copy.deepcopy(graded)
    nb = feedback.renderable(graded)
    assert graded == before, "the graded notebook itself is not changed"
    assert set(nb.metadata) == {"kernelspec", "language_info"}
    assert nb.metadata.kernelspec == graded.metadata.kernelspec
    assert set(nb.cells[2].metadata) == {"nbgrader"}
    assert nb.cells[3].metadata == {"nbgrader": graded.cells[3].metadata.nbgrader,
                                    "tags": ["visible-test"]}
    assert [c.source for c in nb.cells] == [c.source for c in graded.cells]
    assert [c.get("outputs") for c in nb.cells] == [c.get("outputs") for c in graded.cells]


def test_a_print_the_kernel_cut_into_two_stream_outputs_reads_as_one_line():
    """A kernel sends stdout as it flushes, so on a busy machine `print("REACHED:", x)` can
    arrive as two stream outputs (CI saw it). The page shows them as JupyterLab does: one
    block, the line whole; a stream of another name stays apart."""
    graded, source, release = _graded_toy()
    graded.cells[2].outputs = [new_output("stream", name="stdout", text="REACHED:"),
                               new_output("stream", name="stdout", text=" []\nnext line\n"),
                               new_output("stream", name="stderr", text="a warning\n")]
    page = feedback.feedback_html(graded, source, release, "00_toy", CELLS)
    blocks = [pre.get_text() for pre in BeautifulSoup(page, "html.parser").find_all("pre")
              if "REACHED" in pre.get_text() or "a warning" in pre.get_text()]
    assert blocks == ["REACHED: []\nnext line\n", "a warning\n"]
    assert len(graded.cells[2].outputs) == 3, "the graded notebook itself is not changed"


def test_a_written_answer_gets_its_rubric_on_the_feedback_page_and_never_in_the_release():
    """A hand-graded written answer (04's): the student's page shows their own text, then the
    rubric of the instructor notebook (its items and points), and the score table names the
    written answers as graded by hand. The model answer above the rubric is not shown, and the
    release holds neither."""
    from pathlib import Path

    from cnncourse.notebooks import graded_cells, read_notebook, rubric

    root = Path(__file__).resolve().parents[1]
    source = read_notebook(root / "solutions/04_pooling/04_pooling.ipynb")
    release = read_notebook(root / "notebooks/04_pooling/04_pooling.ipynb")
    written = [c for c in graded_cells(source) if c.kind == "manual"]
    assert written, "04 has a written answer"
    graded = copy.deepcopy(release)
    mine = "My own words: the max stays in the window after a 1-pixel shift."
    for cell in graded_cells(graded):
        if cell.kind == "manual":
            graded.cells[cell.index].source = mine
    page = feedback.feedback_html(graded, source, release, "04_pooling", CELLS)
    text = BeautifulSoup(page, "html.parser").get_text()
    assert mine in text
    released = "\n".join(c.source for c in release.cells)
    for cell in written:
        found = rubric(cell.source)
        model = cell.source[:cell.source.index("**Rubric**")].strip()
        assert f"How {cell.grade_id} is graded by hand" in text
        assert f"{cell.grade_id} ({cell.points:g} points)" in text
        for _, what in found.items:
            assert what in text, what
            assert what not in released, f"the release gives the rubric away: {what}"
        assert model.splitlines()[0] not in text, "the model answer is not on the page"
        assert model.splitlines()[0] not in released


def test_rubric_reads_the_instructor_form_and_refuses_other_items():
    from cnncourse.notebooks import rubric

    found = rubric("Model answer.\n\n**Rubric** (3 points)\n- 1 point: a reason.\n"
                   "- 2 points: the measurement explained.\n")
    assert found.points == 3 and found.items == ((1.0, "a reason."),
                                                 (2.0, "the measurement explained."))
    assert found.text.startswith("**Rubric** (3 points)")
    assert rubric("Model answer without one.") is None
    with pytest.raises(ValueError, match="N point"):
        rubric("**Rubric** (2 points)\n- one point for trying\n")
    with pytest.raises(ValueError, match="no items"):
        rubric("**Rubric** (2 points)\n")
