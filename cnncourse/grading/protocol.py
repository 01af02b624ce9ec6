"""What the class run and its workers say to each other, and what a row of grades.csv holds.

One vocabulary for the whole grader: every status a submission can end with (`Status`), the
limits a worker grades under (`Limits`), the messages on the pipe between the run
(`cnncourse.grading.run`) and a worker (`cnncourse.grading.worker`), all frozen dataclasses,
and the one result type a class run produces per student and assignment (`Row`).

Messages, in order, on one worker's pipe (`multiprocessing` pickles them):

    run -> worker   str                the template course, generated once while workers start
    worker -> run   Ready()            set up: the student's clock starts now
    run -> worker   Job                a notebook to grade
    worker -> run   Reply              its scores, graded notebook, verdicts ...
    worker -> run   Page               its feedback page (after the Reply, when it was graded)
    run -> worker   None               stop
"""

from __future__ import annotations

from dataclasses import dataclass, field
from enum import Enum

from cnncourse.notebooks import EMPTY, NOT_JSON, NOT_NOTEBOOK


class Status(str, Enum):
    """How a submission ended, in grades.csv's words (compares equal to those words)."""

    GRADED = "graded"
    # could not be graded as submitted (`cnncourse.grading.intake`)
    MISSING = "missing notebook"
    EMPTY = EMPTY
    NOT_JSON = NOT_JSON
    NOT_NOTEBOOK = NOT_NOTEBOOK
    UNREADABLE = "could not be read"
    WRONG_ASSIGNMENT = "wrong assignment"
    # graded, but ended early
    TIMED_OUT = "timed out"
    KERNEL_DIED = "kernel died"
    AUTOGRADE_FAILED = "autograde failed"  # nbgrader's autograde said so; its reason in flags
    GRADER_ERROR = "grader error"  # a fault in the grader's own code: see the run's log
    WORKER_LOST = "worker lost"  # on a Dask cluster: its worker died, again after a retry

    __str__ = str.__str__
    __format__ = str.__format__


@dataclass(frozen=True)
class Limits:
    """What one notebook may use while it is graded.

    Attributes:
        notebook_s: wall-clock seconds for the whole notebook (autograde, verification and
            feedback included); past it the worker is killed with its kernels.
        memory_gb: address-space limit of the worker and its kernels, GiB; 0 for none.
        max_output_bytes: outputs a graded notebook may keep; more is cut and flagged.
        verify_memory_gb: address-space limit of a verification run, GiB.
        threads: the threads a kernel's numerical libraries may use (its share of the cores,
            `env.share_threads`); 0 leaves the environment as it is.
        small_demos: the notebooks' demonstrations run a small budget (`cnncourse.budget`;
            `env.ask_for_small_demos`): nothing graded reads them.
    """

    notebook_s: float = 600.0
    memory_gb: float = 8.0
    max_output_bytes: int = 5 * 2**20
    threads: int = 0
    small_demos: bool = True

    @property
    def verify_memory_gb(self) -> float:
        return min(self.memory_gb, 4.0) if self.memory_gb > 0 else 4.0


@dataclass(frozen=True)
class Ready:
    """A worker is set up (imports, warm kernel and sandbox started, template copied)."""


@dataclass(frozen=True)
class Job:
    """A notebook to grade: whose, of which assignment, and the notebook (JSON text)."""

    student: str
    assignment: str
    notebook: str


@dataclass(frozen=True)
class Reply:
    """What a worker found for one Job.

    Attributes:
        success: nbgrader's autograde said it succeeded.
        cells: test cell grade_id -> (points, max points), as nbgrader scored them.
        notebook: the autograded notebook (JSON), outputs capped; "" when there is none.
        verdicts: graded function -> `cnncourse.grading.verify.Verdict`.
        groups: test cell -> [`cnncourse.testing.GroupResult`] (partial credit).
        cut: bytes of output cut over `Limits.max_output_bytes`.
        strays: processes the notebook left running, killed.
        log: the end of nbgrader's log (why autograde failed).
        error: a fault in the worker's own code while grading ("" when none).
        timings: seconds spent in each step of `cnncourse.grading.worker.Grader.grade_one`
            (place, autograde, scores, verify, clean_up, cap, page).
    """

    success: bool
    cells: dict = field(default_factory=dict)
    notebook: str = ""
    verdicts: dict = field(default_factory=dict)
    groups: dict = field(default_factory=dict)
    cut: int = 0
    strays: int = 0
    log: str = ""
    error: str = ""
    timings: dict = field(default_factory=dict)


@dataclass(frozen=True)
class Page:
    """The feedback page of the Job a worker replied to last: its HTML, or why there is none."""

    html: str = ""
    error: str = ""


@dataclass
class Row:
    """One student's result for one assignment: a row of grades.csv, and what the gradebook,
    the feedback page and the report are written from.

    `cells` are the scores after verification (test cell grade_id -> (points, max));
    `taken` the test cells whose points verification took, with why; `flags` what a person
    should look at; `submission` the SHA-256 of the file graded (for ``--resume``)."""

    student: str
    assignment: str
    status: str
    score: float | None = None
    max_score: float | None = None
    cells: dict[str, tuple[float, float]] = field(default_factory=dict)
    flags: list[str] = field(default_factory=list)
    seconds: float = 0.0
    submission: str = ""
    notebook: str = ""  # the autograded notebook (JSON), for feedback
    feedback: str = ""  # its feedback page, rendered by the worker
    groups: dict = field(default_factory=dict)
    taken: dict = field(default_factory=dict)
    penalty: float = 0.0  # points taken for late work (`late.LatePolicy`); score is after it
    seconds_late: float = 0.0
    timings: dict = field(default_factory=dict)  # the worker's steps (`Reply.timings`), seconds

    COLUMNS = ("student", "assignment", "status", "score", "max_score", "flags", "seconds",
               "submission", "penalty", "seconds_late")

    def csv(self) -> dict:
        """The row as grades.csv writes it."""
        return {"student": self.student, "assignment": self.assignment,
                "status": str(self.status),
                "score": "" if self.score is None else f"{self.score:g}",
                "max_score": "" if self.max_score is None else f"{self.max_score:g}",
                "flags": "; ".join(self.flags), "seconds": f"{self.seconds:.1f}",
                "submission": self.submission,
                "penalty": f"{self.penalty:g}" if self.penalty else "",
                "seconds_late": f"{self.seconds_late:.0f}" if self.seconds_late else ""}
