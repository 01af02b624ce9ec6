"""Plot, timing, image and notebook helpers of the package."""

import matplotlib

matplotlib.use("Agg")

import matplotlib.pyplot as plt  # noqa: E402
import numpy as np  # noqa: E402
import pytest  # noqa: E402
from matplotlib.axes import Axes  # noqa: E402

from cnncourse.curves import plot_curves  # noqa: E402
from cnncourse.images import grace_hopper  # noqa: E402
from cnncourse.notebooks import CourseError, read_notebook, solution_code, split_blocks  # noqa: E402
from cnncourse.plot import (  # noqa: E402
    show_feature_maps,
    show_image,
    show_images,
    show_matrix,
    show_sliding_window,
)
from cnncourse.timing import best_time, timing_table  # noqa: E402


def teardown_function():
    plt.close("all")


def test_plot_helpers_return_axes():
    assert isinstance(show_image(np.eye(3)), Axes)
    assert all(isinstance(a, Axes) for a in show_images([np.eye(3)] * 3, ["a", "b", "c"], cols=2))
    assert len(show_feature_maps(np.zeros((5, 4, 4)))) == 5
    assert isinstance(show_matrix(np.arange(6).reshape(2, 3)), Axes)
    assert isinstance(plot_curves({"train": [1, 0.5], "held-out": [1, 0.7]}), Axes)


def test_sliding_window_outlines_the_window_of_an_output():
    ax = show_sliding_window(np.zeros((5, 6)), 3, (1, 2), stride=2)
    (rect,) = ax.patches
    assert rect.get_xy() == (2 * 2 - 0.5, 1 * 2 - 0.5)  # column j*stride, row i*stride
    assert (rect.get_width(), rect.get_height()) == (3, 3)


def test_feature_maps_need_three_axes():
    with pytest.raises(ValueError, match=r"\(C, H, W\)"):
        show_feature_maps(np.zeros((4, 4)))


def test_grace_hopper_is_a_real_photo_in_unit_range():
    img = grace_hopper(step=4)
    assert img.shape == (150, 128) and 0 <= img.min() < img.max() <= 1
    assert grace_hopper(gray=False, step=8).shape == (75, 64, 3)
    with pytest.raises(ValueError, match="step"):
        grace_hopper(step=0)


def test_timing_table_orders_and_compares():
    table = timing_table({"slow": lambda: sum(range(200000)), "fast": lambda: None}, repeat=2)
    rows = table.rows()
    assert [r[0] for r in rows] == ["fast", "slow"] and rows[-1][2] == pytest.approx(1.0)
    assert "speed-up" in str(table) and "| `fast` |" in table._repr_markdown_()
    assert best_time(lambda: None, repeat=1) >= 0


def test_split_blocks_and_solution_code():
    src = "def f():\n    ### BEGIN SOLUTION\n    return 1\n    ### END SOLUTION"
    inside, outside = split_blocks(src, "### BEGIN SOLUTION", "### END SOLUTION")
    assert inside == ["    return 1"] and outside == ["def f():"]
    assert solution_code(src) == "def f():\n    return 1"


def test_read_notebook_errors_are_sentences(tmp_path):
    with pytest.raises(CourseError, match="is a folder"):
        read_notebook(tmp_path)
    bad = tmp_path / "x.ipynb"
    bad.write_bytes(b"\xff\xfe\x00")
    with pytest.raises(CourseError, match="cannot be read as text"):
        read_notebook(bad)


def test_claim_box_shows_claim_term_measurement_and_verdict():
    """A "the source says / we measured" box: both languages' term, the measurement and the
    verdict, as text and as JupyterLab's markdown; an unknown verdict or empty text is refused."""
    import pytest

    from cnncourse.claims import claim_box

    box = claim_box("pooling gives translation invariance", "translation invariance", "平移不变性",
                    "a 1-pixel shift changed 31 % of the pooled values", "holds in part")
    text, md = str(box), box._repr_markdown_()
    for part in ("pooling gives translation invariance", "平移不变性", "31 %", "holds in part"):
        assert part in text and part in md, (part, text, md)
    assert md.startswith("> **The source says**")
    with pytest.raises(ValueError, match="verdict"):
        claim_box("c", "t", "术语", "m", "true")
    with pytest.raises(ValueError, match="measured"):
        claim_box("c", "t", "术语", " ", "holds")
