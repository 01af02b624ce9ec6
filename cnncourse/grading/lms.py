"""Learning management systems, in and out: how each names the files of its bulk download, and
the CSV its gradebook imports.

In: `cnncourse grade A --zip FILE --lms NAME` collects with that LMS's file-naming rule (an
nbgrader ``FileNameCollectorPlugin.named_regexp``) and keeps each student's newest attempt
before nbgrader sees the zip (`select_attempts`): nbgrader's own zip_collect stops a class run
at the first student with two files of one notebook unless the regexp has a timestamp group.
Out: `cnncourse export --format NAME` writes the LMS's gradebook import CSV from the nbgrader
gradebook (`export`). Each LMS is one frozen `Lms` below; where it comes from is in its
docstring.
"""

from __future__ import annotations

import csv
import re
import zipfile
from dataclasses import dataclass
from pathlib import Path, PurePosixPath

from cnncourse.notebooks import CourseError

_ARCHIVES = (".zip", ".gz")  # nbgrader's ExtractorPlugin.zip_ext: extracted again, unseen here


@dataclass(frozen=True)
class Lms:
    """One LMS: its bulk download's file names and its gradebook import's columns.

    Attributes:
        name: what `--lms` and `--format` call it.
        names: nbgrader's ``FileNameCollectorPlugin.named_regexp`` for its bulk download, matched
            against the extracted path (``.../extracted/<zip name>/<member>``): student_id and
            file_id groups, file_id without the LMS's own additions, so that a notebook the LMS
            renamed lands as ``<assignment>.ipynb``.
        newest: groups whose values order one student's attempts at one notebook, oldest first
            (digits compare as numbers, a missing group as oldest); () where the download holds
            one attempt.
        same_person: a group that must agree among the files one student_id collects (two
            students the LMS names alike), or "".
        columns: the import CSV's columns before one column per assignment; () when the LMS
            imports no CSV here.
        needs: what the grader fills into nbgrader's student records before `export`.
        stamp: a group that says when the attempt was handed in, read with `stamp_format` in
            the course's time zone (nbgrader's ``Exchange.timezone``); "" where names carry no
            time. `handed_in` writes it as nbgrader's timestamp.txt, for late work.
        stamp_format: `datetime.strptime`'s format of `stamp`.
    """

    name: str
    names: str
    newest: tuple[str, ...] = ()
    same_person: str = ""
    columns: tuple[str, ...] = ()
    needs: str = ""
    stamp: str = ""
    stamp_format: str = ""


CANVAS = Lms(
    "canvas",
    # lib/content_zipper.rb (instructure/canvas-lms): get_filename joins the student's sortable
    # name (lower case, non-word characters removed), "LATE" for a late submission and the
    # Canvas user id with "_" (older Canvas lower-cased the whole name: "late"), or writes
    # "anon_<id>" under anonymous grading; add_upload_submission appends "_<attachment id>_<the
    # file's display name>". Attachment.make_unique_filename (app/models/attachment.rb) turns a
    # name the student already used into "name-1.ext", "name-2.ext": a resubmitted notebook.
    r".*/(?:[^/]*?_)?(?:LATE_|late_)?(?P<student_id>\d+|anon_[A-Za-z0-9]+)_(?P<attachment>\d+)_"
    r"(?P<file_id>[^/]+?)(?:-(?P<copy>\d+))?\.ipynb$",
    newest=("attachment", "copy"),  # attachment ids grow with every upload
    # app/models/gradebook_importer.rb: a header row "Student", "ID", then "SIS User ID" and
    # "SIS Login ID", ending in "Section"; a student is found by ID (the Canvas user id), else
    # SIS User ID, SIS Login ID, else the name; an assignment column by "Title (id)", else by
    # its title, else it is created; a row whose first cell holds "Points Possible" gives the
    # points.
    columns=("Student", "ID", "SIS User ID", "SIS Login ID", "Section"),
    needs="the Canvas user id (the collected student id with --lms canvas; else "
          "nbgrader db student add ID --lms-user-id=...) or last and first name",
)

MOODLE = Lms(
    "moodle",
    # mod/assign/classes/downloader.php (moodle/moodle): the prefix is the student's full name
    # with "_" made " ", then "_" and the participant number (get_uniqueid_for_user: one per
    # student and assignment, from assign_user_mapping), then "_assignsubmission_file_"; "Download
    # submissions in folders" (the default since Moodle 3.1) puts the files, not renamed, in a
    # folder of that name, else it prefixes each file name with it. The participant number
    # changes from one assignment to the next, so the student id is the full name.
    r".*/(?P<student_id>[^/_]+)_(?P<participant>\d+)_assignsubmission_file_/?(?:[^/]+/)*"
    r"(?P<file_id>[^/]+?)\.ipynb$",
    same_person="participant",
    # grade/import/csv (Moodle "Import grades from CSV file"): any header row; the grader maps
    # one column to a user field (user id, username, ID number or email address) and each
    # other column to a grade item.
    columns=("Email address",),
    needs="each student's email (nbgrader db student add ID --email=...)",
)

BLACKBOARD = Lms(
    "blackboard",
    # Blackboard Learn's Grade Center "Download Assignment": "<assignment>_<username>_attempt_
    # <YYYY-MM-DD-HH-MM-SS>_<original file name>", every attempt when "all attempts" is chosen,
    # as nbgrader's own FileNameCollectorPlugin.named_regexp help quotes it
    # (ps1_bitdiddle_attempt_2016-01-30-15-00-00_problem1.ipynb). The group is not called
    # "timestamp": nbgrader 0.9.6 hands that to dateutil, which reads 2026-02-01-09-30-00 as
    # 09:00 (the "-30" taken for a time zone), and would write that into timestamp.txt.
    r".*/(?:[^/]*_)?(?P<student_id>[^/_]+)_attempt_"
    r"(?P<attempt>\d{4}-\d\d-\d\d-\d\d-\d\d-\d\d)_(?P<file_id>[^/]+?)\.ipynb$",
    newest=("attempt",),  # the date and time, as a string, sort as they happened
    stamp="attempt", stamp_format="%Y-%m-%d-%H-%M-%S",  # here, not by nbgrader (above)
)

# Moodle's names with the participant number in the student id: for two students of one name
_BY_NUMBER = MOODLE.names.replace("(?P<student_id>[^/_]+)_(?P<participant>\\d+)",
                                  "(?P<student_id>[^/_]+_\\d+)")
PRESETS = {lms.name: lms for lms in (CANVAS, MOODLE, BLACKBOARD)}
EXPORTS = {name: lms for name, lms in PRESETS.items() if lms.columns}
_HINT = "if the zip is an LMS's bulk download, try --lms " + "|".join(PRESETS)


def preset(name: str | None, *, names_given: bool) -> Lms | None:
    """The `--lms` preset called `name` (None without one); refused beside `--names`."""
    if name is None:
        return None
    if names_given:
        raise CourseError(f"--lms {name} and --names both say how file names name students: "
                          f"give one (--lms {name} uses '{PRESETS[name].names}')")
    return PRESETS[name]


def compile_names(names: str) -> re.Pattern:
    try:
        pattern = re.compile(names)
    except re.error as error:
        raise CourseError(f"--names '{names}' is not a regular expression: {error}") from None
    missing = {"student_id", "file_id"} - set(pattern.groupindex)
    if missing:
        raise CourseError(f"--names '{names}' has no {' and no '.join(sorted(missing))} group: "
                          "write (?P<student_id>...) and (?P<file_id>...)")
    return pattern


def _order(match: re.Match, groups: tuple[str, ...]) -> tuple:
    key = []
    for group in groups:
        value = match.group(group) or ""
        key.append((int(value), "") if value.isdigit() else (-1, value))
    return tuple(key)


def select_attempts(archive: Path, names: str, lms: Lms | None = None
                    ) -> tuple[list[str], list[tuple[str, str]]]:
    """Which members of the zip nbgrader may collect: (kept, [(older attempt left out, the
    newer one kept)]). A notebook the pattern does not read is kept: nbgrader skips it, and
    says so.

    A notebook is matched as nbgrader will match it, at ``.../extracted/<zip name>/<member>``.
    With an `lms`, of several files one student hands in for one notebook the newest is kept;
    without one (or with two that nothing orders), several are an error, as is a zip none of
    whose notebooks the pattern reads: both say the pattern, a file it failed on, and --lms.

    Raises:
        CourseError: the pattern reads no notebook, or two files as one student's one notebook.
    """
    pattern = compile_names(names)
    with zipfile.ZipFile(archive) as z:
        members = [m for m in z.namelist() if not m.endswith("/")]
    prefix = f"/extracted/{Path(archive).stem}/"
    notebooks = [m for m in members if m.endswith(".ipynb")
                 and not any(p.startswith(".") or p == "__MACOSX" for p in PurePosixPath(m).parts)]
    what = f"--lms {lms.name} pattern" if lms else "--names pattern"
    seen: dict[tuple[str, str], list[tuple[tuple, str, re.Match]]] = {}
    unread = []
    for member in notebooks:
        match = pattern.match(prefix + member)
        if not match:
            unread.append(member)
            continue
        file_id = str(PurePosixPath(match.group("file_id")).with_suffix(".ipynb"))
        order = _order(match, lms.newest) if lms else ()
        seen.setdefault((match.group("student_id"), file_id), []).append((order, member, match))
    if notebooks and not seen and not any(m.endswith(_ARCHIVES) for m in members):
        raise CourseError(f"the {what} '{names}' reads none of the {len(notebooks)} notebook(s) "
                          f"in {Path(archive).name} as a student's, e.g. {unread[0]!r}; {_HINT}")
    if lms and lms.same_person:
        _one_person_per_id(seen, lms)
    kept, older = [m for m in members if m not in notebooks] + unread, []
    for (student, file_id), files in sorted(seen.items()):
        files.sort(key=lambda f: f[0])
        if len(files) > 1 and (not lms or not lms.newest or files[-1][0] == files[-2][0]):
            raise CourseError(
                f"the {what} '{names}' reads {len(files)} files as student {student!r}'s "
                f"{file_id}, e.g. {files[0][1]!r} and {files[1][1]!r}, and nothing in their "
                f"names tells which is newer: the pattern does not fit these names; {_HINT}"
                + (" (or --names for a zip of your own)" if lms else ""))
        kept.append(files[-1][1])
        older += [(f[1], files[-1][1]) for f in files[:-1]]
    return kept, older


def feedback_prefixes(archive: Path, kept: list[str], lms: Lms, assignment: str
                      ) -> dict[str, str]:
    """{student id: the start of the names the LMS's bulk feedback upload files under that
    student}: the name of their collected notebook up to its own file name, with a folder's
    "/" taken out (`feedback_name`). Where a student handed in several notebooks, the one
    collected as `assignment` decides."""
    pattern = compile_names(lms.names)
    prefix = f"/extracted/{Path(archive).stem}/"
    found: dict[str, tuple[bool, str]] = {}
    for member in kept:
        match = pattern.match(prefix + member) if member.endswith(".ipynb") else None
        if not match:
            continue
        start = match.start("file_id") - len(prefix)
        mine = PurePosixPath(match.group("file_id")).stem == assignment
        if match.group("student_id") not in found or mine:
            found[match.group("student_id")] = (mine, member[:start].replace("/", ""))
    return {student: value for student, (_, value) in found.items()}


def handed_in(archive: Path, kept: list[str], lms: Lms, timezone: str = "UTC"
              ) -> dict[str, str]:
    """{student id: when their newest kept notebook was handed in, as nbgrader's timestamp.txt
    writes it ("2026-02-01 09:30:00.000000 UTC")}, from the LMS's file names (`lms.stamp`, read
    in `timezone`, an IANA name such as "Europe/Berlin"); {} where the names carry no time.

    Raises:
        CourseError: `timezone` is no time zone this machine knows."""
    import datetime
    from zoneinfo import ZoneInfo, ZoneInfoNotFoundError

    if not lms.stamp:
        return {}
    try:
        zone = ZoneInfo(timezone)
    except (ZoneInfoNotFoundError, ValueError):
        raise CourseError(f"Exchange.timezone = {timezone!r} is no IANA time zone (e.g. "
                          "'Europe/Berlin'): the LMS's file names give local times") from None
    pattern = compile_names(lms.names)
    prefix = f"/extracted/{Path(archive).stem}/"
    found: dict[str, datetime.datetime] = {}
    for member in kept:
        match = pattern.match(prefix + member) if member.endswith(".ipynb") else None
        if not match or not match.group(lms.stamp):
            continue
        try:
            local = datetime.datetime.strptime(match.group(lms.stamp), lms.stamp_format)
        except ValueError:
            continue
        when = local.replace(tzinfo=zone).astimezone(datetime.timezone.utc)
        student = match.group("student_id")
        found[student] = max(found.get(student, when), when)
    return {s: f"{when:%Y-%m-%d %H:%M:%S.%f} UTC" for s, when in found.items()}


def feedback_name(lms: Lms, prefix: str, assignment: str) -> str:
    """The name a feedback page takes in `lms`'s bulk feedback upload.

    Canvas ("Re-upload submissions", Assignment#generate_comments_from_files in canvas-lms)
    reads the first two all-digit parts of a file name split at "_" as the user id and the
    attachment id of the submission, and attaches the file to it as a comment: the download's
    "<name>_<user id>_<attachment id>_" prefix. Moodle ("Upload multiple feedback files in a
    zip", assignfeedback_file's zip importer) splits a name at its first four "_": full name,
    participant number, "assignsubmission", "file", then the file's own name."""
    if lms.name not in FEEDBACK_UPLOADS:
        raise CourseError(f"{lms.name} takes no zip of feedback files; hand the pages in "
                          "grades/feedback/ back one by one")
    return f"{prefix}{assignment}-feedback.html"


FEEDBACK_UPLOADS = ("canvas", "moodle")


def _one_person_per_id(seen: dict, lms: Lms) -> None:
    """Refuse two people the LMS names alike (two Moodle students with one full name)."""
    people: dict[str, dict[str, str]] = {}
    for (student, _), files in seen.items():
        for _, member, match in files:
            people.setdefault(student, {}).setdefault(match.group(lms.same_person), member)
    for student, members in sorted(people.items()):
        if len(members) > 1:
            first, second = list(members.values())[:2]
            raise CourseError(
                f"two students are both called {student!r} in this {lms.name} download "
                f"({first!r} and {second!r}): collect it with --names and a pattern whose "
                f"student_id takes the {lms.same_person} number too, e.g. '{_BY_NUMBER}' "
                "(the number changes from one assignment to the next: give the two their "
                "course-wide ids by hand)")


def export(db_url: str, lms: Lms, out: Path) -> tuple[int, list[str]]:
    """Write `lms`'s gradebook import CSV from nbgrader's gradebook at `db_url` into `out`.

    One row per student of the gradebook, one column per assignment (the gradebook's order):
    the submission's total score (autograded plus manual, nbgrader's ``Grade.score``) less its
    late penalty (`cnncourse.grading.late`), empty where the student has no submission.
    Canvas gets its "Points Possible" row (each assignment's max score) so a column it does
    not know yet becomes an assignment worth those points. Returns (rows written, the students
    whose record lacks what the LMS needs to find them: `lms.needs`)."""
    from nbgrader.api import Gradebook

    if db_url.startswith("sqlite:///") and not Path(db_url[len("sqlite:///"):]).is_file():
        raise CourseError(f"no gradebook at {db_url[len('sqlite:///'):]}: grade first "
                          "(cnncourse grade), or give the one the graders share with --db-url")
    with Gradebook(db_url) as gb:
        assignments = [(a.name, a.max_score) for a in gb.assignments]
        scores = {(s["student"], name): s["score"] for name, _ in assignments
                  for s in gb.submission_dicts(name)}
        for student, name in list(scores):  # the late penalty, as nbgrader's own export takes it
            penalty = gb.find_submission(name, student).late_submission_penalty or 0.0
            if penalty and scores[student, name] is not None:
                scores[student, name] = max(0.0, scores[student, name] - penalty)
        students = sorted(gb.student_dicts(), key=lambda s: s["id"])
    unfound = []
    out = Path(out)
    out.parent.mkdir(parents=True, exist_ok=True)
    with out.open("w", newline="", encoding="utf-8") as f:
        writer = csv.writer(f)
        writer.writerow([*lms.columns, *(name for name, _ in assignments)])
        if lms is CANVAS:
            writer.writerow(["    Points Possible", "", "", "", "",
                             *(_number(points) for _, points in assignments)])
        for s in students:
            who = _canvas_student(s) if lms is CANVAS else [s["email"] or ""]
            if not who[1 if lms is CANVAS else 0] and not (lms is CANVAS and s["last_name"]):
                unfound.append(s["id"])
            writer.writerow([*who, *(_number(scores.get((s["id"], name)))
                                     for name, _ in assignments)])
    return len(students), unfound


def _canvas_student(s: dict) -> list[str]:
    """Student, ID, SIS User ID, SIS Login ID, Section. Canvas finds a student by ID first:
    the record's lms_user_id, else the nbgrader id where it is a Canvas user id (all digits,
    as --lms canvas collects it); the SIS columns stay empty (nbgrader has no SIS ids)."""
    name = ", ".join(p for p in (s["last_name"], s["first_name"]) if p) or s["id"]
    canvas_id = s["lms_user_id"] or (s["id"] if s["id"].isdigit() else "")
    return [name, canvas_id, "", "", ""]


def _number(value) -> str:
    if value is None:
        return ""
    return f"{float(value):g}"
