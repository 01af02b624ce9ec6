"""The instructor's report of a class run: who could not be graded, and how each question went.

One standalone HTML page (plots embedded as PNG): per assignment, the distribution of scores
and the mean share of points earned on every test cell, so a question that nobody passes (a
hard exercise, or an unfair test) stands out; then every row that could not be graded.
"""

from __future__ import annotations

import base64
import html
import io
from collections import Counter, defaultdict


def _png(fig) -> str:
    buffer = io.BytesIO()
    fig.savefig(buffer, format="png", dpi=90, bbox_inches="tight")
    return base64.b64encode(buffer.getvalue()).decode()


def assignment_figure(rows, assignment: str, hidden: set[str] = frozenset()):
    """Left: histogram of scores (% of the autograded points). Right: mean % per test cell."""
    import matplotlib

    matplotlib.use("Agg", force=False)
    import matplotlib.pyplot as plt

    graded = [r for r in rows if r.assignment == assignment and r.status == "graded"]
    fig, (left, right) = plt.subplots(1, 2, figsize=(11, 3.6),
                                      gridspec_kw={"width_ratios": [1, 1.6]})
    shares = [100 * r.score / r.max_score for r in graded if r.max_score]
    left.hist(shares, bins=[i * 10 for i in range(11)], color="#4c72b0", edgecolor="white")
    left.set(title=f"{assignment}: scores of {len(graded)} graded", xlabel="% of points",
             ylabel="students", xlim=(0, 100))
    from matplotlib.ticker import MaxNLocator

    left.yaxis.set_major_locator(MaxNLocator(integer=True))  # students come whole
    per_cell = defaultdict(list)
    for r in graded:
        for gid, (score, most) in r.cells.items():
            per_cell[gid].append(100 * score / most if most else 0)
    names = list(per_cell)
    means = [sum(v) / len(v) for v in per_cell.values()]
    right.barh(names[::-1], means[::-1], color=["#dd8452" if n in hidden else "#55a868"
                                                for n in names[::-1]])
    right.set(title="mean % earned per test (orange: hidden)", xlim=(0, 100))
    right.tick_params(axis="y", labelsize=7)
    fig.tight_layout()
    return fig


def _groups_table(rows, assignment: str) -> list[str]:
    """Partial credit: every group of checks of every test cell, by its description (never its
    code), with the share of graded students who passed it."""
    passed, seen, points = defaultdict(int), defaultdict(int), {}
    for r in rows:
        if r.assignment != assignment or r.status != "graded":
            continue
        for gid, groups in (getattr(r, "groups", None) or {}).items():
            for g in groups:
                key = (gid, g.description)
                seen[key] += 1
                passed[key] += g.passed
                points[key] = g.points
    if not seen:
        return []
    out = ["<h3>Groups of checks (partial credit)</h3><table><tr><th>test</th><th>points</th>"
           "<th>checks</th><th>passed by</th></tr>"]
    for (gid, description), n in seen.items():
        share = 100 * passed[(gid, description)] / n
        out.append(f"<tr><td>{html.escape(gid)}</td><td>{points[(gid, description)]:g}</td>"
                   f"<td>{html.escape(description)}</td><td style='white-space:nowrap'>"
                   f"{passed[(gid, description)]} of {n} ({share:.0f} %)</td></tr>")
    out.append("</table>")
    return out


def report_html(rows, hidden: dict[str, set[str]] | None = None) -> str:
    """The report of a class run's `rows`; `hidden`: assignment -> its hidden test cells
    (`notebooks.hidden_test_ids` of the instructor notebook), drawn in orange."""
    import matplotlib.pyplot as plt

    statuses = Counter(r.status for r in rows)
    parts = ["<html><head><meta charset='utf-8'><title>cnncourse grading report</title>",
             "<style>body{font-family:sans-serif;max-width:1100px;margin:auto}"
             "td,th{padding:2px 8px;text-align:left}</style></head><body>",
             "<h1>Grading report</h1>",
             f"<p>{len({r.student for r in rows})} students, {len(rows)} notebooks: "
             + ", ".join(f"{n} {html.escape(s)}" for s, n in statuses.most_common()) + "</p>"]
    for assignment in sorted({r.assignment for r in rows}):
        fig = assignment_figure(rows, assignment, (hidden or {}).get(assignment, set()))
        parts.append(f"<h2>{html.escape(assignment)}</h2>"
                     f"<img alt='scores of {html.escape(assignment)}' "
                     f"src='data:image/png;base64,{_png(fig)}'>")
        plt.close(fig)
        parts += _groups_table(rows, assignment)
    problems = [r for r in rows if r.status != "graded" or r.flags]
    if problems:
        parts.append("<h2>To look at</h2><table><tr><th>student</th><th>assignment</th>"
                     "<th>status</th><th>flags</th></tr>")
        parts += [f"<tr><td>{html.escape(r.student)}</td><td>{html.escape(r.assignment)}</td>"
                  f"<td>{html.escape(r.status)}</td><td>{html.escape('; '.join(r.flags))}</td></tr>"
                  for r in problems]
        parts.append("</table>")
    parts.append("</body></html>")
    return "\n".join(parts)
