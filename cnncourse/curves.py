"""Learning curves: how loss and accuracy move during training."""

from __future__ import annotations

from collections.abc import Mapping, Sequence

import matplotlib.pyplot as plt

__all__ = ["plot_curves"]


def plot_curves(history: Mapping[str, Sequence[float]], ax=None, *, title: str = "",
                xlabel: str = "epoch", ylabel: str = ""):
    """Plot each named series of `history` against its index (1, 2, ...); return the Axes.

    Example: ``plot_curves({"train accuracy": [...], "held-out accuracy": [...]})``.
    """
    if ax is None:
        _, ax = plt.subplots(figsize=(5, 3.2))
    for name, values in history.items():
        values = list(values)
        ax.plot(range(1, len(values) + 1), values, marker="o", markersize=3, label=name)
    ax.set_xlabel(xlabel)
    if ylabel:
        ax.set_ylabel(ylabel)
    if title:
        ax.set_title(title)
    ax.grid(alpha=0.3)
    ax.legend(frameon=False)
    return ax
