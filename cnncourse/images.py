"""Real photographs that ship with the installed packages (no download)."""

from __future__ import annotations

import numpy as np

__all__ = ["grace_hopper"]


def grace_hopper(*, gray: bool = True, step: int = 1) -> np.ndarray:
    """The portrait of Grace Hopper that matplotlib ships, as floats in [0, 1].

    Returns `(H, W)` when `gray` (ITU-R BT.601 luma) else `(H, W, 3)`; `step` keeps every
    step-th row and column (step=4 gives a 150x128 picture that loops handle quickly).
    """
    import matplotlib.cbook as cbook
    import matplotlib.pyplot as plt

    if step < 1:
        raise ValueError(f"step must be at least 1, got {step}")
    rgb = plt.imread(cbook.get_sample_data("grace_hopper.jpg", asfileobj=False))
    rgb = rgb[::step, ::step].astype(np.float64) / 255.0  # (H, W, 3)
    if not gray:
        return rgb
    return rgb @ np.array([0.299, 0.587, 0.114])  # (H, W)
