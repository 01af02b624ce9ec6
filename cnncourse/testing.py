"""Assertions for the notebooks' test cells: each says what it checked and what came back.

Test cells compare a student's answer with PyTorch or with a property, never with stored
answers. Failures read like Karpathy's `cmp` line: the name, the largest difference, a verdict.
"""

from __future__ import annotations

import re
import sys
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from dataclasses import dataclass

import numpy as np

__all__ = ["Checks", "GroupResult", "check_close", "check_equal", "check_raises", "groups_in",
           "python_steps"]


def _as_array(name: str, value) -> np.ndarray:
    if hasattr(value, "detach"):  # a torch tensor
        value = value.detach().cpu().numpy()
    if not isinstance(value, np.ndarray | np.generic | int | float | list | tuple):
        raise AssertionError(f"{name}: expected a NumPy array, got {type(value).__name__}")
    array = np.array(value, copy=True)
    if array.dtype == object:
        raise AssertionError(f"{name}: expected an array of numbers, got dtype=object")
    return array


def check_close(name: str, got, expected, *, rtol: float = 1e-6, atol: float = 1e-8,
                say: bool = True) -> None:
    """Assert `got` equals `expected` (same shape, real, close); print a one-line verdict."""
    got, expected = _as_array(name, got), _as_array(name, expected)
    if got.shape != expected.shape:
        raise AssertionError(f"{name}: shape {got.shape}, expected {expected.shape}")
    if np.iscomplexobj(got) and not np.iscomplexobj(expected):
        raise AssertionError(f"{name}: complex result, expected real numbers (take .real?)")
    if not np.issubdtype(got.dtype, np.number) and got.dtype != bool:
        raise AssertionError(f"{name}: dtype {got.dtype}, expected numbers")
    diff = np.abs(got.astype(np.float64) - expected.astype(np.float64))
    worst = float(diff.max()) if diff.size else 0.0
    bad = ~(diff <= atol + rtol * np.abs(expected.astype(np.float64)))
    if bad.any():
        where = tuple(int(i) for i in np.argwhere(bad)[0])
        raise AssertionError(
            f"{name}: max |diff| {worst:.3g}; at index {where} got {got[where]!r}, "
            f"expected {expected[where]!r}")
    if say:
        print(f"ok  {name:<48} max |diff| {worst:.1e}")


def check_equal(name: str, got, expected, *, say: bool = True) -> None:
    """Assert exact equality of plain values (ints, tuples, lists of shapes)."""
    if type(got) is bool or type(expected) is bool:
        same = got is expected
    else:
        same = got == expected
    if not isinstance(same, bool) or not same:
        raise AssertionError(f"{name}: got {got!r}, expected {expected!r}")
    if say:
        print(f"ok  {name:<48} {got!r}")


def check_raises(name: str, exception: type[BaseException], fn: Callable, *args,
                 mentions: str | None = None, say: bool = True, **kwargs) -> None:
    """Assert that `fn(*args, **kwargs)` raises `exception`, whose message names `mentions`."""
    try:
        fn(*args, **kwargs)
    except exception as exc:
        if mentions and mentions not in str(exc):
            raise AssertionError(
                f"{name}: raised {exception.__name__}({str(exc)!r}); the message should "
                f"name {mentions!r}") from None
        if say:
            print(f"ok  {name:<48} raises {exception.__name__}")
        return
    raise AssertionError(f"{name}: expected {exception.__name__}, nothing was raised")


def python_steps(fn: Callable, *args, **kwargs) -> int:
    """How many lines of Python run while `fn(*args, **kwargs)` runs (loops count per pass).

    Vectorized code runs the same number of lines whatever the array sizes; a Python loop over
    batch items or output positions runs more lines for bigger inputs.
    """
    count = 0

    def tracer(frame, event, arg):
        nonlocal count
        if event == "line":
            count += 1
        return tracer

    import gc

    collecting = gc.isenabled()
    gc.disable()  # a collection inside fn runs other objects' __del__: their lines are not fn's
    old = sys.gettrace()
    sys.settrace(tracer)
    try:
        fn(*args, **kwargs)
    finally:
        sys.settrace(old)
        if collecting:
            gc.enable()
    return count


# ------------------------------------------------------------------------------ partial credit

GROUP_LINE = re.compile(r"^group (passed|FAILED) (\d+(?:\.\d+)?)/(\d+(?:\.\d+)?): (.+)$")


@dataclass(frozen=True)
class GroupResult:
    """How one group of checks in a test cell went: its description, never its code."""

    description: str
    passed: bool
    earned: float
    points: float

    def line(self) -> str:
        word = "passed" if self.passed else "FAILED"
        return f"group {word} {self.earned:g}/{self.points:g}: {self.description}"


class Checks:
    """Partial credit for one test cell: its points are shared out over groups of checks.

    nbgrader gives a test cell the number its last line evaluates to (partial credit) and
    0 when the cell raises. So a hidden test cell reads::

        checks = Checks(points=3)
        with checks.group("values on 12 random shapes, kernels and strides vs PyTorch", 2):
            ...  # plain asserts, check_close, ...
        with checks.group("ValueError naming the argument for stride=0 and padding < 0", 1):
            ...
        checks.score()  # the cell's last line: the points of the groups that passed

    A group whose code raises any `Exception` earns 0 of its points and the next group runs;
    each group prints one line (``group passed 2/2: values ...``), which `groups_in` reads
    back for the student's check, the feedback page and the grader's report. The groups'
    points must add up to `points`, the cell's points in nbgrader's metadata.
    """

    def __init__(self, points: float):
        self.points = float(points)
        self.results: list[GroupResult] = []

    @contextmanager
    def group(self, description: str, points: float) -> Iterator[None]:
        """Run the checks in the `with` block as one group worth `points`."""
        try:
            yield
        except Exception as error:  # noqa: BLE001 - a failed check costs this group only
            result = GroupResult(description, False, 0.0, float(points))
            why = str(error).strip().splitlines()[0] if str(error).strip() else ""
            print(result.line())
            print(f"    {type(error).__name__}: {why}"[:300].rstrip())
        else:
            result = GroupResult(description, True, float(points), float(points))
            print(result.line())
        self.results.append(result)

    def score(self) -> float:
        """The points earned: the cell's score when it is the cell's last line.

        Raises:
            ValueError: the groups' points do not add up to the cell's `points` (an error in
                the test cell, not in the answer).
        """
        total = sum(r.points for r in self.results)
        if abs(total - self.points) > 1e-9:
            raise ValueError(f"the groups of this test cell are worth {total:g} points, the "
                             f"cell {self.points:g}: fix the test cell")
        return float(sum(r.earned for r in self.results))


def groups_in(outputs) -> list[GroupResult]:
    """The groups a test cell reported in its `outputs` (an executed cell's output list)."""
    # stdout as one text: the kernel sends what a print wrote in as many stream outputs as
    # its flushes cut it into (more of them on a busy machine), so a line can span two
    found = []
    texts = [output.get("text", "") for output in outputs
             if output.get("output_type") == "stream" and output.get("name", "stdout") == "stdout"]
    stdout = "".join("".join(t) if isinstance(t, list) else t for t in texts)
    for line in stdout.splitlines():
        match = GROUP_LINE.match(line)
        if match:
            word, earned, points, description = match.groups()
            found.append(GroupResult(description, word == "passed", float(earned),
                                     float(points)))
    return found
