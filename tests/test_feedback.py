"""Feedback pages render as nbconvert's HTMLExporter renders them, in a fifth of the time.

`cnncourse.feedback` skips bleach where the markup is only pygments' highlighting of code, and
does the BeautifulSoup pass's two touches (alt text, tab stops) on the string. Here a notebook
with everything a student can put in one (raw HTML and scripts in markdown and outputs, images
without alt text, errors) renders to the same document both ways, and what is not highlighted
code is still sanitized.
"""

from __future__ import annotations

import base64

from bs4 import BeautifulSoup
from nbconvert import HTMLExporter
from nbformat.v4 import new_code_cell, new_markdown_cell, new_notebook, new_output

from cnncourse import feedback

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
