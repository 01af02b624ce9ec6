"""Does a student's notebook collapse when the laptop is busy?  (A benchmark, not a test.)

    python benchmarks/notebook_threads.py                     # all six reference notebooks
    python benchmarks/notebook_threads.py 06_lenet --repeats 3

Runs each reference notebook (`solutions/`, the instructor's answers) top to bottom in a fresh
kernel, as a student's Run All does, twice per repeat: on a quiet machine, and beside one busy
process (a Python loop that keeps one core at 100 %, as a browser tab or a second notebook
would). The notebooks set their threads once, in their first code cell, with
`cnncourse.device.use_threads()` (one thread, or the grader's share of the cores). Prints the
median wall-clock seconds of each and the busy ÷ quiet ratio; issue 17's bar is 2x.
"""

from __future__ import annotations

import argparse
import multiprocessing as mp
import os
import platform
import statistics
import time
from pathlib import Path

from cnncourse.notebooks import read_notebook

ROOT = Path(__file__).resolve().parents[1]


def _spin() -> None:
    while True:
        pass


def run_notebook(name: str) -> float:
    """Seconds to run solutions/<name>/<name>.ipynb in a fresh kernel (errors fail)."""
    from nbclient import NotebookClient

    path = ROOT / "solutions" / name / f"{name}.ipynb"
    nb = read_notebook(path)
    start = time.perf_counter()
    NotebookClient(nb, timeout=900, kernel_name="python3",
                   resources={"metadata": {"path": str(path.parent)}}).execute()
    return time.perf_counter() - start


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("notebooks", nargs="*", help="default: all six")
    parser.add_argument("--repeats", type=int, default=1)
    args = parser.parse_args()
    names = args.notebooks or sorted(p.name for p in (ROOT / "solutions").iterdir()
                                     if p.is_dir() and p.name[:2].isdigit())
    print(f"{platform.processor() or platform.machine()}, {os.cpu_count()} cores, "
          f"Python {platform.python_version()}; load before: {os.getloadavg()[0]:.2f}")
    print(f"{'notebook':<24} {'quiet s':>8} {'busy s':>8} {'busy/quiet':>10}")
    for name in names:
        quiet, busy = [], []
        for _ in range(args.repeats):
            quiet.append(run_notebook(name))
            spinner = mp.get_context("spawn").Process(target=_spin, daemon=True)
            spinner.start()
            try:
                busy.append(run_notebook(name))
            finally:
                spinner.kill()
                spinner.join()
        q, b = statistics.median(quiet), statistics.median(busy)
        print(f"{name:<24} {q:>8.1f} {b:>8.1f} {b / q:>9.2f}x", flush=True)


if __name__ == "__main__":
    main()
