"""The bilingual glossary: released beside the notebooks, and complete (every notebook links it at
the top: tests/test_contract.py checks the links to both course pages)."""

from __future__ import annotations

import re

from harness import ROOT, assignments

# the terms issue #7 names, as (English, Chinese)
REQUIRED = [("kernel", "卷积核"), ("feature map", "特征图"), ("receptive field", "感受野"),
            ("stride", "步幅"), ("padding", "填充"), ("pooling", "池化"),
            ("weight sharing", "权值共享"), ("fully connected layer", "全连接层"),
            ("upsampling", "上采样"), ("downsampling", "下采样")]


def _rows(text: str) -> list[list[str]]:
    rows = [[c.strip() for c in line.strip().strip("|").split("|")]
            for line in text.splitlines() if line.startswith("|")]
    return [r for r in rows[2:] if len(r) >= 4]  # past the header and its rule


def test_the_released_glossary_is_the_instructors_one():
    assert (ROOT / "notebooks" / "GLOSSARY.md").read_text() == \
        (ROOT / "solutions" / "GLOSSARY.md").read_text(), "run `make release`"


def test_the_glossary_names_every_required_term_in_both_languages():
    rows = _rows((ROOT / "solutions" / "GLOSSARY.md").read_text())
    for english, chinese in REQUIRED:
        assert any(english in r[0].lower() and chinese in r[1] for r in rows), (english, chinese)


def test_every_glossary_row_has_both_languages_and_a_notebook():
    rows = _rows((ROOT / "solutions" / "GLOSSARY.md").read_text())
    assert len(rows) >= 30
    numbers = {a[:2] for a in assignments()}
    for english, chinese, meaning, first in (r[:4] for r in rows):
        assert re.search(r"[A-Za-z]", english), english
        assert re.search(r"[\u4e00-\u9fff]", chinese), f"{english}: no Chinese term"
        assert meaning, f"{english}: no explanation"
        assert first in numbers, f"{english}: first met in {first!r}, not a notebook"


def test_every_source_says_box_names_a_glossary_term_in_both_languages():
    """The term of each "the source says / we measured" box (`claim_box(claim, term, term_zh,
    ...)` in a notebook) is in a glossary row, English and Chinese as the glossary writes them
    (one of the row's names where it gives several)."""
    import ast

    from cnncourse.notebooks import read_notebook

    rows = {(english, chinese) for r in _rows((ROOT / "solutions" / "GLOSSARY.md").read_text())
            for english in r[0].split(", ") for chinese in r[1].split("、")}  # "a, b" / "甲、乙"
    found = []
    for a in assignments():
        nb = read_notebook(ROOT / "solutions" / a / f"{a}.ipynb")
        for cell in nb.cells:
            if cell.cell_type != "code" or "claim_box(" not in cell.source:
                continue
            for node in ast.walk(ast.parse(cell.source)):
                if isinstance(node, ast.Call) and getattr(node.func, "id", "") == "claim_box":
                    term, term_zh = (ast.literal_eval(arg) for arg in node.args[1:3])
                    found.append(a)
                    assert (term, term_zh) in rows, f"{a}: {term} / {term_zh} is no glossary row"
    assert len(set(found)) >= 4, f"boxes in {sorted(set(found))} only"
