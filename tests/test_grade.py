"""`cnncourse grade` on a toy class with honest, wrong, broken and hostile submissions.

One class run: every student gets a row, honest grades are what their answers earn, and no
broken or hostile notebook stops the run or touches another student's grade.
"""

from __future__ import annotations

import contextlib
import csv
import html
import json
import os
import re
import secrets
import shutil
import socket
import tempfile
from pathlib import Path

import nbformat
import pytest
from autograde import with_answers
from toycourse import make_toy_course

from cnncourse.notebooks import read_notebook

pytestmark = [pytest.mark.slow, pytest.mark.xdist_group("grade")]  # one class run

RIGHT_DOUBLE = "def double(x):\n    return 2.0 * np.asarray(x, dtype=float)"
RIGHT_HALVE = "def halve(x):\n    return np.asarray(x, dtype=float) / 2"
WRONG_HALVE = "def halve(x):\n    return np.asarray(x, dtype=float) / 3"
# wrong, and switches off the checker the tests import: nbgrader alone gives it full marks
CHEATING_DOUBLE = """import cnncourse.testing
cnncourse.testing.check_close = lambda *args, **kwargs: None

def double(x):
    return np.zeros(np.shape(x))"""
TOY_PROBES = '''
import numpy as np
from cnncourse.grading.verify import Probe, same_as

PROBES = [
    Probe("double", lambda rng: [((rng.normal(size=5),), {})], same_as(lambda x: 2 * x)),
    Probe("halve", lambda rng: [((rng.normal(size=(2, 3)),), {})], same_as(lambda x: x / 2)),
]
'''
# right, and prints what of the course and the other students it can reach by relative path
# from where its kernel runs, up to the grading worker's scratch home (4 levels up); the
# released notebooks are public and its own files are its own
SNOOPING_HALVE = RIGHT_HALVE + """
import glob, os
found = sorted({p for up in range(5) for pattern in (
    "gradebook.db", "*/gradebook.db", "solutions", "*/solutions", "submitted/*", "autograded/*",
    "*/submitted/*", "*/autograded/*", "*/*/*.ipynb", "*/*/*/*.ipynb")
    for p in glob.glob(os.path.join(*([".."] * up), pattern))})
mine = os.path.realpath("..")  # its own graded folder, whatever id the grader gave it
print("SNOOPED:", [p for p in found if "notebooks" not in p.split(os.sep)
                   and not os.path.realpath(p).startswith(mine)])
import sys
print("WARM KERNEL:", "torch" in sys.modules)  # the toy notebook never imports torch itself"""
# writes a file into the folders above the one it runs in: under plain nbgrader, these are the
# student's graded folder, autograded/ and the course root
VANDAL_HALVE = RIGHT_HALVE + """
import os
for up in range(1, 5):
    try:
        with open(os.path.join(*([".."] * up), "PWNED.txt"), "w") as f:
            f.write("was here")
    except OSError:
        pass"""
# wrong, and hides every error from nbgrader: a test cell without an error output gets its points
SILENCING_DOUBLE = """get_ipython().showtraceback = lambda *args, **kwargs: None

def double(x):
    return np.zeros(np.shape(x))"""
# wrong, and makes every difference look like zero to any test that takes np.abs
NUMPY_PATCHING_DOUBLE = """np.abs = lambda x, *args, **kwargs: np.zeros(np.shape(x))

def double(x):
    return np.ones(np.shape(x))"""
# an object that turns into the visible test's answer whatever it is asked
LIAR_DOUBLE = """class Liar:
    def __eq__(self, other):
        return True

    def __array__(self, dtype=None, copy=None):
        return np.array([2.0, 4.0])

def double(x):
    return Liar()"""
# starts a process that detaches (new session, parent gone) and would outlive the notebook;
# prints its pid
DETACHING_HALVE = RIGHT_HALVE + """
import os, subprocess, sys, time
subprocess.Popen([sys.executable, "-c", "import os, sys, time\\n"
                  "if os.fork() == 0:\\n"
                  "    os.setsid()\\n"
                  "    open(sys.argv[1], 'w').write(str(os.getpid()))\\n"
                  "    time.sleep(600)\\n", os.path.abspath("yuri.pid")], start_new_session=True)
for _ in range(100):
    if os.path.exists("yuri.pid") and open("yuri.pid").read():
        break
    time.sleep(0.1)
print("DETACHED PID:", open("yuri.pid").read())"""
# code that tries a connection (for code run elsewhere: a notebook, a jail)
CONNECTS = """
import socket
def connects(family, address):
    try:
        with socket.socket(family, socket.SOCK_STREAM) as s:
            s.settimeout(3)
            s.connect(address)
        return True
    except OSError:
        return False"""
# right, and tries by absolute path (given it, as if guessed) what a jail must keep from it: the
# course, its gradebook, the solutions, another student's submission, the grader's Jupyter
# files, anything in /tmp but its own folder (the workers' scratch gradebooks and notebooks),
# the hidden tests nbgrader put back into the notebook it runs, the grader's processes; prints
# what it reached; and the host's network: a TCP listener on the host's addresses, a Unix socket
# in a folder of the host's, an abstract Unix socket (`host_listeners`)
TRESPASSING_HALVE = RIGHT_HALVE + """
import glob, os, signal
reached = []
def can_read(path):
    try:
        if os.path.isdir(path):
            return bool(os.listdir(path))
        with open(path, "rb") as f:
            return bool(f.read(1))
    except OSError:
        return False
for label, path in [("course", COURSE), ("gradebook", DB), ("solutions", COURSE + "/solutions"),
                    ("alice", COURSE + "/submitted/alice/00_toy/00_toy.ipynb"),
                    ("jupyter files", HOME + "/.local/share/jupyter"),
                    ("parent's folder", f"/proc/{os.getppid()}/cwd"),
                    ("parent's memory map", f"/proc/{os.getppid()}/maps")]:
    if can_read(path):
        reached.append(label)
import sys, cnncourse  # its own folder, Python and the package are its to read, and the
mine = [os.getcwd()] + [os.path.realpath(p) for p in (  # sockets of its own kernel (jailed)
    sys.prefix, sys.base_prefix, os.path.dirname(cnncourse.__file__))]
from ipykernel.kernelapp import IPKernelApp
if IPKernelApp.instance().transport == "ipc":
    mine.append(os.path.dirname(IPKernelApp.instance().ip))
strangers = []  # counted, a few named: a grader's /tmp may hold more than an output may
for folder, _, files in os.walk("/tmp"):
    if not any(folder == m or folder.startswith(m + os.sep) for m in mine):
        strangers += [os.path.join(folder, f) for f in files]
if strangers:
    reached.append(f"{len(strangers)} files in /tmp, such as {strangers[:3]}")
if any("double(" + "random)" in open(p).read() for p in glob.glob("*.ipynb")):
    reached.append("hidden tests")
others = [p for p in os.listdir("/proc") if p.isdigit() and int(p) != os.getpid()]
if others:
    reached.append(f"{len(others)} other processes, such as {others[:3]}")
try:
    if os.getppid():  # 0: its parent is outside its PID namespace, out of sight and reach
        os.kill(os.getppid(), 0)
        reached.append("can signal its parent")
except OSError:
    pass
try:
    os.setuid(0)
    reached.append("is root")
except OSError:
    pass
""" + CONNECTS + """
for address in ADDRESSES:  # listeners of the host's (a gradebook server, a scheduler)
    if any(connects(socket.AF_INET, (address, port)) for port in PORTS):
        reached.append(f"host {address}")
if connects(socket.AF_UNIX, UNIX_SOCKET):
    reached.append("host unix socket")
if connects(socket.AF_UNIX, "\\0" + ABSTRACT):
    reached.append("host abstract socket")
print("REACHED:", reached)"""
# right on the visible test's integers, wrong on the hidden test's random floats
ROUNDING_DOUBLE = "def double(x):\n    x = np.asarray(x, dtype=float)\n    return x + x.round()"


@contextlib.contextmanager
def host_listeners():
    """What no jailed kernel may reach, open while the block runs: a TCP listener on all the
    host's addresses, a Unix socket in a folder of the host's and an abstract Unix socket (which
    no file tree hides), all open to any user. Yields where they are, for `trespassing_halve`:
    {"PORTS", "ADDRESSES" (127.0.0.1 and the host's address on its network, where it has one),
    "UNIX_SOCKET", "ABSTRACT"}. Each accepts connections without being served."""
    folder = Path(tempfile.mkdtemp(prefix="cnncourse-host-"))
    folder.chmod(0o755)
    addresses = ["127.0.0.1"]
    try:  # the address the host would use to reach the outside (a UDP "connect" sends nothing)
        with socket.socket(socket.AF_INET, socket.SOCK_DGRAM) as probe:
            probe.connect(("10.255.255.255", 1))
            if probe.getsockname()[0] not in addresses:
                addresses.append(probe.getsockname()[0])
    except OSError:
        pass
    name = f"cnncourse-host-{os.getpid()}-{secrets.token_hex(4)}"
    with socket.create_server(("0.0.0.0", 0), backlog=64) as tcp, \
            socket.socket(socket.AF_UNIX, socket.SOCK_STREAM) as unix, \
            socket.socket(socket.AF_UNIX, socket.SOCK_STREAM) as abstract:
        unix.bind(str(folder / "host.sock"))
        (folder / "host.sock").chmod(0o777)
        unix.listen(64)
        abstract.bind("\0" + name)
        abstract.listen(64)
        try:
            yield {"PORTS": [tcp.getsockname()[1]], "ADDRESSES": addresses,
                   "UNIX_SOCKET": str(folder / "host.sock"), "ABSTRACT": name}
        finally:
            shutil.rmtree(folder, ignore_errors=True)


def trespassing_halve(root: Path, reach: dict, db: Path | None = None,
                      home: Path | None = None) -> str:
    """TRESPASSING_HALVE told where the course of the class run, its gradebook, the grader's
    home and the host's listeners (`host_listeners`) are."""
    code = TRESPASSING_HALVE.replace("COURSE", repr(str(root))).replace(
        "DB", repr(str(db or root / "class.db"))).replace("HOME", repr(str(home or Path.home())))
    for key in ("ADDRESSES", "UNIX_SOCKET", "ABSTRACT", "PORTS"):
        code = code.replace(key, repr(reach[key]))
    return code


# what tom reaches without a jail, on any machine (`host_listeners`)
HOST_NETWORK = {"host 127.0.0.1", "host unix socket", "host abstract socket"}


def _class(root, reach):
    """submitted/<student>/00_toy/: who did what (tom knows the host's listeners, `reach`)."""
    release = read_notebook(root / "notebooks" / "00_toy" / "00_toy.ipynb")
    right = {"double": RIGHT_DOUBLE, "halve": RIGHT_HALVE}
    nbs = {
        "alice": with_answers(release, right),  # everything right: 4 / 4
        "bob": with_answers(release, {**right, "halve": WRONG_HALVE}),  # 3 / 4
        "carol": release,  # handed in blank: 0 / 4
        "leo": with_answers(release, {**right, "double": ROUNDING_DOUBLE}),  # 2 / 4
        "mallory": with_answers(release, {**right, "double": CHEATING_DOUBLE}),  # 1 / 4
        "hank": with_answers(release, {**right, "halve": RIGHT_HALVE + "\n"
                                       "import signal, time\n"
                                       "signal.signal(signal.SIGINT, signal.SIG_IGN)\n"
                                       "while True:\n    time.sleep(0.1)"}),
        "ivan": with_answers(release, {**right, "halve": RIGHT_HALVE + "\nimport os\nos._exit(3)"}),
        # a memory bomb in front of halve: contained by --memory-gb, double still counts: 3 / 4
        "nina": with_answers(release, {**right, "halve": "hog = bytearray(64 * 2**30)\n"
                                       + RIGHT_HALVE}),
        "oscar": with_answers(release, {**right, "halve": VANDAL_HALVE}),  # 4 / 4, writes nowhere
        "pat": with_answers(release, {**right, "halve": SNOOPING_HALVE}),  # 4 / 4, finds nothing
        "rita": with_answers(release, {**right,
                                       "halve": RIGHT_HALVE + "\nimport sys\nsys.exit(0)"}),
        "wendy": with_answers(release, {**right, "double": SILENCING_DOUBLE}),  # 1 / 4
        "walt": with_answers(release, {**right, "double": NUMPY_PATCHING_DOUBLE}),  # 1 / 4
        # the checkers want a real ndarray: the liar earns nothing for double, 1 / 4
        "vera": with_answers(release, {**right, "double": LIAR_DOUBLE}),
        "xena": with_answers(release, {**right, "halve": "while True:\n    pass"}),
        # 4 / 4, and its process does not outlive it
        "yuri": with_answers(release, {**right, "halve": DETACHING_HALVE}),
        # 4 / 4, and reaches nothing where the grader runs as root (then jailed)
        "tom": with_answers(release, {**right, "halve": trespassing_halve(root, reach)}),
        # 30 MB of output: graded, the output cut to the limit
        "quinn": with_answers(release, {**right, "halve": RIGHT_HALVE
                                        + "\nprint('x' * 30_000_000)"}),
    }
    sam = with_answers(release, right)  # deleted a test cell: nbgrader puts it back, 4 / 4
    sam.cells = [c for c in sam.cells if c.metadata.get("nbgrader", {}).get("grade_id")
                 != "test_halve"]
    nbs["sam"] = sam
    ursula = with_answers(release, {**right, "halve": WRONG_HALVE})  # "fixed" the test: 3 / 4
    for cell in ursula.cells:
        if cell.metadata.get("nbgrader", {}).get("grade_id") == "test_halve":
            cell.source = "pass"
    nbs["ursula"] = ursula
    judy = with_answers(release, right)
    judy.cells.insert(3, nbformat.from_dict(json.loads(json.dumps(judy.cells[2]))))  # pasted twice
    nbs["judy"] = judy
    files = {name: nbformat.writes(nb) for name, nb in nbs.items()}
    files["dave"] = '{"cells": [ this is not json'
    files["erin"] = ""
    other = with_answers(release, right)
    for cell in other.cells:
        cell.metadata.pop("nbgrader", None)
    files["kate"] = nbformat.writes(other)  # a notebook of some other assignment
    foreign = with_answers(release, right)  # nbgrader cells, but those of another assignment
    for cell in foreign.cells:
        meta = cell.metadata.get("nbgrader", {})
        if "grade_id" in meta:
            meta["grade_id"] = "conv1d_" + meta["grade_id"]
    files["zoe"] = nbformat.writes(foreign)
    for student, text in files.items():
        folder = root / "submitted" / student / "00_toy"
        folder.mkdir(parents=True)
        (folder / "00_toy.ipynb").write_text(text)
    gina = root / "submitted" / "gina" / "00_toy"
    gina.mkdir(parents=True)
    (gina / "my work (1).ipynb").write_text(files["alice"])  # right answers, LMS renamed the file
    (root / "submitted" / "frank" / "00_toy").mkdir(parents=True)  # forgot to upload
    return root


# the class run itself is the session fixture `graded` (tests/conftest.py), so that
# tests/test_cluster.py grades the same class on a Dask cluster without running it twice


def test_every_student_gets_a_row_and_the_run_succeeds(graded):
    _, result, rows = graded
    assert result.returncode == 0, result.stdout + result.stderr
    assert set(rows) == {"alice", "bob", "carol", "dave", "erin", "frank", "gina", "hank", "ivan",
                         "judy", "kate", "leo", "mallory", "nina", "oscar", "pat", "rita",
                         "sam", "tom", "ursula", "quinn", "vera", "walt", "wendy", "xena", "yuri",
                         "zoe"}
    assert "27 student(s)" in result.stdout


def test_honest_students_get_what_their_answers_earn(graded):
    _, _, rows = graded
    got = {s: (rows[s]["status"], rows[s]["score"], rows[s]["max_score"])
           for s in ("alice", "bob", "carol", "leo")}
    assert got == {"alice": ("graded", "4", "4"), "bob": ("graded", "3", "4"),
                   "carol": ("graded", "0", "4"), "leo": ("graded", "2", "4")}


@pytest.mark.parametrize(("student", "status"), [
    ("dave", "not JSON"), ("erin", "empty file"), ("frank", "missing notebook"),
    ("kate", "wrong assignment"), ("zoe", "wrong assignment"), ("hank", "timed out"),
    ("xena", "timed out"), ("ivan", "kernel died"),
])
def test_a_submission_that_cannot_be_graded_says_why_and_has_no_score(graded, student, status):
    _, _, rows = graded
    assert rows[student]["status"] == status
    assert rows[student]["score"] == "", "a failed submission must not look like a 0"


def test_a_cheat_that_fools_the_kernel_tests_gets_what_its_answers_earn(graded):
    _, _, rows = graded
    assert (rows["mallory"]["status"], rows["mallory"]["score"]) == ("graded", "1")
    assert "verification refutes the in-kernel tests of double" in rows["mallory"]["flags"]
    assert not any("verification" in rows[s]["flags"] for s in ("alice", "bob", "carol", "leo"))


@pytest.mark.parametrize("student", ["wendy", "walt"])
def test_patching_ipython_or_numpy_in_the_kernel_raises_nothing(graded, student):
    _, _, rows = graded
    assert (rows[student]["status"], rows[student]["score"]) == ("graded", "1")
    if student == "walt":  # nbgrader gave the patched tests full marks; verification did not
        assert "verification refutes the in-kernel tests of double" in rows[student]["flags"]


def test_an_object_that_lies_about_equality_gets_no_more_than_its_values(graded):
    _, _, rows = graded
    assert (rows["vera"]["status"], rows["vera"]["score"]) == ("graded", "1")


def test_a_detached_process_does_not_outlive_its_notebook(graded):
    root, _, rows = graded
    page = _text((root / "grades" / "feedback" / "yuri" / "00_toy.html").read_text())
    found = re.search(r"DETACHED PID: (\d+)", page)
    assert found, "the detaching submission did not run"
    stat = Path(f"/proc/{found[1]}/stat")
    alive = stat.exists() and stat.read_text().rsplit(")", 1)[1].split()[0] != "Z"
    assert not alive, f"process {found[1]} started by yuri's notebook is still running"
    assert (rows["yuri"]["status"], rows["yuri"]["score"]) == ("graded", "4")
    assert "killed" in rows["yuri"]["flags"]
    assert "killed" not in rows["alice"]["flags"]


def test_huge_output_is_cut_and_flagged_but_graded(graded):
    root, _, rows = graded
    assert (rows["quinn"]["status"], rows["quinn"]["score"]) == ("graded", "4")
    assert "MB of output over the 5 MB limit" in rows["quinn"]["flags"]
    page = root / "grades" / "feedback" / "quinn" / "00_toy.html"
    assert page.stat().st_size < 8 * 2**20
    assert "MB of output cut here" in page.read_text()


@pytest.mark.parametrize(("student", "score"), [
    ("nina", "3"), ("oscar", "4"), ("pat", "4"), ("rita", "4"), ("sam", "4"), ("ursula", "3"),
])
def test_hostile_code_and_edited_cells_get_what_the_answers_earn(graded, student, score):
    _, _, rows = graded
    assert (rows[student]["status"], rows[student]["score"]) == ("graded", score)


def test_a_kernel_finds_no_gradebook_solution_or_other_student_by_relative_path(graded):
    root, _, rows = graded
    page = _text((root / "grades" / "feedback" / "pat" / "00_toy.html").read_text())
    assert "SNOOPED: []" in page, page[page.find("SNOOPED"):][:500]
    assert "WARM KERNEL: True" in page, "the class was not graded in warm kernels"
    assert "verification" not in rows["pat"]["flags"]


def test_a_kernel_reaches_nothing_by_absolute_path_when_jailed(graded):
    """As root, `cnncourse grade` jails student code (its own file tree, user and network per
    worker); as another user, in namespaces of its own. tom, who knows where everything is,
    reaches none of it: no file of the course or the grader, no process, and nothing of the
    host's network (a TCP listener on 127.0.0.1 and the host's address, a Unix socket, an
    abstract Unix socket). Without the jail he reaches all of it (tests/test_jail.py)."""
    root, result, rows = graded
    page = _text((root / "grades" / "feedback" / "tom" / "00_toy.html").read_text())
    assert "REACHED: [" in page, "tom's probe printed nothing: " + page[-2000:]
    reached = page[page.find("REACHED: ["):].splitlines()[0]  # the output, not the code
    assert (rows["tom"]["status"], rows["tom"]["score"]) == ("graded", "4")
    assert ("student code runs jailed, as a user of its own per worker" if os.geteuid() == 0
            else "student code runs jailed, in namespaces") in result.stdout, result.stdout
    assert reached == "REACHED: []", reached


def test_no_submission_writes_into_the_course(graded):
    root, _, _ = graded
    assert not list(root.rglob("PWNED.txt"))


def test_repairable_submissions_are_graded_and_flagged(graded):
    _, _, rows = graded
    assert (rows["gina"]["status"], rows["gina"]["score"]) == ("graded", "4")
    assert "renamed" in rows["gina"]["flags"]
    assert (rows["judy"]["status"], rows["judy"]["score"]) == ("graded", "4")
    assert "duplicated cells" in rows["judy"]["flags"]


def test_the_course_gradebook_holds_the_graded_rows(graded):
    from nbgrader.api import Gradebook

    root, _, rows = graded
    assert not (root / "gradebook.db").exists(), "--db-url names the gradebook to use"
    with Gradebook(f"sqlite:///{root / 'class.db'}") as gb:
        for student, row in rows.items():
            if row["status"] != "graded":
                continue
            sub = gb.find_submission("00_toy", student)
            assert sub.score == float(row["score"]), student


def test_grading_leaves_no_kernel_output_in_the_course_tree(graded):
    root, _, _ = graded
    assert not (root / "autograded").exists()
    assert not (root / "feedback").exists()



def _text(page: str) -> str:
    """What a reader sees: code in the HTML is split into highlighted spans."""
    return html.unescape(re.sub(r"<[^>]+>", "", page))


def test_feedback_shows_scores_and_verdicts_but_no_hidden_test(graded):
    root, _, rows = graded
    pages = {p.parent.name: _text(p.read_text())
             for p in (root / "grades" / "feedback").glob("*/*.html")}
    assert set(pages) == {s for s, r in rows.items() if r["status"] == "graded"}
    leo = pages["leo"]
    assert "Score: 2 / 4" in leo
    assert "hidden tests: failed" in leo and "hidden tests for double: random arrays" in leo
    for page in pages.values():
        assert 'check_close("double([1, 2])"' in page  # visible test code is shown, as text
        for secret in ("default_rng(0)", "double(random)", "BEGIN HIDDEN", "x * 2, say=False"):
            assert secret not in page, secret


def test_report_plots_each_assignment_and_lists_what_to_look_at(graded):
    root, _, _ = graded
    page = (root / "grades" / "report.html").read_text()
    assert page.count("data:image/png;base64,") == 1  # one assignment, one figure
    assert "27 students" in page and "6 not JSON" not in page
    text = _text(page)
    for who, why in [("dave", "not JSON"), ("hank", "timed out"), ("gina", "renamed")]:
        assert re.search(rf"{who}\s*00_toy\s*[^\n]*{why}", text), (who, why)


def test_an_lms_zip_is_collected_with_nbgrader_and_graded(tmp_path, cli):
    import zipfile

    root = make_toy_course(tmp_path / "course")
    assert cli("release", cwd=root).returncode == 0
    release = read_notebook(root / "notebooks" / "00_toy" / "00_toy.ipynb")
    right = {"double": RIGHT_DOUBLE, "halve": RIGHT_HALVE}
    archive = tmp_path / "downloads.zip"
    with zipfile.ZipFile(archive, "w") as z:
        z.writestr("alice_00_toy.ipynb", nbformat.writes(with_answers(release, right)))
        z.writestr("bob_00_toy.ipynb",
                   nbformat.writes(with_answers(release, {**right, "halve": WRONG_HALVE})))
        z.writestr("readme.txt", "not a notebook")
    result = cli("grade", "00_toy", "--zip", str(archive), "--jobs", "1", "--no-progress",
                 cwd=root)
    assert result.returncode == 0, result.stdout + result.stderr
    assert "collected" in result.stdout and "2 notebook(s)" in result.stdout
    rows = {r["student"]: r for r in csv.DictReader((root / "grades" / "grades.csv").open())}
    assert {s: (r["status"], r["score"]) for s, r in rows.items()} == {
        "alice": ("graded", "4"), "bob": ("graded", "3")}


def test_a_zip_that_is_not_one_says_so(tmp_path, cli):
    root = make_toy_course(tmp_path / "course")
    (tmp_path / "broken.zip").write_text("no zip")
    result = cli("grade", "00_toy", "--zip", str(tmp_path / "broken.zip"), cwd=root)
    assert result.returncode != 0
    assert "is not a zip archive" in result.stdout + result.stderr
    assert "Traceback" not in result.stderr


def test_new_gradebooks_get_the_revision_the_alembic_command_gives():
    import subprocess

    from nbgrader.dbutil import _temp_alembic_ini

    from cnncourse.course import alembic_head, ensure_bin_on_path

    ensure_bin_on_path()
    with _temp_alembic_ini("sqlite:////tmp/gradebook.db") as ini:
        heads = subprocess.run(["alembic", "-c", ini, "heads"], capture_output=True, text=True,
                               check=True).stdout
    assert alembic_head() == heads.split()[0]
