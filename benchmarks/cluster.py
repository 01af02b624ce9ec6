"""One class, graded with local workers and on a local Dask cluster, in one run.

    python benchmarks/cluster.py [--students 20] [--workers 2] [--repeats 2] [ASSIGNMENT ...]

Starts a TLS `dask scheduler` and `--workers` `dask worker` processes on 127.0.0.1 (as the
README's cluster section says; tests/daskcluster.py), builds the class of
benchmarks/grade_class.py (70 % right, 10 % a catalogued mistake, 10 % blank, 10 % not JSON),
and grades it `--repeats` times each way, in turns: `cnncourse grade --jobs W` and
`cnncourse grade --scheduler ...` (fresh course copies, so nothing is resumed). Prints each
run's wall time and notebooks per minute, the medians, the paired ratio (cluster / local), and
the overhead per notebook the cluster adds: (cluster wall - local wall) x W / notebooks, the
seconds a worker is held longer per notebook. Not a test: the figures depend on the machine.
"""

from __future__ import annotations

import argparse
import os
import statistics
import subprocess
import sys
import tempfile
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT / "tests"))
sys.path.insert(0, str(ROOT / "benchmarks"))

from daskcluster import Cluster  # noqa: E402
from grade_class import build_class, fresh_course  # noqa: E402

from cnncourse.course import ensure_bin_on_path  # noqa: E402


def timed(cmd: list[str], cwd: Path) -> float:
    start = time.perf_counter()
    done = subprocess.run(cmd, cwd=cwd, capture_output=True, text=True,
                          env={**os.environ, "PYTHONWARNINGS": "ignore"})
    took = time.perf_counter() - start
    if done.returncode != 0:
        raise SystemExit(f"{' '.join(cmd[2:5])} failed:\n{done.stdout}\n{done.stderr[-3000:]}")
    return took


def main(argv=None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("assignments", nargs="*", default=["01_convolution"])
    parser.add_argument("--students", type=int, default=20)
    parser.add_argument("--workers", type=int, default=2)
    parser.add_argument("--repeats", type=int, default=2)
    args = parser.parse_args(argv)
    ensure_bin_on_path()
    with tempfile.TemporaryDirectory(prefix="cnncourse-bench-") as tmp:
        cluster = Cluster(Path(tmp) / "dask", workers=args.workers)
        try:
            walls: dict[str, list[float]] = {"local": [], "cluster": []}
            notebooks = 0
            print(f"class: {args.students} students x {', '.join(args.assignments)}; "
                  f"{args.workers} local workers vs {args.workers} Dask workers at "
                  f"{cluster.address}; {os.cpu_count()} cores", flush=True)
            for i in range(args.repeats):
                for way in ("local", "cluster"):
                    course = fresh_course(Path(tmp) / f"{way}{i}", args.assignments)
                    notebooks = build_class(course, args.assignments, args.students)
                    how = ["--jobs", str(args.workers)] if way == "local" else \
                        ["--scheduler", cluster.address, *cluster.tls_args()]
                    took = timed([sys.executable, "-m", "cnncourse", "grade",
                                  *args.assignments, "--no-progress", *how], course)
                    walls[way].append(took)
                    print(f"  run {i + 1} {way:<8} {took:7.1f} s  "
                          f"{60 * notebooks / took:6.1f} notebooks/min", flush=True)
        finally:
            cluster.stop()
    local, remote = statistics.median(walls["local"]), statistics.median(walls["cluster"])
    ratios = [c / w for w, c in zip(walls["local"], walls["cluster"], strict=True)]
    print(f"median: local {local:.1f} s ({60 * notebooks / local:.1f} nb/min), cluster "
          f"{remote:.1f} s ({60 * notebooks / remote:.1f} nb/min), {notebooks} notebooks")
    print(f"paired ratio cluster/local: median {statistics.median(ratios):.3f} "
          f"(runs: {', '.join(f'{r:.3f}' for r in ratios)})")
    print(f"overhead the cluster adds per notebook: "
          f"{(remote - local) * args.workers / notebooks:+.2f} s of a worker")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
