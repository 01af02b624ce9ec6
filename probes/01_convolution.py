"""01_convolution, verified outside the student's kernel: every function against PyTorch."""

import numpy as np
import torch
import torch.nn.functional as F

from cnncourse.grading.verify import Probe, same_as


def _t(a):
    return torch.from_numpy(np.array(a, dtype=np.float64))  # a copy: no negative strides


def _conv2d(x, w, b=None, stride=1, padding=0):
    if x.shape[1] != w.shape[1]:
        raise ValueError("channels")
    return F.conv2d(_t(x), _t(w), None if b is None else _t(b), stride=stride,
                    padding=padding).numpy()


def _corr2d(x, k):
    return F.conv2d(_t(x)[None, None], _t(k)[None, None])[0, 0].numpy()


def _convolve2d(x, k):
    return _corr2d(x, np.flip(k))


def _full(x, k):
    kh, kw = np.shape(k)
    pad = (kh - 1, kw - 1)
    return F.conv2d(_t(x)[None, None], _t(np.flip(k))[None, None], padding=pad)[0, 0].numpy()


def _pad2d(x, padding):
    ph, pw = (padding, padding) if np.isscalar(padding) else padding
    return F.pad(_t(x), (pw, pw, ph, ph)).numpy()


_SX = np.array([[-1.0, 0, 1], [-2, 0, 2], [-1, 0, 1]])


def _sobel(img):
    return np.sqrt(_corr2d(img, _SX) ** 2 + _corr2d(img, _SX.T) ** 2)


def _pairs(rng, n):
    return [(rng.normal(size=int(rng.integers(1, 9))), rng.normal(size=int(rng.integers(1, 6))))
            for _ in range(n)]


def _images(rng, n):
    out = []
    for _ in range(n):
        h, w = (int(v) for v in rng.integers(4, 10, size=2))
        kh, kw = (int(v) for v in rng.integers(1, 4, size=2))
        out.append(((rng.normal(size=(h, w)), rng.normal(size=(kh, kw))), {}))
    return out


def _layers(rng, n):
    out = []
    for i in range(n):
        nb, c, f = (int(v) for v in rng.integers(1, 4, size=3))
        h, w = (int(v) for v in rng.integers(5, 10, size=2))
        kh, kw = (int(v) for v in rng.integers(1, 4, size=2))
        x, wt = rng.normal(size=(nb, c, h, w)), rng.normal(size=(f, c, kh, kw))
        kwargs = {"stride": int(rng.integers(1, 3)), "padding": int(rng.integers(0, 2))}
        b = rng.normal(size=f) if i % 2 else None
        out.append(((x, wt, b), kwargs))
    x, wt = rng.normal(size=(1, 2, 5, 5)), rng.normal(size=(1, 3, 3, 3))
    out.append(((x, wt), {}))  # channel mismatch: ValueError
    return out


PROBES = [
    Probe("conv1d", lambda rng: [((x, h), {}) for x, h in _pairs(rng, 6)],
          same_as(lambda x, h: np.convolve(x, h))),
    Probe("corr2d", lambda rng: _images(rng, 6), same_as(_corr2d)),
    Probe("convolve2d", lambda rng: _images(rng, 6), same_as(_convolve2d)),
    Probe("pad2d", lambda rng: [((rng.normal(size=(2, 3, 4, 5)), 1), {}),
                                ((rng.normal(size=(3, 4)), (2, 1)), {}),
                                ((rng.normal(size=(1, 2, 3)), 0), {})], same_as(_pad2d)),
    Probe("conv2d", lambda rng: _layers(rng, 6), same_as(_conv2d)),
    Probe("conv2d_fast", lambda rng: _layers(rng, 6), same_as(_conv2d)),
    Probe("sobel_edges", lambda rng: [((rng.normal(size=(7, 9)),), {}),
                                      ((rng.normal(size=(5, 5)) - 3,), {})], same_as(_sobel)),
    Probe("fft_conv2d", lambda rng: _images(rng, 5), same_as(_full, rtol=1e-6, atol=1e-7)),
]
