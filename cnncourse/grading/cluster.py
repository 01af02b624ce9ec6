"""`cnncourse grade --scheduler ADDRESS`: a class graded on a Dask distributed cluster.

Dask (``pip install "cnncourse[cluster]"``) is the engine beyond one machine; this module only
hands it work. The grading itself is the local engine's, unchanged: on every Dask worker process
a `Host` keeps one `cnncourse.grading.run.Run` with one grading worker
(`cnncourse.grading.worker`: its jail, warm kernels and verification sandbox) as a child
process, and grades each `protocol.Job` the client sends with it, limits and all.

- The client bundles what a grading worker reads (`Bundle`: the course config, the
  assignments' student and source notebooks, their probes, and the template course generated
  once) and sends it to the workers itself (no shared filesystem needed).
- Each task returns the finished `protocol.Row` (its feedback page rendered on the worker) and
  any grader-error traceback. Only the client writes: grades.csv, the gradebook, the pages and
  the log (`cnncourse.grading.results.Results`), as rows arrive.
- A Dask worker that dies mid-notebook (SIGKILL, out of memory) is the scheduler's to handle:
  it runs the task again elsewhere until the task has been on ``allowed-failures`` + 1 dying
  workers (start the scheduler with ``DASK_DISTRIBUTED__SCHEDULER__ALLOWED_FAILURES=1``: one
  retry), then the student's row says so (`Status.WORKER_LOST`); the run goes on.
- Dask workers are daemonic by default, and a daemonic process may not start the grading
  worker: start them with ``DASK_DISTRIBUTED__WORKER__DAEMON=False`` (one thread each,
  ``--nthreads 1``; a second thread would only wait for the first).
- A scheduler on another machine needs TLS (``tls://``, with a CA, a certificate and a key:
  `security`); the client refuses workers whose cnncourse, torch, nbgrader or Python differ
  from its own (`versions`), and says which.
"""

from __future__ import annotations

import atexit
import dataclasses
import functools
import hashlib
import importlib.metadata
import io
import ipaddress
import shutil
import sys
import tarfile
import tempfile
import threading
import time
import uuid
from dataclasses import dataclass
from pathlib import Path

from cnncourse.grading.protocol import Job, Limits, Row, Status
from cnncourse.grading.run import Run
from cnncourse.notebooks import CourseError

INSTALL = 'pip install "cnncourse[cluster]"'
STARTED = "cnncourse-started"  # the scheduler's event topic on which every task logs its start
RESENDS = 3  # a notebook that only waited on dying workers is sent again this often at most
LOCAL_HOSTS = ("localhost", "127.0.0.1", "::1")


# ------------------------------------------------------------------ what both sides compare

def versions() -> dict[str, str]:
    """What a grade depends on, as installed in this process: cnncourse (its version and a
    digest of its code), torch, nbgrader and Python."""
    return dict(_versions())


@functools.cache
def _versions() -> dict[str, str]:
    import cnncourse

    package = Path(cnncourse.__file__).parent
    digest = hashlib.sha256()
    for path in sorted(package.rglob("*.py")):
        digest.update(str(path.relative_to(package)).encode() + b"\0" + path.read_bytes())
    return {"cnncourse": f"{importlib.metadata.version('cnncourse')} "
                         f"(code {digest.hexdigest()[:12]})",
            "torch": importlib.metadata.version("torch"),
            "nbgrader": importlib.metadata.version("nbgrader"),
            "python": ".".join(map(str, sys.version_info[:3]))}


def differences(ours: dict[str, str], theirs: dict[str, str]) -> list[str]:
    """What differs, in words: ["torch 2.12.0 (here 2.13.0)", ...]."""
    return [f"{name} {theirs.get(name, 'missing')} (here {value})"
            for name, value in ours.items() if theirs.get(name) != value]


def _worker_state(jailed: bool) -> dict:
    """Run on each Dask worker before a class is graded there: its versions, whether it is
    daemonic, and why it cannot jail student code (None where it can, or where no jail is
    asked for)."""
    import multiprocessing

    return {"versions": versions(), "daemon": multiprocessing.current_process().daemon,
            "jail": _jail_problem() if jailed else None}


@functools.cache
def _jail_problem() -> str | None:
    """`cnncourse.grading.jail.available` on this machine, tried once per process."""
    from cnncourse.grading.jail import available

    return available()


# ------------------------------------------------------------------------------ the bundle

@dataclass(frozen=True)
class Bundle:
    """What a Dask worker needs to grade `assignments`: a gzipped tar of the course files a
    grading worker reads (``course/``: nbgrader_config.py, notebooks/ and solutions/ of the
    assignments, their probes) and of the generated template (``template/``), named by its
    SHA-256; and how to grade (limits, warm kernels, jails, the client's versions and the name
    of its error log, for the rows' flags)."""

    digest: str
    data: bytes
    assignments: tuple[str, ...]
    limits: Limits
    warm: bool
    jailed: bool
    versions: dict
    log: str


def bundle(root: Path, assignments: list[str], template: Path, *, limits: Limits, warm: bool,
           jailed: bool, log: Path) -> Bundle:
    """The `Bundle` of a course at `root` whose template `generate` wrote into `template`."""
    files = io.BytesIO()
    with tarfile.open(fileobj=files, mode="w:gz") as tar:
        tar.add(root / "nbgrader_config.py", "course/nbgrader_config.py")
        for a in assignments:
            for folder in ("notebooks", "solutions"):
                tar.add(root / folder / a, f"course/{folder}/{a}")
            probes = root / "probes" / f"{a}.py"
            if probes.exists():
                tar.add(probes, f"course/probes/{a}.py")
        tar.add(template, "template")
    data = files.getvalue()
    return Bundle(hashlib.sha256(data).hexdigest(), data, tuple(assignments), limits, warm,
                  jailed, versions(), str(log))


# --------------------------------------------------------------------- the Dask worker side

def _keep(b: Bundle) -> Bundle:
    """The task that holds a run's bundle on the cluster (its data is in the graph)."""
    return b


class HostedRun(Run):
    """A `Run` on a Dask worker: the tracebacks of grader faults go back to the client, which
    writes the log, instead of into a file here (`errors`)."""

    def __init__(self, *args, **kwargs):
        super().__init__(*args, **kwargs)
        self.errors: list[str] = []

    def _log_error(self, text: str) -> None:
        self.errors.append(text)


def _threads_here() -> int:
    """A kernel's share of this machine's cores: the cores this Dask worker process may use ÷
    the Dask workers of the cluster on this host (each grades one notebook at a time)."""
    from urllib.parse import urlparse

    from distributed import get_client, get_worker

    from cnncourse.grading.env import usable_cores

    host = urlparse(get_worker().address).hostname
    try:
        client = get_client()
        identity = client.sync(client.scheduler.identity, n_workers=-1)
        here = sum(urlparse(address).hostname == host for address in identity["workers"])
    except Exception:  # noqa: BLE001 - no answer: count this worker alone
        here = 1
    return max(1, usable_cores() // max(1, here))


class Host:
    """On one Dask worker process: the unpacked bundle and a `Run` with one grading worker,
    kept for the next task of the same bundle."""

    def __init__(self, b: Bundle):
        from distributed import get_worker

        # in the Dask worker's own folder, which Dask clears when a worker that died is gone
        self.folder = Path(tempfile.mkdtemp(prefix="cnncourse-",
                                            dir=get_worker().local_directory))
        with tarfile.open(fileobj=io.BytesIO(b.data), mode="r:gz") as tar:
            tar.extractall(self.folder, filter="data")
        self.rows: list[Row] = []
        limits = dataclasses.replace(b.limits, threads=b.limits.threads or _threads_here())
        self.run = HostedRun(self.folder / "course", list(b.assignments), limits, self,
                             b.warm, b.jailed, Path(b.log), where=self.folder)
        self.run.template = self.folder / "template"
        self.run.start(1)

    def add(self, row: Row) -> None:
        """Where the run puts a finished row (it stands in for `Results`)."""
        self.rows.append(row)

    def grade(self, job: Job) -> tuple[Row, str]:
        self.rows.clear()
        self.run.errors.clear()
        self.run.grade([job], progress=False)
        if not self.rows:
            raise RuntimeError(f"the grading worker gave no row for {job.student}")
        return self.rows[-1], "".join(self.run.errors)

    def close(self) -> None:
        self.run.close()
        shutil.rmtree(self.folder, ignore_errors=True)


_HOSTS: dict[str, Host] = {}
_LOCK = threading.Lock()


def _close_hosts() -> None:
    for host in _HOSTS.values():
        host.close()
    _HOSTS.clear()


atexit.register(_close_hosts)


def grade_on_worker(b: Bundle, job: Job, topic: str | None = None,
                    name: str = "") -> tuple[Row, str]:
    """The Dask task: grade `job` on this worker (with its `Host` for `b`). Returns the row and
    the traceback text of a fault in the grader ("" when none). It first logs `name` on the
    scheduler's `topic` ({"key": name}; the scheduler adds the worker's address): the client
    counts the workers a notebook was running on."""
    import multiprocessing

    if topic:
        from distributed import get_worker

        get_worker().log_event(topic, {"key": name})  # the scheduler adds "worker"

    if multiprocessing.current_process().daemon:
        raise CourseError("this Dask worker is daemonic and may not start a grading worker: "
                          "start it with DASK_DISTRIBUTED__WORKER__DAEMON=False")
    wrong = differences(b.versions, versions())
    if wrong:
        row = Row(job.student, job.assignment, Status.GRADER_ERROR, flags=[
            "a Dask worker with other versions than the grader's took it: "
            + ", ".join(wrong) + "; install the same there and grade again with --resume"])
        return row, ""
    why = _jail_problem() if b.jailed else None
    if why:
        row = Row(job.student, job.assignment, Status.GRADER_ERROR, flags=[
            f"a Dask worker that cannot jail student code took it ({why}); fix that worker "
            "and grade again with --resume"])
        return row, ""
    with _LOCK:  # one grading worker per Dask worker process: its tasks take turns
        host = _HOSTS.get(b.digest)
        if host is None:
            _close_hosts()  # another course's (or an older bundle's) worker
            host = _HOSTS[b.digest] = Host(b)
        return host.grade(job)


# ------------------------------------------------------------------------ the client side

def security(address: str, ca_file: str | None = None, cert: str | None = None,
             key: str | None = None):
    """Dask's `Security` for the client: the files given, else Dask's configuration
    (``distributed.comm.tls.*``). A scheduler that is not on this machine must be reached over
    TLS with a certificate (CourseError otherwise)."""
    from distributed.security import Security

    given = [x for x in (ca_file, cert, key) if x]
    if given and len(given) != 3:
        raise CourseError("TLS needs all three of --tls-ca-file, --tls-cert and --tls-key")
    if given:
        for path in given:
            if not Path(path).is_file():
                raise CourseError(f"no file {path} (given for TLS)")
        sec = Security(tls_ca_file=ca_file, tls_client_cert=cert, tls_client_key=key,
                       require_encryption=True)
    else:
        sec = Security()
    scheme, _, rest = address.partition("://") if "://" in address else ("tcp", "", address)
    host = rest.rsplit(":", 1)[0].strip("[]") if ":" in rest else rest
    if not _is_local(host) and (scheme != "tls" or not (sec.tls_ca_file and sec.tls_client_cert)):
        raise CourseError(
            f"the scheduler at {address} is not on this machine: reach it over TLS "
            "(tls://HOST:PORT) with --tls-ca-file, --tls-cert and --tls-key (or Dask's "
            "distributed.comm.tls configuration), as the README's cluster section shows")
    if scheme == "tls" and not (sec.tls_ca_file and sec.tls_client_cert):
        raise CourseError(f"{address} is a TLS scheduler: give --tls-ca-file, --tls-cert and "
                          "--tls-key")
    return sec


def _is_local(host: str) -> bool:
    if host in LOCAL_HOSTS:
        return True
    try:
        return ipaddress.ip_address(host).is_loopback
    except ValueError:
        return False


class ClusterRun:
    """The client's side of a class run on a Dask cluster. It stands where a local
    `cnncourse.grading.run.Run` stands in `grade_class` (`start`, `grade`, `close`; `flags`,
    `hashes` and `results` set by the run), so intake, results and the report are the same."""

    def __init__(self, address: str, root: Path, assignments: list[str], limits: Limits,
                 warm: bool, jailed: bool, log: Path, *, security=None,
                 workers_s: float = 60.0):
        self.address, self.root, self.assignments, self.limits = address, root, assignments, \
            limits
        self.warm, self.jailed, self.log = warm, jailed, log
        self.security, self.workers_s = security, workers_s
        self.template: Path | None = None
        self.results = None
        self.workers: list = []  # no local workers: nothing to send the template to
        self.flags: dict[tuple[str, str], list[str]] = {}
        self.hashes: dict[tuple[str, str], str] = {}
        self.client = None
        self.allowed_failures: int | None = None  # the scheduler's, where it says
        self.workers_seen = 0
        self.starts: dict[str, int] = {}  # a task's first key -> the workers it started on

    def start(self, count: int = 0) -> None:
        """Connect, and check every worker: the same versions as here, not daemonic."""
        try:
            self._start()
        except BaseException:
            self.close()
            raise

    def _start(self) -> None:
        try:
            import dask
            from distributed import Client
        except ImportError:
            raise CourseError(f"--scheduler needs Dask distributed: {INSTALL}") from None
        try:
            self.client = Client(self.address, security=self.security,
                                 timeout=dask.config.get("distributed.comm.timeouts.connect"),
                                 set_as_default=False)
        except (OSError, TimeoutError) as error:
            hint = "" if self.address.startswith("tls://") else (
                " (a scheduler started with --protocol tls is reached as tls://HOST:PORT, "
                "with --tls-ca-file, --tls-cert and --tls-key)")
            raise CourseError(f"could not connect to the Dask scheduler at {self.address}: "
                              f"{error}{hint}") from None
        try:
            self.client.wait_for_workers(1, timeout=self.workers_s)
        except TimeoutError:
            raise CourseError(f"no Dask worker joined the scheduler at {self.address} within "
                              f"{self.workers_s:g} s: start some (README, cluster section)") \
                from None
        ours = versions()
        problems = []
        states = self.client.run(_worker_state, self.jailed)
        for address, state in sorted(states.items()):
            wrong = differences(ours, state["versions"])
            if wrong:
                problems.append(f"{address} has " + ", ".join(wrong))
            if state["daemon"]:
                problems.append(f"{address} is daemonic (start it with "
                                "DASK_DISTRIBUTED__WORKER__DAEMON=False)")
            if state["jail"]:
                problems.append(f"{address} cannot jail student code: {state['jail']}")
        if problems:
            raise CourseError("these Dask workers cannot grade for this grader:\n  "
                              + "\n  ".join(problems))
        try:
            self.allowed_failures = self.client.run_on_scheduler(_allowed_failures)
        except Exception:  # noqa: BLE001 - a scheduler may refuse to run code: then unknown
            self.allowed_failures = None
        # the workers just checked; not scheduler_info(), whose answer the client's own periodic
        # refresh (which asks for no workers) may overwrite before it returns
        self.workers_seen = len(states)

    def grade(self, jobs: list[Job], progress: bool) -> None:
        """Send `jobs` to the cluster; every one ends as a row in `results`, written here as it
        arrives.

        A task whose worker died is failed by the scheduler (KilledWorker) once it has been on
        ``allowed-failures`` + 1 dying workers, whether it was running there or only waiting
        in line. Each task says when it starts (an event on the `STARTED` topic), so a task
        that was only waiting is sent again (at most `RESENDS` times), and only a notebook
        that was running on two or more workers as they died gets its `Status.WORKER_LOST`
        row."""
        from distributed import as_completed
        from tqdm.auto import tqdm

        b = bundle(self.root, self.assignments, self.template, limits=self.limits,
                   warm=self.warm, jailed=self.jailed, log=self.log)
        # a task, not scattered data: where every worker holding it dies (killed for a student's
        # notebook, say), the scheduler computes it again from the graph, instead of failing
        # every task that still needs it
        shared = self.client.submit(_keep, b, pure=False,
                                    key=f"cnncourse-bundle-{b.digest[:16]}-{uuid.uuid4().hex[:8]}")
        run = uuid.uuid4().hex[:8]
        self.client.subscribe_topic(STARTED, self._started)
        tasks: dict = {}  # future -> (job, its first key, resends so far, submitted when)

        def send(job: Job, base: str, resends: int):
            key = base if not resends else f"{base} resent{resends}"
            future = self.client.submit(grade_on_worker, shared, job, STARTED, base,
                                        pure=False, key=key)
            tasks[future] = (job, base, resends, time.monotonic())
            return future

        for job in jobs:
            base = f"cnncourse-grade {job.assignment} {job.student} {run}"
            self.starts[base] = 0
            send(job, base, 0)
        bar = tqdm(total=len(jobs), unit="nb", disable=not progress, desc="grading")
        try:
            queue = as_completed(list(tasks), loop=self.client.loop)
            for future in queue:
                job, base, resends, sent = tasks.pop(future)
                waited = self._killed(future) and self.starts.get(base, 0) < 2
                # a task whose input was lost with its workers ends with no error of its own
                orphaned = future.status in ("cancelled", "lost") or (
                    future.status == "error" and self._error(future) is None)
                if future.status != "finished" and (waited or orphaned) and \
                        resends < RESENDS:
                    queue.add(send(job, base, resends + 1))  # it was never graded: again
                    future.release()
                    continue
                self.results.add(self._row(future, job, base, sent))
                future.release()
                bar.update(1)
        except BaseException:
            self.client.cancel(list(tasks))
            raise
        finally:
            bar.close()
            try:
                self.client.unsubscribe_topic(STARTED)
            except Exception:  # noqa: BLE001 - the scheduler is gone
                pass

    def _started(self, event) -> None:
        """A task started on a worker (`event`: (time, {"key": its first key, "worker":
        where})); those of other runs, which share the topic, are not counted."""
        base = event[1].get("key") if isinstance(event[1], dict) else None
        if base in self.starts:
            self.starts[base] += 1

    @staticmethod
    def _error(future):
        """The task's exception; None where it has none (cancelled, or its input lost)."""
        try:
            return future.exception()
        except BaseException:  # noqa: BLE001 - a cancelled future raises instead
            return None

    @classmethod
    def _killed(cls, future) -> bool:
        from distributed.scheduler import KilledWorker

        return isinstance(cls._error(future), KilledWorker)

    def _row(self, future, job: Job, base: str, sent: float) -> Row:
        key = (job.student, job.assignment)
        if future.status == "finished":
            row, errors = future.result()
            if errors:
                self._log_error(errors)
        else:
            row = self._failed_row(future, job, base, sent)
        row.flags = self.flags.get(key, []) + row.flags
        row.submission = self.hashes.get(key, "")
        return row

    def _failed_row(self, future, job: Job, base: str, sent: float) -> Row:
        error = self._error(future) or RuntimeError(f"the task ended {future.status}")
        if self._killed(future):
            deaths = self.starts.get(base, 0)
            times = f" {deaths} time(s)" if deaths else ""
            return Row(job.student, job.assignment, Status.WORKER_LOST,
                       seconds=time.monotonic() - sent,
                       flags=[f"the Dask worker grading it died{times} (killed, or out of "
                              "memory) and the scheduler gave up: look at the notebook, then "
                              "grade again with --resume"])
        self._log_error(f"--- {job.student} / {job.assignment}\n{type(error).__name__}: {error}\n")
        return Row(job.student, job.assignment, Status.GRADER_ERROR,
                   seconds=time.monotonic() - sent,
                   flags=[f"a fault in the grader on a Dask worker ({type(error).__name__}: "
                          f"{str(error)[:160]}): see {self.log}"])

    def _log_error(self, text: str) -> None:
        with self.log.open("a") as f:
            f.write(text)

    def close(self) -> None:
        if self.client is not None:
            try:
                self.client.close()
            except Exception:  # noqa: BLE001 - a scheduler already gone
                pass
            self.client = None


def _allowed_failures(dask_scheduler) -> int:
    return dask_scheduler.allowed_failures


def describe(address: str, allowed_failures: int | None, workers: int) -> str:
    """The run's line about the cluster."""
    retries = "" if allowed_failures is None else \
        f"; a task whose worker dies is tried {allowed_failures + 1} time(s) in all"
    return f"on the Dask cluster at {address} ({workers} worker(s) now{retries})"

