"""Grading a synthetic class: `cnncourse grade --jobs N` against plain serial `nbgrader autograde`.

    python benchmarks/grade_class.py [--students 12] [--jobs 1 2 4] [ASSIGNMENT ...]
    python benchmarks/grade_class.py --limit [--students 12] [--repeats 3] [ASSIGNMENT ...]

Builds a class in a temporary copy of the course: per assignment a mix of right answers (the
reference), one wrong answer, blank notebooks and a file that is not JSON. Grades it with plain
`nbgrader autograde ASSIGNMENT` (one process, serial; nbgrader's own way) and with
`cnncourse grade` at each --jobs, and prints wall time, notebooks per minute, the speed-up over
nbgrader and the overhead per notebook above the notebooks' own compute (a bare kernel run of
the reference).

With --limit, each assignment's class is graded on its own at --jobs = the cores this process
may use, and the benchmark prints, per assignment: the share of the hardware limit reached
(Σ the class's bare notebook runs ÷ cores ÷ wall; a bare run is one fresh kernel running the
notebook top to bottom under the grading signal, as the grader must), and where a graded
notebook's time goes: its graded cells (answers and tests) and its other cells (imports,
demonstrations), from the autograded notebook's own execution timestamps; then the grader's
overhead: nbgrader (autograde less the cells: kernel start, preprocessors, gradebook),
verification, the feedback page and the rest (placing the file, reading scores, cleaning up);
"held" is the time from handing the notebook to a worker to its reply, "worker" the wall time
× cores ÷ notebooks. Not a test: the figures depend on the machine; the README quotes one run.
"""

from __future__ import annotations

import argparse
import os
import shutil
import statistics
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

from cnncourse.budget import GRADING  # noqa: E402
from cnncourse.course import CONFIG_NAME, ensure_bin_on_path  # noqa: E402
from cnncourse.notebooks import read_notebook  # noqa: E402


def kind_of(i: int) -> str:
    """The submission of student i: 70% right, 10% a catalogued mistake, 10% blank, 10% not JSON."""
    return {9: "not json", 8: "blank", 7: "mistake"}.get(i % 10, "right")


def submission(a: str, kind: str):
    release = read_notebook(ROOT / "notebooks" / a / f"{a}.ipynb")
    reference = reference_answers(source_notebook(ROOT, a))
    if kind == "blank":
        return release
    if kind == "mistake":
        mistake = variants(a, "MISTAKES")[0]
        return with_answers(release, {**reference, mistake.cell: mistake.code})
    return with_answers(release, reference)


def build_class(course: Path, assignments: list[str], students: int) -> int:
    """submitted/<student>/<assignment>/ (`kind_of`). Returns the number of notebooks nbgrader
    can run."""
    runnable = 0
    for a in assignments:
        made = {}
        for i in range(students):
            folder = course / "submitted" / f"student{i:03d}" / a
            folder.mkdir(parents=True, exist_ok=True)
            kind = kind_of(i)
            if kind == "not json":
                (folder / f"{a}.ipynb").write_text("{ not json")
                continue
            if kind not in made:
                made[kind] = submission(a, kind)
            nbformat.write(made[kind], folder / f"{a}.ipynb")
            runnable += 1
    return runnable


def fresh_course(where: Path, assignments: list[str]) -> Path:
    course = where / "course"
    course.mkdir(parents=True)
    shutil.copy2(ROOT / CONFIG_NAME, course / CONFIG_NAME)
    for a in assignments:
        shutil.copytree(ROOT / "solutions" / a, course / "solutions" / a)
        shutil.copytree(ROOT / "notebooks" / a, course / "notebooks" / a)
        probes = ROOT / "probes" / f"{a}.py"  # verification, as in the course itself
        if probes.exists():
            (course / "probes").mkdir(exist_ok=True)
            shutil.copy2(probes, course / "probes" / probes.name)
    return course


def own_compute(assignments: list[str]) -> float:
    """A right notebook's bare run (`bare_run`), averaged over the assignments."""
    return sum(bare_run(submission(a, "right")) for a in assignments) / len(assignments)


def bare_run(nb, grading: bool = True) -> float:
    """Seconds for one fresh kernel to run `nb` top to bottom on one thread (errors allowed),
    under the grading signal by default (`cnncourse.budget`)."""
    from nbclient import NotebookClient

    env = {**os.environ, "OMP_NUM_THREADS": "1", "MKL_NUM_THREADS": "1"}
    env.pop(GRADING, None)
    if grading:
        env[GRADING] = "1"
    nb = nbformat.reads(nbformat.writes(nb), as_version=4)
    start = time.perf_counter()
    NotebookClient(nb, timeout=900, kernel_name="python3", allow_errors=True).execute(env=env)
    return time.perf_counter() - start


def cell_seconds(nb) -> tuple[float, float]:
    """(graded cells, other cells): seconds between each code cell's execute_input and its
    execute_reply, as nbclient records them in the executed notebook's metadata."""
    from datetime import datetime

    def when(text):
        return datetime.fromisoformat(text.replace("Z", "+00:00"))

    graded = other = 0.0
    for cell in nb.cells:
        times = cell.get("metadata", {}).get("execution", {})
        if cell.cell_type != "code" or "iopub.execute_input" not in times or \
                "shell.execute_reply" not in times:
            continue
        took = (when(times["shell.execute_reply"]) - when(times["iopub.execute_input"])
                ).total_seconds()
        meta = cell.metadata.get("nbgrader", {})
        if meta.get("grade") or meta.get("solution"):
            graded += took
        else:
            other += took
    return graded, other


def limit_table(assignments: list[str], students: int, repeats: int = 1) -> None:
    """Per assignment, its class graded alone at --jobs = cores: share of the hardware limit
    and where a notebook's time goes. With `repeats`, each bare run and each class run is
    measured that many times and the medians are shown (of an even number of class runs, the
    slower middle one; this machine's timings move by up to a third from run to run)."""
    from cnncourse.grading.env import usable_cores
    from cnncourse.grading.run import grade_class

    cores = usable_cores()
    print(f"{students} students per assignment, --jobs {cores} (the cores this process may use), "
          f"medians of {repeats} run(s); load average before: {os.getloadavg()[0]:.2f}",
          flush=True)
    print(f"{'assignment':<22}{'nbs':>4}{'bare/nb':>8}{'limit':>7}{'wall':>7}{'share':>6}  |"
          f" a graded notebook, s:{'graded':>7}{'other':>6}{'nbgrader':>9}{'verify':>7}"
          f"{'page':>6}{'rest':>6}{'held':>6}{'worker':>7}", flush=True)
    shares = []
    for a in assignments:
        subs = {k: submission(a, k) for k in ("right", "mistake", "blank")}
        bare = {k: statistics.median(bare_run(nb) for _ in range(repeats))
                for k, nb in subs.items()}
        kinds = [kind_of(i) for i in range(students) if kind_of(i) != "not json"]
        limit = sum(bare[k] for k in kinds) / cores
        runs = []
        for _ in range(repeats):
            with tempfile.TemporaryDirectory(prefix="cnncourse-bench-") as tmp:
                course = fresh_course(Path(tmp), [a])
                build_class(course, [a], students)
                start = time.perf_counter()
                rows = grade_class(course, course / "submitted", [a], course / "out",
                                   jobs=cores, say=lambda *args, **kw: None, progress=False)
                runs.append((time.perf_counter() - start, [r for r in rows if r.notebook]))
        wall, graded = sorted(runs, key=lambda run: run[0])[len(runs) // 2]  # the median run
        n = max(1, len(graded))
        split = [cell_seconds(nbformat.reads(r.notebook, as_version=4)) for r in graded]
        g = sum(x for x, _ in split) / n
        o = sum(y for _, y in split) / n
        steps = {step: sum(r.timings.get(step, 0.0) for r in graded) / n
                 for step in ("autograde", "verify", "page")}
        held = sum(r.seconds for r in graded) / n
        rest = held - sum(steps.values())
        share = limit / wall
        shares.append(share)
        print(f"{a:<22}{len(kinds):>4}{sum(bare[k] for k in kinds) / len(kinds):>8.2f}"
              f"{limit:>7.1f}{wall:>7.1f}{share:>6.2f}  | {'':>20}{g:>7.2f}{o:>6.2f}"
              f"{steps['autograde'] - g - o:>9.2f}{steps['verify']:>7.2f}{steps['page']:>6.2f}"
              f"{rest:>6.2f}{held:>6.2f}{wall * cores / len(kinds):>7.2f}", flush=True)
    print(f"share of the limit: lowest {min(shares):.2f}, highest {max(shares):.2f}; "
          f"load average after: {os.getloadavg()[0]:.2f}")


def timed(cmd: list[str], cwd: Path) -> float:
    start = time.perf_counter()
    subprocess.run(cmd, cwd=cwd, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL,
                   env={**os.environ, "PYTHONWARNINGS": "ignore"})
    return time.perf_counter() - start


def main(argv=None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("assignments_given", nargs="*", metavar="ASSIGNMENT",
                        help="default: 01_convolution (with --limit: all six)")
    parser.add_argument("--students", type=int, default=12)
    parser.add_argument("--jobs", type=int, nargs="+", default=[1, 2, 4])
    parser.add_argument("--cold-jobs", type=int, nargs="*", default=[2],
                        help="also grade with --cold-kernels at these --jobs (what warm "
                        "kernels bring)")
    parser.add_argument("--repeats", type=int, default=1,
                        help="with --limit: measure each bare run and class run this many "
                        "times, show the medians")
    parser.add_argument("--limit", action="store_true",
                        help="per assignment (default: all six), the share of the hardware "
                        "limit at --jobs = cores and the cost split per notebook")
    args = parser.parse_args(argv)
    ensure_bin_on_path()
    if args.limit:
        limit_table(args.assignments_given or sorted(
            p.name for p in (ROOT / "solutions").iterdir() if p.is_dir() and p.name[:2].isdigit()),
            args.students, args.repeats)
        return 0
    bindir = Path(sys.executable).parent
    args.assignments = args.assignments_given or ["01_convolution"]
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
