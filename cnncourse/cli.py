"""The `cnncourse` command: `release` for instructors, `check` for students, `grade` for graders."""

from __future__ import annotations

import argparse
import sys
from pathlib import Path

from cnncourse.notebooks import CourseError


def _say(message: str) -> None:
    print(message, flush=True)


def _cmd_release(args) -> int:
    from cnncourse.course import find_root, resolve_assignments
    from cnncourse.release import release

    root = find_root()
    names = resolve_assignments(root, args.assignments)
    if args.if_needed:
        names = [n for n in names if not (root / "notebooks" / n / f"{n}.ipynb").exists()]
        if not names:
            _say("every student notebook is already in notebooks/; nothing to release.")
            return 0
    written = release(root, names, say=_say)
    _say(f"released {len(written)} notebook(s) into {root / 'notebooks'}. "
         "Commit notebooks/ together with solutions/.")
    return 0


def _cell_timeout(notebook: Path) -> int:
    from cnncourse.check import DEFAULT_TIMEOUT
    from cnncourse.course import find_root, load_config

    try:
        root = find_root(notebook.resolve().parent)
    except CourseError:
        return DEFAULT_TIMEOUT
    timeout = load_config(root).Execute.get("timeout")
    return int(timeout) if isinstance(timeout, int) else DEFAULT_TIMEOUT


def _cmd_release_feedback(args) -> int:
    from cnncourse.course import find_root, load_config, resolve_assignments
    from cnncourse.grading.handback import release_feedback

    root = find_root()
    name = resolve_assignments(root, [args.assignment])[0]
    db_url = args.db_url or load_config(root).CourseDirectory.get("db_url") or \
        f"sqlite:///{root / 'gradebook.db'}"
    if args.lms:
        from cnncourse.grading.handback import lms_feedback_zip

        lms_feedback_zip(root, name, Path(args.out), Path(args.submitted), db_url, args.lms,
                         say=_say)
        return 0
    release_feedback(root, name, Path(args.out), Path(args.submitted), db_url,
                     exchange=args.exchange, say=_say)
    return 0


def _cmd_check(args) -> int:
    from cnncourse.check import check

    path = Path(args.notebook)
    if path.suffix != ".ipynb" and not path.is_dir():
        raise CourseError(f"{path} is not a notebook: give a .ipynb file, "
                          "e.g. notebooks/01_convolution/01_convolution.ipynb")
    return check(path, timeout=args.timeout or _cell_timeout(path), say=_say,
                 progress=not args.no_progress)


def _cmd_grade(args) -> int:
    import warnings

    from sqlalchemy.exc import SAWarning

    from cnncourse.course import find_root, resolve_assignments
    from cnncourse.grading.results import summary
    from cnncourse.grading.run import grade_class

    # nbgrader 0.9.6 trips SQLAlchemy 2's autoflush and relationship warnings (multi-line, on
    # every run): they are about nbgrader's code, not the class, and say nothing to a grader
    warnings.filterwarnings("ignore", category=SAWarning)

    root = find_root()
    submitted = Path(args.submitted)
    if args.zip:
        from cnncourse.grading.intake import zip_collect

        if len(args.assignments) != 1:
            raise CourseError("--zip needs the one assignment the archive holds, e.g. "
                              "cnncourse grade 01_convolution --zip downloads.zip")
        name = resolve_assignments(root, args.assignments)[0]
        from cnncourse.grading.lms import preset

        lms = preset(args.lms, names_given=args.names != ZIP_NAMES)
        count = zip_collect(root, name, Path(args.zip), args.names, submitted, say=_say, lms=lms)
        _say(f"collected {args.zip}: {count} notebook(s) in {submitted}/<student>/{name}/")
    elif args.lms:
        raise CourseError(f"--lms {args.lms} says how to read an LMS's zip: give it with --zip")
    if not submitted.is_dir():
        raise CourseError(f"no folder {submitted}: put submissions in "
                          "submitted/<student>/<assignment>/<assignment>.ipynb")
    names = resolve_assignments(root, args.assignments)
    out = Path(args.out)
    security = None
    if args.scheduler:
        from cnncourse.grading.cluster import security as dask_security

        if args.jobs is not None:
            _say(f"--jobs {args.jobs} is not used with --scheduler: each Dask worker process "
                 "grades one notebook at a time (start more workers for more at once)")

        security = dask_security(args.scheduler, args.tls_ca_file, args.tls_cert, args.tls_key)
    from cnncourse.grading.env import usable_cores

    # the cores this process may really use (affinity, a container's quota), not os.cpu_count()
    jobs = args.jobs if args.jobs is not None else usable_cores()
    rows = grade_class(root, submitted, names, out, jobs=jobs, timeout=args.timeout,
                       memory_gb=args.memory_gb, db_url=args.db_url,
                       max_output_mb=args.max_output_mb, warm_kernels=not args.cold_kernels,
                       jail=not args.no_jail, say=_say, progress=not args.no_progress,
                       resume=args.resume, scheduler=args.scheduler, security=security,
                       students=args.student, small_demos=not args.full_demos)
    _say(summary(rows))
    graded = sum(r.status == "graded" for r in rows)
    _say(f"wrote {out / 'grades.csv'} (the status column says why a row has no score) and "
         f"{out / 'report.html'}"
         + (f"; {graded} feedback page(s) in {out / 'feedback'}/<student>/<assignment>.html "
            "and the graded rows in the course gradebook." if graded else
            "; nothing was graded, so there is no feedback page and no score in the gradebook."))
    return 0


def _cmd_export(args) -> int:
    from cnncourse.course import find_root, load_config
    from cnncourse.grading.lms import EXPORTS, export

    db_url = args.db_url
    if not db_url:
        root = find_root()
        db_url = load_config(root).CourseDirectory.get("db_url") or \
            f"sqlite:///{root / 'gradebook.db'}"
    lms, out = EXPORTS[args.format], Path(args.out or f"grades/{args.format}-import.csv")
    rows, unfound = export(db_url, lms, out)
    _say(f"wrote {out}: {rows} student(s), a column per assignment of the gradebook; import it "
         f"in {args.format.capitalize()}'s gradebook.")
    if unfound:
        _say(f"{len(unfound)} student(s) {args.format.capitalize()} cannot find yet, as their "
             f"nbgrader record lacks {lms.needs}: {', '.join(unfound[:10])}"
             + (" ..." if len(unfound) > 10 else ""))
    return 0


def _cmd_similarity(args) -> int:
    from cnncourse.course import find_root, resolve_assignments
    from cnncourse.grading import similarity as sim

    root = find_root()
    name = resolve_assignments(root, [args.assignment])[0]
    threshold = sim.DEFAULT_THRESHOLD if args.threshold is None else args.threshold
    noise = args.noise or sim.DEFAULT_NOISE
    result = sim.similarity(root, name, Path(args.submitted), Path(args.out),
                            threshold=threshold, noise=noise,
                            guarantee=args.guarantee or (sim.DEFAULT_GUARANTEE
                                                         if args.noise is None else noise),
                            say=_say)
    for skipped in result.skipped:
        _say(f"skipped {skipped.student}: {skipped.reason}")
    flagged = result.flagged
    _say(f"compared {len(result.students)} students ({len(result.pairs)} pairs): "
         f"{len(flagged)} pair(s) above {100 * threshold:.0f} %" + (":" if flagged else "."))
    for p in flagged:
        _say(f"  {p.a} and {p.b}: {100 * p.a_in_b:.0f} % of {p.a}'s answer code is in "
             f"{p.b}'s, {100 * p.b_in_a:.0f} % of {p.b}'s in {p.a}'s")
    _say(f"wrote {result.report} and {result.table} (every pair). "
         + ("Open the report, read the matching code of each pair side by side, and look at "
            "both notebooks before you talk to the students: a high share is a reason to look, "
            "not a verdict." if flagged else
            "Nothing to look at above the threshold; the CSV has every pair, most alike first."))
    return 0


ZIP_NAMES = r".*/(?P<student_id>[^/_]+)_(?P<file_id>[^/]+)$"  # alice_01_convolution.ipynb


def _number(kind: type, least: float, *, above: bool = False, unit: str = ""):
    """An argparse type: a `kind` (int or float) of at least `least` (above it, with `above`);
    anything else is refused with a sentence naming the range, before anything runs."""
    rule = f"{'greater than' if above else 'at least'} {least:g}{unit}"

    def parse(text: str):
        try:
            value = kind(text)
        except ValueError:
            raise argparse.ArgumentTypeError(
                f"{text!r} is not {'a whole number' if kind is int else 'a number'}") from None
        if value != value or value in (float("inf"), float("-inf")) or (
                value <= least if above else value < least):
            raise argparse.ArgumentTypeError(f"must be {rule}, got {text}")
        return value

    parse.__name__ = kind.__name__
    return parse


def build_parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(
        prog="cnncourse", description="A notebook course on convolutional neural networks.")
    sub = parser.add_subparsers(dest="command", metavar="COMMAND")

    p = sub.add_parser("release", help="instructors: generate notebooks/ from solutions/",
                       description="Generate the student notebooks with nbgrader, strip outputs, "
                       "and refuse any release that would hold solution or hidden-test text.")
    p.add_argument("assignments", nargs="*", metavar="ASSIGNMENT",
                   help="e.g. 01_convolution (default: all)")
    p.add_argument("--if-needed", action="store_true",
                   help="only the assignments whose student notebook is missing")
    p.set_defaults(run=_cmd_release)

    p = sub.add_parser("release-feedback", help="graders: hand the feedback pages back "
                       "through nbgrader's exchange, or as a zip for the LMS",
                       description="Put the scrubbed feedback page of every graded row (no "
                       "hidden-test source), with the written answers' hand-graded scores and "
                       "comments from the gradebook, where nbgrader's release_feedback finds it, "
                       "and run it: students fetch their own page with nbgrader fetch_feedback. "
                       "With --lms, write them into one zip for that LMS's bulk feedback upload "
                       "instead.")
    p.add_argument("assignment", metavar="ASSIGNMENT", help="e.g. 01_convolution")
    p.add_argument("--submitted", default="submitted", help="folder of submissions")
    p.add_argument("--out", default="grades", help="the folder cnncourse grade wrote")
    p.add_argument("--db-url", default=None, help="the gradebook (default: the course's)")
    p.add_argument("--exchange", metavar="PATH", default=None,
                   help="the exchange's root (default: the course config's Exchange.root)")
    p.add_argument("--lms", choices=("canvas", "moodle"), default=None,
                   help="instead of the exchange: a zip of the pages for that LMS's bulk "
                   "feedback upload, named as its download (collected with grade --zip --lms) "
                   "named each student's files, in --out")
    p.set_defaults(run=_cmd_release_feedback)

    p = sub.add_parser("check", help="students: run a notebook and show how each test went",
                       description="Run the notebook in a fresh kernel and print one row per "
                       "graded test. Exits 1 when a visible test fails.")
    p.add_argument("notebook", metavar="NOTEBOOK")
    p.add_argument("--cell-timeout", "--timeout", dest="timeout", default=None,
                   type=_number(int, 0, above=True, unit=" s"),
                   help="seconds one cell may run (default: the course's Execute.timeout)")
    p.add_argument("--no-progress", action="store_true", help="no progress bar")
    p.set_defaults(run=_cmd_check)

    p = sub.add_parser("grade", help="graders: autograde a class in parallel, a row per student",
                       description="Autograde every submitted/<student>/<assignment>/ notebook "
                       "with nbgrader in parallel workers, outside the course tree, with limits. "
                       "Every student gets a row in grades.csv with a status.")
    p.add_argument("assignments", nargs="*", metavar="ASSIGNMENT",
                   help="e.g. 01_convolution (default: all)")
    p.add_argument("--submitted", default="submitted", help="folder of submissions")
    p.add_argument("--out", default="grades", help="folder for grades.csv")
    p.add_argument("--jobs", type=_number(int, 1), default=None,
                   help="parallel workers (default: one per core this process may use, its CPU "
                   "affinity and container quota; not used with --scheduler). Each kernel gets "
                   "cores / jobs threads")
    p.add_argument("--notebook-timeout", "--timeout", dest="timeout", default=600,
                   type=_number(float, 0, above=True, unit=" s"),
                   help="seconds one notebook may run, whatever it does (default 600)")
    p.add_argument("--db-url", default=None,
                   help="the gradebook to record grades in (default: the course's db_url, else "
                   "sqlite:///gradebook.db); e.g. postgresql://... where graders share one")
    p.add_argument("--memory-gb", type=_number(float, 0), default=8.0,
                   help="address-space limit of a grading kernel, 0 for none (default 8)")
    p.add_argument("--zip", metavar="ARCHIVE",
                   help="an LMS download (zip of notebooks) for one assignment: collected into "
                   "--submitted with nbgrader zip_collect first")
    p.add_argument("--names", metavar="REGEX", default=ZIP_NAMES,
                   help="how a file name in the zip names its student: nbgrader's "
                   "FileNameCollectorPlugin.named_regexp on the extracted path, with "
                   "student_id and file_id groups (default: 'alice_01_convolution.ipynb')")
    p.add_argument("--lms", choices=("canvas", "moodle", "blackboard"), default=None,
                   help="with --zip: the zip is this LMS's bulk download; use its file names "
                   "(instead of --names) and each student's newest attempt")
    p.add_argument("--max-output-mb", type=_number(float, 0, above=True), default=5.0,
                   help="outputs a graded notebook may keep; more is cut and flagged (default 5)")
    p.add_argument("--cold-kernels", action="store_true",
                   help="start every kernel from scratch as nbgrader does (slower) instead of "
                   "forking it from a warm one that has imported ipykernel, NumPy and PyTorch")
    p.add_argument("--full-demos", action="store_true",
                   help="run the notebooks' demonstrations (training curves, timing tables, "
                   "experiments) in full, as a student's own run does, instead of on the small "
                   "budget a graded run gets (cnncourse.budget; no grade reads them): slower, "
                   "the same grades")
    p.add_argument("--no-jail", action="store_true",
                   help="run student code unjailed, as the grader's user, with the grader's "
                   "files and network in its reach: only for code you trust (by default it gets "
                   "a private view of the files, a network of its own and, as root, a user of "
                   "its own per worker, else user namespaces; where those cannot be built, "
                   "grade stops and says why)")
    p.add_argument("--scheduler", metavar="ADDRESS",
                   help="grade on a Dask distributed cluster: the scheduler's address, e.g. "
                   "tls://grader1.example.edu:8786 (needs cnncourse[cluster]; each Dask worker "
                   "grades one notebook at a time and --jobs is not used; see the README's "
                   "cluster section)")
    p.add_argument("--tls-ca-file", metavar="PATH",
                   help="with --scheduler: the CA certificate of the cluster (PEM)")
    p.add_argument("--tls-cert", metavar="PATH",
                   help="with --scheduler: this client's certificate, signed by that CA (PEM)")
    p.add_argument("--tls-key", metavar="PATH", help="with --scheduler: its private key (PEM)")
    p.add_argument("--resume", action="store_true",
                   help="after an interrupted run: keep the graded rows of --out/grades.csv "
                   "whose submission is byte-identical to the file there now, grade the rest")
    p.add_argument("--student", action="append", metavar="NAME",
                   help="grade (or regrade) only this student, the folder name in --submitted; "
                   "repeat for several. The other rows of --out/grades.csv, their feedback "
                   "pages and their gradebook records stay as they are")
    p.add_argument("--no-progress", action="store_true", help="no progress bar")
    p.set_defaults(run=_cmd_grade)

    p = sub.add_parser("similarity", help="graders: pairs of students whose answers look copied",
                       description="Compare the answer cells of every submitted/<student>/"
                       "<assignment>/ notebook with every other's (copydetect; the release's own "
                       "code, stubs and docstrings, never counts) and write an HTML report of "
                       "the pairs above the threshold, their matching code side by side, and a "
                       "CSV of every pair. A high share is a reason to look, not a verdict.")
    p.add_argument("assignment", metavar="ASSIGNMENT", help="e.g. 01_convolution")
    p.add_argument("--submitted", default="submitted", help="folder of submissions")
    p.add_argument("--out", default="grades/similarity",
                   help="folder for <assignment>.html and <assignment>.csv "
                   "(default grades/similarity)")
    p.add_argument("--threshold", type=_number(float, 0), default=None,
                   help="flag a pair when more than this share (0 to 1) of either student's "
                   "answer code is in the other's (default 0.5)")
    p.add_argument("--noise", type=_number(int, 1), default=None,
                   help="the shortest match, in characters of tokenized code (names replaced "
                   "by one letter, no spaces or comments): copydetect's noise threshold "
                   "(default 50, about three lines)")
    p.add_argument("--guarantee", type=_number(int, 1), default=None,
                   help="matches this long are never missed: copydetect's guarantee threshold, "
                   "at least --noise (default: --noise)")
    p.set_defaults(run=_cmd_similarity)

    p = sub.add_parser("export", help="graders: the gradebook as an LMS's grade import CSV",
                       description="Write the CSV that Canvas's or Moodle's gradebook imports: "
                       "a row per student of the nbgrader gradebook, a column per assignment "
                       "with the total score (autograded plus manual), empty without a "
                       "submission.")
    p.add_argument("--format", required=True, choices=("canvas", "moodle"))
    p.add_argument("--out", metavar="FILE", default=None,
                   help="where to write it (default: grades/<format>-import.csv)")
    p.add_argument("--db-url", default=None,
                   help="the gradebook (default: the course's db_url, else sqlite:///gradebook.db)")
    p.set_defaults(run=_cmd_export)
    return parser


def main(argv: list[str] | None = None) -> int:
    parser = build_parser()
    args = parser.parse_args(argv)
    if not getattr(args, "run", None):
        parser.print_help()
        return 2
    try:
        return args.run(args)
    except CourseError as exc:
        print(f"cnncourse {args.command}: {exc}", file=sys.stderr)
        return 2
    except KeyboardInterrupt:
        print(f"cnncourse {args.command}: stopped.", file=sys.stderr)
        return 130


if __name__ == "__main__":
    sys.exit(main())
