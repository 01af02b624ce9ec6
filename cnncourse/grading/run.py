"""`cnncourse grade`: autograde a whole class with nbgrader, in parallel, without losing anyone.

The run's own side (the parent process). nbgrader stays the engine (its autograde runs every
notebook, in `cnncourse.grading.worker` processes) and the course's gradebook the record.
`grade_class`, in order:

1. `intake` reads every submission; a file that cannot be graded is a row at once;
2. workers start (``--jobs``) while the assignments are generated once into a template;
3. each notebook goes to a free worker as a `protocol.Job`; a worker past the notebook's time
   limit is killed with its kernels (code that ignores SIGINT included) and replaced;
4. each `protocol.Reply` becomes a `protocol.Row`: verification's verdicts applied
   (`verify.reconcile`), flags added; with its feedback `protocol.Page` it is written at once
   (`results.Results`: grades.csv, the gradebook, the page);
5. grades.csv in student order, and the report.
"""

from __future__ import annotations

import hashlib
import multiprocessing as mp
import os
import shutil
import tempfile
import time
import traceback
from multiprocessing.connection import wait
from pathlib import Path

import nbformat

from cnncourse.course import generate, load_config
from cnncourse.grading import gradebook, intake, procs
from cnncourse.grading.env import usable_cores
from cnncourse.grading.feedback import taken_by_verification
from cnncourse.grading.late import LatePolicy
from cnncourse.grading.protocol import Job, Limits, Page, Ready, Reply, Row, Status
from cnncourse.grading.results import Results, previous
from cnncourse.grading.verify import reconcile, unverified
from cnncourse.notebooks import CourseError, graded_cells, hidden_test_ids, read_notebook


class Worker:
    """The run's handle on one worker process (`cnncourse.grading.worker.main`): its pipe,
    the job it holds and since when, and the row whose feedback page is on its way."""

    def __init__(self, root: Path, assignments: list[str], limits: Limits,
                 template: Path | None = None, warm: bool = True, jailed: bool = False,
                 scratch: Path | None = None):
        from cnncourse.grading import worker
        from cnncourse.grading.jail import USERNS, as_root, free_uid

        ctx = mp.get_context("spawn")
        self.conn, child = ctx.Pipe()
        # as root, a new user for every worker, never reused; else user namespaces
        self.jail = (str(free_uid()) if as_root() else USERNS) if jailed else None
        self.proc = ctx.Process(target=worker.main, daemon=True,
                                args=(child, str(root), assignments, limits, warm, self.jail,
                                      os.getpid(), scratch and str(scratch)))
        self.proc.start()
        child.close()
        self.job: Job | None = None
        self.started = 0.0
        self.waiting_feedback: Row | None = None  # graded; its feedback page is on its way
        self.ready = False  # set up and waiting for work
        if template is not None:
            self.conn.send(str(template))

    def give(self, job: Job) -> None:
        self.job, self.started = job, time.monotonic()
        self.conn.send(job)

    def kill(self) -> None:
        procs.kill(self.proc.pid, group=True)
        self.proc.join(5)
        procs.kill_jail_user(self.jail)  # what its jails started, wherever it went

    def close(self) -> None:
        try:
            self.conn.send(None)
            self.proc.join(10)
        except (BrokenPipeError, OSError):
            pass
        if self.proc.is_alive():
            self.kill()
        else:
            procs.kill_jail_user(self.jail)


def status_of(reply: Reply) -> Status:
    """The status a worker's reply gives its row."""
    if reply.error:
        return Status.GRADER_ERROR
    if reply.success and reply.cells:
        return Status.GRADED
    # nbgrader's API reports a failed autograde as text only: its log is the signal there is
    log = reply.log.lower()
    if "deadkernel" in log or "kernel died" in log:
        return Status.KERNEL_DIED
    if "timeout" in log or "timed out" in log:
        return Status.TIMED_OUT
    return Status.AUTOGRADE_FAILED


def _why_failed(reply: Reply) -> str:
    """The reason nbgrader's autograde gave nothing, in one line, for the row's flags."""
    lines = [line.strip() for line in reply.log.splitlines() if line.strip()]
    errors = [line for line in lines if "error" in line.lower()] or lines
    return f"nbgrader's autograde failed: {errors[-1][:200]}" if errors else \
        "nbgrader's autograde failed and said nothing"


class Run:
    """One class run: the workers, the jobs left, and where rows go as they finish."""

    def __init__(self, root: Path, assignments: list[str], limits: Limits, results: Results,
                 warm: bool, jailed: bool, log: Path, where: Path | None = None):
        """`where`: the folder to keep the run's scratch folder in (the temporary folder when
        None). Every worker, and everything it starts, keeps its files in that scratch folder,
        which `close` removes: a worker killed mid-notebook leaves nothing behind."""
        self.root, self.assignments, self.limits = root, assignments, limits
        self.results, self.warm, self.jailed, self.log = results, warm, jailed, log
        self.scratch = Path(tempfile.mkdtemp(prefix="cnncourse-run-", dir=where))
        self.template: Path | None = None
        self.workers: list[Worker] = []
        self.flags: dict[tuple[str, str], list[str]] = {}
        self.hashes: dict[tuple[str, str], str] = {}

    def start(self, count: int) -> None:
        self.workers = [self._worker() for _ in range(count)]

    def _worker(self) -> Worker:
        return Worker(self.root, self.assignments, self.limits, self.template, self.warm,
                      self.jailed, self.scratch)

    def grade(self, jobs: list[Job], progress: bool) -> None:
        """Hand `jobs` to the workers; every one ends as a row in `results`."""
        from tqdm.auto import tqdm

        pending = list(jobs)
        bar = tqdm(total=len(jobs), unit="nb", disable=not progress, desc="grading")
        failed_starts = 0
        try:
            while pending or any(w.job or w.waiting_feedback for w in self.workers):
                for w in self.workers:
                    if w.ready and w.job is None and pending:
                        w.give(pending.pop(0))
                busy = [w for w in self.workers if w.job or w.waiting_feedback or not w.ready]
                ready = wait([w.conn for w in busy] + [w.proc.sentinel for w in busy],
                             timeout=1.0)
                for i, w in enumerate(self.workers):
                    row = self._collect_from(w, ready)
                    if row is None:
                        continue
                    bar.update(1)
                    if row.status != Status.GRADED and (
                            not w.proc.is_alive() or row.status == Status.TIMED_OUT):
                        w.kill()
                        self.workers[i] = self._worker()
                for i, w in enumerate(self.workers):  # died before it could grade anything
                    if not w.ready and w.job is None and not w.proc.is_alive():
                        failed_starts += 1
                        if failed_starts > 2 * len(self.workers) + 2:
                            raise CourseError(
                                "the grading workers keep dying as they start (is --memory-gb "
                                "too small for nbgrader and PyTorch?)")
                        self.workers[i] = self._worker()
        finally:
            bar.close()

    def _finish(self, w: Worker, row: Row) -> Row:
        """A worker's job is done: the row gets its time and flags (its page may follow)."""
        row.seconds = time.monotonic() - w.started
        key = (row.student, row.assignment)
        row.flags = self.flags.get(key, []) + row.flags
        row.submission = self.hashes.get(key, "")
        w.job = None
        return row

    def _done(self, row: Row) -> None:
        self.results.add(row)

    def _collect_from(self, w: Worker, ready) -> Row | None:
        """Read what worker `w` has to say: a job's reply (its Row, written once its page has
        come), the page of the row it graded before, or its death or time-out (a Row with the
        reason). Returns a row when a job ended."""
        if w.conn in ready:
            try:
                msg = w.conn.recv()
            except (EOFError, OSError):
                msg = None
            if msg is None:  # the worker is gone
                self._orphaned_page(w)
                return self._ended(w, Status.KERNEL_DIED) if w.job else None
            if isinstance(msg, Ready):
                w.ready = True
                return None
            if isinstance(msg, Page):
                row, w.waiting_feedback = w.waiting_feedback, None
                if row is not None:
                    if msg.html:
                        row.feedback = msg.html
                    else:
                        row.flags.append(f"no feedback: {msg.error}")
                    self._done(row)
                return None
            if not w.job or not isinstance(msg, Reply):
                return None
            row = self._row(w.job, msg)
            self._finish(w, row)
            if msg.notebook and msg.cells and row.status == Status.GRADED:
                w.waiting_feedback = row  # written when its page comes
            else:
                self._done(row)
            return row
        if not w.job:
            if w.waiting_feedback is not None and not w.proc.is_alive():
                self._orphaned_page(w)  # died while writing feedback: the grade stands
            return None
        if w.proc.sentinel in ready or not w.proc.is_alive():
            self._orphaned_page(w)
            return self._ended(w, Status.KERNEL_DIED)
        if time.monotonic() - w.started > self.limits.notebook_s:
            return self._ended(w, Status.TIMED_OUT)
        return None

    def _ended(self, w: Worker, status: Status) -> Row:
        row = self._finish(w, Row(w.job.student, w.job.assignment, status))
        self._done(row)
        return row

    def _orphaned_page(self, w: Worker) -> None:
        if w.waiting_feedback is not None:
            row, w.waiting_feedback = w.waiting_feedback, None
            row.flags.append("no feedback: the worker ended while rendering the page")
            self._done(row)

    def _log_error(self, text: str) -> None:
        """A fault in the grader's code while grading one job: its traceback, to the log."""
        with self.log.open("a") as f:
            f.write(text)

    def _row(self, job: Job, reply: Reply) -> Row:
        """The row a reply gives: scores after verification, partial-credit groups, flags."""
        status = status_of(reply)
        cells, disagree = reconcile(reply.cells, reply.verdicts) if status == Status.GRADED \
            else ({}, [])
        row = Row(job.student, job.assignment, status, cells=cells, notebook=reply.notebook,
                  groups=reply.groups, timings=dict(reply.timings))
        if status == Status.GRADED:
            row.score = sum(sc for sc, _ in cells.values())
            row.max_score = sum(m for _, m in cells.values())
        elif status == Status.GRADER_ERROR:
            self._log_error(f"--- {job.student} / {job.assignment}\n{reply.error}\n")
            last = reply.error.strip().splitlines()[-1] if reply.error.strip() else ""
            row.flags.append(f"a fault in the grader ({last[:160]}): the traceback is in "
                             f"{self.log}")
        elif status == Status.AUTOGRADE_FAILED:
            row.flags.append(_why_failed(reply))
        row.taken = taken_by_verification(reply.verdicts, disagree)
        for name in disagree:
            why = getattr(reply.verdicts[name], "reason", "") or "wrong results"
            row.flags.append(f"verification refutes the in-kernel tests of {name} ({why}): "
                             "their points set to 0")
        for name, why in unverified(reply.verdicts).items():
            row.flags.append(f"could not verify {name} ({why}): no points taken, a person "
                             "should look")
        if reply.cut:
            row.flags.append(f"{reply.cut / 2**20:.1f} MB of output over the "
                             f"{self.limits.max_output_bytes / 2**20:g} MB limit cut from the "
                             "notebook")
        if reply.strays:
            row.flags.append(f"left {reply.strays} process(es) running "
                             "after the notebook ended: killed")
        return row

    def close(self) -> None:
        for w in self.workers:
            w.close()
        shutil.rmtree(self.scratch, ignore_errors=True)


def grade_class(root: Path, submitted: Path, assignments: list[str], out: Path, *,
                jobs: int = 2, timeout: float = 600, memory_gb: float = 8.0,
                db_url: str | None = None, max_output_mb: float = 5.0, say=print,
                progress: bool = True, warm_kernels: bool = True, jail: bool = True,
                resume: bool = False, scheduler: str | None = None,
                security=None, students: list[str] | None = None,
                small_demos: bool = True) -> list[Row]:
    """Grade every student folder in `submitted` for `assignments`; write `out/grades.csv`,
    `out/feedback/`, `out/report.html` and the gradebook, each row as it is done.

    `timeout` is seconds per notebook, `memory_gb` the address-space limit of a worker and its
    kernels (0: none), `max_output_mb` the outputs a graded notebook keeps. With `resume`, a
    submission byte-identical to the one behind its last graded row in `out/grades.csv` keeps
    that row. With `jail` (and where `cnncourse.grading.jail.available`), student code runs in a
    jail: as root, as a user of its own per worker; else in user namespaces; with a network of
    its own either way. Where no jail can be built it raises CourseError, saying why; without
    `jail` student code runs as the grader, which the output says. With `scheduler` (a Dask
    scheduler's address; `security` its `distributed.security.Security`) the notebooks are
    graded on that cluster's workers (`cnncourse.grading.cluster`), each worker jailed as
    here; this process still writes every result. With `students` (folder names in
    `submitted`), only those are graded, or graded again: every other row of `out/grades.csv`,
    its feedback page and its gradebook record stay as they are (a regrade request). With
    `small_demos` (the default), the notebooks know they are being graded (`cnncourse.budget`)
    and run their demonstrations on a small budget; nothing graded reads them. Returns the
    rows, in student order.

    Raises:
        CourseError: a name in `students` has no folder in `submitted`; no jail (above)."""
    from cnncourse.grading.jail import as_root, available

    root, submitted, out = Path(root).resolve(), Path(submitted).resolve(), Path(out).resolve()
    db_url = db_url or load_config(root).CourseDirectory.get("db_url") or \
        f"sqlite:///{root / 'gradebook.db'}"
    everyone = intake.students(submitted)
    if students:
        missing = sorted(set(students) - set(everyone))
        if missing:
            there = ", ".join(everyone[:8]) + (", ..." if len(everyone) > 8 else "")
            raise CourseError(
                f"no submission folder for {', '.join(missing)} in {submitted} (students there: "
                f"{there or 'none'}); --student takes the folder name of submitted/<student>/")
        everyone = sorted(set(students))
    workers = max(1, min(jobs, len(everyone) * len(assignments)))
    # each kernel gets its share of the cores (on a cluster, each Dask worker works out its own)
    limits = Limits(notebook_s=timeout, memory_gb=memory_gb,
                    max_output_bytes=int(max_output_mb * 2**20),
                    threads=0 if scheduler else max(1, usable_cores() // workers),
                    small_demos=small_demos)
    # on a cluster, each Dask worker's jail is checked there (`cluster.ClusterRun.start`)
    why = "--no-jail" if not jail else None if scheduler else available()
    jailed = why is None
    if jail and not jailed:
        raise CourseError(
            f"student code cannot be jailed here: {why}. Unjailed, a notebook runs as you, "
            "with your files, the gradebook, the other submissions and your network in reach. "
            "Grade where jails work (Linux; as root, or with unprivileged user namespaces "
            "allowed: sysctl kernel.unprivileged_userns_clone=1, or on Ubuntu "
            "kernel.apparmor_restrict_unprivileged_userns=0), or, for code you trust, run "
            "again with --no-jail.")
    out.mkdir(parents=True, exist_ok=True)
    if scheduler:
        from cnncourse.grading.cluster import ClusterRun, describe

        run = ClusterRun(scheduler, root, assignments, limits, warm_kernels, jailed,
                         out / "grader-errors.log", security=security)
        run.start()  # connects, and checks the workers' versions, before anyone is graded
        where = describe(scheduler, run.allowed_failures, run.workers_seen)
    else:
        run = Run(root, assignments, limits, None, warm_kernels, jailed,
                  out / "grader-errors.log")
        # workers start first: they import nbgrader and torch while this process generates
        run.start(workers)
        where = f"with {len(run.workers)} worker(s), {limits.threads} thread(s) per kernel"
    try:
        read, jobs_todo, kept = _intake(root, submitted, everyone, assignments, run,
                                        previous(out) if resume else {})
        say(f"grading {len(jobs_todo)} notebook(s) of {len(everyone)} student(s) "
            f"{where}; {len(read)} could not be graded as submitted"
            + (f"; {len(kept)} kept from the last run (--resume)" if resume else ""))
        if not jailed:
            say(f"student code runs as the grader's user, not jailed: {why}")
        elif scheduler:
            say("student code runs jailed on every Dask worker (each checked before grading)")
        elif as_root():
            say("student code runs jailed, as a user of its own per worker")
        else:
            say("student code runs jailed, in namespaces of its own per kernel "
                "(as the grader's user, who is not root)")
        scratch = Path(tempfile.mkdtemp(prefix="cnncourse-template-"))
        try:
            run.template = scratch
            generate(root, assignments, scratch / "course",
                     db_url=f"sqlite:///{scratch / 'gradebook.db'}", keep_solutions=False)
            for w in run.workers:
                w.conn.send(str(scratch))
            with gradebook.lock(db_url):  # other graders may share the gradebook
                if db_url.startswith("sqlite:///") and \
                        not Path(db_url[len("sqlite:///"):]).exists():
                    # a new course gradebook: the template's is what generate would write
                    shutil.copy2(scratch / "gradebook.db", db_url[len("sqlite:///"):])
                gradebook.register(root, assignments, db_url)
            hidden = {a: hidden_test_ids(read_notebook(root / "solutions" / a / f"{a}.ipynb"))
                      for a in assignments}
            ours = {(s, a) for s in everyone for a in assignments}
            late = LatePolicy.load(root, assignments, db_url, submitted)
            run.results = Results(out, db_url, kept, hidden, ours=ours, late=late)
            for row in run.results.rows:  # rows of other runs kept in grades.csv: the report
                if row.status == Status.GRADED and not row.cells:  # reads their cells
                    row.cells = gradebook.autograded_scores(db_url, row.assignment, row.student)
            for row in read:
                run.results.add(row)
            run.grade(jobs_todo, progress)
        finally:
            run.close()  # before the template goes: a worker may still be copying it
            shutil.rmtree(scratch, ignore_errors=True)
    except BaseException:
        if run.results is not None:
            run.results.abandon()
        raise
    finally:
        run.close()
    return run.results.close()


def _intake(root, submitted, everyone, assignments, run: Run, last: dict):
    """(rows of submissions that cannot be graded, jobs, rows kept from the last run)."""
    grade_ids = {a: {c.grade_id for c in graded_cells(
        read_notebook(root / "solutions" / a / f"{a}.ipynb"))} for a in assignments}
    read, jobs, kept = [], [], []
    for student in everyone:
        for a in assignments:
            try:
                sub = intake.find(submitted, student, a, grade_ids[a])
            except Exception:  # noqa: BLE001 - one file never stops the class
                first = traceback.format_exc().strip().splitlines()[-1][:200]
                sub = intake.Submission(student, a, problem=Status.UNREADABLE, flags=[first])
            digest = hashlib.sha256(sub.path.read_bytes()).hexdigest() \
                if sub.path is not None and sub.path.is_file() else ""
            if sub.problem:
                read.append(Row(student, a, sub.problem, flags=sub.flags, submission=digest))
                continue
            old = last.get((student, a))
            if old is not None and digest and old.submission == digest:
                kept.append(old)
                continue
            run.flags[(student, a)] = sub.flags
            run.hashes[(student, a)] = digest
            jobs.append(Job(student, a, nbformat.writes(sub.notebook)))
    return read, jobs, kept
