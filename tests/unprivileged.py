"""Run test code as an ordinary user, from tests that run as root (CI does).

`become(uid)` is called first thing in a child process started by root. It turns that process
into user `uid` on a machine where that user can run this Python: root's home, which may hold
the interpreter (pyenv's), is replaced, in a mount namespace of this process only, by an empty
folder through which only the interpreter's prefixes are reachable. Nothing else changes: the
child has no capabilities left, no groups, and the machine's other files as any user sees them.
"""

from __future__ import annotations

import os
import sys
import tempfile

from cnncourse.grading.jail import CLONE_NEWNS, MS_BIND, MS_PRIVATE, MS_REC, _check, _libc, _mount


def _closed_ancestor(path: str) -> str | None:
    """The outermost folder above `path` that other users cannot pass through."""
    parts = os.path.realpath(path).split(os.sep)
    for i in range(2, len(parts)):
        folder = os.sep.join(parts[:i])
        if not os.stat(folder).st_mode & 0o001:
            return folder
    return None


def become(uid: int, also: tuple[str, ...] = ()) -> None:
    """Be `uid` from here on, able to reach this Python's prefixes and the folders `also`."""
    if os.geteuid() != 0:
        raise RuntimeError("become() is for tests that run as root")
    _check(_libc.unshare(CLONE_NEWNS), "unshare")
    _mount(None, "/", None, MS_REC | MS_PRIVATE)
    paths = []  # the outermost of nested paths only
    for p in sorted({os.path.realpath(p) for p in (sys.prefix, sys.base_prefix, *also)}, key=len):
        if not any(p == q or p.startswith(q + os.sep) for q in paths):
            paths.append(p)
    closed = {p: _closed_ancestor(p) for p in paths}
    staged = {}
    for p in paths:
        if closed[p] is not None:
            staged[p] = tempfile.mkdtemp(prefix="cnncourse-prefix-")
            _mount(p, staged[p], None, MS_BIND | MS_REC)
    for folder in sorted(set(closed.values()) - {None}, key=len):
        _mount("tmpfs", folder, "tmpfs", 0, "mode=755,size=1m")
    for p, staging in staged.items():
        os.makedirs(p, exist_ok=True)
        _mount(staging, p, None, MS_BIND | MS_REC)
    os.setgroups([])
    os.setgid(uid)
    os.setuid(uid)


def forbid_user_namespaces() -> None:
    """From here on, this process (an ordinary user after `become`) can create no user
    namespace, as in containers that refuse them: it enters one of its own (mapping its user
    to itself) whose limit on nested user namespaces is 0, which the kernel checks at every
    level above a new namespace (`unshare` then fails with ENOSPC). The capabilities it has
    there end at its next exec (its user is not root there)."""
    from cnncourse.grading.jail import CLONE_NEWUSER, PR_SET_DUMPABLE

    uid, gid = os.getuid(), os.getgid()
    _check(_libc.prctl(PR_SET_DUMPABLE, 1, 0, 0, 0), "dumpable")  # its /proc/self, writable
    _check(_libc.unshare(CLONE_NEWUSER), "unshare")
    for name, text in (("setgroups", "deny"), ("uid_map", f"{uid} {uid} 1"),
                       ("gid_map", f"{gid} {gid} 1")):
        with open(f"/proc/self/{name}", "w") as f:
            f.write(text)
    with open("/proc/sys/user/max_user_namespaces", "w") as f:
        f.write("0")
