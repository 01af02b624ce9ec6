"""Translation invariance, measured: shift images by a few pixels, see what a representation keeps.

A representation is any function from images `(N, C, H, W)` to arrays `(N, ...)`: the pixels
themselves, a pooled map, a convolution's feature maps. For each shift we compare the
representation of the shifted images with that of the originals, position by position:
invariance means that the numbers at the same places stay the same.

Pooling here is done by PyTorch (`torch.nn.functional`), which is the oracle of the course.
"""

from __future__ import annotations

from collections.abc import Callable, Mapping, Sequence

import matplotlib.pyplot as plt
import numpy as np
import torch
import torch.nn.functional as F

from cnncourse.budget import demo_budget

__all__ = ["DIRECTIONS", "Representation", "cosine_similarity", "fraction_unchanged",
           "invariance_curve", "invariance_curves", "plot_invariance", "pooled", "shift_images"]

Representation = Callable[[np.ndarray], np.ndarray]

# The four directions of a shift by s pixels: (rows down, columns right) per unit of s.
DIRECTIONS = ((0, 1), (1, 0), (0, -1), (-1, 0))


def shift_images(images, dy: int, dx: int) -> np.ndarray:
    """Move the content of `images: (N, C, H, W)` by `dy` rows down and `dx` columns right.

    Pixels that leave the picture are lost, pixels that come in are 0 (background), so a
    digit moves on a black page instead of wrapping around. Returns a new `(N, C, H, W)` array.
    """
    images = np.asarray(images)
    if images.ndim != 4:
        raise ValueError(f"images must be (N, C, H, W), got shape {images.shape}")
    h, w = images.shape[-2:]
    if abs(dy) >= h or abs(dx) >= w:
        raise ValueError(f"shift (dy={dy}, dx={dx}) moves everything out of a {h}x{w} image")
    out = np.zeros_like(images)
    src_r = slice(max(0, -dy), h - max(0, dy))
    dst_r = slice(max(0, dy), h - max(0, -dy))
    src_c = slice(max(0, -dx), w - max(0, dx))
    dst_c = slice(max(0, dx), w - max(0, -dx))
    out[..., dst_r, dst_c] = images[..., src_r, src_c]
    return out


def pooled(images, kind: str = "max", kernel_size: int = 2, stride: int | None = None,
           times: int = 1) -> np.ndarray:
    """`images: (N, C, H, W)` pooled `times` times by PyTorch (`kind` "max" or "avg")."""
    pool = {"max": F.max_pool2d, "avg": F.avg_pool2d}.get(kind)
    if pool is None:
        raise ValueError(f"kind={kind!r}: use 'max' or 'avg'")
    t = torch.as_tensor(np.asarray(images, dtype=np.float32))
    for _ in range(times):
        t = pool(t, kernel_size, stride)
    return t.numpy()


def cosine_similarity(a, b) -> np.ndarray:
    """Per item, the cosine of the angle between two representations `(N, ...)`: `(N,)`.

    1 means the same pattern at the same places (up to scale); 0 means nothing in common.
    """
    a = np.asarray(a, dtype=np.float64).reshape(len(a), -1)  # (N, D)
    b = np.asarray(b, dtype=np.float64).reshape(len(b), -1)  # (N, D)
    norms = np.linalg.norm(a, axis=1) * np.linalg.norm(b, axis=1)
    return np.where(norms > 0, (a * b).sum(axis=1) / np.where(norms > 0, norms, 1.0), 0.0)


def fraction_unchanged(a, b, tol: float = 0.05) -> np.ndarray:
    """Per item, the fraction of *active* units that stay the same: `(N,)`.

    A unit stays the same when its value moves by at most `tol` times the item's largest
    |value| in `a` (pixels in [0, 1]: by at most 0.05). A unit is active when it is nonzero in
    `a` or in `b`; background that stays 0 in both does not count, or every representation of
    a digit on a black page would look stable.
    """
    a = np.asarray(a, dtype=np.float64).reshape(len(a), -1)  # (N, D)
    b = np.asarray(b, dtype=np.float64).reshape(len(b), -1)  # (N, D)
    scale = np.abs(a).max(axis=1, keepdims=True)  # (N, 1)
    active = (a != 0) | (b != 0)
    same = (np.abs(a - b) <= tol * scale) & active
    counts = active.sum(axis=1)
    return np.where(counts > 0, same.sum(axis=1) / np.maximum(counts, 1), 1.0)


def invariance_curve(images, represent: Representation, shifts: Sequence[int] = (0, 1, 2, 3),
                     measure: Callable = fraction_unchanged) -> list[float]:
    """For each shift s, `measure` between `represent(images)` and `represent(shifted)`.

    Averaged over the images and over the four directions (right, down, left, up); over the
    first 20 images only while a grader runs the notebook (`cnncourse.budget.demo_budget`).
    """
    images = images[:demo_budget(len(images), graded=20)]
    base = represent(images)
    curve = []
    for s in shifts:
        scores = [measure(base, represent(shift_images(images, dy * s, dx * s))).mean()
                  for dy, dx in DIRECTIONS]
        curve.append(float(np.mean(scores)))
    return curve


def invariance_curves(images, representations: Mapping[str, Representation],
                      shifts: Sequence[int] = (0, 1, 2, 3),
                      measure: Callable = fraction_unchanged) -> dict[str, list[float]]:
    """`invariance_curve` for every named representation."""
    return {name: invariance_curve(images, rep, shifts, measure)
            for name, rep in representations.items()}


def plot_invariance(curves: Mapping[str, Sequence[float]], shifts: Sequence[int] = (0, 1, 2, 3),
                    ax=None, *, ylabel: str = "fraction of active units unchanged",
                    title: str = ""):
    """One line per representation: how much stays the same against the shift in pixels."""
    if ax is None:
        _, ax = plt.subplots(figsize=(5.5, 3.4))
    for name, values in curves.items():
        ax.plot(list(shifts), list(values), marker="o", label=name)
    ax.set_xticks(list(shifts))
    ax.set_xlabel("shift (pixels)")
    ax.set_ylabel(ylabel)
    ax.set_ylim(0, 1.05)
    if title:
        ax.set_title(title)
    ax.grid(alpha=0.3)
    ax.legend(frameon=False, fontsize=8)
    return ax
