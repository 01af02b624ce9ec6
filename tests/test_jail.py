"""The grading jail (`cnncourse.grading.jail`): what student code sees and can do once inside it.

Every kernel and sandbox run of `cnncourse grade` enters one: a file tree of its own (the
system, Python, the package and its own folder) and, as root, a user of its own per worker;
for a grader who is not root, user namespaces (the grader's user id, a PID namespace of its
own, no capabilities). These tests enter real jails of both kinds in child processes and look
around from inside; the ordinary user is made by root (`unprivileged.become`).
"""

from __future__ import annotations

import csv
import json
import os
import pwd
import shutil
import signal
import subprocess
import sys
import tempfile
import time
from pathlib import Path

import pytest
from test_grade import CONNECTS

from cnncourse.grading import jail

ROOT = Path(__file__).resolve().parents[1]
# root jails need root; the user-namespace ones are tested as an ordinary user that root makes
as_root = pytest.mark.skipif(os.geteuid() != 0, reason="these tests run as root (CI does)")

# runs inside a jail: argv = kind ("root" or "user"), uid, mountpoint, workdir, a secret
# file outside, the course root, the host's listeners (JSON of `test_grade.host_listeners`)
INSIDE = r"""
import json, os, socket, subprocess, sys
kind, uid, mountpoint, work, secret, course = sys.argv[1:7]
reach = json.loads(sys.argv[7])
sys.path.insert(0, os.path.join(course, "tests"))
from cnncourse.grading import jail
from unprivileged import become

parent = os.getppid()
if kind == "root":
    jail.enter(int(uid), mountpoint, work, hide=("*.ipynb",))
else:  # a grader who is not root
    become(int(uid), also=(course,))
    jail.enter_userns(mountpoint, work, hide=("*.ipynb",))
seen = {"kind": kind, "uid": os.getuid(), "cwd": os.getcwd(), "home": os.environ["HOME"],
        "pid": os.getpid()}
seen["capabilities"] = [line.split()[1] for line in open("/proc/self/status")
                        if line.startswith(("CapEff", "CapPrm"))]
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
""" + CONNECTS + r"""
seen["network"] = [a for a in reach["ADDRESSES"] for port in reach["PORTS"]
                   if connects(socket.AF_INET, (a, port))]
seen["network"] += [what for what, address in (("unix socket", reach["UNIX_SOCKET"]),
                                                 ("abstract socket", "\0" + reach["ABSTRACT"]))
                    if connects(socket.AF_UNIX, address)]
with socket.create_server(("127.0.0.1", 0)) as own:  # its own loopback is its own to use
    seen["own loopback"] = connects(socket.AF_INET, own.getsockname())
child = subprocess.run([sys.executable, "-c", "import cnncourse, numpy, torch; print('ok')"],
                       capture_output=True, text=True)
seen["subprocess"] = child.stdout.strip() or child.stderr[-300:]
print(json.dumps(seen))
"""


@pytest.fixture(scope="module", params=["root", "user"])
def jailed(request):
    """What code in a jail sees, from a child process that entered one: as root, `enter`'s
    jail; as an ordinary user (`unprivileged.become`), `enter_userns`'s."""
    base = Path(tempfile.mkdtemp(prefix="cnncourse-jailtest-"))
    base.chmod(0o755)  # an ordinary user must reach its folders, as in a grader's /tmp
    work, mountpoint = base / "work", base / "jail"
    work.mkdir()
    mountpoint.mkdir()
    (work / "answers.ipynb").write_text("hidden tests were put back in here")
    secret = base / "secret.txt"
    secret.write_text("the hidden tests")
    secret.chmod(0o644)  # readable by any user: only the jail keeps it out of reach
    uid = jail.free_uid()
    if request.param == "user":
        for p in (work, mountpoint, work / "answers.ipynb"):
            os.chown(p, uid, uid)
    from test_grade import host_listeners

    try:
        with host_listeners() as reach:
            done = subprocess.run([sys.executable, "-c", INSIDE, request.param, str(uid),
                                   str(mountpoint), str(work), str(secret), str(ROOT),
                                   json.dumps(reach)], capture_output=True, text=True,
                                  timeout=120)
        assert done.returncode == 0, done.stderr[-2000:]
        yield json.loads(done.stdout.splitlines()[-1]), work, uid
    finally:
        shutil.rmtree(base, ignore_errors=True)


@as_root
def test_jails_work_here_for_root_and_for_an_ordinary_user():
    """`available` tries a jail in a child process: as root, `enter`'s; as anyone else,
    `enter_userns`'s (which needs unprivileged user namespaces: Debian's kernels allow them)."""
    assert jail.available() is None
    code = ("import sys; sys.path.insert(0, sys.argv[1]); from unprivileged import become; "
            "from cnncourse.grading import jail; become(int(sys.argv[2]), also=(sys.argv[3],)); "
            "print(jail.as_root(), jail.available())")
    done = subprocess.run([sys.executable, "-c", code, str(ROOT / "tests"),
                           str(jail.free_uid()), str(ROOT)], capture_output=True, text=True,
                          timeout=120)
    assert done.stdout.split() == ["False", "None"], done.stdout + done.stderr[-2000:]


@as_root
def test_inside_a_jail_code_sees_its_own_folder_and_nothing_of_the_host(jailed):
    seen, work, uid = jailed
    assert seen["uid"] == uid and seen["cwd"] == str(work) and seen["home"] == jail.HOME
    assert seen["capabilities"] == ["0000000000000000"] * 2
    if seen["kind"] == "user":
        assert seen["pid"] == 1, "the first process of a PID namespace of its own"
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
    if seen["kind"] == "root":
        assert seen["setuid"] == "PermissionError"
        assert seen["signal"] == "PermissionError"
    else:  # no user id but its own is mapped; the grader's processes are not in its namespace
        assert seen["setuid"] == "OSError"
        assert seen["signal"] == "ProcessLookupError"
    assert seen["parent's cwd"] in ("PermissionError", "FileNotFoundError")


@as_root
@as_root
def test_inside_a_jail_code_reaches_nothing_of_the_hosts_network(jailed):
    """A network namespace of its own: no listener of the host's on 127.0.0.1 or the host's
    address, no Unix socket by path, no abstract Unix socket; its own loopback works."""
    seen, _, _ = jailed
    assert seen["network"] == [], seen["network"]
    assert seen["own loopback"] is True


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


LIVES = r"""
import os, subprocess, sys, time
sys.path.insert(0, sys.argv[1])
from cnncourse.grading import jail
from unprivileged import become

become(int(sys.argv[2]), also=(sys.argv[3],))
jail.enter_userns(sys.argv[4], sys.argv[5])
subprocess.Popen(["sleep", "600"], start_new_session=True)  # a helper it leaves running
open("ready", "w").close()
try:
    time.sleep(60)
except KeyboardInterrupt:
    open("interrupted", "w").close()
time.sleep(60)
"""


@as_root
def test_in_user_namespaces_an_interrupt_passes_and_nothing_outlives_the_jail():
    """The process that entered `enter_userns` stays outside as a relay (it is what nbgrader
    and the sandbox know): SIGINT reaches the code inside, and once the relay is killed, the
    code and what it started, detached or not, are gone too."""
    base = Path(tempfile.mkdtemp(prefix="cnncourse-jailtest-"))
    base.chmod(0o755)
    uid = jail.free_uid()
    for name in ("work", "jail"):
        (base / name).mkdir()
        os.chown(base / name, uid, uid)
    work = base / "work"
    proc = subprocess.Popen([sys.executable, "-c", LIVES, str(ROOT / "tests"), str(uid),
                             str(ROOT), str(base / "jail"), str(work)])
    try:
        _wait_for(work / "ready", proc)
        mine = [p for p in Path("/proc").glob("[0-9]*") if jail._owner(p) == uid]
        assert len(mine) >= 3, "the relay, the code and its helper"
        proc.send_signal(signal.SIGINT)
        _wait_for(work / "interrupted", proc)
        proc.kill()
        assert proc.wait(10) == -signal.SIGKILL
        deadline = time.monotonic() + 10
        while time.monotonic() < deadline and any(jail._owner(p) == uid
                                                  for p in Path("/proc").glob("[0-9]*")):
            time.sleep(0.1)
        left = [p.name for p in Path("/proc").glob("[0-9]*") if jail._owner(p) == uid]
        assert left == [], f"still running as the jail's user: {left}"
    finally:
        proc.kill()
        jail.kill_all(uid)
        shutil.rmtree(base, ignore_errors=True)


def _wait_for(path: Path, proc, seconds: float = 60) -> None:
    deadline = time.monotonic() + seconds
    while not path.exists():
        assert proc.poll() is None, f"the jailed process ended ({proc.returncode})"
        assert time.monotonic() < deadline, f"no {path.name} after {seconds} s"
        time.sleep(0.05)


def test_a_jail_is_refused_without_root_or_with_threads(tmp_path):
    if os.geteuid() != 0:
        with pytest.raises(jail.JailError, match="needs root"):
            jail.enter(12345678, str(tmp_path), str(tmp_path))
        return
    code = ("import threading, time, sys\nfrom cnncourse.grading import jail\n"
            "threading.Thread(target=time.sleep, args=(5,), daemon=True).start()\n"
            "try:\n    jail.enter(jail.free_uid(), sys.argv[1], sys.argv[1])\n"
            "except jail.JailError as e:\n    print(e)\n")
    done = subprocess.run([sys.executable, "-c", code, str(tmp_path)], capture_output=True,
                          text=True, timeout=60)
    assert "before any thread starts" in done.stdout, done.stdout + done.stderr


@pytest.mark.slow
def test_without_the_jail_the_trespasser_of_the_class_run_reaches_the_course(tmp_path, cli):
    """The attack tom makes in tests/test_grade.py is real: graded with --no-jail, the same
    notebook reaches the course, the gradebook, the solutions, another student's submission,
    the hidden tests and the host's network (a listener on 127.0.0.1, a Unix socket and an
    abstract one)."""
    import ast

    from autograde import with_answers
    from test_grade import (
        HOST_NETWORK,
        RIGHT_DOUBLE,
        RIGHT_HALVE,
        _text,
        host_listeners,
        trespassing_halve,
    )
    from toycourse import make_toy_course

    from cnncourse.notebooks import read_notebook

    root = make_toy_course(tmp_path)
    assert cli("release", cwd=root).returncode == 0
    release = read_notebook(root / "notebooks" / "00_toy" / "00_toy.ipynb")
    with host_listeners() as reach:
        for student, halve in (("alice", RIGHT_HALVE), ("tom", trespassing_halve(root, reach))):
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
    assert {"course", "gradebook", "solutions", "alice", "hidden tests"} | HOST_NETWORK \
        <= set(reached), reached


def _grade_as(uid: int, base: Path, root: Path, home: Path, *args: str,
              no_user_namespaces: bool = False) -> subprocess.CompletedProcess:
    """`cnncourse grade --jobs 1 --no-progress ARGS` in the course `root`, run by the ordinary
    user `uid` (`unprivileged.become`), whose home is `home`; everything under `base` becomes
    theirs. With `no_user_namespaces`, where user namespaces are refused
    (`unprivileged.forbid_user_namespaces`)."""
    for folder, dirs, files in os.walk(base):  # the grader's course and home
        for name in [folder, *(os.path.join(folder, n) for n in dirs + files)]:
            os.lchown(name, uid, uid)
    grader = ("import os, sys; sys.path.insert(0, sys.argv[1]); "
              "from unprivileged import become, forbid_user_namespaces; "
              "become(int(sys.argv[2]), also=(sys.argv[3],)); "
              + ("forbid_user_namespaces(); " if no_user_namespaces else "")
              + "os.execv(sys.executable, [sys.executable, '-m', 'cnncourse', *sys.argv[4:]])")
    env = {**os.environ, "HOME": str(home), "PYTHONWARNINGS": "ignore"}
    for name in ("XDG_CACHE_HOME", "XDG_RUNTIME_DIR", "XDG_DATA_HOME", "MPLCONFIGDIR",
                 "JUPYTER_RUNTIME_DIR", "JUPYTER_DATA_DIR", "JUPYTER_CONFIG_DIR"):
        env.pop(name, None)
    return subprocess.run(
        [sys.executable, "-c", grader, str(ROOT / "tests"), str(uid), str(ROOT), "grade",
         "--jobs", "1", "--no-progress", *args], cwd=root, env=env, capture_output=True,
        text=True, timeout=600)


@as_root
@pytest.mark.slow
def test_a_grader_who_is_not_root_grades_the_class_jailed_in_user_namespaces(cli):
    """The class run's trespasser, graded by an ordinary user (`unprivileged.become`): the
    jail comes from user namespaces, and tom reaches nothing of the course, the gradebook, the
    solutions, alice's submission, the grader's home, other processes or the host's network."""
    import ast

    from autograde import with_answers
    from test_grade import (
        NUMPY_PATCHING_DOUBLE,
        RIGHT_DOUBLE,
        RIGHT_HALVE,
        TOY_PROBES,
        _text,
        host_listeners,
        trespassing_halve,
    )
    from toycourse import make_toy_course

    from cnncourse.notebooks import read_notebook

    base = Path(tempfile.mkdtemp(prefix="cnncourse-grader-"))
    uid = jail.free_uid()
    listening = host_listeners()
    try:
        reach = listening.__enter__()
        base.chmod(0o755)
        root, home = make_toy_course(base / "course"), base / "home"
        home.mkdir()
        assert cli("release", cwd=root).returncode == 0
        release = read_notebook(root / "notebooks" / "00_toy" / "00_toy.ipynb")
        (root / "probes").mkdir(parents=True)  # verified in the sandbox, jailed too
        (root / "probes" / "00_toy.py").write_text(TOY_PROBES)
        tom = trespassing_halve(root, reach, db=root / "gradebook.db", home=home)
        answers = {"alice": {"double": RIGHT_DOUBLE, "halve": RIGHT_HALVE},
                   "tom": {"double": RIGHT_DOUBLE, "halve": tom},
                   # fools the tests in the kernel; the sandbox's verification refutes it
                   "walt": {"double": NUMPY_PATCHING_DOUBLE, "halve": RIGHT_HALVE}}
        for student, answer in answers.items():
            folder = root / "submitted" / student / "00_toy"
            folder.mkdir(parents=True)
            (folder / "00_toy.ipynb").write_text(json.dumps(with_answers(release, answer)))
        result = _grade_as(uid, base, root, home)
        assert result.returncode == 0, result.stdout + result.stderr[-3000:]
        assert "student code runs jailed, in namespaces of its own" in result.stdout, \
            result.stdout
        with (root / "grades" / "grades.csv").open() as f:
            rows = {r["student"]: r for r in csv.DictReader(f)}
        assert {s: (r["status"], r["score"]) for s, r in rows.items()} == {
            "alice": ("graded", "4"), "tom": ("graded", "4"), "walt": ("graded", "1")}, rows
        assert "verification refutes the in-kernel tests of double" in rows["walt"]["flags"]
        page = _text((root / "grades" / "feedback" / "tom" / "00_toy.html").read_text())
        assert "REACHED: [" in page, "tom's probe printed nothing: " + page[-2000:]
        reached = ast.literal_eval(
            page[page.find("REACHED: [") + len("REACHED: "):].splitlines()[0])
        assert reached == [], reached
    finally:
        listening.__exit__(None, None, None)
        jail.kill_all(uid)
        shutil.rmtree(base, ignore_errors=True)


@as_root
@pytest.mark.slow
def test_where_no_jail_can_be_built_grade_stops_unless_told_no_jail(cli):
    """A grader who is not root, where user namespaces are refused (as in some containers:
    `unprivileged.forbid_user_namespaces`): `cnncourse grade` grades nobody, says why and what
    to do, and leaves no grades; with --no-jail it grades the class, and says it is unjailed."""
    from autograde import with_answers
    from test_grade import RIGHT_DOUBLE, RIGHT_HALVE
    from toycourse import make_toy_course

    from cnncourse.notebooks import read_notebook

    base = Path(tempfile.mkdtemp(prefix="cnncourse-grader-"))
    uid = jail.free_uid()
    try:
        base.chmod(0o755)
        root, home = make_toy_course(base / "course"), base / "home"
        home.mkdir()
        assert cli("release", cwd=root).returncode == 0
        release = read_notebook(root / "notebooks" / "00_toy" / "00_toy.ipynb")
        folder = root / "submitted" / "alice" / "00_toy"
        folder.mkdir(parents=True)
        (folder / "00_toy.ipynb").write_text(json.dumps(with_answers(
            release, {"double": RIGHT_DOUBLE, "halve": RIGHT_HALVE})))
        refused = _grade_as(uid, base, root, home, no_user_namespaces=True)
        said = refused.stdout + refused.stderr
        assert refused.returncode != 0, said
        assert "student code cannot be jailed here" in said, said
        assert "No space left on device" in said, "the cause is not named: " + said
        assert "--no-jail" in said and "Traceback" not in said, said
        assert not (root / "grades" / "grades.csv").exists(), "a row was written"
        unjailed = _grade_as(uid, base, root, home, "--no-jail", no_user_namespaces=True)
        assert unjailed.returncode == 0, unjailed.stdout + unjailed.stderr[-3000:]
        assert "student code runs as the grader's user, not jailed: --no-jail" in unjailed.stdout
        with (root / "grades" / "grades.csv").open() as f:
            rows = {r["student"]: (r["status"], r["score"]) for r in csv.DictReader(f)}
        assert rows == {"alice": ("graded", "4")}, rows
    finally:
        jail.kill_all(uid)
        shutil.rmtree(base, ignore_errors=True)
