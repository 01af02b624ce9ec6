"""cnncourse.invariance and cnncourse.pooling_plots: the measuring tools of notebook 04."""

from __future__ import annotations

import matplotlib

matplotlib.use("Agg")

import matplotlib.pyplot as plt  # noqa: E402
import numpy as np  # noqa: E402
import pytest  # noqa: E402
import torch  # noqa: E402
import torch.nn.functional as F  # noqa: E402

from cnncourse.invariance import (  # noqa: E402
    cosine_similarity,
    fraction_unchanged,
    invariance_curve,
    invariance_curves,
    plot_invariance,
    pooled,
    shift_images,
)
from cnncourse.pooling_plots import show_pooling  # noqa: E402

pytestmark = pytest.mark.nb04


@pytest.fixture
def images():
    return np.random.default_rng(0).uniform(size=(3, 2, 8, 10)).astype(np.float32)


@pytest.mark.parametrize(("dy", "dx"), [(0, 1), (2, 0), (-1, 0), (0, -3), (1, -2)])
def test_shift_moves_content_and_fills_zeros(images, dy, dx):
    out = shift_images(images, dy, dx)
    assert out.shape == images.shape
    h, w = images.shape[-2:]
    for r in range(h):
        for c in range(w):
            r0, c0 = r - dy, c - dx
            want = images[..., r0, c0] if 0 <= r0 < h and 0 <= c0 < w else 0
            np.testing.assert_array_equal(out[..., r, c], want)


def test_shift_zero_is_a_copy(images):
    out = shift_images(images, 0, 0)
    np.testing.assert_array_equal(out, images)
    out[...] = 0
    assert images.any(), "shift_images must not return a view of its input"


def test_shift_rejects_bad_input(images):
    with pytest.raises(ValueError, match="images"):
        shift_images(images[0], 0, 1)
    with pytest.raises(ValueError, match="shift"):
        shift_images(images, 8, 0)


@pytest.mark.parametrize(("kind", "fn"), [("max", F.max_pool2d), ("avg", F.avg_pool2d)])
def test_pooled_is_pytorch(images, kind, fn):
    want = fn(fn(torch.from_numpy(images), 2), 2).numpy()
    np.testing.assert_allclose(pooled(images, kind, 2, times=2), want)
    with pytest.raises(ValueError, match="kind"):
        pooled(images, "median")


def test_measures_on_known_cases():
    a = np.array([[[1.0, 0.0, 2.0, 0.0]], [[0.0, 0.0, 0.0, 0.0]]])
    b = np.array([[[1.0, 3.0, 2.0, 0.0]], [[0.0, 0.0, 0.0, 0.0]]])
    # item 0: three active units (1, 3, 2 in either), two unchanged; item 1: nothing active
    np.testing.assert_allclose(fraction_unchanged(a, b), [2 / 3, 1.0])
    np.testing.assert_allclose(cosine_similarity(a, a)[0], 1.0)
    np.testing.assert_allclose(cosine_similarity(a, b)[0], 5 / (np.sqrt(5) * np.sqrt(14)))
    assert cosine_similarity(a, b)[1] == 0.0


def test_tolerance_is_relative_to_the_largest_value():
    a = np.array([[10.0, 5.0]])
    assert fraction_unchanged(a, a + 0.4)[0] == 1.0  # 0.4 <= 0.05 * 10
    assert fraction_unchanged(a, a + 0.6)[0] == 0.0


def test_curves_start_at_one_and_pooling_helps_on_strokes():
    rng = np.random.default_rng(1)
    imgs = np.zeros((20, 1, 16, 16), dtype=np.float32)
    for k in range(20):  # a random 2-pixel-wide vertical stroke
        c = rng.integers(3, 12)
        imgs[k, 0, 3:13, c:c + 2] = 1.0
    shifts = [0, 1, 2]
    curves = invariance_curves(imgs, {"pixels": lambda x: x,
                                      "max pool": lambda x: pooled(x, "max", 2)}, shifts)
    assert curves["pixels"][0] == 1.0 and curves["max pool"][0] == 1.0
    assert curves["max pool"][1] > curves["pixels"][1]
    assert invariance_curve(imgs, lambda x: x, shifts, cosine_similarity)[0] == pytest.approx(1.0)


def test_plots_return_axes():
    ax = plot_invariance({"a": [1.0, 0.5], "b": [1.0, 0.7]}, [0, 1])
    assert len(ax.get_lines()) == 2
    x = np.arange(16.0).reshape(4, 4)
    ax_in, ax_out = show_pooling(x, F.max_pool2d(torch.from_numpy(x)[None, None], 2)[0, 0].numpy(),
                                 kernel_size=2)
    assert len(ax_in.patches) == 4 and len(ax_out.patches) == 4
    ax_in, _ = show_pooling(x, np.zeros((2, 2)), kernel_size=3, stride=1)
    assert len(ax_in.patches) == 4
    with pytest.raises(ValueError, match="2-D"):
        show_pooling(x[None], np.zeros((2, 2)), 2)
    plt.close("all")
