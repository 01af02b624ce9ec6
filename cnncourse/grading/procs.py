"""Processes: the grader's one way to find and end what student code started.

A grading worker is a Linux child subreaper (`become_subreaper`): whatever a notebook starts
and detaches is re-parented to it, so `kill_strays` finds it among its descendants
(`descendants`, read from /proc). Every kill here is quiet: a process that is already gone, or
that this user may not signal, is no error.
"""

from __future__ import annotations

import os
import signal
from pathlib import Path


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
