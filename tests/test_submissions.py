"""What students really hand in is graded fairly: correct work keeps its marks in every shape.

One class run of `cnncourse grade` on a copy of the real course (02_output_size and
04_pooling), with the shapes of submission that took points from correct work or stopped a
class before: helper cells, magics and edits the verification sandbox did not reproduce,
notebooks of older nbformat versions and other editors, a byte-order mark, student ids
nbgrader globs, warnings on stderr, metadata nbconvert rejects, the work in a copy of the
notebook, a folder where the notebook should be. Then a second run: a student who resubmits
an empty file keeps no score anywhere.
"""

from __future__ import annotations

import csv
import json
import os
import shutil
import subprocess
import sys
from pathlib import Path

import nbformat
import pytest
from autograde import reference_answers, source_notebook, with_answers, written_answers
from harness import ROOT

from cnncourse.notebooks import graded_cells, nbgrader_meta, parse_notebook, read_notebook

pytestmark = [pytest.mark.slow, pytest.mark.xdist_group("submissions")]

POOL, SIZE = "04_pooling", "02_output_size"


def _release(a):
    return read_notebook(ROOT / "notebooks" / a / f"{a}.ipynb")


def _reference(a):
    return reference_answers(source_notebook(ROOT, a))


# what 02's reference answers earn: every autograded test cell (written answers are by hand)
SIZE_POINTS = sum(c.points for c in graded_cells(source_notebook(ROOT, SIZE)) if c.kind == "test")


def _index(nb, grade_id: str) -> int:
    return next(i for i, c in enumerate(nb.cells) if nbgrader_meta(c).get("grade_id") == grade_id)


def _insert_before(nb, grade_id: str, *sources: str):
    at = _index(nb, grade_id)
    for source in reversed(sources):
        nb.cells.insert(at, nbformat.v4.new_code_cell(source))
    return nb


WINDOWS_OF = '''def windows_of(x, k, s):
    """(N, C, H, W) -> (N, C, H_out, W_out, KH, KW): the windows of x, kernel k, stride s."""
    w = np.lib.stride_tricks.sliding_window_view(x, k, axis=(2, 3))
    return w[:, :, ::s[0], ::s[1]]'''


def _uses_windows_of(code: str) -> str:
    """The reference max_pool2d, with its windows taken by the student's helper."""
    old = ("windows = np.lib.stride_tricks.sliding_window_view(xp, (kh, kw), axis=(2, 3))\n"
           "    windows = windows[:, :, ::sh, ::sw]")
    assert old in code, "the reference max_pool2d changed: update this test's student"
    return code.replace(old, "windows = windows_of(xp, (kh, kw), (sh, sw))")


def _pooling_class() -> dict[str, nbformat.NotebookNode]:
    """04_pooling: honest students whose work the sandbox once failed to rerun, and a cheat."""
    release, ref = _release(POOL), _reference(POOL)
    helper_ref = {**ref, "max_pool2d": _uses_windows_of(ref["max_pool2d"])}
    out = {}
    # the input: a helper in a new cell just above the answer cell
    out["helper"] = _insert_before(with_answers(release, helper_ref), "max_pool2d", WINDOWS_OF)
    # magics and shell lines, a cell magic defining what an answer reads
    magics = with_answers(release, {**ref, "global_avg_pool2d": ref["global_avg_pool2d"].replace(
        "return x.mean(axis=(2, 3), dtype=np.float64)",
        "return SCALE * x.mean(axis=(2, 3), dtype=np.float64)")})
    assert "SCALE" in magics.cells[_index(magics, "global_avg_pool2d")].source
    out["magics"] = _insert_before(magics, "global_avg_pool2d",
                                   "%matplotlib inline\n%load_ext autoreload\n%autoreload 2",
                                   "%%time\nimport math\nSCALE = math.cos(0.0)",
                                   "!echo checking my pooling\nfiles = !ls\nprint(len(files))")
    # an edit to the release's own first cell (an import the answer uses)
    edited = with_answers(release, {**ref, "max_pool2d": _uses_windows_of(ref["max_pool2d"])
                                    .replace("windows_of(", "swv_windows(")})
    first = next(c for c in edited.cells if c.cell_type == "code")
    first.source += ("\nfrom numpy.lib.stride_tricks import sliding_window_view as swv\n\n"
                     "def swv_windows(x, k, s):\n"
                     "    return swv(x, k, axis=(2, 3))[:, :, ::s[0], ::s[1]]")
    out["edited"] = edited
    # a visible test cell turned into markdown: nbgrader restores it, the kernel runs it
    typed = with_answers(release, ref)
    cell = typed.cells[_index(typed, "test_avg_pool2d")]
    cell.cell_type = "markdown"
    cell.pop("outputs", None)
    cell.pop("execution_count", None)
    out["retyped"] = typed
    # code that runs only in a kernel: the sandbox cannot rerun it, which is no cheating
    out["kernelonly"] = _insert_before(
        with_answers(release, helper_ref), "max_pool2d",
        "kernel = get_ipython().kernel  # this notebook runs in Jupyter\n\n" + WINDOWS_OF)
    # the input: a correct answer that prints to stderr
    out["stderr"] = with_answers(release, {**ref, "global_avg_pool2d": ref[
        "global_avg_pool2d"].replace("    x = np.asarray(x)\n", "    x = np.asarray(x)\n"
                                     "    print('pooling', x.shape, file=sys.stderr)\n", 1)})
    # warnings, logging and a progress bar, all on stderr
    out["noisy"] = with_answers(release, {
        **ref,
        "max_pool2d": ref["max_pool2d"].replace(
            "    x = np.asarray(x)\n", "    x = np.asarray(x)\n"
            "    warnings.warn('max_pool2d: a slow path', RuntimeWarning)\n", 1),
        "avg_pool2d": ref["avg_pool2d"].replace(
            "    x = np.asarray(x)\n", "    x = np.asarray(x)\n"
            "    logging.warning('avg_pool2d on %s', np.shape(x))\n", 1),
        "max_pool2d_backward": ref["max_pool2d_backward"].replace(
            "    x = np.asarray(x, dtype=np.float64)\n", "    x = np.asarray(x, dtype=np.float64)\n"
            "    for _ in tqdm(range(3), file=sys.stderr):\n        pass\n", 1)})
    first = next(c for c in out["noisy"].cells if c.cell_type == "code")
    first.source += "\nimport logging\nimport warnings\nfrom tqdm import tqdm"
    for a in ("stderr", "noisy"):
        first = next(c for c in out[a].cells if c.cell_type == "code")
        first.source += "\nimport sys"
    # still a cheat: wrong values, and the checkers switched off in the kernel
    out["cheat"] = with_answers(release, {**ref, "global_avg_pool2d": (
        "import cnncourse.testing\n"
        "cnncourse.testing.check_close = lambda *args, **kwargs: None\n"
        "np.allclose = lambda *args, **kwargs: True\n\n"
        + ref["global_avg_pool2d"].replace("return x.mean(", "return 2 * x.mean("))})
    return out


def _v44(nb) -> str:
    """`nb` as JupyterLab 3 and Notebook < 6.1 save it: nbformat 4.4, cells without ids."""
    data = json.loads(nbformat.writes(nb))
    data["nbformat_minor"] = 4
    for cell in data["cells"]:
        cell.pop("id", None)
    return json.dumps(data, indent=1)


def _colab(nb) -> str:
    """`nb` as Google Colab saves it: nbformat 4.0, Colab's metadata on the notebook and on
    every cell, no cell ids."""
    data = json.loads(nbformat.writes(nb))
    data["nbformat_minor"] = 0
    data["metadata"] = {"colab": {"provenance": [], "name": f"{SIZE}.ipynb"},
                        "kernelspec": {"name": "python3", "display_name": "Python 3"},
                        "language_info": {"name": "python"}, "accelerator": "GPU"}
    for k, cell in enumerate(data["cells"]):
        cell.pop("id", None)
        cell["metadata"]["id"] = f"cell{k:03d}xyz"
        if cell["cell_type"] == "code":
            cell["metadata"]["colab"] = {"base_uri": "https://localhost:8080/"}
            cell["metadata"]["outputId"] = f"{k:08x}-0000"
    return json.dumps(data)


ODD_IDS = ["li[2]", "a*b", "what?", "[x]"]


def _size_files() -> dict[str, dict[str, bytes | str | None]]:
    """02_output_size: student -> {file name: content}; None makes a folder of that name."""
    release = _release(SIZE)
    good = with_answers(release, _reference(SIZE))
    text = nbformat.writes(good)
    files: dict[str, dict] = {
        "alice": {f"{SIZE}.ipynb": text},
        "old44": {f"{SIZE}.ipynb": _v44(good)},  # the input
        "colab": {f"{SIZE}.ipynb": _colab(good)},
        "v3": {f"{SIZE}.ipynb": nbformat.writes(nbformat.convert(good, 3))},
        "bom": {f"{SIZE}.ipynb": b"\xef\xbb\xbf" + text.encode()},
        "copied": {f"{SIZE}.ipynb": nbformat.writes(release),  # the input
                   f"{SIZE}-Copy1.ipynb": text},
        "folder": {f"{SIZE}.ipynb": None},  # a folder where the notebook should be
    }
    for student in ODD_IDS:
        files[student] = {f"{SIZE}.ipynb": text}
    widgets = json.loads(text)  # the input, and another shape of the kind
    widgets["metadata"]["widgets"] = {"application/vnd.jupyter.widget-state+json": {}}
    files["widgets"] = {f"{SIZE}.ipynb": json.dumps(widgets)}
    return files


def _course(where: Path) -> Path:
    """A copy of the course with the two assignments, their releases and probes."""
    shutil.copy2(ROOT / "nbgrader_config.py", where / "nbgrader_config.py")
    for a in (SIZE, POOL):
        shutil.copytree(ROOT / "solutions" / a, where / "solutions" / a)
        shutil.copytree(ROOT / "notebooks" / a, where / "notebooks" / a)
        (where / "probes").mkdir(parents=True, exist_ok=True)
        shutil.copy2(ROOT / "probes" / f"{a}.py", where / "probes")
    return where


def _rows(course: Path, out: str = "grades") -> dict[tuple[str, str], dict]:
    path = course / out / "grades.csv"
    return {(r["student"], r["assignment"]): r for r in csv.DictReader(path.open())}


@pytest.fixture(scope="session")
def graded(tmp_path_factory):
    course = _course(tmp_path_factory.mktemp("submissions"))
    for student, nb in _pooling_class().items():
        folder = course / "submitted" / student / POOL
        folder.mkdir(parents=True)
        nbformat.write(nb, folder / f"{POOL}.ipynb")
    for student, files in _size_files().items():
        folder = course / "submitted" / student / SIZE
        folder.mkdir(parents=True, exist_ok=True)
        for name, content in files.items():
            if content is None:
                (folder / name).mkdir()
            elif isinstance(content, bytes):
                (folder / name).write_bytes(content)
            else:
                (folder / name).write_text(content)
    # as a grader runs it: Python's default warning filters (the cli fixture silences them)
    env = {k: v for k, v in os.environ.items() if k != "PYTHONWARNINGS"}
    result = subprocess.run([sys.executable, "-m", "cnncourse", "grade", SIZE, POOL, "--jobs",
                             "2", "--timeout", "300", "--no-progress"], cwd=course, env=env,
                            capture_output=True, text=True, timeout=1800)
    return course, result


def _graded(rows, student, a, score):
    row = rows[(student, a)]
    assert row["status"] == "graded", f"{student}: {row}"
    assert float(row["score"]) == score, f"{student}: {row['score']}/{row['max_score']}, " \
        f"expected {score}: {row['flags']}"
    return row


def test_the_class_run_finishes_and_grades_everyone(graded):
    course, result = graded
    assert result.returncode == 0, result.stdout[-2000:] + result.stderr[-2000:]
    rows = _rows(course)
    students = set(_pooling_class()) | set(_size_files())
    assert {s for s, _ in rows} == students


@pytest.mark.parametrize("student", ["helper", "magics", "edited", "retyped"])
def test_cells_students_add_or_change_keep_full_marks_and_no_flag(graded, student):
    """Verification reruns the program the kernel ran: a helper in a new cell, magics and
    shell lines, an edited first cell, a test cell turned into markdown."""
    row = _graded(_rows(graded[0]), student, POOL, 14)
    assert not row["flags"], row["flags"]


def test_code_only_a_kernel_runs_is_not_verified_but_keeps_its_points(graded):
    row = _graded(_rows(graded[0]), "kernelonly", POOL, 14)
    assert "could not verify max_pool2d" in row["flags"], row["flags"]
    assert "refutes" not in row["flags"] and "no points taken" in row["flags"]


@pytest.mark.parametrize("student", ["stderr", "noisy"])
def test_output_on_stderr_never_zeroes_a_correct_answer(graded, student):
    row = _graded(_rows(graded[0]), student, POOL, 14)
    assert not row["flags"], row["flags"]


def test_a_cheat_is_still_refuted_and_the_page_says_why(graded):
    course, _ = graded
    row = _graded(_rows(course), "cheat", POOL, 11)
    assert "verification refutes the in-kernel tests of global_avg_pool2d" in row["flags"]
    page = (course / "grades" / "feedback" / "cheat" / f"{POOL}.html").read_text()
    assert "verification: 0 points for this test" in page
    assert "hidden tests: passed" not in page.split("test_global_avg_pool2d_hidden")[-1][:3000]


@pytest.mark.parametrize("student", ["alice", "old44", "colab", "v3", "bom", *ODD_IDS])
def test_every_valid_notebook_and_every_student_id_is_graded(graded, student):
    course, _ = graded
    row = _graded(_rows(course), student, SIZE, SIZE_POINTS)
    assert not row["flags"], row["flags"]
    assert (course / "grades" / "feedback" / student / f"{SIZE}.html").is_file()


def test_metadata_nbconvert_rejects_still_gets_a_feedback_page(graded):
    course, _ = graded
    row = _graded(_rows(course), "widgets", SIZE, SIZE_POINTS)
    assert not row["flags"], row["flags"]
    page = course / "grades" / "feedback" / "widgets" / f"{SIZE}.html"
    text = page.read_text()
    assert f"Score: {SIZE_POINTS:g} / {SIZE_POINTS:g}" in text and "conv_output_size" in text


def test_work_in_another_notebook_is_flagged_and_listed(graded):
    course, _ = graded
    row = _graded(_rows(course), "copied", SIZE, 0)
    assert f"{SIZE}-Copy1.ipynb" in row["flags"], row["flags"]
    report = (course / "grades" / "report.html").read_text()
    look = report.split("To look at")[-1]
    assert "copied" in look and f"{SIZE}-Copy1.ipynb" in look


def test_a_file_that_cannot_be_read_is_a_row_not_a_stop(graded):
    row = _rows(graded[0])[("folder", SIZE)]
    assert row["status"] == "could not be read" and "IsADirectoryError" in row["flags"], row


def test_the_gradebook_holds_exactly_the_graded_rows(graded):
    from nbgrader.api import Gradebook, MissingEntry

    course, _ = graded
    rows = _rows(course)
    with Gradebook(f"sqlite:///{course / 'gradebook.db'}") as gb:
        for (student, a), row in rows.items():
            try:
                score = gb.find_submission(a, student).score
            except MissingEntry:
                score = None
            if row["status"] == "graded":
                assert score == float(row["score"]), (student, a, score, row)
            else:
                assert score is None, (student, a, score, row)


RESUBMITTED = {"alice": "", "bom": '{"cells": [ not json', "old44": None}  # None: no file


def test_a_resubmission_that_cannot_be_graded_leaves_no_score_anywhere(graded, cli, tmp_path):
    """alice was graded full marks; she resubmits an empty file; the grade run again leaves no
    score for her in the gradebook, in `nbgrader export`, or on a feedback page. The same for
    every status that is not `graded` (here: not JSON, a missing notebook)."""
    from nbgrader.api import Gradebook, MissingEntry

    course, _ = graded
    again = tmp_path / "submitted"
    for student, text in RESUBMITTED.items():
        (again / student / SIZE).mkdir(parents=True)
        if text is not None:
            (again / student / SIZE / f"{SIZE}.ipynb").write_text(text)
        page = course / "grades" / "feedback" / student / f"{SIZE}.html"
        assert page.is_file() and _rows(course)[(student, SIZE)]["status"] == "graded"
    result = cli("grade", SIZE, "--submitted", again, "--no-progress", cwd=course)
    assert result.returncode == 0, result.stdout[-2000:] + result.stderr[-2000:]
    rows = _rows(course)
    assert {s: rows[(s, SIZE)]["status"] for s in RESUBMITTED} == {
        "alice": "empty file", "bom": "not JSON", "old44": "missing notebook"}
    export = subprocess.run([sys.executable, "-m", "nbgrader", "export", "--to",
                             str(tmp_path / "export.csv")], cwd=course, capture_output=True,
                            text=True)
    assert export.returncode == 0, export.stderr[-2000:]
    exported = {r["student_id"]: r for r in csv.DictReader((tmp_path / "export.csv").open())
                if r["assignment"] == SIZE}
    with Gradebook(f"sqlite:///{course / 'gradebook.db'}") as gb:
        for student in RESUBMITTED:
            page = course / "grades" / "feedback" / student / f"{SIZE}.html"
            assert not page.exists(), f"{student}'s old feedback page still shows the old grade"
            with pytest.raises(MissingEntry):
                gb.find_submission(SIZE, student)
            row = exported[student]  # nbgrader's export of a student with no submission
            assert float(row["score"]) == 0 and not row["timestamp"], row
        assert gb.find_submission(SIZE, "colab").score == SIZE_POINTS  # the others keep theirs
    # and so does grades.csv: this run replaced only the rows of its own students
    assert rows[("colab", SIZE)]["score"] == f"{SIZE_POINTS:g}" and \
        rows[("helper", POOL)]["score"] == "14"
    assert len(rows) == len(set(_pooling_class()) | set(_size_files())) * 2


@pytest.mark.parametrize(("files", "flag"), [
    ({f"{SIZE}-Copy1.ipynb": 1}, f"not graded: {SIZE}-Copy1.ipynb"),
    ({"Untitled.ipynb": 1, "Untitled1.ipynb": 1}, "not graded: Untitled.ipynb, Untitled1.ipynb"),
    ({".ipynb_checkpoints/x-checkpoint.ipynb": 1, ".~lock.ipynb": 1}, None),  # not notebooks
])
def test_other_notebooks_beside_the_graded_one_are_named(tmp_path, files, flag):
    from cnncourse.grading.intake import find

    folder = tmp_path / "alice" / SIZE
    folder.mkdir(parents=True)
    text = nbformat.writes(_release(SIZE))
    (folder / f"{SIZE}.ipynb").write_text(text)
    for name in files:
        (folder / name).parent.mkdir(parents=True, exist_ok=True)
        (folder / name).write_text(text)
    sub = find(tmp_path, "alice", SIZE, {"conv_output_size"})
    assert sub.problem == "" and sub.path.name == f"{SIZE}.ipynb"
    if flag is None:
        assert not sub.flags, sub.flags
    else:
        assert any(flag in f for f in sub.flags), sub.flags


def test_no_sqlalchemy_warnings_reach_the_grader(graded):
    _, result = graded
    assert "SAWarning" not in result.stderr and "sqlalchemy" not in result.stderr.lower(), \
        result.stderr[-3000:]


# ------------------------------------------------------------------- reading notebooks

@pytest.mark.parametrize("shape", ["v44", "colab", "v3", "bom", "utf16"])
def test_every_notebook_nbformat_reads_is_normalised_to_4_5(shape):
    good = with_answers(_release(SIZE), _reference(SIZE))
    text = nbformat.writes(good)
    raw = {"v44": _v44(good).encode(), "colab": _colab(good).encode(),
           "v3": nbformat.writes(nbformat.convert(good, 3)).encode(),
           "bom": b"\xef\xbb\xbf" + text.encode(), "utf16": text.encode("utf-16")}[shape]
    nb = parse_notebook(raw)
    assert (nb.nbformat, nb.nbformat_minor) == (4, 5)
    ids = [c.get("id") for c in nb.cells]
    assert all(ids) and len(set(ids)) == len(ids)
    nbformat.validate(nb)
    answers = {nbgrader_meta(c).get("grade_id"): c.source for c in nb.cells
               if nbgrader_meta(c).get("solution") and c.cell_type == "code"}
    assert answers == {k: v for k, v in _reference(SIZE).items()}


def test_check_reads_what_grade_reads(cli, tmp_path):
    """A UTF-8 file with a byte-order mark, graded by `grade`, is checked by `check` too."""
    good = with_answers(_release(SIZE), {**_reference(SIZE),
                                         **written_answers(source_notebook(ROOT, SIZE))})
    path = tmp_path / f"{SIZE}.ipynb"
    path.write_bytes(b"\xef\xbb\xbf" + nbformat.writes(good).encode())
    result = cli("check", path, "--no-progress")
    assert result.returncode == 0, result.stdout[-3000:] + result.stderr[-2000:]
    assert "All visible tests pass" in result.stdout


def test_validate_and_check_agree_with_grade_on_stderr(graded, cli):
    """The issue's stderr input, through nbgrader's own `validate` (what JupyterLab's Validate
    button runs, under the course config) and `cnncourse check`: both pass it, as grade did."""
    course, _ = graded
    nb = read_notebook(course / "submitted" / "stderr" / POOL / f"{POOL}.ipynb")
    for cell in nb.cells:  # the written answers, graded by hand: Validate wants a response
        meta = nbgrader_meta(cell)
        if meta.get("solution") and meta.get("grade") and cell.cell_type == "markdown":
            cell.source = "Shifting by one pixel often keeps the maximum in its window."
    path = course / "validate-stderr" / f"{POOL}.ipynb"
    path.parent.mkdir()
    nbformat.write(nb, path)
    validate = subprocess.run([sys.executable, "-m", "nbgrader", "validate", str(path)],
                              cwd=course, capture_output=True, text=True, timeout=600)
    assert "Success! Your notebook passes all the tests." in validate.stdout, \
        validate.stdout[-3000:] + validate.stderr[-2000:]
    check = cli("check", path, "--no-progress", cwd=course)
    assert check.returncode == 0 and "All visible tests pass" in check.stdout, \
        check.stdout[-3000:]
