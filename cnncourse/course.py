"""The course directory: where it is, which assignments it has, and nbgrader bound to it."""

from __future__ import annotations

import os
import sys
from pathlib import Path

from cnncourse.notebooks import CourseError

CONFIG_NAME = "nbgrader_config.py"


def find_root(start: str | Path | None = None) -> Path:
    """The nearest folder at or above `start` (default: cwd) holding nbgrader_config.py."""
    here = Path(start or os.getcwd()).resolve()
    for folder in (here, *here.parents):
        if (folder / CONFIG_NAME).is_file() and (folder / "solutions").is_dir():
            return folder
    raise CourseError(
        f"no course found at or above {here}: run this from the course folder "
        f"(the one with {CONFIG_NAME} and solutions/)."
    )


def assignments(root: Path) -> list[str]:
    """Assignment names, in course order: every solutions/<name>/<name>.ipynb."""
    found = [
        p.name
        for p in sorted((root / "solutions").iterdir())
        if p.is_dir() and (p / f"{p.name}.ipynb").is_file()
    ]
    return found


def resolve_assignments(root: Path, names: list[str] | None) -> list[str]:
    """Check the names given on a command line against the course; none given means all."""
    known = assignments(root)
    if not names:
        if not known:
            raise CourseError(f"{root / 'solutions'} holds no assignment yet.")
        return known
    unknown = [n for n in names if n not in known]
    if unknown:
        raise CourseError(
            f"unknown assignment {', '.join(map(repr, unknown))}; this course has: "
            f"{', '.join(known)}."
        )
    return list(names)


def ensure_bin_on_path() -> None:
    """nbgrader runs `alembic` as a command: put this interpreter's bin/ first on PATH."""
    bindir = str(Path(sys.executable).parent)
    parts = os.environ.get("PATH", "").split(os.pathsep)
    if parts[0] != bindir:
        os.environ["PATH"] = os.pathsep.join([bindir, *parts])


def load_config(root: Path, **overrides):
    """The course's nbgrader_config.py as a traitlets Config, rooted at `root`.

    `overrides` are ("Section.name", value) pairs given as keywords with "__" for ".",
    e.g. ``Execute__timeout=10``.
    """
    from traitlets.config import Config
    from traitlets.config.loader import PyFileConfigLoader

    config = PyFileConfigLoader(CONFIG_NAME, path=str(root)).load_config()
    config.CourseDirectory.root = str(root)
    for key, value in overrides.items():
        section, name = key.split("__")
        config.merge(Config({section: {name: value}}))
    return config


def alembic_head() -> str:
    """The schema revision nbgrader stamps a new gradebook with, read in this process.

    nbgrader's own `get_alembic_version` starts the `alembic` command for it, which takes
    ~4.5 s here, once per new gradebook (the same migration scripts, the same answer).
    """
    from alembic.config import Config
    from alembic.script import ScriptDirectory
    from nbgrader.dbutil import _temp_alembic_ini

    with _temp_alembic_ini("sqlite:////tmp/gradebook.db") as ini:
        return ScriptDirectory.from_config(Config(ini)).get_current_head()


def _new_gradebooks_in_process() -> None:
    import nbgrader.api

    if getattr(nbgrader.api.get_alembic_version, "in_process", False):
        return
    head = alembic_head()

    def get_alembic_version() -> str:
        return head

    get_alembic_version.in_process = True
    nbgrader.api.get_alembic_version = get_alembic_version


def nbgrader_api(root: Path, **overrides):
    """An NbGraderAPI bound to the course at `root` (its calls return dicts; check "success")."""
    ensure_bin_on_path()
    _new_gradebooks_in_process()
    from nbgrader.apps import NbGraderAPI
    from nbgrader.coursedir import CourseDirectory

    config = load_config(root, **overrides)
    coursedir = CourseDirectory(config=config)
    return NbGraderAPI(coursedir=coursedir, config=config)


def run_api(call, *args, what: str, **kwargs) -> dict:
    """Call an NbGraderAPI method and turn a failure into a CourseError with nbgrader's log."""
    result = call(*args, **kwargs)
    if not result.get("success"):
        detail = (result.get("log") or "") + (result.get("error") or "")
        last = [line for line in detail.strip().splitlines() if line.strip()][-8:]
        raise CourseError(f"nbgrader could not {what}:\n" + "\n".join(last))
    return result


def generate(root: Path, assignments: list[str], where: Path, *, db_url: str | None = None,
             keep_solutions: bool = True) -> Path:
    """Generate `assignments` with nbgrader in a scratch course at `where` (created): the course
    config and those solutions/ folders copied, then ``generate_assignment`` into
    ``where/notebooks/`` and into the gradebook `db_url` (default: one in `where`). The one
    way the grader, the release and the tests build a scratch course. Returns `where`.

    Without `keep_solutions`, solutions/ is removed afterwards: student kernels may then run in
    copies of the scratch course, which holds no answer.

    Raises:
        CourseError: nbgrader could not generate an assignment (its log's last lines).
    """
    import shutil

    where.mkdir(parents=True, exist_ok=True)
    shutil.copy2(root / CONFIG_NAME, where / CONFIG_NAME)
    for a in assignments:
        target = where / "solutions" / a
        if target.exists():
            shutil.rmtree(target)
        shutil.copytree(root / "solutions" / a, target,
                        ignore=shutil.ignore_patterns(".ipynb_checkpoints", "__pycache__"))
    overrides = {"CourseDirectory__db_url": db_url} if db_url else {}
    api = nbgrader_api(where, **overrides)
    for a in assignments:
        run_api(api.generate_assignment, a, force=True, create=True, what=f"generate {a}")
    if not keep_solutions:
        shutil.rmtree(where / "solutions")
    return where
