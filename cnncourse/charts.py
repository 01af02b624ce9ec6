"""Pictures of layer geometry and cost: sliding windows in 1-D, receptive fields, per-layer shares,
accuracy against parameter count.

Every helper draws what it is given (window counts, receptive fields, parameter counts): the
numbers themselves come from the notebooks. Every helper returns Axes; none calls show().
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence

import matplotlib.pyplot as plt
import numpy as np
from matplotlib.patches import Rectangle
from matplotlib.ticker import FuncFormatter

__all__ = ["plot_accuracy_vs_parameters", "plot_cost_comparison", "plot_layer_shares",
           "plot_receptive_field", "show_windows_1d"]

_INPUT, _PAD, _TAP, _BAD = "white", "#d9d9d9", "#4c72b0", "#c44e52"


def show_windows_1d(size: int, kernel_size: int, *, windows: int, stride: int = 1,
                    padding: int = 0, dilation: int = 1, ax=None, title: str = ""):
    """A 1-D input of `size` cells, `padding` zeros on each side, and the first `windows` windows.

    Top row: the padded input (padding cells grey, input cells numbered 0 ... size-1). Row r
    below it: window r, which starts at cell `r*stride - padding` and reads `kernel_size` cells
    `dilation` apart (its taps, in blue). A tap that falls off the padded input is drawn in red:
    that window does not fit, and PyTorch drops it.
    """
    if ax is None:
        _, ax = plt.subplots(figsize=(0.42 * (size + 2 * padding + 4) + 0.8,
                                      0.42 * (windows + 1) + 0.7))
    left, right = -padding, size + padding  # the padded input covers [left, right)
    last_tap = max([(windows - 1) * stride - padding + (kernel_size - 1) * dilation, right - 1])
    for i in range(left, right):
        pad = i < 0 or i >= size
        ax.add_patch(Rectangle((i, 0), 1, 1, facecolor=_PAD if pad else _INPUT, edgecolor="k"))
        ax.text(i + 0.5, 0.5, "0" if pad else str(i), ha="center", va="center", fontsize=8,
                color="dimgray" if pad else "black")
    for r in range(windows):
        y = -(r + 1) * 1.1
        start = r * stride - padding
        taps = [start + t * dilation for t in range(kernel_size)]
        fits = taps[-1] < right
        span = Rectangle((taps[0], y + 0.15), taps[-1] - taps[0] + 1, 0.7, facecolor="none",
                         edgecolor=_TAP if fits else _BAD, linestyle="-" if fits else "--")
        ax.add_patch(span)
        for t in taps:
            ok = t < right
            ax.add_patch(Rectangle((t + 0.1, y + 0.25), 0.8, 0.5,
                                   facecolor=_TAP if ok else _BAD, edgecolor="none",
                                   alpha=1.0 if fits else 0.55))
        ax.text(left - 0.4, y + 0.5, f"window {r}", ha="right", va="center", fontsize=8,
                color="black" if fits else _BAD)
    ax.set_xlim(left - 3.2, last_tap + 1.3)
    ax.set_ylim(-(windows + 0.2) * 1.1, 1.2)
    ax.set_aspect("equal")
    ax.axis("off")
    ax.set_title(title or (f"size={size}, kernel_size={kernel_size}, stride={stride}, "
                           f"padding={padding}, dilation={dilation}"), fontsize=9)
    return ax


def plot_receptive_field(curves: Mapping[str, Sequence[float]], ax=None, *,
                         title: str = "Receptive field of one output unit",
                         log: bool = False):
    """Receptive field side (input pixels) against the number of layers, one line per stack.

    `curves` maps a label to the receptive fields after 1, 2, ... layers.
    """
    if ax is None:
        _, ax = plt.subplots(figsize=(5.5, 3.5))
    for label, values in curves.items():
        values = list(values)
        ax.plot(range(1, len(values) + 1), values, marker="o", markersize=4, label=label)
    ax.set_xlabel("layers")
    ax.set_ylabel("receptive field (pixels per side)")
    if log:
        ax.set_yscale("log", base=2)
    ax.set_title(title, fontsize=10)
    ax.grid(alpha=0.3)
    ax.legend(frameon=False, fontsize=8)
    return ax


def plot_layer_shares(names: Sequence[str], values: Mapping[str, Sequence[float]], ax=None, *,
                      title: str = "", rotate: int = 60):
    """Grouped bars: each layer's share (%) of the network's total, one colour per series.

    `values` maps a series name ("parameters", "multiply-accumulates") to one number per layer
    of `names`; each series is divided by its own total.
    """
    names = list(names)
    if ax is None:
        _, ax = plt.subplots(figsize=(max(5.0, 0.45 * len(names) + 1.5), 3.6))
    width = 0.8 / max(1, len(values))
    x = np.arange(len(names))
    for k, (label, series) in enumerate(values.items()):
        series = np.asarray(series, dtype=float)
        if series.shape != (len(names),):
            raise ValueError(f"series {label!r} has {series.size} values for {len(names)} layers")
        total = series.sum()
        share = 100 * series / total if total else np.zeros_like(series)
        ax.bar(x + (k - (len(values) - 1) / 2) * width, share, width, label=label)
    ax.set_xticks(x, names, rotation=rotate, ha="right" if rotate else "center", fontsize=8)
    ax.set_ylabel("share of the network (%)")
    ax.set_title(title, fontsize=10)
    ax.grid(axis="y", alpha=0.3)
    ax.legend(frameon=False, fontsize=8)
    return ax


def plot_cost_comparison(labels: Sequence[str], values: Mapping[str, Sequence[float]], ax=None,
                         *, title: str = "", log: bool = True):
    """Grouped bars of absolute numbers (parameters, MACs) for a few layer variants."""
    labels = list(labels)
    if ax is None:
        _, ax = plt.subplots(figsize=(max(5.0, 1.1 * len(labels) + 1.5), 3.4))
    width = 0.8 / max(1, len(values))
    x = np.arange(len(labels))
    for k, (label, series) in enumerate(values.items()):
        series = np.asarray(series, dtype=float)
        bars = ax.bar(x + (k - (len(values) - 1) / 2) * width, series, width, label=label)
        ax.bar_label(bars, labels=[f"{v:,.0f}" for v in series], fontsize=7, rotation=90,
                     padding=2)
    ax.set_xticks(x, labels, fontsize=8)
    if log:
        ax.set_yscale("log")
        ax.set_ylim(top=ax.get_ylim()[1] * 30)
    ax.set_title(title, fontsize=10)
    ax.legend(frameon=False, fontsize=8)
    return ax


def plot_accuracy_vs_parameters(parameters: Mapping[str, int],
                                accuracy: Mapping[str, Mapping[str, float]], ax=None, *,
                                title: str = "Accuracy against parameter count"):
    """Accuracy (y) against parameter count (x, log scale): one marker per model and condition.

    `parameters` maps a model's name to its parameter count; `accuracy` maps a condition
    ("held-out", "shifted", ...) to {model name: accuracy in [0, 1]}. A model's marker shape
    is the same in every condition, a condition's colour the same for every model; models
    missing from a condition are left out of it. Each condition's markers are a little
    smaller than the previous one's, so equal accuracies stay visible one inside the other.

    Raises:
        ValueError: a model in `accuracy` without a parameter count, or a count below 1.
    """
    if ax is None:
        _, ax = plt.subplots(figsize=(6.0, 3.8))
    models = list(parameters)
    for condition in accuracy.values():
        unknown = set(condition) - set(models)
        if unknown:
            raise ValueError(f"no parameter count for {sorted(unknown)}")
    if any(count < 1 for count in parameters.values()):
        raise ValueError(f"parameter counts must be at least 1, got {dict(parameters)}")
    shapes = dict(zip(models, "osD^vP*X", strict=False))
    colours = plt.rcParams["axes.prop_cycle"].by_key()["color"]
    for k, (condition, values) in enumerate(accuracy.items()):
        colour = colours[k % len(colours)]
        size = max(20.0, 110.0 - 30.0 * k)
        for model, acc in values.items():
            ax.scatter(parameters[model], acc, marker=shapes.get(model, "o"), s=size,
                       color=colour, edgecolor="k", linewidth=0.5, zorder=3)
        ax.scatter([], [], marker="o", color=colour, label=condition)  # legend: the colour
    for model in models:
        ax.scatter([], [], marker=shapes.get(model, "o"), color="lightgrey", edgecolor="k",
                   label=f"{model} ({parameters[model]:,})")  # legend: the shape
    ax.set_xscale("log")
    ax.margins(x=0.12)
    ax.xaxis.set_major_formatter(FuncFormatter(lambda value, _: f"{value:,.0f}"))
    ax.xaxis.set_minor_formatter(FuncFormatter(  # 20,000, 30,000, 50,000, ...: no crowding
        lambda value, _: f"{value:,.0f}" if f"{value:.0e}"[0] in "235" else ""))
    ax.tick_params(axis="x", which="both", labelsize=7)
    ax.set_xlabel("parameters (log scale)")
    ax.set_ylabel("accuracy")
    ax.set_ylim(top=1.0)
    ax.grid(alpha=0.3, which="both")
    ax.set_title(title, fontsize=10)
    ax.legend(frameon=False, fontsize=8, loc="center left", bbox_to_anchor=(1.01, 0.5))
    return ax
