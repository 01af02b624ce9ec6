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

from cnncourse.notebooks import graded_cells, hidden_test_ids, nbgrader_meta, rubric
from cnncourse.release import find_leaks
from cnncourse.testing import groups_in


def hidden_ids(source: nbformat.NotebookNode) -> set[str]:
    """grade_ids of the test cells that hold hidden tests in the instructor notebook."""
    return hidden_test_ids(source)


def taken_by_verification(verdict: dict, refuted: list[str]) -> dict[str, str]:
    """{test cell: why} for the test cells whose points verification took: those of the
    functions `verify.reconcile` set to 0 (`refuted`), with the verdict's reason."""
    taken = {}
    for name in refuted:
        why = getattr(verdict.get(name), "reason", "") or f"`{name}` gave wrong results"
        for gid in (f"test_{name}", f"test_{name}_hidden"):
            taken[gid] = why
    return taken


def _taken_note(why: str) -> str:
    return ("verification: 0 points for this test. The tests in your notebook passed, but "
            f"{why}: something in the notebook changed what the tests saw (numpy, the checker, "
            "the test itself?), so their verdict could not stand. Ask your instructor if "
            "you think this is wrong.")


def redact(graded: nbformat.NotebookNode, source: nbformat.NotebookNode,
           release: nbformat.NotebookNode, taken: dict[str, str] | None = None,
           ) -> nbformat.NotebookNode:
    """The graded notebook with hidden-test source and tracebacks replaced by plain verdicts:
    each group of checks by its description with passed/failed (partial credit), never its
    code; and, on every test cell whose points verification took (`taken`: test cell -> why),
    which verdict took them and why, in words."""
    hidden = hidden_ids(source)
    taken = taken or {}
    shown = {nbgrader_meta(c).get("grade_id"): c.source for c in release.cells}
    out = copy.deepcopy(graded)
    for cell in out.cells:
        gid = nbgrader_meta(cell).get("grade_id")
        if gid in hidden:
            cell.source = shown.get(gid, "# hidden tests")
            outputs = cell.get("outputs", [])
            failed = any(o.get("output_type") == "error" for o in outputs)
            lines = [g.line() for g in groups_in(outputs)]
            if gid in taken:
                lines.append("hidden tests: " + _taken_note(taken[gid]))
            elif failed:
                lines.append("hidden tests: failed. Check your answer on other shapes, strides, "
                             "paddings and negative values.")
            elif not lines:
                lines.append("hidden tests: passed.")
            cell.outputs = [nbformat.v4.new_output("stream", name="stdout",
                                                   text="\n".join(lines) + "\n")]
        elif gid in taken:
            cell.setdefault("outputs", []).append(nbformat.v4.new_output(
                "stream", name="stdout", text=_taken_note(taken[gid]) + "\n"))
    leaks = find_leaks(source, out, "feedback")
    if leaks:  # a student's own cell may repeat a hidden line by chance: keep theirs, say so
        leaks = [leak for leak in leaks if _in_test_cell(out, leak.cell)]
    if leaks:
        raise RuntimeError(f"feedback would show hidden tests: {leaks[0]}")
    return out


def _in_test_cell(nb, number: int) -> bool:
    if not 1 <= number <= len(nb.cells):  # 0: the notebook's own metadata
        return False
    cell = nb.cells[number - 1]
    meta = nbgrader_meta(cell)
    return bool(meta.get("grade")) and not meta.get("solution")


def feedback_html(graded: nbformat.NotebookNode, source: nbformat.NotebookNode,
                  release: nbformat.NotebookNode, title: str,
                  cells: dict[str, tuple[float, float]],
                  taken: dict[str, str] | None = None) -> str:
    """A standalone HTML page: a score table, then the redacted graded notebook.

    `cells` are the scores after verification, `taken` the test cells whose points
    verification took, with why (`taken_by_verification`): each says so in the table and in
    the notebook."""
    taken = taken or {}
    nb = redact(graded, source, release, taken)
    written = with_rubrics(nb, source)
    total = sum(s for s, _ in cells.values())
    most = sum(m for _, m in cells.values())
    lines = [f"# {html.escape(title)}", "", f"**Score: {total:g} / {most:g}** (autograded tests)",
             "", "| test | points | note |", "|---|---|---|"]
    lines += [f"| {gid} | {s:g} / {m:g} | "
              + ("points taken by verification (see the test below)" if gid in taken else
                 "partial credit: its groups of checks are listed with the test below"
                 if 0 < s < m else "")
              + " |" for gid, (s, m) in cells.items()]
    if written:
        lines += ["", "Written answers, graded by hand by your instructor (their points are not "
                  "in the score above; the rubric is shown below each answer): "
                  + ", ".join(f"{gid} ({points:g} points)" for gid, points in written) + "."]
    nb.cells.insert(0, new_markdown_cell("\n".join(lines)))
    body, _ = _exporter().from_notebook_node(renderable(nb))
    return body


def with_rubrics(nb: nbformat.NotebookNode, source: nbformat.NotebookNode
                 ) -> list[tuple[str, float]]:
    """Insert, below each hand-graded written answer of `nb` (in place), the rubric that the
    instructor notebook `source` gives for it; [(grade_id, points)] of those answers."""
    rubrics = {cell.grade_id: rubric(cell.source) for cell in graded_cells(source)
               if cell.kind == "manual"}
    written = []
    for cell in reversed(graded_cells(nb)):
        if cell.kind != "manual" or cell.grade_id not in rubrics:
            continue
        written.append((cell.grade_id, cell.points))
        found = rubrics[cell.grade_id]
        text = found.text if found else "**Rubric**: your instructor grades this answer by hand."
        nb.cells.insert(cell.index + 1, new_markdown_cell(
            f"*How `{cell.grade_id}` is graded by hand:*\n\n{text}"))
    return written[::-1]


def renderable(nb: nbformat.NotebookNode) -> nbformat.NotebookNode:
    """A copy of `nb` that keeps only the metadata the page reads, and that only well-typed.

    nbconvert validates the notebook against nbformat's schema and its templates read
    metadata as they expect it to be, so a notebook that JupyterLab or an extension left with
    a widget state without `state`, tags that are not a list of strings or a `language` that is
    not a string got no page. Kept: the notebook's kernelspec and language_info (the code's
    lexer); a cell's nbgrader metadata, its tags (CSS classes on the page) and a raw cell's
    raw_mimetype, the cell metadata nbconvert's lab template reads. Consecutive outputs of one
    stream are merged (nbconvert's CoalesceStreamsPreprocessor), as JupyterLab shows them. It
    does not read jupyter.source_hidden/outputs_hidden, collapsed or scrolled: the page shows
    every cell open.
    """
    from nbconvert.preprocessors import CoalesceStreamsPreprocessor

    out = copy.deepcopy(nb)
    coalesce = CoalesceStreamsPreprocessor()
    for cell in out.cells:  # one block per stream: a kernel cuts a print where it flushed
        if cell.get("cell_type") == "code" and cell.get("outputs"):
            coalesce.preprocess_cell(cell, {}, 0)
    meta = out.get("metadata") if isinstance(out.get("metadata"), dict) else {}
    kept: dict = {}
    spec = meta.get("kernelspec")
    if isinstance(spec, dict) and all(isinstance(spec.get(k), str) for k in ("name",
                                                                              "display_name")):
        kept["kernelspec"] = {k: v for k, v in spec.items() if isinstance(v, str)}
    info = meta.get("language_info")
    if isinstance(info, dict) and isinstance(info.get("name"), str):
        kept["language_info"] = {k: v for k, v in info.items() if isinstance(v, str)
                                 or (k == "codemirror_mode" and isinstance(v, dict))}
    out.metadata = nbformat.from_dict(kept)
    for cell in out.cells:
        meta = cell.get("metadata") if isinstance(cell.get("metadata"), dict) else {}
        kept = {}
        if isinstance(meta.get("nbgrader"), dict):
            kept["nbgrader"] = meta["nbgrader"]
        tags = meta.get("tags")
        if (isinstance(tags, list) and len(set(map(str, tags))) == len(tags)
                and all(isinstance(t, str) and t and "," not in t for t in tags)):
            kept["tags"] = tags
        if cell.get("cell_type") == "raw" and isinstance(meta.get("raw_mimetype"), str):
            kept["raw_mimetype"] = meta["raw_mimetype"]
        cell.metadata = nbformat.from_dict(kept)
    return out


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
