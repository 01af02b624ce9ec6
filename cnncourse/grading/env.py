"""The environment variables the grader's processes pass on to what they start: set and read
here only.

A grading worker sets them once, in its own environment; nbgrader then starts each kernel with
a copy of it, and the sandbox is started with the one it needs:

- ``CNNCOURSE_JAIL`` = ``SETTING:MOUNTPOINT``: jail what you run (`cnncourse.grading.jail`),
  as user id SETTING, or in user namespaces where SETTING is ``user``; MOUNTPOINT is the
  worker's empty folder to build jails on. Read by the kernels and the sandbox.
- ``CNNCOURSE_WARM_SOCKET`` = a Unix socket: where this worker's warm-kernel zygote listens
  (`cnncourse.grading.warmkernel`). Read by the kernelspec's client; unset, it starts a cold
  kernel.
- ``JUPYTER_PATH``: the worker's folder of kernelspecs comes first, so nbgrader finds the
  warm kernel's kernelspec.
"""

from __future__ import annotations

import os

JAIL = "CNNCOURSE_JAIL"
WARM_SOCKET = "CNNCOURSE_WARM_SOCKET"
JUPYTER_PATH = "JUPYTER_PATH"


def ask_for_jails(setting: str, mountpoint: str) -> None:
    """From now on, what this process starts jails itself (`setting`: a user id or "user")."""
    os.environ[JAIL] = f"{setting}:{mountpoint}"


def jail_request() -> tuple[str, str]:
    """(setting, mountpoint) asked for by the grading worker; ("", "") when none."""
    setting, _, where = os.environ.get(JAIL, "").partition(":")
    return setting, where


def offer_warm_kernels(socket: str) -> None:
    """Kernels started from now on ask the zygote at `socket` for a warm kernel."""
    os.environ[WARM_SOCKET] = socket


def warm_socket() -> str:
    """The zygote's socket, or "" when there is none."""
    return os.environ.get(WARM_SOCKET, "")


def add_kernelspecs(folder: str) -> None:
    """Put `folder` (holding kernels/<name>/kernel.json) first on Jupyter's data path."""
    paths = os.environ.get(JUPYTER_PATH, "")
    if folder not in paths.split(os.pathsep):
        os.environ[JUPYTER_PATH] = os.pathsep.join(p for p in (folder, paths) if p)


def passed_to_sandbox() -> dict[str, str]:
    """The variables a verification run gets from the worker: the jail request and the few a
    Python needs; nothing else of the grader's environment."""
    return {k: v for k, v in os.environ.items() if k in ("PATH", "HOME", "LANG", "LC_ALL", JAIL)}
