"""How long grading takes: a notebook's own run time vs nbgrader's autograde of a batch.

    python benchmarks/grading.py [ASSIGNMENT ...] [--copies N]

For each assignment: the reference solution executed once by a bare kernel (nbclient: the
notebook's own compute), then N copies of it autograded by nbgrader in one process on a fresh
gradebook (what the fairness harness and a grader do). Prints seconds per notebook and the
overhead nbgrader adds above the notebook's own compute. Also prints how many submissions the
fairness harness grades per assignment, with and without packing independent variants.
Not a test: figures depend on the machine. The README quotes a run on 2 cores.
"""

from __future__ import annotations

import argparse
import sys
import tempfile
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT / "tests"))  # the harness's catalogues and packing rules

from autograde import (  # noqa: E402
    grade_batch,
    reference_answers,
    source_notebook,
    with_answers,
)
from harness import assignments, cells_of, pack, variants  # noqa: E402

from cnncourse.course import ensure_bin_on_path  # noqa: E402
from cnncourse.notebooks import read_notebook  # noqa: E402


def run_once(nb) -> float:
    from nbclient import NotebookClient

    start = time.perf_counter()
    NotebookClient(nb, timeout=600, kernel_name="python3", allow_errors=True).execute()
    return time.perf_counter() - start


def main(argv=None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("assignments", nargs="*")
    parser.add_argument("--copies", type=int, default=6)
    args = parser.parse_args(argv)
    ensure_bin_on_path()
    chosen = args.assignments or [
        a for a in assignments() if (ROOT / "notebooks" / a / f"{a}.ipynb").exists()]
    print(f"{'assignment':<24}{'own run s':>10}{'graded s/nb':>12}{'overhead s':>11}"
          f"{'variants':>9}{'packed':>8}")
    for a in chosen:
        source = source_notebook(ROOT, a)
        release = read_notebook(ROOT / "notebooks" / a / f"{a}.ipynb")
        reference = with_answers(release, reference_answers(source))
        own = run_once(reference.copy())
        subs = {f"copy-{i:02d}": reference for i in range(args.copies)}
        with tempfile.TemporaryDirectory() as tmp:
            start = time.perf_counter()
            grade_batch(ROOT, a, subs, Path(tmp) / "course")
            per = (time.perf_counter() - start) / args.copies
        cells = cells_of(source)
        found = variants(a, "MISTAKES") + variants(a, "ALTERNATIVES")
        packed = (len(pack(variants(a, "MISTAKES"), cells))
                  + len(pack(variants(a, "ALTERNATIVES"), cells)))
        print(f"{a:<24}{own:>10.1f}{per:>12.1f}{per - own:>11.1f}{len(found):>9}{packed:>8}",
              flush=True)
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
