"""Assertions for the notebooks' test cells: each says what it checked and what came back.

Test cells compare a student's answer with PyTorch or with a property, never with stored
answers. Failures read like Karpathy's `cmp` line: the name, the largest difference, a verdict.
"""

from __future__ import annotations

import sys
from collections.abc import Callable

import numpy as np


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
