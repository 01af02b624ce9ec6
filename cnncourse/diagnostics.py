"""Looking inside a trained classifier: confusion matrix, its mistakes, filters, feature maps.

Plot helpers return Axes (or an array of Axes) and never call `plt.show()`.
"""

from __future__ import annotations

import matplotlib.pyplot as plt
import numpy as np
import torch
from torch import fx, nn

from cnncourse.plot import _grid, show_image

__all__ = ["confusion_matrix", "layer_outputs", "plot_confusion_matrix", "show_filters",
           "show_layer_outputs", "show_misclassified"]


def _numpy(values) -> np.ndarray:
    if hasattr(values, "detach"):
        values = values.detach().cpu().numpy()
    return np.asarray(values)


def confusion_matrix(y_true, y_pred, num_classes: int = 10) -> np.ndarray:
    """Counts `(num_classes, num_classes)` int64: entry [i, j] = how many of class i went to j.

    Rows are true classes, columns predicted ones; the diagonal holds the correct answers.
    """
    y_true, y_pred = _numpy(y_true).ravel(), _numpy(y_pred).ravel()
    if y_true.shape != y_pred.shape:
        raise ValueError(f"y_true has {y_true.size} labels but y_pred has {y_pred.size}")
    for name, y in (("y_true", y_true), ("y_pred", y_pred)):
        if y.size and (y.min() < 0 or y.max() >= num_classes):
            raise ValueError(f"{name} holds labels outside 0..{num_classes - 1} "
                             f"(num_classes={num_classes})")
    counts = np.zeros((num_classes, num_classes), dtype=np.int64)
    np.add.at(counts, (y_true.astype(np.int64), y_pred.astype(np.int64)), 1)
    return counts


def plot_confusion_matrix(counts, ax=None, *, class_names=None, title: str = "confusion matrix"):
    """The matrix of `confusion_matrix` with every count written in its cell; returns the Axes."""
    counts = _numpy(counts)
    k = len(counts)
    names = [str(i) for i in range(k)] if class_names is None else list(class_names)
    if ax is None:
        _, ax = plt.subplots(figsize=(0.42 * k + 1.4, 0.42 * k + 1.0))
    ax.imshow(counts, cmap="Blues")
    top = counts.max() or 1
    for (i, j), v in np.ndenumerate(counts):
        if v:
            ax.text(j, i, str(v), ha="center", va="center", fontsize=7,
                    color="white" if v > 0.6 * top else "black")
    ax.set_xticks(range(k), names)
    ax.set_yticks(range(k), names)
    ax.set_xlabel("predicted")
    ax.set_ylabel("true")
    ax.set_title(title, fontsize=10)
    return ax


def show_misclassified(images, y_true, y_pred, *, max_images: int = 24, cols: int = 8,
                       size: float = 1.3):
    """A gallery of the digits a model gets wrong, titled `true -> predicted`.

    `images`: `(N, 1, H, W)` or `(N, H, W)`; `y_true`, `y_pred`: `(N,)`. Returns the Axes.
    """
    images, y_true, y_pred = _numpy(images), _numpy(y_true), _numpy(y_pred)
    if images.ndim == 4:
        images = images[:, 0]  # (N, H, W)
    wrong = np.flatnonzero(y_true != y_pred)[:max_images]
    if wrong.size == 0:
        _, ax = plt.subplots(figsize=(3, 1))
        ax.text(0.5, 0.5, "no mistakes", ha="center", va="center")
        ax.axis("off")
        return np.array([ax])
    _, axes = _grid(len(wrong), cols, size)
    for ax, i in zip(axes, wrong, strict=True):
        show_image(images[i], ax, title=f"{y_true[i]} -> {y_pred[i]}")
    return axes


def show_filters(weight, *, cols: int = 8, size: float = 1.2, title: str = ""):
    """The kernels of a convolution weight `(F, C, KH, KW)` (channel 0 of each), one picture each.

    Colours are symmetric around 0 (red positive, blue negative), the same scale for all.
    """
    weight = _numpy(weight)
    if weight.ndim != 4:
        raise ValueError(f"weight must be (F, C, KH, KW), got shape {weight.shape}")
    kernels = weight[:, 0]  # (F, KH, KW)
    span = float(np.abs(kernels).max()) or 1.0
    _, axes = _grid(len(kernels), cols, size)
    for f, (ax, k) in enumerate(zip(axes, kernels, strict=True)):
        ax.imshow(k, cmap="RdBu_r", vmin=-span, vmax=span)
        ax.set_title(f"filter {f}", fontsize=8)
        ax.set_xticks([])
        ax.set_yticks([])
    if title:
        axes[0].figure.suptitle(title)
    return axes


class _Recorder(fx.Interpreter):
    def __init__(self, module):
        super().__init__(module)
        self.outputs: list[tuple[str, torch.Tensor]] = []

    def run_node(self, node):
        result = super().run_node(node)
        if node.op in ("call_module", "call_function", "call_method") and \
                isinstance(result, torch.Tensor):
            self.outputs.append((node.name, result.detach()))
        return result


def layer_outputs(model: nn.Module, x: torch.Tensor) -> list[tuple[str, torch.Tensor]]:
    """(name, output) of every step of `model(x)`, in order, under `torch.no_grad()`.

    Steps are modules and functional calls alike (`F.relu`, `F.max_pool2d`, `x.flatten`): the
    model is traced with `torch.fx`. A model that cannot be traced falls back to forward hooks
    on its leaf modules (then functional calls are not seen).
    """
    with torch.no_grad():
        try:
            recorder = _Recorder(fx.symbolic_trace(model))
            recorder.run(x)
            return recorder.outputs
        except Exception:  # an untraceable model: fall back to hooks on leaf modules
            outputs: list[tuple[str, torch.Tensor]] = []
            leaves = [(n, m) for n, m in model.named_modules() if n and not list(m.children())]
            hooks = [m.register_forward_hook(
                lambda _m, _i, out, name=n: outputs.append((name, out.detach())))
                for n, m in leaves]
            try:
                model(x)
            finally:
                for h in hooks:
                    h.remove()
            return outputs


def show_layer_outputs(outputs, *, max_channels: int = 8, size: float = 1.1):
    """One row per step of `layer_outputs(model, x)` for ONE image (batch of 1).

    Feature maps `(1, C, H, W)` show their first `max_channels` channels; vectors `(1, D)` show
    as a strip. Returns the 2-D array of Axes.
    """
    outputs = list(outputs)
    fig, axes = plt.subplots(len(outputs), max_channels,
                             figsize=(size * max_channels, 1.15 * size * len(outputs)),
                             squeeze=False)
    grid = axes[0, 0].get_gridspec()
    for i, (name, out) in enumerate(outputs):
        out = _numpy(out)[0]
        for ax in axes[i]:
            ax.axis("off")
        label = f"{name} {tuple(out.shape)}"
        if out.ndim == 3:  # (C, H, W)
            for c, ax in enumerate(axes[i, : len(out)]):
                ax.imshow(out[c], cmap="viridis")
            axes[i, 0].set_title(label, fontsize=8, loc="left")
        else:  # (D,): one strip across the row
            strip = fig.add_subplot(grid[i, :])
            strip.imshow(out.reshape(1, -1), cmap="viridis", aspect="auto")
            strip.set_xticks([])
            strip.set_yticks([])
            strip.set_title(label, fontsize=8, loc="left")
    fig.subplots_adjust(hspace=0.5, wspace=0.05)
    return axes
