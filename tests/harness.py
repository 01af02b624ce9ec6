"""The fairness harness: what every assignment's catalogues look like and how they are graded.

A catalogue lives in tests/catalogues/<assignment>.py and defines two lists of `Variant`:
MISTAKES (each must lose at least one point) and ALTERNATIVES (each must get full marks).
A variant replaces the code of one answer cell of the reference solution.
"""

from __future__ import annotations

import importlib.util
import re
from dataclasses import dataclass
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
CATALOGUES = Path(__file__).resolve().parent / "catalogues"

# The least a catalogue may hold, by assignment (issue texts); others take DEFAULT_MINIMUM.
DEFAULT_MINIMUM = (10, 5)  # (mistakes, alternatives)
MINIMUM = {"06_lenet": (8, 3)}


@dataclass(frozen=True)
class Variant:
    """One answer cell rewritten: `cell` is its grade_id, `code` its whole new source."""

    name: str
    cell: str
    code: str
    note: str = ""

    def __post_init__(self):
        if not re.fullmatch(r"[a-z0-9][a-z0-9-]*", self.name):
            raise ValueError(f"variant name {self.name!r}: use lowercase letters, digits, dashes")


def assignments() -> list[str]:
    return sorted(
        p.name for p in (ROOT / "solutions").iterdir()
        if p.is_dir() and (p / f"{p.name}.ipynb").is_file()
    )


def load_catalogue(assignment: str):
    path = CATALOGUES / f"{assignment}.py"
    if not path.exists():
        return None
    spec = importlib.util.spec_from_file_location(f"catalogue_{assignment}", path)
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    return module


def variants(assignment: str, kind: str) -> list[Variant]:
    module = load_catalogue(assignment)
    return list(getattr(module, kind, [])) if module else []


def marker(assignment: str) -> str:
    """The pytest marker of an assignment: 01_convolution -> nb01."""
    return "nb" + assignment.split("_", 1)[0]
