"""`cnncourse grade`: autograde a whole class with nbgrader, in parallel, without losing anyone.

nbgrader stays the engine (its autograde runs every notebook) and the course's gradebook the
record. Around it:

- long-lived worker processes (``--jobs``), each with its own scratch copy of the course in a
  temporary folder and its own scratch gradebook: student kernels run there, never in the
  course tree, and the scratch copy holds no ``solutions/`` once the assignment is generated;
- a wall-clock limit per notebook enforced from outside: a worker whose notebook runs past it
  is killed with its kernels (code that ignores SIGINT included) and replaced;
- an address-space limit for the kernels (``--memory-gb``);
- every graded answer is also verified outside the kernel that ran the tests (`verify.py`):
  where the tests gave full marks but the verification refutes them, the verdict stands;
- every student gets a row with a status (``graded`` or the reason it could not be), written to
  ``grades.csv`` and, for graded rows, into the course gradebook by one process.
"""

from __future__ import annotations

import csv
import multiprocessing as mp
import os
import shutil
import signal
import tempfile
import time
from contextlib import contextmanager
from dataclasses import dataclass, field
from multiprocessing.connection import wait
from pathlib import Path

import nbformat

from cnncourse import collect
from cnncourse.course import CONFIG_NAME, load_config, nbgrader_api, run_api
from cnncourse.feedback import taken_by_verification
from cnncourse.notebooks import graded_cells, read_notebook
from cnncourse.verify import reconcile, unverified

GRADED = "graded"
TIMED_OUT = "timed out"
KERNEL_DIED = "kernel died"
GRADER_FAILED = "autograde failed"


@dataclass
class Row:
    student: str
    assignment: str
    status: str
    score: float | None = None
    max_score: float | None = None
    cells: dict[str, tuple[float, float]] = field(default_factory=dict)
    flags: list[str] = field(default_factory=list)
    seconds: float = 0.0
    notebook: str = ""  # the autograded notebook (JSON), for feedback
    feedback: str = ""  # its feedback page, rendered by the worker
    groups: dict = field(default_factory=dict)  # test cell -> [GroupResult] (partial credit)
    taken: dict = field(default_factory=dict)  # test cell -> why verification took its points

    def csv(self) -> dict:
        return {"student": self.student, "assignment": self.assignment, "status": self.status,
                "score": "" if self.score is None else f"{self.score:g}",
                "max_score": "" if self.max_score is None else f"{self.max_score:g}",
                "flags": "; ".join(self.flags), "seconds": f"{self.seconds:.1f}"}


# --------------------------------------------------------------------------------- workers

def _template(root: Path, assignments: list[str], where: Path) -> Path:
    """Generate `assignments` once into a scratch course at `where/course` with its own
    gradebook `where/gradebook.db`, then remove the solutions. Workers start from copies."""
    course = where / "course"
    course.mkdir(parents=True, exist_ok=True)
    shutil.copy2(root / CONFIG_NAME, course / CONFIG_NAME)
    for a in assignments:
        shutil.copytree(root / "solutions" / a, course / "solutions" / a,
                        ignore=shutil.ignore_patterns(".ipynb_checkpoints", "__pycache__"))
    api = nbgrader_api(course, CourseDirectory__db_url=f"sqlite:///{where / 'gradebook.db'}")
    for a in assignments:
        run_api(api.generate_assignment, a, force=True, create=True, what=f"generate {a}")
    shutil.rmtree(course / "solutions")  # student kernels run in copies of this: no answers
    return where


def _reset(home: Path, course: Path, template: Path) -> None:
    """Put the worker's scratch home back as the template made it: no submission, no graded
    notebook, and nothing a notebook wrote into the folders above its own."""
    for entry in home.iterdir():
        if entry.is_dir() and not entry.is_symlink():
            shutil.rmtree(entry, ignore_errors=True)
        else:
            entry.unlink(missing_ok=True)
    shutil.copytree(template / "course", course)


def _become_subreaper() -> None:
    """Orphans of this process's descendants (a detached subprocess a student started) are
    re-parented here instead of to init, so `_kill_strays` finds them."""
    try:
        import ctypes

        ctypes.CDLL(None, use_errno=True).prctl(36, 1, 0, 0, 0)  # PR_SET_CHILD_SUBREAPER
    except (OSError, AttributeError):
        pass


def _descendants(pid: int) -> list[int]:
    children: dict[int, list[int]] = {}
    for stat in Path("/proc").glob("[0-9]*/stat"):
        try:
            text = stat.read_text()
        except OSError:
            continue
        ppid = int(text[text.rindex(")") + 2:].split()[1])
        children.setdefault(ppid, []).append(int(stat.parent.name))
    out, todo = [], list(children.get(pid, []))
    while todo:
        p = todo.pop()
        out.append(p)
        todo.extend(children.get(p, []))
    return out


def _kill_strays(keep: set[int]) -> int:
    """Kill what the last notebook left running below this worker (but `keep`); how many."""
    strays = [p for p in _descendants(os.getpid()) if p not in keep]
    for p in strays:
        try:
            os.kill(p, signal.SIGKILL)
        except (ProcessLookupError, PermissionError):
            pass
    for p in strays:
        try:
            os.waitpid(p, 0)
        except ChildProcessError:
            pass
    return len(strays)


def cap_outputs(text: str, limit: int) -> tuple[str, int]:
    """The notebook `text` with outputs cut to `limit` bytes in all, and how many were cut."""
    if len(text) <= limit:
        return text, 0
    nb = nbformat.reads(text, as_version=4)
    budget, cut = limit // 2, 0
    for cell in nb.cells:
        if cell.cell_type != "code":
            continue
        kept = []
        for output in cell.get("outputs", []):
            size = len(nbformat.writes(nbformat.v4.new_notebook(cells=[
                nbformat.v4.new_code_cell(outputs=[output])])))
            if size <= budget:
                kept.append(output)
                budget -= size
            else:
                cut += size
                kept.append(nbformat.v4.new_output(
                    "stream", name="stderr",
                    text=f"[cnncourse grade: {size / 2**20:.1f} MB of output cut here]\n"))
        cell.outputs = kept
    return nbformat.writes(nb), cut


def _worker_main(conn, root: str, assignments: list[str], memory_gb: float,
                 max_output: int = 5 * 2**20, warm: bool = True,
                 jail: str | None = None) -> None:
    """One grader: receives (student, assignment, notebook json), answers with scores.

    It starts (imports, a warm sandbox) while the main process generates the assignments once
    into a template, then works in its own copy of that. With `jail` (a user id, or
    `cnncourse.jail.USERNS`), every kernel and sandbox run it starts is jailed
    (`cnncourse.jail`): as that user, or in user namespaces as the grader's user.
    """
    os.setsid()  # its kernels join this process group, so a kill reaches them all
    _become_subreaper()
    if memory_gb > 0:
        import resource

        limit = int(memory_gb * 2**30)
        resource.setrlimit(resource.RLIMIT_AS, (limit, limit))
    import warnings

    warnings.filterwarnings("ignore")
    home = Path(tempfile.mkdtemp(prefix="cnncourse-grade-"))
    private = Path(tempfile.mkdtemp(prefix="cnncourse-gradebook-"))
    db = private / "gradebook.db"
    course = home / "course"
    os.chdir(home)  # nothing of the course tree is a relative path away from the kernels
    kernels = Path(tempfile.mkdtemp(prefix="cnncourse-kernels-"))
    if jail is not None:  # read by what starts student code: the kernels, the sandbox
        from cnncourse.jail import ENV

        (kernels / "jail").mkdir()
        os.environ[ENV] = f"{jail}:{kernels / 'jail'}"
    from cnncourse.verify import Sandbox

    sandbox = Sandbox()
    sandbox.start()  # it imports torch meanwhile
    from cnncourse.warmkernel import Zygote

    zygote = Zygote(kernels)  # its kernelspec starts cold kernels where it is not started
    if warm:
        zygote.start()
    try:
        _serve_jobs(conn, root, assignments, home, course, db, sandbox, zygote, memory_gb,
                    max_output, warm, jail)
    finally:
        sandbox.close()
        zygote.stop()
        _kill_jail_user(jail)
        for folder in (kernels, home, private):
            shutil.rmtree(folder, ignore_errors=True)


def _serve_jobs(conn, root, assignments, home, course, db, sandbox, zygote, memory_gb,
                max_output, warm, jail) -> None:
    """The worker's loop: set up from the template, say ready, grade until told to stop."""
    from cnncourse.verify import load_probes
    from cnncourse.warmkernel import KERNEL_NAME

    message = conn.recv()  # the template the main process generated while this one started
    if message is None:
        return
    template = Path(message)
    shutil.copytree(template / "course", course)
    shutil.copy2(template / "gradebook.db", db)
    apis = {a: nbgrader_api(course, CourseDirectory__db_url=f"sqlite:///{db}",
                            Execute__kernel_name=KERNEL_NAME) for a in assignments}
    releases = {a: read_notebook(Path(root) / "notebooks" / a / f"{a}.ipynb") for a in assignments}
    sources = {a: read_notebook(Path(root) / "solutions" / a / f"{a}.ipynb") for a in assignments}
    probes = {a: load_probes(Path(root), a) for a in assignments}
    conn.send({"ready": True})  # a student's time starts when the worker can grade
    jobs = 0
    while True:
        job = conn.recv()
        if job is None:
            return
        student, assignment, text = job
        jobs += 1
        # nbgrader globs and formats paths with the student id: `li[2]` or `a*b` would not
        # match their own folder. Here, each student is an id nbgrader reads as it is; the
        # course gradebook gets the real one (`_record`).
        alias = f"student{jobs:06d}"
        try:
            reply, page = _grade_one(text, assignment, alias, f"{assignment}: {student}",
                                     course, db, apis[assignment], releases[assignment],
                                     sources[assignment], probes[assignment], sandbox, zygote,
                                     memory_gb, max_output, warm, jail)
        except Exception as error:  # noqa: BLE001 - one submission's fault is its own row
            reply, page = {"success": False, "log": "", "cells": {}, "notebook": "",
                           "verdict": {}, "cut": 0, "strays": 0,
                           "error": f"{type(error).__name__}: {error}"[:300]}, None
        conn.send(reply)
        if page is not None:  # feedback while the main process hands out the next job
            conn.send(page)
        _reset(home, course, template)  # the next student's kernel finds nothing of this one


def _grade_one(text, assignment, alias, title, course, db, api, release, source, probes,
               sandbox, zygote, memory_gb, max_output, warm, jail) -> tuple[dict, dict | None]:
    """Grade one notebook in the worker's scratch course: nbgrader's autograde, verification,
    strays killed, outputs capped, the feedback page. (The reply, the page or None.)"""
    from nbgrader.api import Gradebook

    from cnncourse.verify import verify

    folder = course / "submitted" / alias / assignment
    if folder.exists():
        shutil.rmtree(folder)
    folder.mkdir(parents=True)
    (folder / f"{assignment}.ipynb").write_text(text)
    if warm:
        zygote.ensure()  # a student may have killed it: the next one starts warm again
    result = api.autograde(assignment, alias, force=True, create=True)
    log = (result.get("log") or "") + (result.get("error") or "")
    cells = {}
    with Gradebook(f"sqlite:///{db}") as gb:
        try:
            sub = gb.find_submission_notebook(assignment, assignment, alias)
            for g in sub.grades:
                if g.cell.cell_type == "code" and g.max_score:
                    cells[g.name] = (float(g.auto_score or 0), float(g.max_score))
        except Exception:
            cells = {}
    graded = course / "autograded" / alias / assignment / f"{assignment}.ipynb"
    graded_text = graded.read_text() if graded.exists() else ""
    verdict = {}
    if cells and probes and graded_text:  # outside the kernel nbgrader used: see verify.py
        verdict = verify(nbformat.reads(graded_text, as_version=4), release, probes,
                         memory_gb=min(memory_gb, 4.0) if memory_gb > 0 else 4.0,
                         sandbox=sandbox)
    notebook, cut = cap_outputs(graded_text, max_output)
    keep = {x.proc.pid for x in (sandbox, zygote) if x is not None and x.proc is not None}
    strays = _kill_strays(keep) + _kill_jail_user(jail)  # and what got away from this one
    groups = _groups(notebook) if notebook else {}
    reply = {"success": bool(result.get("success")), "log": log[-4000:], "cells": cells,
             "notebook": notebook, "verdict": verdict, "cut": cut, "strays": strays,
             "groups": groups}
    page = None
    if notebook and cells:
        page = _feedback(notebook, source, release, title, cells, verdict)
    return reply, page


def _groups(notebook: str) -> dict:
    """{test cell: [GroupResult, ...]} for every test cell that gives partial credit."""
    from cnncourse.scoring import is_test_cell
    from cnncourse.testing import groups_in

    nb = nbformat.reads(notebook, as_version=4)
    found = {}
    for cell in nb.cells:
        gid = cell.metadata.get("nbgrader", {}).get("grade_id")
        if gid and is_test_cell(cell):
            groups = groups_in(cell.get("outputs", []))
            if groups:
                found[gid] = groups
    return found


def _feedback(notebook: str, source, release, title: str, cells, verdict) -> dict:
    """The feedback page of one graded notebook, hidden tests redacted (see feedback.py), with
    the scores after verification."""
    from cnncourse.feedback import feedback_html

    try:
        graded = nbformat.reads(notebook, as_version=4)
        scores, refuted = reconcile(cells, verdict or {})
        taken = taken_by_verification(verdict or {}, refuted)
        return {"feedback": feedback_html(graded, source, release, title, scores, taken)}
    except Exception as error:  # feedback is a courtesy: never lose the grade over it
        return {"feedback_error": str(error).splitlines()[0][:100] if str(error) else "error"}


def _kill_jail_user(jail: str | None) -> int:
    """Kill everything a root jail's user left running; how many. (In user namespaces, what a
    kernel started dies with it: there is nothing to kill.)"""
    if jail is None or not jail.isdigit():
        return 0
    from cnncourse.jail import kill_all

    return kill_all(int(jail))


class Worker:
    def __init__(self, root: Path, assignments: list[str], memory_gb: float,
                 max_output: int = 5 * 2**20, template: Path | None = None, warm: bool = True,
                 jailed: bool = False):
        from cnncourse.jail import USERNS, as_root, free_uid

        ctx = mp.get_context("spawn")
        self.conn, child = ctx.Pipe()
        # as root, a new user for every worker, never reused; else user namespaces
        self.jail = (str(free_uid()) if as_root() else USERNS) if jailed else None
        self.proc = ctx.Process(target=_worker_main, daemon=True,
                                args=(child, str(root), assignments, memory_gb, max_output,
                                      warm, self.jail))
        self.proc.start()
        child.close()
        self.job = None
        self.started = 0.0
        self.waiting_feedback: Row | None = None  # graded; its feedback page is on its way
        self.ready = False  # set up and waiting for work
        if template is not None:
            self.conn.send(str(template))

    def give(self, job) -> None:
        self.job, self.started = job, time.monotonic()
        student, assignment, nb = job
        self.conn.send((student, assignment, nbformat.writes(nb)))

    def kill(self) -> None:
        try:
            os.killpg(self.proc.pid, signal.SIGKILL)
        except (ProcessLookupError, PermissionError):
            pass
        self.proc.join(5)
        _kill_jail_user(self.jail)  # what its jails started, wherever it went

    def close(self) -> None:
        try:
            self.conn.send(None)
            self.proc.join(10)
        except (BrokenPipeError, OSError):
            pass
        if self.proc.is_alive():
            self.kill()
        else:
            _kill_jail_user(self.jail)


def _verdict(reply: dict) -> tuple[str, dict]:
    cells = reply["cells"]
    if reply["success"] and cells:
        return GRADED, cells
    log = reply["log"] + reply.get("error", "")
    if "DeadKernel" in log or "Kernel died" in log or "kernel died" in log.lower():
        return KERNEL_DIED, {}
    if "Timeout" in log or "timed out" in log.lower():
        return TIMED_OUT, {}
    return GRADER_FAILED, {}


def _why_failed(reply: dict) -> str:
    """The reason nbgrader's autograde gave nothing, in one line, for the row's flags."""
    if reply.get("error"):
        return f"grading failed: {reply['error']}"
    lines = [line.strip() for line in reply.get("log", "").splitlines() if line.strip()]
    errors = [line for line in lines if "error" in line.lower()] or lines
    return f"nbgrader's autograde failed: {errors[-1][:200]}" if errors else \
        "nbgrader's autograde failed and said nothing"


def _finish(w: Worker, row: Row) -> Row:
    row.seconds = time.monotonic() - w.started
    w.job = None
    return row


def _collect_from(w: Worker, ready, timeout: float, max_output_mb: float) -> Row | None:
    """Read what worker `w` has to say: a job's reply (its Row), the feedback page of the row it
    graded before (attached to that row), or its death or time-out (a Row with the reason)."""
    if w.conn in ready:
        try:
            msg = w.conn.recv()
        except (EOFError, OSError):
            msg = None
        if msg is None:  # the worker is gone
            w.waiting_feedback = None
            return _finish(w, Row(*w.job[:2], KERNEL_DIED)) if w.job else None
        if msg.get("ready"):
            w.ready = True
            return None
        if "feedback" in msg or "feedback_error" in msg:
            row, w.waiting_feedback = w.waiting_feedback, None
            if row is not None and msg.get("feedback"):
                row.feedback = msg["feedback"]
            elif row is not None:
                row.flags.append(f"no feedback: {msg.get('feedback_error')}")
            return None
        if not w.job:
            return None
        student, a, _ = w.job
        status, cells = _verdict(msg)
        verdict = msg.get("verdict") or {}
        cells, disagree = reconcile(cells, verdict)
        row = Row(student, a, status, cells=cells, notebook=msg["notebook"],
                  groups=msg.get("groups") or {})
        if status == GRADER_FAILED:
            row.flags.append(_why_failed(msg))
        row.taken = taken_by_verification(verdict, disagree)
        for name in disagree:
            why = getattr(verdict[name], "reason", "") or "wrong results"
            row.flags.append(f"verification refutes the in-kernel tests of {name} ({why}): "
                             "their points set to 0")
        for name, why in unverified(verdict).items():
            row.flags.append(f"could not verify {name} ({why}): no points taken, a person "
                             "should look")
        if msg.get("cut"):
            row.flags.append(f"{msg['cut'] / 2**20:.1f} MB of output over the "
                             f"{max_output_mb:g} MB limit cut from the notebook")
        if msg.get("strays"):
            row.flags.append(f"left {msg['strays']} process(es) running "
                             "after the notebook ended: killed")
        if msg["notebook"] and msg["cells"]:
            w.waiting_feedback = row
        return _finish(w, row)
    if not w.job:
        if w.waiting_feedback is not None and not w.proc.is_alive():
            w.waiting_feedback = None  # died while writing feedback: the grade stands
        return None
    if w.proc.sentinel in ready or not w.proc.is_alive():
        w.waiting_feedback = None
        return _finish(w, Row(*w.job[:2], KERNEL_DIED))
    if time.monotonic() - w.started > timeout:
        return _finish(w, Row(*w.job[:2], TIMED_OUT))
    return None


# ------------------------------------------------------------------------------ the class run

def grade_class(root: Path, submitted: Path, assignments: list[str], out: Path, *,
                jobs: int = 2, timeout: float = 600, memory_gb: float = 8.0,
                db_url: str | None = None, max_output_mb: float = 5.0, say=print,
                progress: bool = True, warm_kernels: bool = True,
                jail: bool = True) -> list[Row]:
    """Grade every student folder in `submitted` for `assignments`; write `out/grades.csv`.

    With `jail` (and where `cnncourse.jail.available`: on Linux), student code runs in a jail:
    as root, as a user of its own per worker; as anyone else, in user namespaces. Elsewhere it
    runs as the grader, which the output says."""
    from cnncourse.jail import as_root, available

    root, submitted, out = Path(root).resolve(), Path(submitted).resolve(), Path(out).resolve()
    db_url = db_url or load_config(root).CourseDirectory.get("db_url") or \
        f"sqlite:///{root / 'gradebook.db'}"
    rows: list[Row] = []
    todo = []
    grade_ids = {}
    everyone = collect.students(submitted)
    # workers start first: they import nbgrader and torch while this process generates
    max_output = int(max_output_mb * 2**20)
    why = available() if jail else "--no-jail"
    jailed = why is None
    workers = [Worker(root, assignments, memory_gb, max_output, warm=warm_kernels, jailed=jailed)
               for _ in range(max(1, min(jobs, len(everyone) * len(assignments))))]
    for a in assignments:
        source = read_notebook(root / "solutions" / a / f"{a}.ipynb")
        cells = graded_cells(source)
        grade_ids[a] = {c.grade_id for c in cells}
    for student in everyone:
        for a in assignments:
            try:
                sub = collect.find(submitted, student, a, grade_ids[a])
            except Exception as error:  # noqa: BLE001 - one file never stops the class
                first = str(error).splitlines()[0][:200] if str(error) else ""
                sub = collect.Submission(student, a, problem=collect.UNREADABLE,
                                         flags=[f"{type(error).__name__}: {first}"])
            if sub.problem:
                rows.append(Row(student, a, sub.problem, flags=sub.flags))
            else:
                todo.append((sub, (student, a, sub.notebook)))
    say(f"grading {len(todo)} notebook(s) of {len(everyone)} student(s) "
        f"with {len(workers)} worker(s); {len(rows)} could not be graded as submitted")
    if not jailed:
        say(f"student code runs as the grader's user, not jailed: {why}")
    elif as_root():
        say("student code runs jailed, as a user of its own per worker")
    else:
        say("student code runs jailed, in namespaces of its own per kernel "
            "(as the grader's user, who is not root)")
    scratch = Path(tempfile.mkdtemp(prefix="cnncourse-template-"))
    try:
        template = _template(root, assignments, scratch)
        for w in workers:
            w.conn.send(str(template))
        with gradebook_lock(db_url):  # other graders may share the gradebook
            if db_url.startswith("sqlite:///") and not Path(db_url[len("sqlite:///"):]).exists():
                # a new course gradebook: the template's is what generate_assignment would write
                shutil.copy2(template / "gradebook.db", db_url[len("sqlite:///"):])
            _register(root, assignments, db_url)
        _grade(rows, todo, workers, root, assignments, memory_gb, max_output, max_output_mb,
               template, timeout, progress, warm_kernels, jailed)
    finally:
        for w in workers:
            w.close()
        shutil.rmtree(scratch, ignore_errors=True)
    rows.sort(key=lambda r: (r.student, r.assignment))
    with gradebook_lock(db_url):
        _record(rows, db_url)
    _write_feedback(root, rows, out / "feedback")
    _write_csv(rows, out / "grades.csv")
    from cnncourse.report import report_html

    (out / "report.html").write_text(report_html(rows))
    return rows


def _grade(rows, todo, workers, root, assignments, memory_gb, max_output, max_output_mb,
           template, timeout, progress, warm, jailed) -> None:
    """Hand the notebooks to the workers and collect a row for each."""
    from tqdm.auto import tqdm

    pending = list(todo)
    flags = {(s.student, s.assignment): s.flags for s, _ in todo}
    bar = tqdm(total=len(todo), unit="nb", disable=not progress, desc="grading")
    failed_starts = 0
    try:
        while pending or any(w.job or w.waiting_feedback for w in workers):
            for w in workers:
                if w.ready and w.job is None and pending:
                    w.give(pending.pop(0)[1])
            busy = [w for w in workers if w.job or w.waiting_feedback or not w.ready]
            ready = wait([w.conn for w in busy] + [w.proc.sentinel for w in busy], timeout=1.0)
            for i, w in enumerate(workers):
                row = _collect_from(w, ready, timeout, max_output_mb)
                if row is None:
                    continue
                student, a = row.student, row.assignment
                row.flags = flags[(student, a)] + row.flags
                if row.status == GRADED:
                    row.score = sum(sc for sc, _ in row.cells.values())
                    row.max_score = sum(m for _, m in row.cells.values())
                rows.append(row)
                bar.update(1)
                if row.status != GRADED and (not w.proc.is_alive() or row.status == TIMED_OUT):
                    w.kill()
                    workers[i] = Worker(root, assignments, memory_gb, max_output, template, warm,
                                        jailed)
            for i, w in enumerate(workers):  # died before it could grade anything
                if not w.ready and w.job is None and not w.proc.is_alive():
                    failed_starts += 1
                    if failed_starts > 2 * len(workers) + 2:
                        from cnncourse.notebooks import CourseError

                        raise CourseError("the grading workers keep dying as they start (is "
                                          "--memory-gb too small for nbgrader and PyTorch?)")
                    workers[i] = Worker(root, assignments, memory_gb, max_output, template, warm,
                                        jailed)
    finally:
        bar.close()


def _write_feedback(root: Path, rows: list[Row], where: Path) -> None:
    """feedback/<student>/<assignment>.html for every graded row, hidden tests redacted."""
    from cnncourse.feedback import feedback_html

    cache = {}
    for row in rows:
        if row.status != GRADED or not row.notebook:
            # a page from an earlier run would show a grade this run did not give
            (where / row.student / f"{row.assignment}.html").unlink(missing_ok=True)
            continue
        a = row.assignment
        if a not in cache:
            cache[a] = (read_notebook(root / "solutions" / a / f"{a}.ipynb"),
                        read_notebook(root / "notebooks" / a / f"{a}.ipynb"))
        source, release = cache[a]
        target = where / row.student / f"{a}.html"
        target.parent.mkdir(parents=True, exist_ok=True)
        if row.feedback:  # rendered by the worker
            target.write_text(row.feedback)
            continue
        if any(f.startswith("no feedback") for f in row.flags):
            target.unlink(missing_ok=True)
            continue
        try:
            graded = nbformat.reads(row.notebook, as_version=4)
            page = feedback_html(graded, source, release, f"{a}: {row.student}", row.cells,
                                 row.taken)
        except Exception as error:  # feedback is a courtesy: never lose the grade over it
            row.flags.append(f"no feedback: {str(error).splitlines()[0][:100]}")
            continue
        target.write_text(page)


@contextmanager
def gradebook_lock(db_url: str):
    """Hold the gradebook for this process alone while it writes there.

    Graders who share a gradebook run `cnncourse grade` at the same time, each on part of the
    class. nbgrader finds a row, then adds it if it was missing: two graders who both create
    the tables, register an assignment or add a student then collide on the second one's
    insert (measured on PostgreSQL: 3 runs of 20 lost the whole write to a UniqueViolation).
    PostgreSQL gets a session advisory lock; a SQLite file, a lock on its folder (creates
    nothing). Grading itself runs unlocked: only the short writes take turns."""
    if db_url.startswith("sqlite:///"):
        import fcntl

        try:
            folder = os.open(Path(db_url[len("sqlite:///"):]).resolve().parent, os.O_RDONLY)
        except OSError:  # no such folder: nbgrader will say so
            yield
            return
        try:
            fcntl.flock(folder, fcntl.LOCK_EX)
            yield
        finally:
            os.close(folder)  # releases the lock
    elif db_url.startswith(("postgresql:", "postgresql+", "postgres:")):
        from sqlalchemy import create_engine, text

        engine = create_engine(db_url)
        try:
            with engine.connect() as conn:
                conn.execute(text("SELECT pg_advisory_lock(:key)"), {"key": _LOCK_KEY})
                try:
                    yield
                finally:
                    conn.execute(text("SELECT pg_advisory_unlock(:key)"), {"key": _LOCK_KEY})
        finally:
            engine.dispose()
    else:  # another database: nbgrader's own behaviour
        yield


_LOCK_KEY = int.from_bytes(b"cnncgrad", "big") >> 1  # one advisory lock key for the course


def _register(root: Path, assignments: list[str], db_url: str) -> None:
    """Make the course gradebook know each assignment (generated in a scratch copy)."""
    from nbgrader.api import Gradebook

    with Gradebook(db_url) as gb:
        known = {a.name for a in gb.assignments}
    for a in assignments:
        if a in known:
            continue
        with tempfile.TemporaryDirectory(prefix="cnncourse-register-") as tmp:
            where = Path(tmp)
            shutil.copy2(root / CONFIG_NAME, where / CONFIG_NAME)
            shutil.copytree(root / "solutions" / a, where / "solutions" / a)
            api = nbgrader_api(where, CourseDirectory__db_url=db_url)
            run_api(api.generate_assignment, a, force=True, create=True, what=f"register {a}")


def _record(rows: list[Row], db_url: str) -> None:
    """Write graded rows into the course gradebook. A row that could not be graded leaves no
    score there: a submission graded before (and since replaced by an empty file, say) is
    removed, so the gradebook and `nbgrader export` never show a score grades.csv does not."""
    from nbgrader.api import Gradebook, MissingEntry

    with Gradebook(db_url) as gb:
        for row in rows:
            if row.status != GRADED:
                try:
                    gb.remove_submission(row.assignment, row.student)
                except MissingEntry:
                    pass
                continue
            gb.update_or_create_student(row.student)
            submission = gb.update_or_create_submission(row.assignment, row.student)
            for nb in submission.notebooks:
                for g in nb.grades:
                    if g.name in row.cells:
                        g.auto_score = row.cells[g.name][0]
                        g.needs_manual_grade = False
            gb.db.commit()


def _write_csv(rows: list[Row], path: Path) -> None:
    path.parent.mkdir(parents=True, exist_ok=True)
    with path.open("w", newline="") as f:
        writer = csv.DictWriter(f, fieldnames=list(Row("", "", "").csv()))
        writer.writeheader()
        for row in rows:
            writer.writerow(row.csv())


def summary(rows: list[Row]) -> str:
    graded = sum(r.status == GRADED for r in rows)
    flagged = sum(bool(r.flags) for r in rows)
    students = len({r.student for r in rows})
    return (f"{students} student(s), {len(rows)} row(s): {graded} graded, "
            f"{len(rows) - graded} could not be graded, {flagged} flagged for a look")
