"""Overfitting, measured: train a small network on few digits, watch train and held-out accuracy.

Notebook 05 trains the same multilayer perceptron with and without dropout on a small part
of the bundled MNIST training split and compares the curves: the gap between training and
held-out accuracy is the overfitting that dropout fights. Everything is seeded, so a run gives
the same curves every time on the same machine.

Shapes: images `(N, 1, 28, 28)` are flattened to `(N, 784)`; labels `(N,)` int64.
"""

from __future__ import annotations

from collections.abc import Callable

import numpy as np
import torch
import torch.nn as nn
import torch.nn.functional as F

from cnncourse.budget import demo_budget
from cnncourse.data import mnist_arrays, normalize_images

__all__ = ["Split", "accuracy_and_loss", "make_mlp", "mnist_subset", "train_curves"]

Split = tuple[torch.Tensor, torch.Tensor]  # images (N, 784) float32, labels (N,) int64


def mnist_subset(n_train: int = 1000, seed: int = 0) -> tuple[Split, Split]:
    """`n_train` bundled training digits (a seeded, class-balanced draw) and all 1,000 held-out.

    Returns `((x_train (n_train, 784), y_train (n_train,)), (x_test (1000, 784), y_test))`,
    images standardised with MNIST's mean and standard deviation.
    """
    x, y = mnist_arrays("train")
    if not 10 <= n_train <= len(y):
        raise ValueError(f"n_train={n_train} must be between 10 and {len(y)}")
    rng = np.random.default_rng(seed)
    per_class = n_train // 10
    chosen = np.concatenate([rng.permutation(np.flatnonzero(y == k))[:per_class]
                             for k in range(10)])
    chosen = rng.permutation(chosen)  # classes mixed
    x_test, y_test = mnist_arrays("test")

    def split(images: np.ndarray, labels: np.ndarray) -> Split:
        flat = normalize_images(images).reshape(len(images), -1)  # (N, 784)
        return torch.from_numpy(flat.astype(np.float32)), torch.from_numpy(labels)

    return split(x[chosen], y[chosen]), split(x_test, y_test)


def make_mlp(hidden: tuple[int, ...] = (512, 512), p: float = 0.0, p_input: float = 0.0,
             dropout: Callable[[float], nn.Module] = nn.Dropout, seed: int = 0) -> nn.Sequential:
    """784 -> hidden... -> 10 with ReLU, and `dropout(p)` after each hidden ReLU when `p > 0`.

    `p_input > 0` also drops input pixels, `dropout(p_input)` before the first layer (as in
    Srivastava et al. 2014, who drop 20% of the inputs and 50% of the hidden units).
    `dropout` builds the dropout layer (default `nn.Dropout`; any module factory taking `p`).
    The weights are initialised from `torch.manual_seed(seed)`, so two networks built with the
    same `seed` and `hidden` start from the same weights whatever `p` is.
    """
    torch.manual_seed(seed)
    layers: list[nn.Module] = [dropout(p_input)] if p_input > 0 else []
    width = 28 * 28
    for h in hidden:
        layers += [nn.Linear(width, h), nn.ReLU()]
        if p > 0:
            layers.append(dropout(p))
        width = h
    layers.append(nn.Linear(width, 10))
    return nn.Sequential(*layers)


@torch.no_grad()
def accuracy_and_loss(model: nn.Module, split: Split) -> tuple[float, float]:
    """Accuracy in [0, 1] and mean cross-entropy of `model` on `split`, in eval mode."""
    was_training = model.training
    model.eval()
    x, y = split
    logits = model(x)  # (N, 10)
    acc = float((logits.argmax(dim=1) == y).float().mean())
    loss = float(F.cross_entropy(logits, y))
    model.train(was_training)
    return acc, loss


def train_curves(model: nn.Module, train: Split, test: Split, epochs: int = 20,
                 lr: float = 1e-3, batch_size: int = 64, seed: int = 0) -> dict[str, list[float]]:
    """Train `model` with Adam and cross-entropy; measure both splits after every epoch.

    Returns a history for `cnncourse.curves.plot_curves`: lists of `epochs` values under
    "train accuracy", "held-out accuracy", "train loss", "held-out loss" (measured in eval
    mode, so dropout is off while measuring). Batches are shuffled by a generator seeded with
    `seed`, and the dropout masks come from torch's global generator, seeded with `seed` too.
    While a grader runs the notebook, 2 epochs (`cnncourse.budget.demo_budget`, which says so).
    """
    if epochs < 1 or batch_size < 1:
        raise ValueError(f"epochs={epochs}, batch_size={batch_size}: must be >= 1")
    epochs = demo_budget(epochs, graded=2, what="epochs")
    x, y = train
    order = torch.Generator().manual_seed(seed)
    torch.manual_seed(seed)
    optimizer = torch.optim.Adam(model.parameters(), lr=lr)
    history: dict[str, list[float]] = {k: [] for k in (
        "train accuracy", "held-out accuracy", "train loss", "held-out loss")}
    for _ in range(epochs):
        model.train()
        for batch in torch.randperm(len(y), generator=order).split(batch_size):
            optimizer.zero_grad()
            F.cross_entropy(model(x[batch]), y[batch]).backward()
            optimizer.step()
        for name, split in (("train", train), ("held-out", test)):
            acc, loss = accuracy_and_loss(model, split)
            history[f"{name} accuracy"].append(acc)
            history[f"{name} loss"].append(loss)
    return history
