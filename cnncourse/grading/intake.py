"""Finding a class's submissions and checking each one before it goes near nbgrader.

A broken file must cost its owner a clear reason in the grade table, never the class run:
plain nbgrader stops or drops students on invalid JSON, an empty file, duplicated cells (upstream
#1083) or a wrongly named notebook. Layout: ``submitted/<student>/<assignment>/*.ipynb``.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from pathlib import Path

import nbformat

from cnncourse.grading.protocol import Status
from cnncourse.notebooks import NotebookFileError, nbgrader_meta, parse_notebook

# statuses a submission can end with here (`protocol.Status`, in grades.csv's words)
MISSING, EMPTY, NOT_JSON = Status.MISSING, Status.EMPTY, Status.NOT_JSON
NOT_NOTEBOOK, UNREADABLE, WRONG_ASSIGNMENT = \
    Status.NOT_NOTEBOOK, Status.UNREADABLE, Status.WRONG_ASSIGNMENT
__all__ = ["EMPTY", "MISSING", "NOT_JSON", "NOT_NOTEBOOK", "UNREADABLE", "WRONG_ASSIGNMENT",
           "Submission", "find", "students", "zip_collect"]


@dataclass
class Submission:
    """One student's notebook for one assignment, read and repaired, or the reason it is not."""

    student: str
    assignment: str
    path: Path | None = None
    notebook: nbformat.NotebookNode | None = None
    problem: str = ""  # one of the statuses above when the notebook cannot be graded
    flags: list[str] = field(default_factory=list)  # repaired, but a person should look


def students(submitted: Path) -> list[str]:
    return sorted(p.name for p in submitted.iterdir() if p.is_dir() and not p.name.startswith("."))


def find(submitted: Path, student: str, assignment: str, grade_ids: set[str]) -> Submission:
    """Read `submitted/<student>/<assignment>/`, repair what can be repaired, say what cannot."""
    sub = Submission(student, assignment)
    folder = submitted / student / assignment
    expected = folder / f"{assignment}.ipynb"
    found = sorted(folder.glob("*.ipynb")) if folder.is_dir() else []
    found = [p for p in found if not p.name.startswith(".")]
    if expected.is_file():
        sub.path = expected
        others = [p.name for p in found if p != expected]
        if others:  # a copy (Untitled, -Copy1) may hold the work: a person should look
            sub.flags.append(f"graded {expected.name}; also handed in, not graded: "
                             + ", ".join(others))
    elif len(found) == 1:
        sub.path = found[0]
        sub.flags.append(f"renamed: graded {found[0].name} as {expected.name}")
    else:
        sub.problem = MISSING
        if found:
            sub.flags.append(f"{len(found)} notebooks and none named {expected.name}: "
                             + ", ".join(p.name for p in found))
        return sub
    try:
        nb = parse_notebook(sub.path.read_bytes(), sub.path.name)
    except NotebookFileError as error:
        sub.problem = Status(error.status)
        if error.status == NOT_NOTEBOOK:
            sub.flags.append(str(error)[:160])
        return sub
    _drop_duplicate_cells(nb, sub)
    present = {nbgrader_meta(c).get("grade_id") for c in nb.cells} - {None}
    if grade_ids and not present & grade_ids:
        sub.problem = WRONG_ASSIGNMENT
        return sub
    sub.notebook = nb
    return sub


def _drop_duplicate_cells(nb, sub: Submission) -> None:
    """Keep the first cell of each grade_id (a copy-paste in JupyterLab duplicates metadata)."""
    seen, kept, dropped = set(), [], 0
    for cell in nb.cells:
        gid = nbgrader_meta(cell).get("grade_id")
        if gid is not None and gid in seen:
            dropped += 1
            continue
        if gid is not None:
            seen.add(gid)
        kept.append(cell)
    ids, unique = set(), []
    for cell in kept:  # duplicated cell ids make the notebook invalid too
        if cell.get("id") in ids:
            cell["id"] = f"{cell.get('id') or 'cell'}-{len(unique)}"
        ids.add(cell.get("id"))
        unique.append(cell)
    nb.cells = unique
    if dropped:
        sub.flags.append(f"duplicated cells: {dropped} later copies ignored")


def zip_collect(root: Path, assignment: str, archive: Path, names: str, submitted: Path,
                say=print, lms=None) -> int:
    """Collect an LMS zip into `submitted/<student>/<assignment>/` with nbgrader's zip_collect
    (``downloaded/<assignment>/archive/`` in, its FileNameCollectorPlugin with `names` as the
    named_regexp). With `lms` (a `cnncourse.grading.lms.Lms`) its file-naming rule replaces
    `names`, and only each student's newest attempt goes in (`lms.select_attempts`). Returns
    how many notebooks are there then."""
    import shutil
    import subprocess
    import sys
    import zipfile

    from cnncourse.course import CourseError, ensure_bin_on_path

    archive = Path(archive)
    if not archive.is_file():
        raise CourseError(f"no file {archive}: give the zip the LMS let you download")
    if not zipfile.is_zipfile(archive):
        raise CourseError(f"{archive} is not a zip archive")
    from cnncourse.grading.lms import select_attempts

    names = lms.names if lms else names
    kept, older = select_attempts(archive, names, lms)
    inbox = root / "downloaded" / assignment / "archive"
    if inbox.is_dir():  # an earlier download of this assignment must not be collected again
        shutil.rmtree(inbox)
    inbox.mkdir(parents=True, exist_ok=True)
    if older:  # nbgrader gets a copy of the zip without them
        with zipfile.ZipFile(archive) as source, \
                zipfile.ZipFile(inbox / archive.name, "w", zipfile.ZIP_DEFLATED) as copy:
            for member in kept:
                copy.writestr(source.getinfo(member), source.read(member))
    else:
        shutil.copy2(archive, inbox / archive.name)
    for member, newer in older:
        say(f"not collected: {member}, an older attempt than {newer}")
    manifest = root / "downloaded" / assignment / "lms.json"
    manifest.unlink(missing_ok=True)
    if lms:  # how the LMS names each student's files: its feedback upload needs the same
        import json

        from cnncourse.grading.lms import feedback_prefixes

        manifest.write_text(json.dumps({"lms": lms.name, "archive": archive.name,
                                        "prefixes": feedback_prefixes(archive, kept, lms,
                                                                      assignment)},
                                       indent=1, ensure_ascii=False))
    ensure_bin_on_path()
    result = subprocess.run(
        [sys.executable, "-m", "nbgrader", "zip_collect", assignment, "--force",
         f"--FileNameCollectorPlugin.named_regexp={names}",
         f"--CourseDirectory.submitted_directory={Path(submitted).resolve()}"],
        cwd=root, capture_output=True, text=True)
    if result.returncode != 0:
        last = [line for line in result.stderr.splitlines() if line.strip()][-1:]
        raise CourseError(f"nbgrader zip_collect failed: {last[0] if last else 'no message'}"
                          f" (named_regexp {names!r})")
    skipped = [line for line in result.stderr.splitlines()
               if "Skipped submission" in line and line.endswith(".ipynb")]  # not a .txt
    if lms and lms.stamp:  # when each attempt was handed in, for late work
        from cnncourse.course import load_config
        from cnncourse.grading.lms import handed_in

        zone = load_config(root).Exchange.get("timezone", "UTC")
        for student, when in handed_in(archive, kept, lms, zone).items():
            stamp = Path(submitted) / student / assignment / "timestamp.txt"
            if stamp.parent.is_dir() and not stamp.exists():
                stamp.write_text(when)
    what = f"the --lms {lms.name} pattern" if lms else "--names"
    for line in skipped:
        say(f"not collected (its name does not match {what}): " + line.rsplit(": ", 1)[-1])
    return len(list(Path(submitted).glob(f"*/{assignment}/*.ipynb")))
