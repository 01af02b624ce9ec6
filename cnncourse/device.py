"""Where to train: the GPU when there is one, else the CPU."""

from __future__ import annotations

import os

import torch

__all__ = ["pick_device"]


def pick_device(prefer: str | None = None) -> torch.device:
    """`torch.device("cuda")` when CUDA is available, else `torch.device("cpu")`.

    `prefer` (or the environment variable `CNNCOURSE_DEVICE`), e.g. "cpu", forces a device;
    asking for "cuda" on a machine without it raises ValueError.
    """
    prefer = prefer or os.environ.get("CNNCOURSE_DEVICE") or None
    if prefer is None:
        return torch.device("cuda" if torch.cuda.is_available() else "cpu")
    device = torch.device(prefer)
    if device.type == "cuda" and not torch.cuda.is_available():
        raise ValueError(f"prefer={prefer!r}, but CUDA is not available on this machine")
    return device
