"""Processes: the grader's one way to find and end what student code started, and the one
way its helpers end with it.

A grading worker is a Linux child subreaper (`become_subreaper`): whatever a notebook starts
and detaches is re-parented to it, so `kill_strays` finds it among its descendants
(`descendants`, read from /proc). Every kill here is quiet: a process that is already gone, or
that this user may not signal, is no error.

Every helper process the grader starts (a worker, its warm-kernel zygote and the kernels it
forks, the verification fork server and its children, a kernel's client, the jail's relay)
calls `die_with_parent` first: the kernel sends it SIGKILL when the process that started it
dies, however that dies (SIGKILL included), and one whose parent died before the call ends at
once. So no helper outlives its grader.
"""

from __future__ import annotations

import os
import signal
from pathlib import Path

PR_SET_PDEATHSIG = 1


def die_with_parent(parent: int | None = None) -> None:
    """Get SIGKILL when the parent process dies (Linux's parent-death signal); `parent` is the
    pid it should have: when this process was already re-parented (its parent died before this
    call), it ends now. The signal survives exec, not fork: each forked child calls this."""
    try:
        import ctypes

        ctypes.CDLL(None, use_errno=True).prctl(PR_SET_PDEATHSIG, signal.SIGKILL, 0, 0, 0)
    except (OSError, AttributeError):
        return
    if parent is not None and os.getppid() != parent:
        os._exit(1)


def become_subreaper() -> None:
    """Orphans of this process's descendants are re-parented here instead of to init."""
    try:
        import ctypes

        ctypes.CDLL(None, use_errno=True).prctl(36, 1, 0, 0, 0)  # PR_SET_CHILD_SUBREAPER
    except (OSError, AttributeError):
        pass


def descendants(pid: int) -> list[int]:
    """Every process below `pid`, children first, read from /proc (Linux)."""
    children: dict[int, list[int]] = {}
    for stat in Path("/proc").glob("[0-9]*/stat"):
        try:
            text = stat.read_text()
        except OSError:
            continue
        ppid = int(text[text.rindex(")") + 2:].split()[1])
        children.setdefault(ppid, []).append(int(stat.parent.name))
    out, todo = [], list(children.get(pid, []))
    while todo:
        p = todo.pop()
        out.append(p)
        todo.extend(children.get(p, []))
    return out


def alive(pid: int) -> bool:
    """Whether `pid` runs (a zombie does not)."""
    try:
        state = Path(f"/proc/{pid}/stat").read_text().rsplit(")", 1)[1].split()[0]
    except (OSError, IndexError):
        return False
    return state not in ("Z", "X")


def kill(pid: int, *, group: bool = False) -> None:
    """SIGKILL `pid` (its process group, with `group`); quiet when it is gone or not ours."""
    try:
        if group:
            os.killpg(pid, signal.SIGKILL)
        else:
            os.kill(pid, signal.SIGKILL)
    except (ProcessLookupError, PermissionError):
        pass


def kill_strays(keep: set[int]) -> int:
    """Kill what the last notebook left running below this process (but `keep`) and reap it;
    how many there were."""
    strays = [p for p in descendants(os.getpid()) if p not in keep]
    for p in strays:
        kill(p)
    for p in strays:
        try:
            os.waitpid(p, 0)
        except ChildProcessError:
            pass
    return len(strays)


def kill_jail_user(jail: str | None) -> int:
    """Kill everything a root jail's user (`jail`: its user id) left running; how many. In
    user-namespace jails (or none) there is nothing to kill: what a kernel started dies with
    it."""
    if jail is None or not jail.isdigit():
        return 0
    from cnncourse.grading.jail import kill_all

    return kill_all(int(jail))
