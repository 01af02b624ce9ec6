"""The grading jail (`cnncourse.jail`): what student code sees and can do once inside it.

As root, every kernel and sandbox run of `cnncourse grade` enters one: a file tree of its own
(the system, Python, the package and its own folder) and a user of its own per worker. These
tests enter real jails in child processes and look around from inside.
"""

from __future__ import annotations

import json
import os
import pwd
import subprocess
import sys
import time
from pathlib import Path

import pytest

from cnncourse import jail

ROOT = Path(__file__).resolve().parents[1]
as_root = pytest.mark.skipif(os.geteuid() != 0, reason="jails need root (CI runs as root)")

# runs inside a jail: argv = uid, mountpoint, workdir, a secret file outside, the course root
INSIDE = r"""
import json, os, subprocess, sys
from cnncourse import jail

uid, mountpoint, work, secret, course = sys.argv[1:6]
parent = os.getppid()
jail.enter(int(uid), mountpoint, work, hide=("*.ipynb",))
seen = {"uid": os.getuid(), "cwd": os.getcwd(), "home": os.environ["HOME"]}
seen["own files"] = sorted(os.listdir("."))
seen["notebook"] = open("answers.ipynb").read()
open("written.txt", "w").write("mine")
def readable(path):
    try:
        if os.path.isdir(path):
            return sorted(os.listdir(path))
        return open(path).read()
    except OSError as error:
        return type(error).__name__
seen["secret"] = readable(secret)
seen["solutions"] = readable(os.path.join(course, "solutions"))
seen["course"] = readable(course)
import cnncourse  # its own folder, Python and the package are its to read (under /tmp, too,
mine = [work] + [os.path.realpath(p) for p in (  # where the course was cloned there)
    sys.prefix, sys.base_prefix, os.path.dirname(cnncourse.__file__))]
seen["tmp"] = [os.path.join(d, f) for d, _, files in os.walk("/tmp") for f in files
               if not any(d == m or d.startswith(m + os.sep) for m in mine)]
seen["processes"] = [p for p in os.listdir("/proc") if p.isdigit() and int(p) != os.getpid()]
for what, act in [("setuid", lambda: os.setuid(0)), ("signal", lambda: os.kill(parent, 0)),
                  ("parent's cwd", lambda: os.listdir(f"/proc/{parent}/cwd"))]:
    try:
        act()
        seen[what] = "allowed"
    except OSError as error:
        seen[what] = type(error).__name__
child = subprocess.run([sys.executable, "-c", "import cnncourse, numpy, torch; print('ok')"],
                       capture_output=True, text=True)
seen["subprocess"] = child.stdout.strip() or child.stderr[-300:]
print(json.dumps(seen))
"""


@pytest.fixture
def jailed(tmp_path):
    """What code in a jail sees, from a child process that entered one."""
    work, mountpoint = tmp_path / "work", tmp_path / "jail"
    work.mkdir()
    mountpoint.mkdir()
    (work / "answers.ipynb").write_text("hidden tests were put back in here")
    secret = tmp_path / "secret.txt"
    secret.write_text("the hidden tests")
    secret.chmod(0o644)  # readable by any user: only the jail keeps it out of reach
    uid = jail.free_uid()
    done = subprocess.run([sys.executable, "-c", INSIDE, str(uid), str(mountpoint), str(work),
                           str(secret), str(ROOT)], capture_output=True, text=True, timeout=120)
    assert done.returncode == 0, done.stderr[-2000:]
    return json.loads(done.stdout.splitlines()[-1]), work, uid


def test_jails_work_for_root_and_say_why_not_otherwise():
    why = jail.available()
    if os.geteuid() == 0:
        assert why is None, why
    else:
        assert why == "jails need the grader to run as root"


@as_root
def test_inside_a_jail_code_sees_its_own_folder_and_nothing_of_the_host(jailed, tmp_path):
    seen, work, uid = jailed
    assert seen["uid"] == uid and seen["cwd"] == str(work) and seen["home"] == jail.HOME
    assert seen["own files"] == ["answers.ipynb"]
    assert seen["notebook"] == "", "the notebook being run is hidden from the code it runs"
    assert seen["secret"] == "FileNotFoundError", "a world-readable file of the host was read"
    assert seen["solutions"] == "FileNotFoundError"
    # of the course tree, only the package (and the environment, where it lies inside)
    assert set(seen["course"]) <= {"cnncourse", ".venv"}, seen["course"]
    assert seen["tmp"] == [], "files in /tmp besides its own"
    assert seen["processes"] == [], "other users' processes are listed in /proc"
    assert seen["subprocess"] == "ok", seen["subprocess"]


@as_root
def test_inside_a_jail_code_cannot_become_root_or_touch_the_graders_processes(jailed):
    seen, _, _ = jailed
    assert seen["setuid"] == "PermissionError"
    assert seen["signal"] == "PermissionError"
    assert seen["parent's cwd"] in ("PermissionError", "FileNotFoundError")


@as_root
def test_what_a_jail_writes_is_its_users_and_the_hidden_file_is_untouched(jailed):
    _, work, uid = jailed
    assert (work / "written.txt").read_text() == "mine"
    assert (work / "written.txt").stat().st_uid == uid
    assert (work / "answers.ipynb").read_text() == "hidden tests were put back in here"


@as_root
def test_kill_all_ends_every_process_of_a_jails_user():
    uid = jail.free_uid()
    with pytest.raises(KeyError):
        pwd.getpwuid(uid)
    assert jail.free_uid() != uid
    proc = subprocess.Popen(["sleep", "60"],
                            user=uid, group=uid, extra_groups=[], cwd="/")
    time.sleep(0.2)
    assert jail.kill_all(uid) == 1
    assert proc.wait(10) == -9


def test_a_jail_is_refused_without_root_or_with_threads(tmp_path):
    if os.geteuid() != 0:
        with pytest.raises(jail.JailError, match="needs root"):
            jail.enter(12345678, str(tmp_path), str(tmp_path))
        return
    code = ("import threading, time, sys\nfrom cnncourse import jail\n"
            "threading.Thread(target=time.sleep, args=(5,), daemon=True).start()\n"
            "try:\n    jail.enter(jail.free_uid(), sys.argv[1], sys.argv[1])\n"
            "except jail.JailError as e:\n    print(e)\n")
    done = subprocess.run([sys.executable, "-c", code, str(tmp_path)], capture_output=True,
                          text=True, timeout=60)
    assert "before any thread starts" in done.stdout, done.stdout + done.stderr


@pytest.mark.slow
def test_without_the_jail_the_trespasser_of_the_class_run_reaches_the_course(tmp_path, cli):
    """The attack tom makes in tests/test_grade.py is real: graded with --no-jail (what a
    grader who is not root gets), the same notebook reaches the course, the gradebook, the
    solutions, another student's submission and the hidden tests."""
    import ast

    from test_grade import RIGHT_DOUBLE, RIGHT_HALVE, _text, trespassing_halve
    from toycourse import make_toy_course

    from cnncourse.autograde import with_answers
    from cnncourse.notebooks import read_notebook

    root = make_toy_course(tmp_path)
    assert cli("release", cwd=root).returncode == 0
    release = read_notebook(root / "notebooks" / "00_toy" / "00_toy.ipynb")
    for student, halve in (("alice", RIGHT_HALVE), ("tom", trespassing_halve(root))):
        folder = root / "submitted" / student / "00_toy"
        folder.mkdir(parents=True)
        nb = with_answers(release, {"double": RIGHT_DOUBLE, "halve": halve})
        (folder / "00_toy.ipynb").write_text(json.dumps(nb))
    result = cli("grade", "--jobs", "1", "--no-jail", "--no-progress", "--db-url",
                 f"sqlite:///{root / 'class.db'}", cwd=root)
    assert result.returncode == 0, result.stdout + result.stderr
    assert "not jailed: --no-jail" in result.stdout
    page = _text((root / "grades" / "feedback" / "tom" / "00_toy.html").read_text())
    assert "REACHED: [" in page, "tom's probe printed nothing: " + page[-2000:]
    reached = ast.literal_eval(page[page.find("REACHED: [") + len("REACHED: "):].splitlines()[0])
    assert {"course", "gradebook", "solutions", "alice", "hidden tests"} <= set(reached), reached
