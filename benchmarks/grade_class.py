"""Grading a synthetic class: `cnncourse grade --jobs N` against plain serial `nbgrader autograde`.

    python benchmarks/grade_class.py [--students 12] [--jobs 1 2 4] [ASSIGNMENT ...]

Builds a class in a temporary copy of the course: per assignment a mix of right answers (the
reference), one wrong answer, blank notebooks and a file that is not JSON. Grades it with plain
`nbgrader autograde ASSIGNMENT` (one process, serial; nbgrader's own way) and with
`cnncourse grade` at each --jobs, and prints wall time, notebooks per minute, the speed-up over
nbgrader and the overhead per notebook above the notebooks' own compute (a bare kernel run of
the reference). Not a test: the figures depend on the machine; the README quotes one run.
"""

from __future__ import annotations

import argparse
import os
import shutil
import subprocess
import sys
import tempfile
import time
from pathlib import Path

import nbformat

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT / "tests"))

from autograde import reference_answers, source_notebook, with_answers  # noqa: E402
from harness import variants  # noqa: E402

from cnncourse.course import CONFIG_NAME, ensure_bin_on_path  # noqa: E402
from cnncourse.notebooks import read_notebook  # noqa: E402


def build_class(course: Path, assignments: list[str], students: int) -> int:
    """submitted/<student>/<assignment>/: 70% right, 10% a catalogued mistake, 10% blank,
    10% not JSON. Returns the number of notebooks nbgrader can run."""
    runnable = 0
    for a in assignments:
        release = read_notebook(ROOT / "notebooks" / a / f"{a}.ipynb")
        reference = reference_answers(source_notebook(ROOT, a))
        mistake = variants(a, "MISTAKES")[0]
        for i in range(students):
            folder = course / "submitted" / f"student{i:03d}" / a
            folder.mkdir(parents=True, exist_ok=True)
            kind = i % 10
            if kind == 9:
                (folder / f"{a}.ipynb").write_text("{ not json")
                continue
            if kind == 8:
                nb = release
            elif kind == 7:
                nb = with_answers(release, {**reference, mistake.cell: mistake.code})
            else:
                nb = with_answers(release, reference)
            nbformat.write(nb, folder / f"{a}.ipynb")
            runnable += 1
    return runnable


def fresh_course(where: Path, assignments: list[str]) -> Path:
    course = where / "course"
    course.mkdir(parents=True)
    shutil.copy2(ROOT / CONFIG_NAME, course / CONFIG_NAME)
    for a in assignments:
        shutil.copytree(ROOT / "solutions" / a, course / "solutions" / a)
        shutil.copytree(ROOT / "notebooks" / a, course / "notebooks" / a)
    return course


def own_compute(assignments: list[str]) -> float:
    from nbclient import NotebookClient

    total = 0.0
    for a in assignments:
        nb = with_answers(read_notebook(ROOT / "notebooks" / a / f"{a}.ipynb"),
                          reference_answers(source_notebook(ROOT, a)))
        start = time.perf_counter()
        NotebookClient(nb, timeout=600, kernel_name="python3", allow_errors=True).execute()
        total += time.perf_counter() - start
    return total / len(assignments)


def timed(cmd: list[str], cwd: Path) -> float:
    start = time.perf_counter()
    subprocess.run(cmd, cwd=cwd, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL,
                   env={**os.environ, "PYTHONWARNINGS": "ignore"})
    return time.perf_counter() - start


def main(argv=None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("assignments", nargs="*", default=["01_convolution"])
    parser.add_argument("--students", type=int, default=12)
    parser.add_argument("--jobs", type=int, nargs="+", default=[1, 2, 4])
    parser.add_argument("--cold-jobs", type=int, nargs="*", default=[2],
                        help="also grade with --cold-kernels at these --jobs (what warm "
                        "kernels bring)")
    args = parser.parse_args(argv)
    ensure_bin_on_path()
    bindir = Path(sys.executable).parent
    own = own_compute(args.assignments)
    print(f"class: {args.students} students x {', '.join(args.assignments)}; "
          f"a notebook's own run (bare kernel): {own:.1f} s; {os.cpu_count()} cores", flush=True)
    print(f"{'grader':<26}{'wall s':>8}{'nb/min':>8}{'speed-up':>9}{'overhead s/nb':>15}")
    with tempfile.TemporaryDirectory(prefix="cnncourse-bench-") as tmp:
        course = fresh_course(Path(tmp) / "nbgrader", args.assignments)
        runnable = build_class(course, args.assignments, args.students)
        for a in args.assignments:  # nbgrader's own gradebook needs the assignment first
            subprocess.run([str(bindir / "nbgrader"), "generate_assignment", a, "--force"],
                           cwd=course, capture_output=True)
        serial = sum(timed([str(bindir / "nbgrader"), "autograde", a], course)
                     for a in args.assignments)
        _line("nbgrader autograde (serial)", serial, runnable, serial, own)
        runs = [(j, []) for j in args.jobs] + [(j, ["--cold-kernels"]) for j in args.cold_jobs]
        for jobs, extra in runs:
            course = fresh_course(Path(tmp) / f"jobs{jobs}{''.join(extra)}", args.assignments)
            build_class(course, args.assignments, args.students)
            took = timed([sys.executable, "-m", "cnncourse", "grade", *args.assignments,
                          "--jobs", str(jobs), "--no-progress", *extra], course)
            _line(f"cnncourse grade --jobs {jobs}{' cold' if extra else ''}", took, runnable,
                  serial, own, jobs)
    return 0


def _line(name, took, runnable, serial, own, jobs=1):
    per = took / runnable
    overhead = per * jobs - own  # wall time a notebook holds a worker, minus its own compute
    print(f"{name:<26}{took:>8.1f}{60 / per:>8.1f}{serial / took:>8.2f}x{overhead:>15.2f}",
          flush=True)


if __name__ == "__main__":
    raise SystemExit(main())
