"""The untrusted side of verification: run a student's answer code on given inputs.

    python -m cnncourse.grading.sandbox WORKDIR PID  # one run in this fresh interpreter
    python -m cnncourse.grading.sandbox --serve PID  # a fork server: a forked child a request

The grader's side of the protocol is here too: `Sandbox` (a client of the warm fork server)
and `fresh_run` (one run in a fresh interpreter).

Reads WORKDIR/calls.pkl (written by the trusted grader: the notebook's code cells and the calls
to make), runs the cells in an IPython shell as a kernel would (magics and ``!`` lines
included) under resource limits, notes each cell that raises, and writes each call's result
as plain ``.npy`` arrays (never pickles) plus a small JSON note. Whatever the code patches
here (numpy, builtins, ``__eq__``) stays here: the comparison happens in another process.

A fresh interpreter spends ~4 s importing numpy, torch and matplotlib before the first answer
line runs. The server imports them once and forks a child per request (milliseconds); each
child is as separate from the server and the grader as a fresh interpreter would be. Protocol
on stdin/stdout, one line each: ``TOKEN WORKDIR`` in, ``TOKEN pid PID`` when the child is
forked, ``TOKEN done STATUS`` when it has exited.
"""

from __future__ import annotations

import json
import os
import pickle
import resource
import secrets
import select
import signal
import subprocess
import sys
import tempfile
import time
from pathlib import Path

from cnncourse.grading import procs


def _limit(memory_gb: float, cpu_s: int) -> None:
    if memory_gb > 0:
        limit = int(memory_gb * 2**30)
        resource.setrlimit(resource.RLIMIT_AS, (limit, limit))
    resource.setrlimit(resource.RLIMIT_CPU, (cpu_s, cpu_s + 5))


def _parts(result) -> list:
    """A result as a list of array-likes: tuples and lists of arrays split, others one part."""
    if isinstance(result, (tuple, list)) and result and not all(
            isinstance(v, (int, float)) for v in result):
        return list(result)
    return [result]


def _alarm(signum, frame):
    raise TimeoutError("this answer cell ran too long")


def _shell():
    """An IPython shell that runs cells as ipykernel does, minus the kernel: no history file,
    and ``%matplotlib inline`` accepted (there is no event loop to start; plots draw off
    screen)."""
    from IPython.core.interactiveshell import InteractiveShell
    from traitlets.config import Config

    class SandboxShell(InteractiveShell):
        def enable_gui(self, gui=None):
            pass

    config = Config()
    config.HistoryManager.enabled = False
    return SandboxShell.instance(config=config)


def main(workdir: str) -> int:
    from cnncourse.grading import jail

    jail.enter_from_env(workdir)  # where the grading worker asks for one: see jail.py
    work = Path(workdir)
    spec = pickle.loads((work / "calls.pkl").read_bytes())  # written by the trusted side
    _limit(spec.get("memory_gb", 4.0), spec.get("cpu_s", 120))
    import numpy as np

    out = work / "out"
    out.mkdir()
    devnull = os.open(os.devnull, os.O_WRONLY)
    os.dup2(devnull, 1)  # the answer code's prints go nowhere
    signal.signal(signal.SIGALRM, _alarm)
    os.environ["IPYTHONDIR"] = str(work / "ipython")
    shell = _shell()
    namespace = shell.user_ns
    for i, code in enumerate(spec["cells"]):
        signal.alarm(spec.get("cell_s", 30))
        try:
            result = shell.run_cell(code, store_history=False)
            error = result.error_before_exec or result.error_in_exec
        except BaseException as raised:  # noqa: BLE001 - a broken cell is the student's, go on
            error = raised
        finally:
            signal.alarm(0)
        if error is not None:
            (out / f"cell{i}.json").write_text(json.dumps({"error": type(error).__name__}))
    (out / "cells.json").write_text(json.dumps({"ran": len(spec["cells"])}))
    for i, code in enumerate(spec.get("helpers", [])):  # the grader's adapters, defined last
        signal.alarm(spec.get("cell_s", 30))
        try:
            exec(compile(code, f"<probe helper {i}>", "exec"), namespace)
        except BaseException:  # noqa: BLE001 - then the calls that need it fail
            pass
        finally:
            signal.alarm(0)
    for k, (name, args, kwargs) in enumerate(spec["calls"]):
        note = {}
        signal.alarm(spec.get("call_s", 30))
        try:
            fn = namespace.get(name)
            if not callable(fn):
                raise NameError(f"{name} is not defined")
            result = fn(*args, **kwargs)
            parts = _parts(result)
            for j, part in enumerate(parts):
                array = np.asarray(part)
                if array.dtype == object:
                    raise TypeError("not a numeric array")
                np.save(out / f"call{k}_{j}.npy", array, allow_pickle=False)
            note = {"parts": len(parts)}
        except BaseException as error:  # noqa: BLE001
            note = {"error": type(error).__name__}
        finally:
            signal.alarm(0)
        (out / f"call{k}.json").write_text(json.dumps(note))
    return 0


# ------------------------------------------------------------------- the grader's side

def _env() -> dict:
    from cnncourse.grading.env import passed_to_sandbox

    env = passed_to_sandbox()
    env.update(OMP_NUM_THREADS="1", MKL_NUM_THREADS="1", PYTHONHASHSEED="0", MPLBACKEND="Agg")
    return env


class Sandbox:
    """A warm `cnncourse.grading.sandbox --serve` fork server: a verification run costs a fork,
    not the ~4 s a fresh interpreter spends importing torch. Restarted if it dies; where it does not
    answer, `verify` falls back to a fresh interpreter, so one student cannot break it for the
    next."""

    def __init__(self):
        self.proc = None
        self.buffer = b""

    def start(self) -> None:
        self.close()
        self.home = tempfile.mkdtemp(prefix="cnncourse-sandbox-")
        self.proc = subprocess.Popen([sys.executable, "-m", "cnncourse.grading.sandbox", "--serve",
                                      str(os.getpid())],
                                     cwd=self.home, env=_env(), stdin=subprocess.PIPE,
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
            procs.kill(int(pid), group=True)
            if self._await(token, "done", time.monotonic() + 10) is None:
                self.start()
        return True

    def close(self) -> None:
        if self.proc is not None and self.proc.poll() is None:
            procs.kill(self.proc.pid, group=True)
            self.proc.wait()
        self.proc = None


def fresh_run(work: Path, timeout: float) -> None:
    """Run the request in `work` in a fresh interpreter (~4 s of imports), within `timeout`."""
    proc = subprocess.Popen([sys.executable, "-m", "cnncourse.grading.sandbox", str(work),
                             str(os.getpid())],
                            cwd=work, env=_env(), stdin=subprocess.DEVNULL,
                            stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL,
                            start_new_session=True)
    try:
        proc.wait(timeout=timeout)
    except subprocess.TimeoutExpired:
        pass
    procs.kill(proc.pid, group=True)  # and whatever it started
    proc.wait()


PRELOAD = ("IPython.core.interactiveshell", "numpy", "torch", "torch.nn", "torch.nn.functional",
           "matplotlib", "matplotlib.pyplot",
           "cnncourse.plot", "cnncourse.images", "cnncourse.timing", "cnncourse.testing",
           "cnncourse.architectures", "cnncourse.charts", "cnncourse.curves", "cnncourse.data",
           "cnncourse.pooling_plots", "cnncourse.device", "cnncourse.diagnostics")


def _child(workdir: str, server: int) -> int:
    procs.die_with_parent(server)  # before a line of the student's: it dies with the server
    os.setsid()  # its own process group: the grader kills it and whatever it starts
    devnull = os.open(os.devnull, os.O_RDWR)
    os.dup2(devnull, 0)  # the server's request pipe is not for the answer code
    os.chdir(workdir)
    return main(workdir)


def serve(parent: int | None = None) -> int:
    """The fork server: imports once, then forks a child per request on stdin. It dies with the
    worker that started it (`parent`), each child with it."""
    import importlib

    procs.die_with_parent(parent)

    for name in PRELOAD:
        try:
            importlib.import_module(name)
        except Exception:  # noqa: BLE001 - a missing extra only costs time in the child
            pass
    try:
        import torch

        torch.set_num_threads(1)
    except ImportError:
        pass
    reply = os.fdopen(os.dup(1), "w", buffering=1)
    for line in sys.stdin:
        token, _, workdir = line.strip().partition(" ")
        if not token or not workdir:
            continue
        server = os.getpid()
        pid = os.fork()
        if pid == 0:
            code = 1
            try:
                reply.close()
                code = _child(workdir, server)
            finally:
                os._exit(code)
        print(token, "pid", pid, file=reply)
        _, status = os.waitpid(pid, 0)
        procs.kill(pid, group=True)  # what it started and left behind
        print(token, "done", status, file=reply)
    return 0


if __name__ == "__main__":
    if sys.argv[1:2] == ["--serve"]:
        sys.exit(serve(int(sys.argv[2]) if sys.argv[2:] else None))
    procs.die_with_parent(int(sys.argv[2]) if sys.argv[2:] else None)  # a fresh run
    sys.exit(main(sys.argv[1]))
