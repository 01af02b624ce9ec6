"""LMS presets, in and out: real bulk-download zips in Canvas's, Moodle's and Blackboard's
shapes collected with nbgrader's zip_collect (`cnncourse grade --zip --lms`), and the gradebook
written as Canvas's and Moodle's grade import CSV (`cnncourse export`)."""

from __future__ import annotations

import csv
import zipfile

import nbformat
import pytest
from autograde import with_answers
from toycourse import make_toy_course

from cnncourse.grading import intake, lms
from cnncourse.notebooks import CourseError, read_notebook

RIGHT = {"double": "def double(x):\n    return 2.0 * np.asarray(x, dtype=float)",
         "halve": "def halve(x):\n    return np.asarray(x, dtype=float) / 2"}
WRONG_HALVE = "def halve(x):\n    return np.asarray(x, dtype=float) / 3"
DEFAULT_NAMES = r".*/(?P<student_id>[^/_]+)_(?P<file_id>[^/]+)$"  # cnncourse.cli.ZIP_NAMES

# The import headers each LMS documents (the sources are in cnncourse/grading/lms.py): Canvas's
# app/models/gradebook_importer.rb reads Student, ID, SIS User ID, SIS Login ID, Section, then
# one column per assignment, and a "Points Possible" row; Moodle's grade/import/csv maps one
# identifier column (here the email address) and one column per grade item.
CANVAS_HEADER = "Student,ID,SIS User ID,SIS Login ID,Section,00_toy,01_convolution"
CANVAS_POINTS = "    Points Possible,,,,,4,5"
MOODLE_HEADER = "Email address,00_toy,01_convolution"


def _notebook(tag: str) -> str:
    """A small notebook whose one cell says which file it was (which attempt was kept)."""
    nb = nbformat.v4.new_notebook()
    nb.cells = [nbformat.v4.new_code_cell(f"# {tag}", id="tag")]
    return nbformat.writes(nb)


def _zip(path, members: dict[str, str]):
    with zipfile.ZipFile(path, "w") as z:
        for name, text in members.items():
            z.writestr(name, text)
    return path


def _collected(submitted, student, assignment="00_toy") -> dict[str, str]:
    folder = submitted / student / assignment
    return {p.name: p.read_text() for p in sorted(folder.iterdir())}


@pytest.fixture(scope="module")
def course(tmp_path_factory):
    """A toy course (no release needed to collect): nbgrader_config.py and solutions/00_toy."""
    return make_toy_course(tmp_path_factory.mktemp("lms") / "course")


def test_canvas_keeps_the_newest_attempt_and_undoes_its_renaming(course, tmp_path):
    """Canvas: "<name>[_LATE]_<user id>_<attachment id>_<file>", a resubmitted file gets "-1"
    (a larger attachment id); each student lands under the Canvas user id, as 00_toy.ipynb,
    flagged "renamed" only where the student named the notebook otherwise."""
    archive = _zip(tmp_path / "submissions.zip", {
        "doejane_123_9001_00_toy.ipynb": _notebook("jane first"),
        "doejane_123_9050_00_toy-1.ipynb": _notebook("jane resubmitted"),
        "smithbob_LATE_456_9010_00_toy.ipynb": _notebook("bob late"),
        "zhaowei_late_789_9020_00_toy-2.ipynb": _notebook("wei, older canvas, late"),
        "leeann_321_9030_Untitled-Copy1.ipynb": _notebook("ann renamed it"),
        "doejane_123_9051_notes.txt": "not a notebook",
    })
    said = []
    submitted = tmp_path / "submitted"
    count = intake.zip_collect(course, "00_toy", archive, DEFAULT_NAMES, submitted,
                               say=said.append, lms=lms.CANVAS)
    assert count == 4, said
    assert _collected(submitted, "123") == {"00_toy.ipynb": _notebook("jane resubmitted")}
    assert _collected(submitted, "456") == {"00_toy.ipynb": _notebook("bob late")}
    assert _collected(submitted, "789") == {"00_toy.ipynb": _notebook("wei, older canvas, late")}
    assert list(_collected(submitted, "321")) == ["Untitled-Copy1.ipynb"]
    assert said == ["not collected: doejane_123_9001_00_toy.ipynb, an older attempt than "
                    "doejane_123_9050_00_toy-1.ipynb"]
    flags = {s: intake.find(submitted, s, "00_toy", set()).flags for s in ("123", "456", "789")}
    assert flags == {"123": [], "456": [], "789": []}
    assert intake.find(submitted, "321", "00_toy", set()).flags == [
        "renamed: graded Untitled-Copy1.ipynb as 00_toy.ipynb"]


def test_moodle_folders_are_collected_under_each_full_name(course, tmp_path):
    """Moodle's default "Download submissions in folders": "<Full Name>_<participant>_
    assignsubmission_file_/<file as uploaded>", and the flat form without the folder."""
    archive = _zip(tmp_path / "C1-Convolution-42.zip", {
        "Jane Doe_11_assignsubmission_file_/00_toy.ipynb": _notebook("jane"),
        "Bob Smith_12_assignsubmission_file_/00_toy.ipynb": _notebook("bob"),
        "Bob Smith_12_assignsubmission_onlinetext_/onlinetext.html": "<p>hi</p>",
        "Wei Zhao_14_assignsubmission_file_00_toy.ipynb": _notebook("wei, flat"),
        "Ann Lee_13_assignsubmission_file_/my work.ipynb": _notebook("ann renamed it"),
    })
    submitted = tmp_path / "submitted"
    assert intake.zip_collect(course, "00_toy", archive, DEFAULT_NAMES, submitted,
                              say=print, lms=lms.MOODLE) == 4
    assert _collected(submitted, "Jane Doe") == {"00_toy.ipynb": _notebook("jane")}
    assert _collected(submitted, "Bob Smith") == {"00_toy.ipynb": _notebook("bob")}
    assert _collected(submitted, "Wei Zhao") == {"00_toy.ipynb": _notebook("wei, flat")}
    assert not intake.find(submitted, "Jane Doe", "00_toy", set()).flags
    assert intake.find(submitted, "Ann Lee", "00_toy", set()).flags == [
        "renamed: graded my work.ipynb as 00_toy.ipynb"]


def test_moodle_with_the_default_names_says_the_pattern_the_file_and_lms(course, tmp_path, cli):
    """What a new user typed first: the default --names on a Moodle zip reads every folder's
    notebook as student '00''s; the refusal shows the pattern, a file and --lms."""
    archive = _zip(tmp_path / "moodle.zip", {
        "Jane Doe_11_assignsubmission_file_/00_toy.ipynb": _notebook("jane"),
        "Bob Smith_12_assignsubmission_file_/00_toy.ipynb": _notebook("bob"),
    })
    result = cli("grade", "00_toy", "--zip", archive, "--no-progress", cwd=course)
    assert result.returncode == 2, result.stdout + result.stderr
    message = result.stderr
    assert DEFAULT_NAMES in message, message
    assert "Bob Smith_12_assignsubmission_file_/00_toy.ipynb" in message, message
    assert "--lms canvas|moodle|blackboard" in message and "Traceback" not in message
    assert "Duplicate submission file" not in message


def test_a_pattern_that_reads_nothing_says_so(course, tmp_path):
    archive = _zip(tmp_path / "canvas.zip", {"doejane_123_9001_00_toy.ipynb": _notebook("x")})
    with pytest.raises(CourseError) as error:
        intake.zip_collect(course, "00_toy", archive, "", tmp_path / "s", lms=lms.BLACKBOARD)
    message = str(error.value)
    assert lms.BLACKBOARD.names in message and "doejane_123_9001_00_toy.ipynb" in message
    assert "try --lms" in message


def test_two_moodle_students_of_one_name_are_refused(course, tmp_path):
    archive = _zip(tmp_path / "moodle.zip", {
        "Wei Zhang_21_assignsubmission_file_/00_toy.ipynb": _notebook("one"),
        "Wei Zhang_22_assignsubmission_file_/00_toy.ipynb": _notebook("other"),
    })
    with pytest.raises(CourseError, match="two students are both called 'Wei Zhang'"):
        intake.zip_collect(course, "00_toy", archive, "", tmp_path / "s", lms=lms.MOODLE)
    assert not (tmp_path / "s").exists()


def test_blackboard_keeps_the_last_attempt(course, tmp_path):
    """Blackboard: "<assignment>_<username>_attempt_<YYYY-MM-DD-HH-MM-SS>_<file>", a .txt
    receipt per attempt; the newest attempt is kept (at 09:30, which nbgrader's own timestamp
    parsing would have read as 09:00), and when it was handed in is its timestamp.txt."""
    archive = _zip(tmp_path / "gradebook_C1_Convolution.zip", {
        "Convolution_1_jdoe_attempt_2026-01-30-15-00-00_00_toy.ipynb": _notebook("jdoe 1"),
        "Convolution_1_jdoe_attempt_2026-01-30-15-00-00.txt": "receipt",
        "Convolution_1_jdoe_attempt_2026-02-01-09-30-00_00_toy.ipynb": _notebook("jdoe 2"),
        "Convolution_1_jdoe_attempt_2026-02-01-09-30-00.txt": "receipt",
        "Convolution_1_asmith_attempt_2026-01-29-10-00-00_00_toy.ipynb": _notebook("asmith"),
    })
    submitted = tmp_path / "submitted"
    assert intake.zip_collect(course, "00_toy", archive, "", submitted, lms=lms.BLACKBOARD) == 2
    # when each was handed in, from the name (the course's time zone: UTC), for late work
    assert _collected(submitted, "jdoe") == {"00_toy.ipynb": _notebook("jdoe 2"),
                                             "timestamp.txt": "2026-02-01 09:30:00.000000 UTC"}
    assert _collected(submitted, "asmith") == {"00_toy.ipynb": _notebook("asmith"),
                                               "timestamp.txt": "2026-01-29 10:00:00.000000 UTC"}
    found = lms.handed_in(archive, ["Convolution_1_jdoe_attempt_2026-02-01-09-30-00_00_toy.ipynb"],
                          lms.BLACKBOARD, "Europe/Berlin")  # winter: UTC+1
    assert found == {"jdoe": "2026-02-01 08:30:00.000000 UTC"}
    with pytest.raises(CourseError, match="no IANA time zone"):
        lms.handed_in(archive, [], lms.BLACKBOARD, "Mars/Olympus")


def test_lms_and_names_together_are_refused(course, cli, tmp_path):
    archive = _zip(tmp_path / "a.zip", {"alice_00_toy.ipynb": _notebook("a")})
    result = cli("grade", "00_toy", "--zip", archive, "--lms", "moodle", "--names", ".*",
                 cwd=course)
    assert result.returncode == 2
    assert "--lms moodle and --names both say" in result.stderr, result.stderr
    result = cli("grade", "00_toy", "--lms", "canvas", cwd=course)
    assert result.returncode == 2 and "give it with --zip" in result.stderr


@pytest.fixture(scope="module")
def canvas_class(tmp_path_factory, cli):
    """A released toy course whose Canvas download `cnncourse grade --zip --lms canvas` graded:
    (course root, the CompletedProcess, grades.csv's rows by student)."""
    root = make_toy_course(tmp_path_factory.mktemp("canvas") / "course")
    assert cli("release", cwd=root).returncode == 0
    release = read_notebook(root / "notebooks" / "00_toy" / "00_toy.ipynb")
    right = nbformat.writes(with_answers(release, RIGHT))
    wrong = nbformat.writes(with_answers(release, {**RIGHT, "halve": WRONG_HALVE}))
    archive = _zip(root.parent / "c1-convolution submissions.zip", {
        "doejane_123_9001_00_toy.ipynb": wrong,
        "doejane_123_9050_00_toy-1.ipynb": right,  # resubmitted: the right one counts
        "smithbob_LATE_456_9010_00_toy.ipynb": wrong,
        "leeann_321_9030_00_toy (1).ipynb": right,  # renamed by the student
    })
    result = cli("grade", "00_toy", "--zip", archive, "--lms", "canvas", "--jobs", "1",
                 "--no-progress", cwd=root)
    with (root / "grades" / "grades.csv").open() as f:
        rows = {r["student"]: r for r in csv.DictReader(f)}
    return root, result, rows


def test_a_canvas_download_is_graded_end_to_end(canvas_class):
    root, result, rows = canvas_class
    assert result.returncode == 0, result.stdout + result.stderr
    assert "collected" in result.stdout and "3 notebook(s)" in result.stdout
    assert "an older attempt than doejane_123_9050_00_toy-1.ipynb" in result.stdout
    assert {s: (r["status"], r["score"]) for s, r in rows.items()} == {
        "123": ("graded", "4"), "456": ("graded", "3"), "321": ("graded", "4")}
    assert "renamed" not in rows["123"]["flags"] + rows["456"]["flags"]
    assert "renamed: graded 00_toy (1).ipynb" in rows["321"]["flags"]


def test_export_of_the_graded_canvas_class(canvas_class, cli):
    """`cnncourse export` on the gradebook the class run wrote: Canvas finds each student by
    the user id the download gave; Moodle needs emails the gradebook does not have yet."""
    root, _, _ = canvas_class
    result = cli("export", "--format", "canvas", cwd=root)
    assert result.returncode == 0, result.stdout + result.stderr
    lines = (root / "grades" / "canvas-import.csv").read_text().splitlines()
    assert lines == ["Student,ID,SIS User ID,SIS Login ID,Section,00_toy",
                     "    Points Possible,,,,,4", "123,123,,,,4", "321,321,,,,4", "456,456,,,,3"]
    result = cli("export", "--format", "moodle", "--out", root / "moodle.csv", cwd=root)
    assert result.returncode == 0, result.stdout + result.stderr
    assert (root / "moodle.csv").read_text().splitlines() == [
        "Email address,00_toy", ",4", ",4", ",3"]
    assert "3 student(s) Moodle cannot find yet" in result.stdout and "email" in result.stdout


@pytest.fixture(scope="module")
def gradebook(tmp_path_factory):
    """A SQLite gradebook built with nbgrader's API: two assignments, a code test cell scored
    by the autograder and a written answer scored by hand, four students with what nbgrader's
    student records can hold, one of them without a submission of 01_convolution."""
    from nbgrader.api import Gradebook

    url = f"sqlite:///{tmp_path_factory.mktemp('gradebook') / 'gradebook.db'}"
    with Gradebook(url) as gb:
        for name, code, written in (("00_toy", 4, 0), ("01_convolution", 3, 2)):
            gb.add_assignment(name)
            gb.add_notebook(name, name)
            gb.add_grade_cell("test", name, name, max_score=code, cell_type="code")
            if written:
                gb.add_grade_cell("written", name, name, max_score=written,
                                  cell_type="markdown")
        gb.add_student("123", first_name="Jane", last_name="Doe", email="jane@uni.example")
        gb.add_student("bob", first_name="Bob", last_name="Smith", lms_user_id="456")
        gb.add_student("Wei Zhao", email="wei@uni.example")
        gb.add_student("ghost")
        scores = {("123", "00_toy"): (4, None), ("123", "01_convolution"): (3, 1.5),
                  ("bob", "00_toy"): (2.5, None), ("bob", "01_convolution"): (1, 2),
                  ("Wei Zhao", "00_toy"): (0, None), ("ghost", "00_toy"): (1, None)}
        for (student, name), (auto, manual) in scores.items():
            gb.add_submission(name, student)
            gb.find_grade("test", name, name, student).auto_score = auto
            if manual is not None:
                written = gb.find_grade("written", name, name, student)
                written.auto_score, written.manual_score = None, manual
        gb.db.commit()
    return url


def test_canvas_export_has_the_documented_columns(gradebook, tmp_path):
    rows, unfound = lms.export(gradebook, lms.CANVAS, tmp_path / "canvas.csv")
    assert rows == 4 and unfound == ["Wei Zhao", "ghost"]
    assert (tmp_path / "canvas.csv").read_text().splitlines() == [
        CANVAS_HEADER, CANVAS_POINTS,
        "\"Doe, Jane\",123,,,,4,4.5",  # the id is a Canvas user id; 3 autograded + 1.5 by hand
        "Wei Zhao,,,,,0,",  # no 01_convolution submission: empty, not 0
        "\"Smith, Bob\",456,,,,2.5,3",  # the record's lms_user_id
        "ghost,,,,,1,"]


def test_moodle_export_has_an_identifier_and_a_column_per_assignment(gradebook, tmp_path):
    rows, unfound = lms.export(gradebook, lms.MOODLE, tmp_path / "moodle.csv")
    assert rows == 4 and unfound == ["bob", "ghost"]
    assert (tmp_path / "moodle.csv").read_text().splitlines() == [
        MOODLE_HEADER, "jane@uni.example,4,4.5", "wei@uni.example,0,", ",2.5,3", ",1,"]


def test_export_without_a_gradebook_says_so(tmp_path, cli):
    result = cli("export", "--format", "canvas", "--db-url",
                 f"sqlite:///{tmp_path / 'none.db'}", cwd=tmp_path)
    assert result.returncode == 2 and "no gradebook at" in result.stderr
    assert not (tmp_path / "none.db").exists()


def test_the_graded_canvas_class_gets_a_feedback_zip_canvas_files_under_each_submission(
        canvas_class, cli):
    """`release-feedback --lms canvas`: one page per graded student, named as the download named
    their notebook, so that Canvas's "Re-Upload Submissions" (the first two all-digit parts of
    a name: user id, attachment id) attaches each page to its own submission."""
    import zipfile

    root, _, rows = canvas_class
    result = cli("release-feedback", "00_toy", "--lms", "canvas", cwd=root)
    assert result.returncode == 0, result.stdout + result.stderr
    target = root / "grades" / "feedback-00_toy-canvas.zip"
    assert "3 feedback page(s) of 00_toy in grades/feedback-00_toy-canvas.zip" in result.stdout, \
        result.stdout
    with zipfile.ZipFile(target) as z:
        pages = {name: z.read(name).decode() for name in z.namelist()}
    assert set(pages) == {"doejane_123_9050_00_toy-feedback.html",
                          "smithbob_LATE_456_9010_00_toy-feedback.html",
                          "leeann_321_9030_00_toy-feedback.html"}
    for name, page in pages.items():
        user, attachment = [p for p in name.split("_") if p.isdigit()][:2]
        assert f"Score: {rows[user]['score']} / 4" in page, name
        assert attachment in {"9050", "9010", "9030"}
    assert "x = np.random.default_rng(0).normal(size=7)" not in "".join(pages.values()), \
        "a hidden test's line"
    refused = cli("release-feedback", "00_toy", "--lms", "moodle", cwd=root)
    assert refused.returncode == 2 and "not collected from a moodle download" in refused.stderr


def test_a_moodle_class_gets_a_feedback_zip_moodle_files_under_each_participant(
        tmp_path, cli):
    """Moodle's folders and flat names both give "<Full Name>_<participant>_assignsubmission_
    file_<page>": its zip importer splits a name at the first four "_" (full name, participant
    number, plugin type, plugin name, the file)."""
    root = make_toy_course(tmp_path / "course")
    assert cli("release", cwd=root).returncode == 0
    release = read_notebook(root / "notebooks" / "00_toy" / "00_toy.ipynb")
    right = nbformat.writes(with_answers(release, RIGHT))
    archive = _zip(tmp_path / "C1-Convolution-42.zip", {
        "Jane Doe_11_assignsubmission_file_/00_toy.ipynb": right,
        "Wei Zhao_14_assignsubmission_file_00_toy.ipynb": right,
    })
    result = cli("grade", "00_toy", "--zip", archive, "--lms", "moodle", "--jobs", "1",
                 "--no-progress", cwd=root)
    assert result.returncode == 0, result.stdout + result.stderr
    handed = cli("release-feedback", "00_toy", "--lms", "moodle", cwd=root)
    assert handed.returncode == 0, handed.stdout + handed.stderr
    with zipfile.ZipFile(root / "grades" / "feedback-00_toy-moodle.zip") as z:
        names = sorted(z.namelist())
    assert names == ["Jane Doe_11_assignsubmission_file_00_toy-feedback.html",
                     "Wei Zhao_14_assignsubmission_file_00_toy-feedback.html"]
    for name in names:
        full_name, participant, plugin_type, plugin, _ = name.split("_", 4)
        assert participant.isdigit() and (plugin_type, plugin) == ("assignsubmission", "file")
    blackboard = cli("release-feedback", "00_toy", "--lms", "blackboard", cwd=root)
    assert blackboard.returncode == 2, "argparse refuses an LMS without a feedback upload"
