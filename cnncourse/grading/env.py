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
- ``OMP_NUM_THREADS``, ``MKL_NUM_THREADS``, ``OPENBLAS_NUM_THREADS`` (`THREADS`): the threads
  each kernel's numerical libraries may start, its share of the cores (`share_threads`, from
  `usable_cores` ÷ the notebooks graded at once). Read by PyTorch, OpenMP, MKL and OpenBLAS when
  they start their pools, so set before any of them is imported: intra-op threads that
  outnumber the free cores spin-wait at every operation (measured in issue 17: a class of 12
  took 48 s with each kernel's default pool, 32 s with one thread each, on 2 cores).
- ``CNNCOURSE_GRADING`` (`cnncourse.budget.GRADING`) = ``1``: the notebook is being graded, so
  its demonstrations run a small budget (`cnncourse.budget`); no graded cell reads what they
  compute. Read by the kernels. `cnncourse grade --full-demos` leaves it unset.
"""

from __future__ import annotations

import os

from cnncourse import budget

JAIL = "CNNCOURSE_JAIL"
THREADS = ("OMP_NUM_THREADS", "MKL_NUM_THREADS", "OPENBLAS_NUM_THREADS")
WARM_SOCKET = "CNNCOURSE_WARM_SOCKET"
JUPYTER_PATH = "JUPYTER_PATH"
GRADING = budget.GRADING


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


def usable_cores(cgroup: str = "/sys/fs/cgroup") -> int:
    """The cores this process may really use: those of its CPU affinity (`taskset`, a batch
    system), fewer where a cgroup's CPU quota allows less (a container's `--cpus`: cgroup v2's
    ``cpu.max``, v1's ``cpu/cpu.cfs_quota_us`` ÷ ``cpu.cfs_period_us``, rounded up). At
    least 1. `cgroup`: where the cgroup file system is mounted."""
    cores = len(os.sched_getaffinity(0)) if hasattr(os, "sched_getaffinity") else \
        (os.cpu_count() or 1)
    quota = None
    try:
        text = open(os.path.join(cgroup, "cpu.max")).read().split()
        if text and text[0] != "max":
            quota = int(text[0]) / int(text[1])
    except (OSError, ValueError, IndexError):
        try:
            q = int(open(os.path.join(cgroup, "cpu", "cpu.cfs_quota_us")).read())
            period = int(open(os.path.join(cgroup, "cpu", "cpu.cfs_period_us")).read())
            quota = q / period if q > 0 and period > 0 else None
        except (OSError, ValueError):
            quota = None
    if quota is not None:
        cores = min(cores, max(1, -int(-quota // 1)))
    return max(1, cores)


def ask_for_small_demos(small: bool = True) -> None:
    """From now on, the kernels this process starts run their notebooks' demonstrations on a
    small budget (`cnncourse.budget`); with `small` False, in full."""
    if small:
        os.environ[GRADING] = "1"
    else:
        os.environ.pop(GRADING, None)


def share_threads(threads: int) -> None:
    """From now on, what this process starts runs its numerical libraries on `threads`
    threads (its share of the cores)."""
    for name in THREADS:
        os.environ[name] = str(max(1, int(threads)))


def passed_to_sandbox() -> dict[str, str]:
    """The variables a verification run gets from the worker: the jail request, its share of
    the threads, the grading signal (a program run again whole runs the small demonstrations,
    as the kernel did) and the few a Python needs; nothing else of the grader's environment."""
    keep = ("PATH", "HOME", "LANG", "LC_ALL", JAIL, GRADING, *THREADS)
    return {k: v for k, v in os.environ.items() if k in keep}
