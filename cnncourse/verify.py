"""Verifying answers outside the student's interpreter, so a test cell cannot be fooled.

nbgrader runs the tests in the same kernel as the student's code: an answer cell that patches
``numpy.testing``, ``print`` or ``__eq__`` fools them. Here the answer cells (and the trusted
setup cell of the release) run in a separate, resource-limited process (`cnncourse.sandbox`)
on seeded inputs and hand back plain ``.npy`` arrays; this process judges them against PyTorch
or against properties (the probes of each assignment, `tests/probes/<assignment>.py` in the
course: instructor material like the hidden tests, not part of the package students read).

A verdict is per graded function. It only ever lowers a score: where nbgrader gave an answer
full marks but its verification fails, the answer's test cells get 0 and the row is flagged.
Partly right answers that nbgrader already marked down are left as nbgrader graded them.
"""

from __future__ import annotations

import importlib.util
import json
import os
import pickle
import secrets
import select
import shutil
import signal
import subprocess
import sys
import tempfile
import time
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path

import numpy as np

from cnncourse.notebooks import nbgrader_meta

PROBES = "tests/probes"  # in the course root, beside the tests: instructor material


@dataclass
class Probe:
    """How to verify one graded function: seeded calls and a judge for each result.

    `cases(rng)` gives ``[(args, kwargs), ...]``; `judge(args, kwargs, got)` says whether `got`
    is right, where `got` is the list of returned arrays, or an exception's class name (str).
    Where the answer returns no arrays (dicts, modules), `helper` is code run after the answer
    cells that defines `call`, a function turning the answer's result into arrays; the cases
    then call `call` instead of `function`.
    """

    function: str
    cases: Callable[[np.random.Generator], list[tuple[tuple, dict]]]
    judge: Callable[[tuple, dict, object], bool]
    call: str = ""
    helper: str = ""


def same_as(oracle: Callable, *, rtol: float = 1e-6, atol: float = 1e-8,
            same_kind: bool = False) -> Callable:
    """A judge: the result equals `oracle(*args, **kwargs)` (arrays, tuples or an exception).

    With `same_kind`, an integer must come back as an integer (a size of 4.0 is not 4).
    """

    def judge(args, kwargs, got) -> bool:
        try:
            want = oracle(*args, **kwargs)
        except ValueError:  # invalid arguments: the answer must refuse them the same way
            return got == "ValueError"
        if isinstance(got, str):
            return False
        parts = list(want) if isinstance(want, (tuple, list)) and want and not all(
            isinstance(v, (int, float)) for v in want) else [want]
        if len(parts) != len(got):
            return False
        for w, g in zip(parts, got, strict=True):
            w = np.asarray(w)
            if w.shape != g.shape or not np.allclose(g, w, rtol=rtol, atol=atol):
                return False
            if same_kind and (w.dtype.kind in "iu") != (g.dtype.kind in "iu"):
                return False
        return True

    return judge


def load_probes(root: Path, assignment: str, where: str | Path = PROBES) -> list[Probe]:
    """The probes of `assignment`: `<root>/tests/probes/<assignment>.py` defines PROBES."""
    path = Path(root) / where / f"{assignment}.py"
    if not path.exists():
        return []
    spec = importlib.util.spec_from_file_location(f"probes_{assignment}", path)
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    return list(module.PROBES)


def answer_code(submission, release) -> list[str]:
    """The release's setup cell (trusted), then the student's answer cells, in order."""
    setup = next((c.source for c in release.cells if c.cell_type == "code"), "")
    answers = [c.source for c in submission.cells if c.cell_type == "code"
               and nbgrader_meta(c).get("solution")]
    return [setup, *answers]


def _sandbox_env() -> dict:
    from cnncourse.jail import ENV

    env = {k: v for k, v in os.environ.items() if k in ("PATH", "HOME", "LANG", "LC_ALL", ENV)}
    env.update(OMP_NUM_THREADS="1", MKL_NUM_THREADS="1", PYTHONHASHSEED="0", MPLBACKEND="Agg")
    return env


class Sandbox:
    """A warm `cnncourse.sandbox --serve` fork server: a verification run costs a fork, not the
    ~4 s a fresh interpreter spends importing torch. Restarted if it dies; where it does not
    answer, `verify` falls back to a fresh interpreter, so one student cannot break it for the
    next."""

    def __init__(self):
        self.proc = None
        self.buffer = b""

    def start(self) -> None:
        self.close()
        self.home = tempfile.mkdtemp(prefix="cnncourse-sandbox-")
        self.proc = subprocess.Popen([sys.executable, "-m", "cnncourse.sandbox", "--serve"],
                                     cwd=self.home, env=_sandbox_env(), stdin=subprocess.PIPE,
                                     stdout=subprocess.PIPE, stderr=subprocess.DEVNULL,
                                     start_new_session=True)
        self.buffer = b""

    def _line(self, deadline: float) -> str | None:
        while b"\n" not in self.buffer:
            left = deadline - time.monotonic()
            if left <= 0:
                return None
            ready, _, _ = select.select([self.proc.stdout], [], [], left)
            if not ready:
                return None
            chunk = os.read(self.proc.stdout.fileno(), 4096)
            if not chunk:
                return None
            self.buffer += chunk
        line, _, self.buffer = self.buffer.partition(b"\n")
        return line.decode(errors="replace")

    def _await(self, token: str, what: str, deadline: float) -> str | None:
        while (line := self._line(deadline)) is not None:
            parts = line.split()
            if len(parts) == 3 and parts[0] == token and parts[1] == what:
                return parts[2]
        return None

    def run(self, work: Path, timeout: float) -> bool:
        """Run the request in `work`; False when the server could not take it."""
        if self.proc is None or self.proc.poll() is not None:
            self.start()
        token = secrets.token_hex(8)
        try:
            self.proc.stdin.write(f"{token} {work}\n".encode())
            self.proc.stdin.flush()
        except OSError:
            self.start()
            return False
        start = time.monotonic()
        pid = self._await(token, "pid", start + 60)  # the first request waits for the imports
        if pid is None or not pid.isdigit():
            self.start()
            return False
        if self._await(token, "done", start + timeout) is None:
            try:
                os.killpg(int(pid), signal.SIGKILL)
            except (ProcessLookupError, PermissionError):
                pass
            if self._await(token, "done", time.monotonic() + 10) is None:
                self.start()
        return True

    def close(self) -> None:
        if self.proc is not None and self.proc.poll() is None:
            try:
                os.killpg(self.proc.pid, signal.SIGKILL)
            except (ProcessLookupError, PermissionError):
                pass
            self.proc.wait()
        self.proc = None


def _fresh_run(work: Path, timeout: float) -> None:
    proc = subprocess.Popen([sys.executable, "-m", "cnncourse.sandbox", str(work)], cwd=work,
                            env=_sandbox_env(), stdin=subprocess.DEVNULL,
                            stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL,
                            start_new_session=True)
    try:
        proc.wait(timeout=timeout)
    except subprocess.TimeoutExpired:
        pass
    try:
        os.killpg(proc.pid, signal.SIGKILL)  # and whatever it started
    except (ProcessLookupError, PermissionError):
        pass
    proc.wait()


def verify(submission, release, probes: list[Probe], *, seed: int = 0, timeout: float = 120,
           memory_gb: float = 4.0, sandbox: Sandbox | None = None) -> dict[str, bool]:
    """{function: verified?} for every probe, from one sandbox run of the answer cells
    (in `sandbox`, a warm fork server, when given; else in a fresh interpreter)."""
    if not probes:
        return {}
    rng = np.random.default_rng(seed)
    calls, owner = [], []
    for probe in probes:
        for args, kwargs in probe.cases(rng):
            calls.append((probe.call or probe.function, args, kwargs))
            owner.append(probe)
    with tempfile.TemporaryDirectory(prefix="cnncourse-verify-") as tmp:
        work = Path(tmp)
        helpers = list(dict.fromkeys(p.helper for p in probes if p.helper))
        spec = {"cells": answer_code(submission, release), "helpers": helpers, "calls": calls,
                "memory_gb": memory_gb, "cpu_s": int(timeout)}
        (work / "calls.pkl").write_bytes(pickle.dumps(spec))
        if sandbox is None or not sandbox.run(work, timeout):
            shutil.rmtree(work / "out", ignore_errors=True)
            _fresh_run(work, timeout)
        verdict = {p.function: True for p in probes}
        for k, (probe, (_, args, kwargs)) in enumerate(zip(owner, calls, strict=True)):
            if not verdict[probe.function]:
                continue
            got = _read(work / "out", k)
            try:
                ok = got is not None and bool(probe.judge(args, kwargs, got))
            except Exception:
                ok = False
            verdict[probe.function] = ok
    return verdict


def _read(out: Path, k: int):
    """What call k returned: a list of arrays, an exception name, or None when it said nothing."""
    try:
        note = json.loads((out / f"call{k}.json").read_text())
    except (OSError, ValueError):
        return None
    if not isinstance(note, dict):
        return None
    if isinstance(note.get("error"), str):
        return note["error"][:100]
    parts = note.get("parts")
    if not isinstance(parts, int) or not 0 < parts < 100:
        return None
    try:
        return [np.load(out / f"call{k}_{j}.npy", allow_pickle=False) for j in range(parts)]
    except (OSError, ValueError):
        return None


def reconcile(cells: dict[str, tuple[float, float]], verdict: dict[str, bool]):
    """Scores after verification, and the functions where nbgrader and the verdict disagree.

    An answer whose tests all got full marks in the kernel but which fails verification was
    graded by tests that something in the kernel fooled: all its test cells get 0. An answer
    that nbgrader already marked down keeps nbgrader's points; nothing is ever raised.
    """
    out, disagree = dict(cells), []
    for name, ok in verdict.items():
        mine = [g for g in cells if g in (f"test_{name}", f"test_{name}_hidden")]
        full = bool(mine) and all(cells[g][0] >= cells[g][1] for g in mine)
        if full and not ok:
            disagree.append(name)
            for g in mine:
                out[g] = (0.0, cells[g][1])
    return out, disagree
