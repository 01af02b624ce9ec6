""""The source says / we measured": a claim of the course's source texts beside what a notebook
cell measured, as one box.

The course was written from Chinese-language articles (`solutions/GLOSSARY.md`). Where a
notebook puts one of their claims to the test, the cell that measures it ends with
`claim_box(...)`: the claim in English, the term it is about in English and Chinese, what was
measured (built from the numbers the cell just computed, never typed in by hand) and a verdict.
"""

from __future__ import annotations

import html
from dataclasses import dataclass

from cnncourse.budget import was_cut

__all__ = ["VERDICTS", "ClaimBox", "claim_box"]

VERDICTS = ("holds", "holds in part", "does not hold")
GRADED_RUN = ("Measured in a grader's run, whose demonstrations run a small budget "
              "(cnncourse.budget): run the notebook yourself for the real figures and verdict.")


@dataclass(frozen=True)
class ClaimBox:
    """A claim and its measurement; shown as a box in JupyterLab, as text by `print`."""

    claim: str
    term: str
    term_zh: str
    measured: str
    verdict: str
    graded_run: bool = False

    def __str__(self) -> str:
        return (f"The source says ({self.term}, {self.term_zh}): {self.claim}\n"
                f"We measured: {self.measured}\nVerdict: the claim {self.verdict}."
                + (f"\n{GRADED_RUN}" if self.graded_run else ""))

    def _repr_markdown_(self) -> str:
        def esc(text: str) -> str:
            return html.escape(text, quote=False)
        return (f"> **The source says** ({esc(self.term)} · {esc(self.term_zh)}): "
                f"{esc(self.claim)}  \n"
                f"> **We measured:** {esc(self.measured)}  \n"
                f"> **Verdict:** the claim *{esc(self.verdict)}*."
                + (f"  \n> *{esc(GRADED_RUN)}*" if self.graded_run else ""))


def claim_box(claim: str, term: str, term_zh: str, measured: str, verdict: str) -> ClaimBox:
    """A "the source says / we measured" box for the cell's last line.

    Args:
        claim: the source's claim, in English, in one sentence.
        term: the English term it is about, as in the glossary (e.g. "weight sharing").
        term_zh: the same term in Chinese, as in the glossary (e.g. "权值共享").
        measured: what the cell measured, built from its numbers (an f-string).
        verdict: one of `VERDICTS`: "holds", "holds in part", "does not hold".

    Once a demonstration of a grader's run has run a small budget (`cnncourse.budget.was_cut`),
    the box says that its figures are not the notebook's own.

    Raises:
        ValueError: an empty text, or a verdict not in `VERDICTS`.
    """
    for name, value in (("claim", claim), ("term", term), ("term_zh", term_zh),
                        ("measured", measured)):
        if not isinstance(value, str) or not value.strip():
            raise ValueError(f"{name} must be a non-empty string, got {value!r}")
    if verdict not in VERDICTS:
        raise ValueError(f"verdict={verdict!r} must be one of {', '.join(VERDICTS)}")
    return ClaimBox(claim.strip(), term.strip(), term_zh.strip(), measured.strip(), verdict,
                    graded_run=was_cut())
