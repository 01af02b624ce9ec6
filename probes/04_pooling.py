"""04_pooling, verified outside the student's kernel: every function against PyTorch."""

import numpy as np
import torch
import torch.nn.functional as F

from cnncourse.grading.verify import Probe, same_as


def _t(a, grad=False):
    return torch.tensor(np.array(a, dtype=np.float64), requires_grad=grad)


def _max(x, kernel_size, stride=None, padding=0):
    return F.max_pool2d(_t(x), kernel_size, stride, padding).numpy()  # float for int pixels


def _avg(x, kernel_size, stride=None, padding=0):
    return F.avg_pool2d(_t(x), kernel_size, stride, padding).numpy()


def _global(x):
    return F.adaptive_avg_pool2d(_t(x), 1)[:, :, 0, 0].numpy()


def _backward(dout, x, kernel_size, stride=None):
    leaf = _t(x, grad=True)
    (F.max_pool2d(leaf, kernel_size, stride) * _t(dout)).sum().backward()
    return leaf.grad.numpy()


def _windows(rng, n, padding=True):
    out = []
    for i in range(n):
        b, c = (int(v) for v in rng.integers(1, 3, size=2))
        h, w = (int(v) for v in rng.integers(5, 10, size=2))
        k = int(rng.integers(2, 4))
        stride = None if i % 3 == 0 else int(rng.integers(1, 3))
        pad = int(rng.integers(0, k // 2 + 1)) if padding else 0
        x = rng.normal(size=(b, c, h, w)) - (3.0 if i % 2 else 0.0)  # negatives expose zero pads
        out.append(((x, k), {"stride": stride, "padding": pad}))
    if padding:  # a non-square window, and integer pixels
        out.append(((rng.normal(size=(1, 2, 7, 9)), (2, 3)), {"stride": (1, 2), "padding": (1, 0)}))
        out.append(((rng.integers(-9, 9, size=(2, 1, 6, 6)), 2), {"stride": None, "padding": 0}))
    return out


def _backward_cases(rng):
    out = []
    for args, kwargs in _windows(rng, 5, padding=False):
        x, k = args
        y = _max(x, k, kwargs["stride"])
        out.append(((rng.normal(size=y.shape), x, k), {"stride": kwargs["stride"]}))
    x = rng.integers(-2, 2, size=(1, 2, 6, 6)).astype(float)  # ties: the first maximum wins
    out.append(((rng.normal(size=(1, 2, 4, 4)), x, 3), {"stride": 1}))
    return out


PROBES = [
    Probe("max_pool2d", lambda rng: _windows(rng, 8), same_as(_max)),
    Probe("avg_pool2d", lambda rng: _windows(rng, 8), same_as(_avg)),
    Probe("global_avg_pool2d", lambda rng: [((rng.normal(size=(2, 3, 5, 4)),), {}),
                                            ((rng.normal(size=(1, 1, 1, 7)),), {})],
          same_as(_global)),
    Probe("max_pool2d_backward", _backward_cases, same_as(_backward)),
]
