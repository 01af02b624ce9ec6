"""A jail for student code while a class is graded: its own view of the files, its own user.

`cnncourse grade` run as root gives every grading worker an unused user id, and every process
that runs a student's code (the notebook's kernel, the verification sandbox) enters a jail
before the first line of that code:

- a network namespace of its own: only its own loopback, so nothing of the host's (a
  PostgreSQL gradebook, the Jupyter server, a cluster's scheduler, on any address, and no
  abstract Unix socket) is in reach. A kernel's channel to its client crosses it as Unix
  sockets (jupyter_client's ``ipc`` transport) in a folder of the worker's that only this
  kernel's sockets are in, bound into the jail (`run_kernel` in `warmkernel`);
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

A grader who is not root gets the same file tree from user namespaces (`enter_userns`, as
unprivileged container tools build theirs): the code keeps the grader's user id, but runs as
the first process of a PID namespace of its own, with no capabilities, so it sees and can
signal only the processes it started itself, and it dies with the process that started it.

Where the kernel refuses these namespaces there is no jail: `available` says why and the
grader says so in its output.
"""

from __future__ import annotations

import ctypes
import os
import platform
import resource
import shutil
import signal
import sys
from pathlib import Path

USERNS = "user"  # the setting of the unprivileged jail (`enter_userns`), see `env.JAIL`
HOME = "/home/student"  # the jailed code's home, empty and writable

CLONE_NEWNS, CLONE_NEWUSER, CLONE_NEWPID, CLONE_NEWNET = 0x00020000, 0x10000000, 0x20000000, \
    0x40000000
SIOCGIFFLAGS, SIOCSIFFLAGS, IFF_UP = 0x8913, 0x8914, 0x1
MS_RDONLY, MS_NOSUID, MS_NODEV, MS_NOEXEC = 1, 2, 4, 8
MS_REMOUNT, MS_BIND, MS_REC, MS_PRIVATE = 32, 4096, 16384, 1 << 18
MS_NOATIME, MS_NODIRATIME, MS_RELATIME = 1024, 2048, 1 << 21
# statvfs's ST_* flag -> the mount flag: what a remount in a user namespace must keep
LOCKED = {1: MS_RDONLY, 2: MS_NOSUID, 4: MS_NODEV, 8: MS_NOEXEC, 1024: MS_NOATIME,
          2048: MS_NODIRATIME, 4096: MS_RELATIME}
PR_SET_PDEATHSIG, PR_SET_DUMPABLE = 1, 4
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
    # what the host mount has (noexec, atime...) is kept: a user namespace may not drop it
    kept = os.statvfs(target).f_flag
    flags |= sum(flag for st, flag in LOCKED.items() if kept & st and flag != MS_RDONLY)
    _mount(None, target, None, flags | (0 if writable and not kept & 1 else MS_RDONLY))


def _loopback_up() -> None:
    """Bring up `lo` in this (new) network namespace, as `ip link set lo up` does: student code
    may serve itself on 127.0.0.1; nothing else is there."""
    import fcntl
    import socket
    import struct

    with socket.socket(socket.AF_INET, socket.SOCK_DGRAM) as s:
        request = struct.pack("16sH14x", b"lo", 0)
        flags = struct.unpack("16sH14x", fcntl.ioctl(s, SIOCGIFFLAGS, request))[1]
        fcntl.ioctl(s, SIOCSIFFLAGS, struct.pack("16sH14x", b"lo", flags | IFF_UP))


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
    paths.append(str(Path(__file__).resolve().parents[1]))  # the package, grading/ included
    out = []  # the outermost of nested paths only
    for p in sorted(dict.fromkeys(paths), key=len):
        if not any(p == q or p.startswith(q.rstrip("/") + "/") for q in out):
            out.append(p)
    return out


def _seed_caches(home: str, uid: int, gid: int) -> None:
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
        os.chown(p, uid, gid)
    for font in fonts:
        shutil.copy(font, target / font.name)
        os.chown(target / font.name, uid, gid)


def setting() -> tuple[int | None, str] | None:
    """(uid, mountpoint) where this process is to jail what it runs, from the environment;
    uid None for the unprivileged jail."""
    from cnncourse.grading.env import jail_request

    uid, where = jail_request()
    if not where or not (uid.isdigit() or uid == USERNS):
        return None
    return (int(uid) if uid.isdigit() else None), where


def _populate(root: str, workdir: str, *, uid: int, gid: int, tmp_size: str, hide, before_drop,
              chown, proc_data: str | None, sockets: str | None = None) -> None:
    """Build the jail's file tree in the empty folder `root` (see the module's text)."""
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
    _mount("proc", root + "/proc", "proc", MS_NOSUID | MS_NODEV | MS_NOEXEC, proc_data)
    chown(workdir)  # the student's folder becomes the student's
    _bind(root, workdir, writable=True)
    if sockets:  # the kernel's channel to its client (nothing else is in that folder)
        chown(sockets)
        _bind(root, sockets, writable=True)
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
           f"size={tmp_size},mode=700,uid={uid},gid={gid}")
    _seed_caches(home, uid, gid)
    if before_drop is not None:
        before_drop(root, chown)


def _pivot(root: str) -> None:
    """Make `root` the root of this mount namespace and drop the host's tree from it."""
    os.chdir(root)
    number = PIVOT_ROOT.get(platform.machine())
    if number is None:
        raise JailError(38, f"no pivot_root number known for {platform.machine()}")
    _check(_libc.syscall(number, b".", b"."), "pivot_root")
    _check(_libc.umount2(b".", MNT_DETACH), "umount old root")  # the host's tree is gone
    _mount(None, "/", None, MS_REMOUNT | MS_BIND | MS_RDONLY | MS_NOSUID | MS_NODEV)
    os.chdir("/")


def _single_threaded() -> None:
    if len(os.listdir("/proc/self/task")) != 1:
        raise JailError(1, "a jail is entered before any thread starts")


def enter(uid: int, mountpoint: str, workdir: str, *, tmp_size: str = "512m",
          nproc: int = 1024, hide: tuple[str, ...] = (), before_drop=None,
          sockets: str | None = None) -> None:
    """Jail this (single-threaded) process: see the module's text. `workdir` is the one folder
    of the host it keeps, writable, at its own path; the process ends up in it as `uid`. Files
    of `workdir` matching the patterns `hide` read as empty in the jail (the notebook a kernel
    runs: nbgrader has put the hidden tests back into it). `before_drop(root, chown)` runs
    while still root, with the new root not yet entered (e.g. to copy files in). `sockets` is a
    folder of the host bound in, writable, at its own path: where a kernel's Unix sockets are,
    the one way across its network namespace."""
    if os.geteuid() != 0:
        raise JailError(1, "a jail needs root")
    _single_threaded()
    parent = os.getppid()
    workdir = os.path.realpath(workdir)
    _check(_libc.unshare(CLONE_NEWNS | CLONE_NEWNET), "unshare")
    _loopback_up()
    _mount(None, "/", None, MS_REC | MS_PRIVATE)

    def chown(path: str) -> None:
        os.lchown(path, uid, uid)
        for parent, dirs, files in os.walk(path):
            for name in dirs + files:
                os.lchown(os.path.join(parent, name), uid, uid)

    _populate(os.path.realpath(mountpoint), workdir, uid=uid, gid=uid, tmp_size=tmp_size,
              hide=hide, before_drop=before_drop, chown=chown, proc_data="hidepid=2",
              sockets=sockets and os.path.realpath(sockets))
    _pivot(os.path.realpath(mountpoint))
    _check(_libc.prctl(PR_SET_NO_NEW_PRIVS, 1, 0, 0, 0), "no_new_privs")
    resource.setrlimit(resource.RLIMIT_NPROC, (nproc, nproc))
    os.setgroups([])
    os.setgid(uid)
    os.setuid(uid)
    if os.getuid() != uid or os.geteuid() != uid:
        raise JailError(1, "could not drop to the jail's user")
    # the change of user cleared the parent-death signal (prctl(2)): arm it again, so that the
    # jailed process still dies with whatever started it (`procs.die_with_parent`)
    _check(_libc.prctl(PR_SET_PDEATHSIG, signal.SIGKILL, 0, 0, 0), "parent death signal")
    if os.getppid() != parent:
        os._exit(1)
    os.chdir(workdir)
    os.environ["HOME"] = HOME
    os.environ.pop("XDG_RUNTIME_DIR", None)


class _CapHeader(ctypes.Structure):
    _fields_ = [("version", ctypes.c_uint32), ("pid", ctypes.c_int)]


class _CapData(ctypes.Structure):
    _fields_ = [("effective", ctypes.c_uint32), ("permitted", ctypes.c_uint32),
                ("inheritable", ctypes.c_uint32)]


def _drop_capabilities() -> None:
    """No capabilities left, in any namespace (capset with empty sets, version 3)."""
    data = (_CapData * 2)()
    _check(_libc.capset(ctypes.byref(_CapHeader(0x20080522, 0)), data), "capset")
    status = Path("/proc/self/status").read_text()
    if "CapEff:\t0000000000000000" not in status or "CapPrm:\t0000000000000000" not in status:
        raise JailError(1, "capabilities are left")


def enter_userns(mountpoint: str, workdir: str, *, tmp_size: str = "512m", nproc: int = 1024,
                 hide: tuple[str, ...] = (), before_drop=None,
                 sockets: str | None = None) -> None:
    """The jail of `enter` for a grader who is not root, from user namespaces.

    This process unshares a user and a PID namespace and forks: the child, the first process
    of the new PID namespace, builds the same file tree in a mount namespace of its own (and
    enters a network namespace of its own), drops
    every capability and returns, jailed. This process never returns: it passes SIGINT on to
    the child (any other ending signal becomes SIGKILL, which the first process of a PID
    namespace cannot ignore) and exits as the child does. The child dies with it (a parent
    death signal), and everything the child started dies with the child."""

    _single_threaded()
    uid, gid = os.getuid(), os.getgid()
    workdir, root = os.path.realpath(workdir), os.path.realpath(mountpoint)
    # its /proc/self files are its own to write only while it is dumpable, which a process
    # that changed its user id (su, a setuid launcher) is not until it says so
    _check(_libc.prctl(PR_SET_DUMPABLE, 1, 0, 0, 0), "dumpable")
    _check(_libc.unshare(CLONE_NEWUSER | CLONE_NEWPID), "unshare")
    for name, text in (("setgroups", "deny"), ("uid_map", f"{uid} {uid} 1"),
                       ("gid_map", f"{gid} {gid} 1")):
        with open(f"/proc/self/{name}", "w") as f:
            f.write(text)
    child = os.fork()
    if child != 0:
        _relay(child)
    _check(_libc.prctl(PR_SET_PDEATHSIG, signal.SIGKILL, 0, 0, 0), "parent death signal")
    os.setpgid(0, 0)  # signals for the whole group reach the relay, which passes them on once
    _check(_libc.unshare(CLONE_NEWNS | CLONE_NEWNET), "unshare")
    _loopback_up()
    _mount(None, "/", None, MS_REC | MS_PRIVATE)
    _populate(root, workdir, uid=uid, gid=gid, tmp_size=tmp_size, hide=hide,
              before_drop=before_drop, chown=lambda path: None, proc_data=None,
              sockets=sockets and os.path.realpath(sockets))
    _pivot(root)
    _check(_libc.prctl(PR_SET_NO_NEW_PRIVS, 1, 0, 0, 0), "no_new_privs")
    resource.setrlimit(resource.RLIMIT_NPROC, (nproc, nproc))
    _drop_capabilities()
    os.chdir(workdir)
    os.environ["HOME"] = HOME
    os.environ.pop("XDG_RUNTIME_DIR", None)


def _relay(child: int) -> None:
    """Outside the jail's PID namespace: pass signals on to `child`, end as it ends."""

    def forward(signum, frame):
        try:
            os.kill(child, signum if signum == signal.SIGINT else signal.SIGKILL)
        except ProcessLookupError:
            pass

    for sig in (signal.SIGINT, signal.SIGTERM, signal.SIGHUP, signal.SIGQUIT):
        signal.signal(sig, forward)
    try:
        _, status = os.waitpid(child, 0)
    except ChildProcessError:
        os._exit(1)
    if os.WIFSIGNALED(status):
        sig = os.WTERMSIG(status)
        if sig not in (signal.SIGKILL, signal.SIGSTOP):
            signal.signal(sig, signal.SIG_DFL)
        os.kill(os.getpid(), sig)
    os._exit(os.waitstatus_to_exitcode(status) if os.WIFEXITED(status) else 1)


def enter_from_env(workdir: str, **kwargs) -> bool:
    """`enter` where the grading worker asked for jails (`env.JAIL`); whether it did. A process that
    was asked and cannot enter its jail ends here: student code never runs unjailed there."""
    where = setting()
    if where is None:
        return False
    try:
        if where[0] is None:
            enter_userns(where[1], workdir, **kwargs)
        else:
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

    n = 0
    for proc in Path("/proc").glob("[0-9]*"):
        if _owner(proc) == uid:
            try:
                os.kill(int(proc.name), signal.SIGKILL)
                n += 1
            except (ProcessLookupError, PermissionError):
                pass
    return n


def as_root() -> bool:
    """Whether jails here are `enter`'s (a user per worker) rather than `enter_userns`'s."""
    return os.geteuid() == 0


def _reaches(address: tuple[str, int]) -> bool:
    import socket

    try:
        socket.create_connection(address, timeout=2).close()
        return True
    except OSError:
        return False


def available() -> str | None:
    """None where jails work here (tried in a child process: its own file tree, and no way to a
    listener on the host's 127.0.0.1), else why not: `enter` as root, `enter_userns` for anyone
    else."""
    if sys.platform != "linux":
        return "jails need Linux"
    import socket
    import tempfile

    with tempfile.TemporaryDirectory(prefix="cnncourse-jailtest-") as tmp, \
            socket.create_server(("127.0.0.1", 0)) as host:
        mountpoint, work = os.path.join(tmp, "root"), os.path.join(tmp, "work")
        os.mkdir(mountpoint)
        os.mkdir(work)
        r, w = os.pipe()
        pid = os.fork()
        if pid == 0:
            os.close(r)
            message = b"ok"
            try:
                if as_root():
                    enter(free_uid(), mountpoint, work)
                else:
                    enter_userns(mountpoint, work)
                if os.path.exists(mountpoint) or not os.path.exists(__file__):
                    message = b"the jail still shows its surroundings"
                elif _reaches(host.getsockname()):
                    message = b"the jail still reaches the host's network"
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
