"""The assertion helpers used by the notebooks' test cells fail when they should, and say why."""

import numpy as np
import pytest
from hypothesis import given
from hypothesis import strategies as st

from cnncourse.testing import check_close, check_equal, check_raises, python_steps


def test_check_close_accepts_equal_and_prints_a_verdict(capsys):
    check_close("same", np.array([1.0, 2.0]), [1.0, 2.0 + 1e-12])
    assert capsys.readouterr().out.startswith("ok  same")


@pytest.mark.parametrize(("got", "expected", "says"), [
    (np.zeros((2, 3)), np.zeros((3, 2)), "shape (2, 3), expected (3, 2)"),
    (np.array([1.0, 2.0]), np.array([1.0, 2.5]), "at index (1,) got"),
    (np.array([1 + 1j]), np.array([1.0]), "complex result"),
    ("abc", np.array([1.0]), "expected a NumPy array, got str"),
    (np.array([None]), np.array([1.0]), "dtype=object"),
])
def test_check_close_refuses_with_a_reason(got, expected, says):
    with pytest.raises(AssertionError, match=None) as info:
        check_close("x", got, expected, say=False)
    assert says in str(info.value)


@given(st.lists(st.floats(-1e6, 1e6), min_size=1, max_size=20))
def test_check_close_tolerates_rounding_but_not_error(values):
    a = np.array(values)
    check_close("rounded", a * (1 + 1e-9), a, say=False)
    with pytest.raises(AssertionError):
        check_close("off", a + 1e-3 + 1e-6 * np.abs(a), a, say=False)


def test_check_close_is_not_fooled_by_eq_tricks():
    class AlwaysEqual(np.ndarray):
        def __eq__(self, other):
            return True

    fake = np.zeros(3).view(AlwaysEqual)
    with pytest.raises(AssertionError):
        check_close("fake", fake, np.ones(3), say=False)


def test_check_equal():
    check_equal("shape", (2, 3), (2, 3), say=False)
    with pytest.raises(AssertionError, match="got 4, expected 5"):
        check_equal("n", 4, 5, say=False)
    with pytest.raises(AssertionError):
        check_equal("bool is not int", True, 1, say=False)


def test_check_raises():
    def bad(padding):
        raise ValueError(f"padding must not be negative, got {padding}")

    check_raises("named", ValueError, bad, -1, mentions="padding", say=False)
    with pytest.raises(AssertionError, match="should name 'stride'"):
        check_raises("wrong name", ValueError, bad, -1, mentions="stride", say=False)
    with pytest.raises(AssertionError, match="nothing was raised"):
        check_raises("silent", ValueError, lambda: None, say=False)
    with pytest.raises(NotImplementedError):  # other errors propagate: a stub does not pass
        stub = lambda: (_ for _ in ()).throw(NotImplementedError())  # noqa: E731
        check_raises("stub", ValueError, stub, say=False)


def test_python_steps_grow_with_loops_not_with_vectorized_code():
    def looped(x):
        total = 0.0
        for v in x:
            total += v
        return total

    def vectorized(x):
        return np.sum(x)

    assert python_steps(looped, np.ones(100)) > 5 * python_steps(looped, np.ones(10))
    assert python_steps(vectorized, np.ones(10000)) == python_steps(vectorized, np.ones(10))


def test_python_steps_counts_no_finalizer_that_a_collection_runs_meanwhile():
    """Garbage left by other code, collected while the measured call runs, ran its __del__
    lines inside the count (a suite run once measured np.sum at 18 and 27 lines)."""
    import gc

    class Cycle:
        def __del__(self):
            for _ in range(20):
                pass

    def vectorized(x):
        return np.sum(x)

    quiet = python_steps(vectorized, np.ones(10))
    threshold = gc.get_threshold()
    gc.set_threshold(1)  # collect at the next allocation
    try:
        for _ in range(50):
            a, b = Cycle(), Cycle()
            a.other, b.other = b, a
            del a, b
            assert python_steps(vectorized, np.ones(10)) == quiet
    finally:
        gc.set_threshold(*threshold)
        gc.collect()


def test_groups_in_reads_a_line_that_the_kernel_cut_into_two_stream_outputs():
    """A kernel sends stdout as it flushes: on a busy machine one printed line can come in two
    stream outputs (seen in CI). The groups are read from stdout as a whole; stderr between
    them is not part of it."""
    from nbformat.v4 import new_output

    from cnncourse.testing import groups_in

    whole = ["group passed 2/2: values vs PyTorch\n", "group FAILED 0/1: ValueError for stride=0\n",
             "    AssertionError: no error\n"]
    cut = [new_output("stream", name="stdout", text="group pass"),
           new_output("stream", name="stderr", text="UserWarning: slow\n"),
           new_output("stream", name="stdout",
                      text="ed 2/2: values vs PyTorch\ngroup FAILED 0/1: "),
           new_output("display_data", data={"text/plain": "<Figure>"}),
           new_output("stream", name="stdout", text=["ValueError for ", "stride=0\n", whole[2]])]
    one = [new_output("stream", name="stdout", text="".join(whole))]
    assert groups_in(cut) == groups_in(one)
    assert [(g.description, g.passed, g.earned, g.points) for g in groups_in(cut)] == [
        ("values vs PyTorch", True, 2.0, 2.0), ("ValueError for stride=0", False, 0.0, 1.0)]
