"""Pictures of images, kernels and feature maps. Every helper returns Axes; none calls show()."""

from __future__ import annotations

import matplotlib.pyplot as plt
import numpy as np
from matplotlib.patches import Rectangle

__all__ = ["show_feature_maps", "show_image", "show_images", "show_matrix", "show_sliding_window"]


def _grid(n: int, cols: int, size: float = 2.0):
    cols = max(1, min(cols, n))
    rows = int(np.ceil(n / cols))
    fig, axes = plt.subplots(rows, cols, figsize=(size * cols, size * rows), squeeze=False)
    for ax in axes.flat[n:]:
        ax.axis("off")
    return fig, axes.flat[:n]


def show_image(img, ax=None, *, title: str = "", cmap: str = "gray", colorbar: bool = False):
    """One 2-D array as a picture (grey by default); returns the Axes."""
    if ax is None:
        _, ax = plt.subplots(figsize=(3, 3))
    im = ax.imshow(np.asarray(img), cmap=cmap)
    ax.set_title(title, fontsize=9)
    ax.set_xticks([])
    ax.set_yticks([])
    if colorbar:
        ax.figure.colorbar(im, ax=ax, fraction=0.046, pad=0.04)
    return ax


def show_images(images, titles=None, *, cols: int = 6, cmap: str = "gray", size: float = 2.0):
    """Several 2-D arrays side by side; returns the array of Axes."""
    images = list(images)
    titles = list(titles) if titles is not None else [""] * len(images)
    _, axes = _grid(len(images), cols, size)
    for ax, img, title in zip(axes, images, titles, strict=True):
        show_image(img, ax, title=title, cmap=cmap)
    return axes


def show_feature_maps(maps, *, cols: int = 8, title: str = "", cmap: str = "viridis",
                      size: float = 1.6):
    """The channels of one activation `maps: (C, H, W)` as a grid; returns the array of Axes."""
    maps = np.asarray(maps)
    if maps.ndim != 3:
        raise ValueError(f"maps must be (C, H, W), got shape {maps.shape}")
    axes = show_images(maps, [f"{i}" for i in range(len(maps))], cols=cols, cmap=cmap, size=size)
    if title:
        axes[0].figure.suptitle(title)
    return axes


def show_matrix(values, ax=None, *, title: str = "", fmt: str = "{:g}", cmap: str = "Blues"):
    """A small 2-D array with every value written in its cell (kernels, worked examples)."""
    values = np.asarray(values)
    if ax is None:
        _, ax = plt.subplots(figsize=(0.5 * values.shape[1] + 0.6, 0.5 * values.shape[0] + 0.6))
    ax.imshow(values, cmap=cmap)
    span = float(np.abs(values).max()) or 1.0
    for (i, j), v in np.ndenumerate(values):
        ax.text(j, i, fmt.format(v), ha="center", va="center", fontsize=8,
                color="white" if abs(v) > 0.6 * span else "black")
    ax.set_title(title, fontsize=9)
    ax.set_xticks([])
    ax.set_yticks([])
    return ax


def show_sliding_window(x, kernel_size, position, ax=None, *, stride: int = 1, title: str = ""):
    """An input `x: (H, W)` with the kernel window at output `position=(i, j)` outlined.

    The window of output (i, j) covers rows i*stride ... i*stride+KH-1 (and likewise columns).
    """
    x = np.asarray(x)
    kh, kw = (kernel_size, kernel_size) if np.isscalar(kernel_size) else kernel_size
    ax = show_matrix(x, ax, title=title)
    i, j = position
    ax.add_patch(Rectangle((j * stride - 0.5, i * stride - 0.5), kw, kh, fill=False,
                           edgecolor="crimson", linewidth=2.5))
    return ax
