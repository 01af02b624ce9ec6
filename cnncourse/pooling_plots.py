"""Pictures for the pooling notebook: which input cells each pooling window covers.

The helpers only draw; the pooled values come from the caller (the student's function or
PyTorch). Every helper returns Axes and never calls show().
"""

from __future__ import annotations

import matplotlib.pyplot as plt
import numpy as np
from matplotlib.patches import Rectangle

from cnncourse.plot import show_matrix

__all__ = ["show_pooling"]

_COLOURS = ("crimson", "darkorange", "seagreen", "royalblue", "purple", "teal", "olive", "brown")


def _pair(value) -> tuple[int, int]:
    return (int(value), int(value)) if np.isscalar(value) else (int(value[0]), int(value[1]))


def show_pooling(x, pooled, kernel_size, stride=None, axes=None, *, title: str = "",
                 fmt: str = "{:g}"):
    """An input `x: (H, W)` with every pooling window outlined, next to `pooled: (H_out, W_out)`.

    Output cell (i, j) reads the window of rows i*SH ... i*SH+KH-1 and columns
    j*SW ... j*SW+KW-1 (no padding); it is framed in the same colour as its window.
    Returns the two Axes (input, output).
    """
    x, pooled = np.asarray(x), np.asarray(pooled)
    if x.ndim != 2 or pooled.ndim != 2:
        raise ValueError(f"x and pooled must be 2-D, got shapes {x.shape} and {pooled.shape}")
    kh, kw = _pair(kernel_size)
    sh, sw = _pair(kernel_size if stride is None else stride)
    if axes is None:
        _, axes = plt.subplots(1, 2, figsize=(0.5 * (x.shape[1] + pooled.shape[1]) + 2.0,
                                              0.5 * x.shape[0] + 0.9),
                               gridspec_kw={"width_ratios": [x.shape[1], pooled.shape[1]]})
    ax_in, ax_out = axes
    show_matrix(x, ax_in, title="input", fmt=fmt)
    show_matrix(pooled, ax_out, title=title or "pooled", fmt=fmt, cmap="Greens")
    for k, (i, j) in enumerate(np.ndindex(*pooled.shape)):
        colour = _COLOURS[k % len(_COLOURS)]
        inset = 0.08 * (k % 3)  # overlapping windows stay visible
        ax_in.add_patch(Rectangle((j * sw - 0.5 + inset, i * sh - 0.5 + inset), kw - 2 * inset,
                                  kh - 2 * inset, fill=False, edgecolor=colour, linewidth=2.2))
        ax_out.add_patch(Rectangle((j - 0.45, i - 0.45), 0.9, 0.9, fill=False,
                                   edgecolor=colour, linewidth=2.2))
    return ax_in, ax_out
