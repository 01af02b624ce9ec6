"""The untrusted side of verification: run a student's answer code on given inputs.

    python -m cnncourse.sandbox WORKDIR

Reads WORKDIR/calls.pkl (written by the trusted grader: the answer code and the calls to make),
runs the code in this fresh interpreter under resource limits, and writes each call's result
as plain ``.npy`` arrays (never pickles) plus a small JSON note. Whatever the code patches here
(numpy, builtins, ``__eq__``) stays here: the comparison happens in another process.
"""

from __future__ import annotations

import json
import os
import pickle
import resource
import signal
import sys
from pathlib import Path


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


def main(workdir: str) -> int:
    work = Path(workdir)
    spec = pickle.loads((work / "calls.pkl").read_bytes())  # written by the trusted side
    _limit(spec.get("memory_gb", 4.0), spec.get("cpu_s", 120))
    import numpy as np

    out = work / "out"
    out.mkdir()
    devnull = os.open(os.devnull, os.O_WRONLY)
    os.dup2(devnull, 1)  # the answer code's prints go nowhere
    signal.signal(signal.SIGALRM, _alarm)
    namespace = {"__name__": "__answers__"}
    for i, code in enumerate(spec["cells"]):
        signal.alarm(spec.get("cell_s", 30))
        try:
            exec(compile(code, f"<answer cell {i}>", "exec"), namespace)
        except BaseException as error:  # noqa: BLE001 - a broken cell is the student's, go on
            (out / f"cell{i}.json").write_text(json.dumps({"error": type(error).__name__}))
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


if __name__ == "__main__":
    sys.exit(main(sys.argv[1]))
