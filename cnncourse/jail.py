"""A jail for student code while a class is graded: its own view of the files, its own user.

`cnncourse grade` run as root gives every grading worker an unused user id, and every process
that runs a student's code (the notebook's kernel, the verification sandbox) enters a jail
before the first line of that code:

- a private mount namespace whose root is an empty tmpfs holding only what Python needs, read
  only: the system (``/usr``, ``/lib``, ``/etc``...), the interpreter's prefixes, the
  ``cnncourse`` package; the folder the code runs in (writable, and nothing of the folders
  around it); a fresh ``/tmp``, ``/dev/shm`` and home; ``/proc`` mounted so that it lists only
  the jail's own processes (``hidepid``). The course tree, the gradebooks, the other workers'
  folders, the submissions and the grader's home are not in it at any path, relative or
  absolute;
- then the worker's user id (no groups, no capabilities, ``no_new_privs``, a process limit),
  so the code cannot undo the jail, signal or trace the grader's processes or another worker's
  students, or read their ``/proc`` entries.

Without root (or where the kernel refuses namespaces) there is no jail: `available` says why
and the grader says so in its output.
"""

from __future__ import annotations

import ctypes
import os
import platform
import resource
import shutil
import sys
from pathlib import Path

ENV = "CNNCOURSE_JAIL"  # "UID:MOUNTPOINT", set by the grading worker for what it starts
HOME = "/home/student"  # the jailed code's home, empty and writable

CLONE_NEWNS = 0x00020000
MS_RDONLY, MS_NOSUID, MS_NODEV, MS_NOEXEC = 1, 2, 4, 8
MS_REMOUNT, MS_BIND, MS_REC, MS_PRIVATE = 32, 4096, 16384, 1 << 18
MNT_DETACH = 2
PR_SET_NO_NEW_PRIVS = 38
PIVOT_ROOT = {"x86_64": 155, "aarch64": 41, "arm64": 41, "ppc64le": 203, "s390x": 217}
SYSTEM = ("/usr", "/bin", "/sbin", "/lib", "/lib32", "/lib64", "/libx32", "/etc", "/sys")

_libc = ctypes.CDLL(None, use_errno=True)


class JailError(OSError):
    pass


def _check(result: int, what: str) -> None:
    if result != 0:
        errno = ctypes.get_errno()
        raise JailError(errno, f"{what}: {os.strerror(errno)}")


def _mount(source: str | None, target: str, fstype: str | None, flags: int,
           data: str | None = None) -> None:
    _check(_libc.mount(source and source.encode(), target.encode(), fstype and fstype.encode(),
                       ctypes.c_ulong(flags), data and data.encode()), f"mount {target}")


def _bind(root: str, path: str, *, writable: bool = False, dev: bool = False) -> None:
    """Mount `path` at the same path inside `root`."""
    target = root + path
    if os.path.isdir(path):
        os.makedirs(target, exist_ok=True)
    else:
        os.makedirs(os.path.dirname(target), exist_ok=True)
        if not os.path.exists(target):
            open(target, "a").close()
    _mount(path, target, None, MS_BIND | MS_REC)
    flags = MS_REMOUNT | MS_BIND | MS_NOSUID | (0 if dev else MS_NODEV)
    _mount(None, target, None, flags | (0 if writable else MS_RDONLY))


def _tmpfs(target: str, size: str, mode: str = "1777") -> None:
    os.makedirs(target, exist_ok=True)
    _mount("tmpfs", target, "tmpfs", MS_NOSUID | MS_NODEV, f"size={size},mode={mode}")


def readable() -> list[str]:
    """What Python needs, read only: the system, the interpreter's prefixes (their code folders
    only, in case a prefix holds more) and the folder of the `cnncourse` package."""
    paths = [p for p in SYSTEM if os.path.isdir(p) and not os.path.islink(p)]
    for prefix in dict.fromkeys((sys.prefix, sys.base_prefix, sys.exec_prefix,
                                 sys.base_exec_prefix)):
        for sub in ("bin", "lib", "lib64", "include", "share", "etc"):
            p = os.path.realpath(os.path.join(prefix, sub))
            if os.path.isdir(p):
                paths.append(p)
        cfg = os.path.join(prefix, "pyvenv.cfg")  # what makes a venv's python use the venv
        if os.path.isfile(cfg):
            paths.append(os.path.realpath(cfg))
    paths.append(str(Path(__file__).resolve().parent))
    out = []  # the outermost of nested paths only
    for p in sorted(dict.fromkeys(paths), key=len):
        if not any(p == q or p.startswith(q.rstrip("/") + "/") for q in out):
            out.append(p)
    return out


def _seed_caches(home: str, uid: int) -> None:
    """Copy the grader's matplotlib font list into the jail's home, so that matplotlib does
    not spend seconds (and a warning in the notebook) building it again."""
    cache = Path(os.environ.get("XDG_CACHE_HOME") or Path.home() / ".cache") / "matplotlib"
    if "MPLCONFIGDIR" in os.environ:
        cache = Path(os.environ["MPLCONFIGDIR"])
    fonts = sorted(cache.glob("fontlist-*.json")) if cache.is_dir() else []
    if not fonts:
        return
    target = Path(home) / ".cache" / "matplotlib"
    target.mkdir(parents=True)
    for p in (target.parent, target):
        os.chown(p, uid, uid)
    for font in fonts:
        shutil.copy(font, target / font.name)
        os.chown(target / font.name, uid, uid)


def setting() -> tuple[int, str] | None:
    """(uid, mountpoint) where this process is to jail what it runs, from the environment."""
    uid, _, where = os.environ.get(ENV, "").partition(":")
    return (int(uid), where) if uid.isdigit() and where else None


def enter(uid: int, mountpoint: str, workdir: str, *, tmp_size: str = "512m",
          nproc: int = 1024, hide: tuple[str, ...] = (), before_drop=None) -> None:
    """Jail this (single-threaded) process: see the module's text. `workdir` is the one folder
    of the host it keeps, writable, at its own path; the process ends up in it as `uid`. Files
    of `workdir` matching the patterns `hide` read as empty in the jail (the notebook a kernel
    runs: nbgrader has put the hidden tests back into it). `before_drop(root, chown)` runs
    while still root, with the new root not yet entered (e.g. to copy files in)."""
    if os.geteuid() != 0:
        raise JailError(1, "a jail needs root")
    if len(os.listdir("/proc/self/task")) != 1:
        raise JailError(1, "a jail is entered before any thread starts")
    workdir = os.path.realpath(workdir)
    _check(_libc.unshare(CLONE_NEWNS), "unshare")
    _mount(None, "/", None, MS_REC | MS_PRIVATE)
    root = os.path.realpath(mountpoint)
    _tmpfs(root, "16m", "755")
    _tmpfs(root + "/tmp", tmp_size)  # first: what is bound below may live under /tmp
    for p in SYSTEM:  # /bin -> usr/bin where /usr is merged: the links too
        if os.path.islink(p):
            os.symlink(os.readlink(p), root + p)
    for p in readable():
        _bind(root, p)
    _bind(root, "/dev", writable=True, dev=True)
    _tmpfs(root + "/dev/shm", tmp_size)
    os.makedirs(root + "/proc", exist_ok=True)
    _mount("proc", root + "/proc", "proc", MS_NOSUID | MS_NODEV | MS_NOEXEC, "hidepid=2")

    def chown(path: str) -> None:
        os.lchown(path, uid, uid)
        for parent, dirs, files in os.walk(path):
            for name in dirs + files:
                os.lchown(os.path.join(parent, name), uid, uid)

    chown(workdir)  # the student's folder becomes the student's
    _bind(root, workdir, writable=True)
    empty = root + "/.empty"
    open(empty, "w").close()
    for pattern in hide:
        for p in Path(workdir).glob(pattern):
            if p.is_file() and not p.is_symlink():
                _mount(empty, root + str(p), None, MS_BIND)
                _mount(None, root + str(p), None, MS_REMOUNT | MS_BIND | MS_RDONLY)
    home = root + HOME
    os.makedirs(home, exist_ok=True)
    _mount("tmpfs", home, "tmpfs", MS_NOSUID | MS_NODEV,
           f"size={tmp_size},mode=700,uid={uid},gid={uid}")
    _seed_caches(home, uid)
    if before_drop is not None:
        before_drop(root, chown)
    os.chdir(root)
    number = PIVOT_ROOT.get(platform.machine())
    if number is None:
        raise JailError(38, f"no pivot_root number known for {platform.machine()}")
    _check(_libc.syscall(number, b".", b"."), "pivot_root")
    _check(_libc.umount2(b".", MNT_DETACH), "umount old root")  # the host's tree is gone
    _mount(None, "/", None, MS_REMOUNT | MS_BIND | MS_RDONLY | MS_NOSUID | MS_NODEV)
    os.chdir("/")
    _check(_libc.prctl(PR_SET_NO_NEW_PRIVS, 1, 0, 0, 0), "no_new_privs")
    resource.setrlimit(resource.RLIMIT_NPROC, (nproc, nproc))
    os.setgroups([])
    os.setgid(uid)
    os.setuid(uid)
    if os.getuid() != uid or os.geteuid() != uid:
        raise JailError(1, "could not drop to the jail's user")
    os.chdir(workdir)
    os.environ["HOME"] = HOME
    os.environ.pop("XDG_RUNTIME_DIR", None)


def enter_from_env(workdir: str, **kwargs) -> bool:
    """`enter` where the grading worker asked for jails (`ENV`); whether it did. A process that
    was asked and cannot enter its jail ends here: student code never runs unjailed there."""
    where = setting()
    if where is None:
        return False
    try:
        enter(where[0], where[1], workdir, **kwargs)
    except BaseException as error:  # noqa: BLE001
        try:
            sys.stderr.write(f"cnncourse: could not enter the grading jail: {error}\n")
        finally:
            os._exit(70)
    return True


def free_uid(rng=None) -> int:
    """A user id no account and no running process has."""
    import pwd
    import random

    rng = rng or random.SystemRandom()
    busy = {_owner(p) for p in Path("/proc").glob("[0-9]*")}
    while True:
        uid = rng.randrange(1_000_000, 2_000_000_000)
        try:
            pwd.getpwuid(uid)
        except KeyError:
            if uid not in busy:
                return uid


def _owner(proc: Path) -> int | None:
    try:
        return proc.stat().st_uid
    except OSError:
        return None


def kill_all(uid: int) -> int:
    """SIGKILL every process running as `uid` (what a jail left behind); how many."""
    import signal

    n = 0
    for proc in Path("/proc").glob("[0-9]*"):
        if _owner(proc) == uid:
            try:
                os.kill(int(proc.name), signal.SIGKILL)
                n += 1
            except (ProcessLookupError, PermissionError):
                pass
    return n


def available() -> str | None:
    """None where jails work here (tried in a child process), else why not."""
    if sys.platform != "linux":
        return "jails need Linux"
    if os.geteuid() != 0:
        return "jails need the grader to run as root"
    import tempfile

    with tempfile.TemporaryDirectory(prefix="cnncourse-jailtest-") as tmp:
        mountpoint, work = os.path.join(tmp, "root"), os.path.join(tmp, "work")
        os.mkdir(mountpoint)
        os.mkdir(work)
        r, w = os.pipe()
        pid = os.fork()
        if pid == 0:
            os.close(r)
            message = b"ok"
            try:
                enter(free_uid(), mountpoint, work)
                if os.path.exists(mountpoint) or not os.path.exists(__file__):
                    message = b"the jail still shows its surroundings"
            except BaseException as error:  # noqa: BLE001
                message = str(error).encode()[:500] or b"error"
            os.write(w, message)
            os._exit(0)
        os.close(w)
        with os.fdopen(r, "rb") as f:
            message = f.read().decode(errors="replace")
        os.waitpid(pid, 0)
        shutil.rmtree(work, ignore_errors=True)
    return None if message == "ok" else f"jails do not work here ({message})"
