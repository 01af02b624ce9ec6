"""Copied work: how much of each student's answer code is also in another's, pair by pair.

The comparison is copydetect's (winnowed fingerprints of the code after its tokenizer has
replaced every name by one letter and dropped comments and whitespace, so renamed variables and
reordered functions do not hide a copy). What is compared, per student, is only the answer cells
of ``submitted/<student>/<assignment>/<assignment>.ipynb`` (found and repaired as
`cnncourse.grading.intake` does for grading), one ``.py`` file per student, the cells in the
order of the release, whatever order the student left them in. The release's own code
(``notebooks/<assignment>/<assignment>.ipynb``: the stubs with their signatures, docstrings,
comments and ``raise NotImplementedError()``, and every other code cell) is copydetect's
boilerplate: code found there is never a match.

Writes into `out`: ``<assignment>.csv``, one row per pair of students compared, the most alike
first (``student_a, student_b, a_in_b, b_in_a, tokens, above_threshold``), and
``<assignment>.html``, a standalone page with the pairs above the threshold, their matching
code highlighted side by side, and the submissions that could not be read. A similarity is a
reason to look, never a verdict: short exercises have few natural solutions.
"""

from __future__ import annotations

import csv
import html
import tempfile
import traceback
from dataclasses import dataclass
from pathlib import Path

from cnncourse.grading import intake
from cnncourse.notebooks import CourseError, graded_cells, nbgrader_meta, read_notebook

# A pair is flagged when more than this share of either student's answer code is in the
# other's. Measured on 01_convolution (tests/test_similarity.py): copies 1.00, renamed and
# reordered copies 0.98-1.00, a dummy line after every statement 0.59-0.65, one big cell copied
# 0.68; honest, different solutions 0.10 at most, an honest loop solution against another
# student's loops 0.25 at most.
DEFAULT_THRESHOLD = 0.5
# A match is a run of at least this many characters of tokenized code (copydetect's noise and
# guarantee thresholds; its defaults are 25). Tokenized, `x = np.asarray(x, dtype=float)` is
# `V=V.V(V,V=float)`, 16 characters: at 25, two such idioms in a row, or the stub's signature
# and docstring (`defF(V,V):S`) plus a first line, make a match, and honest loop solutions
# shared up to 46 % of their code; at 50 (about three lines), 25 % at most.
DEFAULT_NOISE = 50
DEFAULT_GUARANTEE = 50


@dataclass(frozen=True)
class Pair:
    """Two students compared: `a_in_b` is the share of a's answer code (after the release's own
    code is removed) that is also in b's, and `b_in_a` the other way round, from 0 to 1."""

    a: str
    b: str
    a_in_b: float
    b_in_a: float
    tokens: int  # characters of tokenized code the two have in common

    @property
    def most(self) -> float:
        return max(self.a_in_b, self.b_in_a)


@dataclass(frozen=True)
class Skipped:
    """A student whose submission could not be compared, and why (grades.csv's words)."""

    student: str
    reason: str


@dataclass(frozen=True)
class Similarity:
    """What `similarity` found and where it wrote it."""

    assignment: str
    students: tuple[str, ...]  # compared
    skipped: tuple[Skipped, ...]
    pairs: tuple[Pair, ...]  # every pair compared, the most alike first
    threshold: float
    report: Path  # <out>/<assignment>.html
    table: Path  # <out>/<assignment>.csv

    @property
    def flagged(self) -> tuple[Pair, ...]:
        """The pairs above the threshold, the most alike first."""
        return tuple(p for p in self.pairs if p.most > self.threshold)


def answer_code(nb, order: list[str]) -> str:
    """The code of `nb`'s answer cells as one Python file: the cells named in `order` (grade ids),
    in that order, each under a ``# --- <grade id> ---`` line; a missing one is left out, of a
    duplicated one the first is taken (as grading does)."""
    cells = {}
    for cell in graded_cells(nb):
        if cell.kind == "answer" and nb.cells[cell.index].cell_type == "code":
            cells.setdefault(cell.grade_id, cell.source)
    return "".join(f"# --- {gid} ---\n{cells[gid].rstrip()}\n\n" for gid in order if gid in cells)


def boilerplate_code(release) -> str:
    """The release notebook's code, which no match may come from: its answer cells laid out as
    `answer_code` lays out a student's (so a blank notebook is all boilerplate), then every
    other code cell."""
    order = answer_order(release)
    answers = {c.index for c in graded_cells(release) if c.kind == "answer"}
    rest = [cell.source for i, cell in enumerate(release.cells)
            if cell.cell_type == "code" and i not in answers]
    return answer_code(release, order) + "\n\n".join(rest) + "\n"


def answer_order(nb) -> list[str]:
    """grade ids of `nb`'s autograded answer code cells, in notebook order."""
    return [c.grade_id for c in graded_cells(nb)
            if c.kind == "answer" and nb.cells[c.index].cell_type == "code"]


def similarity(root: Path, assignment: str, submitted: Path | None = None,
               out: Path | None = None, *, threshold: float = DEFAULT_THRESHOLD,
               noise: int = DEFAULT_NOISE, guarantee: int = DEFAULT_GUARANTEE,
               say=lambda message: None) -> Similarity:
    """Compare the answer cells of every ``<submitted>/<student>/<assignment>/`` notebook with
    every other's, with the release's code as boilerplate; write ``<out>/<assignment>.csv`` and
    ``<out>/<assignment>.html`` (`out` is created).

    `submitted` defaults to ``<root>/submitted``, `out` to ``<root>/grades/similarity``.
    `threshold` (0 to 1) is copydetect's display threshold: a pair is flagged when more than
    that share of either student's answer code is in the other's. `noise` and `guarantee` are
    copydetect's noise and guarantee thresholds (characters of tokenized code). A submission
    that cannot be read is skipped with its reason; it never stops the run.

    Raises:
        CourseError: no release notebook for `assignment` (run ``cnncourse release``), no
            folder `submitted`, or a threshold out of range.
    """
    root = Path(root)
    submitted = Path(submitted) if submitted is not None else root / "submitted"
    out = Path(out) if out is not None else root / "grades" / "similarity"
    if not 0 <= threshold <= 1:
        raise CourseError(f"threshold={threshold:g} must be between 0 and 1 (a share of the "
                          "code), e.g. 0.5")
    if noise < 1 or guarantee < noise:
        raise CourseError(f"noise={noise} must be at least 1 and guarantee={guarantee} at "
                          "least noise")
    release_path = root / "notebooks" / assignment / f"{assignment}.ipynb"
    if not release_path.is_file():
        raise CourseError(f"no release notebook {release_path}: its code is what students were "
                          f"given, to be ignored; run `cnncourse release {assignment}` first")
    if not submitted.is_dir():
        raise CourseError(f"no folder {submitted}: put submissions in "
                          "submitted/<student>/<assignment>/<assignment>.ipynb")
    release = read_notebook(release_path)
    order = answer_order(release)
    grade_ids = {nbgrader_meta(c).get("grade_id") for c in release.cells} - {None}

    codes, skipped = {}, []
    for student in intake.students(submitted):
        try:
            sub = intake.find(submitted, student, assignment, grade_ids)
            if sub.problem:
                reason = str(sub.problem) + "".join(f" ({flag})" for flag in sub.flags)
                skipped.append(Skipped(student, reason))
                continue
            codes[student] = answer_code(sub.notebook, order)
        except Exception:  # noqa: BLE001 - one file never stops the class
            last = traceback.format_exc().strip().splitlines()[-1][:200]
            skipped.append(Skipped(student, f"could not be read ({last})"))
    say(f"comparing the answer cells of {len(codes)} student(s) of {assignment}"
        + (f"; {len(skipped)} skipped" if skipped else ""))

    pairs, shown = _compare(codes, boilerplate_code(release), threshold, noise, guarantee)
    result = Similarity(assignment, tuple(codes), tuple(skipped), tuple(pairs), threshold,
                        out / f"{assignment}.html", out / f"{assignment}.csv")
    out.mkdir(parents=True, exist_ok=True)
    _write_csv(result)
    result.report.write_text(report_html(result, shown, noise=noise), encoding="utf-8")
    return result


def _compare(codes: dict[str, str], boilerplate: str, threshold: float, noise: int,
             guarantee: int) -> tuple[list[Pair], dict[tuple[str, str], tuple[str, str]]]:
    """copydetect over one file per student. Returns every pair (most alike first) and, for the
    pairs above `threshold`, both codes with the matching parts highlighted (HTML)."""
    if len(codes) < 2:
        return [], {}
    from copydetect import CopyDetector  # imports matplotlib: only when there is work

    students = list(codes)
    with tempfile.TemporaryDirectory(prefix="cnncourse-similarity-") as folder:
        folder = Path(folder)
        (folder / "boilerplate.py").write_text(boilerplate, encoding="utf-8")
        detector = CopyDetector(noise_t=noise, guarantee_t=guarantee, display_t=threshold,
                                force_language="python", autoopen=False, silent=True,
                                out_file=str(folder / "report.html"))
        detector.add_file(str(folder / "boilerplate.py"), type="boilerplate")
        files = {}
        for i, student in enumerate(students):  # student ids may hold any character
            path = folder / f"student{i:05d}.py"
            path.write_text(codes[student], encoding="utf-8")
            files[str(path)] = student
            detector.add_file(str(path))
        detector.run()
        shown = {}
        for _, _, test_f, ref_f, code1, code2, _ in detector.get_copied_code_list():
            a, b = files[test_f], files[ref_f]
            shown[(a, b)], shown[(b, a)] = (code1, code2), (code2, code1)

    index = {s: i for i, s in enumerate(students)}  # add_file keeps the order
    pairs = []
    for a in sorted(students):
        for b in sorted(students):
            if a >= b:
                continue
            a_in_b, b_in_a = detector.similarity_matrix[index[a], index[b]]
            pairs.append(Pair(a, b, float(max(a_in_b, 0)), float(max(b_in_a, 0)),
                              int(max(detector.token_overlap_matrix[index[a], index[b]], 0))))
    pairs.sort(key=lambda p: (-p.most, p.a, p.b))
    return pairs, shown


def _write_csv(result: Similarity) -> None:
    with result.table.open("w", newline="", encoding="utf-8") as f:
        writer = csv.writer(f)
        writer.writerow(["student_a", "student_b", "a_in_b", "b_in_a", "tokens",
                         "above_threshold"])
        for p in result.pairs:
            writer.writerow([p.a, p.b, f"{p.a_in_b:.3f}", f"{p.b_in_a:.3f}", p.tokens,
                             "yes" if p.most > result.threshold else "no"])


def report_html(result: Similarity, shown: dict[tuple[str, str], tuple[str, str]],
                noise: int = DEFAULT_NOISE) -> str:
    """The page: what was compared and how, the flagged pairs, each with both students' answer
    code side by side (copydetect's highlighting: red and green are the matching parts), and
    the skipped submissions."""
    e = html.escape
    flagged = result.flagged
    parts = [
        "<html><head><meta charset='utf-8'>",
        f"<title>similar answers: {e(result.assignment)}</title>",
        "<style>body{font-family:sans-serif;max-width:1400px;margin:auto}"
        "td,th{padding:2px 8px;text-align:left}"
        ".side{display:grid;grid-template-columns:minmax(0,1fr) minmax(0,1fr);gap:12px}"
        "pre{background:#f6f6f6;padding:6px;overflow-x:auto;font-size:12px}"
        ".highlight-red{background:#f2b6b6}.highlight-green{background:#b6f2b6}</style>"
        "</head><body>",
        f"<h1>Similar answers: {e(result.assignment)}</h1>",
        f"<p>{len(result.students)} students compared, {len(result.pairs)} pairs; "
        f"{len(flagged)} pair(s) above {100 * result.threshold:.0f} %"
        + (f"; {len(result.skipped)} submission(s) skipped (below)" if result.skipped else "")
        + ".</p>",
        "<p>Only the answer cells are compared, and only the code students wrote: the release's "
        "own code (stubs, signatures, docstrings, comments) is ignored. Names, comments and "
        "spacing do not count (copydetect replaces every name by one letter), and a match is a "
        f"run of at least {noise} characters of such code. <i>a in b</i> is the share of a's "
        "answer code that is also in b's. A high share is a reason to read both notebooks and "
        "talk to the students, not a verdict: a short exercise has few natural solutions.</p>",
    ]
    if flagged:
        parts.append("<table><tr><th>student a</th><th>student b</th><th>a in b</th>"
                     "<th>b in a</th><th>characters in common</th></tr>")
        parts += [f"<tr><td><a href='#pair-{i}'>{e(p.a)}</a></td><td>{e(p.b)}</td>"
                  f"<td>{100 * p.a_in_b:.0f} %</td><td>{100 * p.b_in_a:.0f} %</td>"
                  f"<td>{p.tokens}</td></tr>" for i, p in enumerate(flagged)]
        parts.append("</table>")
        for i, p in enumerate(flagged):
            code_a, code_b = shown.get((p.a, p.b), ("", ""))
            parts.append(
                f"<h3 id='pair-{i}'>{e(p.a)} and {e(p.b)}</h3><div class='side'>"
                f"<div><b>{e(p.a)}</b> ({100 * p.a_in_b:.0f} % of it in {e(p.b)}'s)"
                f"<pre><code>{code_a}</code></pre></div>"
                f"<div><b>{e(p.b)}</b> ({100 * p.b_in_a:.0f} % of it in {e(p.a)}'s)"
                f"<pre><code>{code_b}</code></pre></div></div>")
    else:
        parts.append("<p>No pair is above the threshold.</p>")
    if result.skipped:
        parts.append("<h2>Skipped</h2><table><tr><th>student</th><th>why</th></tr>")
        parts += [f"<tr><td>{e(s.student)}</td><td>{e(s.reason)}</td></tr>"
                  for s in result.skipped]
        parts.append("</table>")
    parts.append("</body></html>")
    return "\n".join(parts)
