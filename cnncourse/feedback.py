"""Per-student feedback that shows what was graded without giving the hidden tests away.

nbgrader's feedback HTML prints the full source of hidden tests (upstream #1363, #917). Here a
graded notebook is turned into HTML after every hidden-test cell is put back to what the
student saw in the release (its one-line description), and its error output is cut to the
verdict: which test failed, not the line of hidden code that caught it.
"""

from __future__ import annotations

import copy
import html
import re

import nbformat
from nbformat.v4 import new_markdown_cell

from cnncourse.notebooks import graded_cells, nbgrader_meta
from cnncourse.release import find_leaks

BEGIN_HIDDEN = "### BEGIN HIDDEN TESTS"


def hidden_ids(source: nbformat.NotebookNode) -> set[str]:
    """grade_ids of the test cells that hold hidden tests in the instructor notebook."""
    return {c.grade_id for c in graded_cells(source) if c.kind == "test"
            and BEGIN_HIDDEN in c.source}


def redact(graded: nbformat.NotebookNode, source: nbformat.NotebookNode,
           release: nbformat.NotebookNode) -> nbformat.NotebookNode:
    """The graded notebook with hidden-test source and tracebacks replaced by plain verdicts."""
    hidden = hidden_ids(source)
    shown = {nbgrader_meta(c).get("grade_id"): c.source for c in release.cells}
    out = copy.deepcopy(graded)
    for cell in out.cells:
        gid = nbgrader_meta(cell).get("grade_id")
        if gid not in hidden:
            continue
        cell.source = shown.get(gid, "# hidden tests")
        failed = any(o.get("output_type") == "error" for o in cell.get("outputs", []))
        text = ("hidden tests: failed. Check your answer on other shapes, strides, paddings "
                "and negative values." if failed else "hidden tests: passed.")
        cell.outputs = [nbformat.v4.new_output("stream", name="stdout", text=text + "\n")]
    leaks = find_leaks(source, out, "feedback")
    if leaks:  # a student's own cell may repeat a hidden line by chance: keep theirs, say so
        leaks = [leak for leak in leaks if _in_test_cell(out, leak.cell)]
    if leaks:
        raise RuntimeError(f"feedback would show hidden tests: {leaks[0]}")
    return out


def _in_test_cell(nb, number: int) -> bool:
    cell = nb.cells[number - 1]
    meta = nbgrader_meta(cell)
    return bool(meta.get("grade")) and not meta.get("solution")


def feedback_html(graded: nbformat.NotebookNode, source: nbformat.NotebookNode,
                  release: nbformat.NotebookNode, title: str,
                  cells: dict[str, tuple[float, float]]) -> str:
    """A standalone HTML page: a score table, then the redacted graded notebook."""
    nb = redact(graded, source, release)
    total = sum(s for s, _ in cells.values())
    most = sum(m for _, m in cells.values())
    lines = [f"# {html.escape(title)}", "", f"**Score: {total:g} / {most:g}** (autograded tests)",
             "", "| test | points |", "|---|---|"]
    lines += [f"| {gid} | {s:g} / {m:g} |" for gid, (s, m) in cells.items()]
    nb.cells.insert(0, new_markdown_cell("\n".join(lines)))
    body, _ = _exporter().from_notebook_node(nb)
    return body


_EXPORTER = None
# what pygments makes of code: escaped text in span/div/pre/code tags with plain classes; one
# character or one tag at a time, so a string that does not match fails in linear time
_HIGHLIGHTED = re.compile(r'(?:[^<>]|</?(?:span|div|pre|code)(?: class="[\w -]*")?>)*')


def _clean_html(element) -> str:
    """nbconvert's `clean_html` (bleach, ~15 ms a cell), except where the markup is nothing but
    pygments' highlighting of code, which bleach would leave as it is."""
    from nbconvert.filters.strings import clean_html

    text = element.decode() if isinstance(element, bytes) else str(element)
    return text if _HIGHLIGHTED.fullmatch(text) else clean_html(text)


def _exporter():
    """One HTMLExporter per process: building one (templates, CSS) costs most of a page. It
    renders as nbconvert's does, minus half the time: `_clean_html`, and no BeautifulSoup pass
    over the whole page (its two touches, alt text and tab stops, done on the string)."""
    global _EXPORTER
    if _EXPORTER is None:
        from nbconvert import HTMLExporter
        from nbconvert.exporters.templateexporter import TemplateExporter
        from nbconvert.filters.highlight import Highlight2HTML
        from nbconvert.filters.widgetsdatatypefilter import WidgetsDataTypeFilter

        class Exporter(HTMLExporter):
            def from_notebook_node(self, nb, resources=None, **kw):
                info = nb.metadata.get("language_info", {})
                lexer = info.get("pygments_lexer", info.get("name", None))
                self.register_filter("highlight_code", self.filters.get(
                    "highlight_code", Highlight2HTML(pygments_lexer=lexer, parent=self)))
                resources = self._init_resources(resources)
                self.register_filter("filter_data_type", WidgetsDataTypeFilter(
                    notebook_metadata=self._nb_metadata, parent=self, resources=resources))
                page, resources = TemplateExporter.from_notebook_node(self, nb, resources, **kw)
                page = re.sub(r"<img(?![^>]*\balt=)",
                              '<img alt="No description has been provided for this image"', page)
                page = re.sub(r'(<div class="(?:jp-Cell-inputWrapper|[^"]*'
                              r'\bjp-OutputArea-output\b[^"]*)")', r'\1 tabindex="0"', page)
                return page, resources

        _EXPORTER = Exporter(template_name="lab")
        _EXPORTER.register_filter("clean_html", _clean_html)
    return _EXPORTER
