"""Where to train, and on how many threads: the GPU when there is one, else the CPU; one CPU
thread unless the grader gives a kernel another share of the cores."""

from __future__ import annotations

import os

import torch

__all__ = ["pick_device", "use_threads"]


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


def use_threads(threads: int | None = None) -> int:
    """Set PyTorch's intra-op threads for this kernel, once, at the top of a notebook; returns
    how many.

    Default: the share of the cores the grader gave this kernel (``OMP_NUM_THREADS``, set by
    `cnncourse grade` to cores ÷ notebooks graded at once), else 1. The course's networks are
    small: one thread is as fast as several on a quiet laptop, and when another program keeps a
    core busy, threads that outnumber the free cores spin-wait at every operation (measured in
    issue 17: a LeNet epoch took 13.4 s on 2 threads beside one busy process, 0.72 s on 1).

    Raises:
        ValueError: `threads` < 1.
    """
    if threads is None:
        try:
            threads = int(os.environ.get("OMP_NUM_THREADS", "1"))
        except ValueError:
            threads = 1
        threads = max(1, threads)
    if threads < 1:
        raise ValueError(f"threads={threads} must be at least 1")
    torch.set_num_threads(threads)
    return threads
