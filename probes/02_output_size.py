"""02_output_size, verified outside the student's kernel: every size read off PyTorch."""

import torch
import torch.nn as nn
import torch.nn.functional as F

from cnncourse.grading.verify import Probe, same_as


def _torch_size(run):
    """The last dimension PyTorch produces; a configuration it refuses is a ValueError."""
    try:
        with torch.no_grad():
            return int(run().shape[-1])
    except RuntimeError as error:
        raise ValueError(str(error)) from error


def _conv(size, kernel_size, stride=1, padding=0, dilation=1):
    if min(size, kernel_size, stride, dilation) < 1 or padding < 0:
        raise ValueError("invalid")
    return _torch_size(lambda: F.conv1d(torch.zeros(1, 1, size), torch.zeros(1, 1, kernel_size),
                                        stride=stride, padding=padding, dilation=dilation))


def _same(kernel_size, dilation=1):
    size = 9 + kernel_size * dilation
    for p in range(dilation * kernel_size + 1):
        if _conv(size, kernel_size, 1, p, dilation) == size:
            return p
    raise ValueError("no symmetric padding keeps the size")


def _pool(size, kernel_size, stride=None, padding=0, ceil_mode=False):
    return _torch_size(lambda: F.max_pool1d(torch.zeros(1, 1, size), kernel_size, stride, padding,
                                            ceil_mode=ceil_mode))


def _transpose(size, kernel_size, stride=1, padding=0, output_padding=0, dilation=1):
    return _torch_size(lambda: F.conv_transpose1d(
        torch.zeros(1, 1, size), torch.zeros(1, 1, kernel_size), stride=stride, padding=padding,
        output_padding=output_padding, dilation=dilation))


def _field(layers):
    size = 1
    for layer in reversed(layers):
        k, s, d = (tuple(layer) + (1,))[:3]
        size = (size - 1) * s + d * (k - 1) + 1
    probe = torch.zeros(1, 1, size + 8, dtype=torch.float64, requires_grad=True)
    y = probe
    for layer in layers:
        k, s, d = (tuple(layer) + (1,))[:3]
        y = F.conv1d(y, torch.ones(1, 1, k, dtype=torch.float64), stride=s, dilation=d)
    y[0, 0, 0].backward()
    seen = torch.nonzero(probe.grad[0, 0])
    return int(seen.max() - seen.min() + 1)


def _shapes(layers, input_shape):
    x, out = torch.zeros((1, *input_shape), device="meta"), []
    for layer in layers:
        kind = layer[0]
        try:
            if kind == "conv":
                _, f, k, s, p = layer
                x = nn.Conv2d(x.shape[1], f, k, s, p, device="meta")(x)
            elif kind == "pool":
                x = nn.MaxPool2d(layer[1], layer[2])(x)
            elif kind == "flatten":
                x = x.flatten(1)
            elif kind == "linear":
                if x.dim() != 2:
                    raise ValueError("linear before flatten")
                x = nn.Linear(x.shape[1], layer[1], device="meta")(x)
        except RuntimeError as error:
            raise ValueError(str(error)) from error
        if min(x.shape) < 1:
            raise ValueError("empty")
        out.append(tuple(int(v) for v in x.shape[1:]))
    return out


def _conv_cases(rng):
    return [((int(rng.integers(1, 30)), int(rng.integers(1, 8))),
             {"stride": int(rng.integers(1, 4)), "padding": int(rng.integers(0, 4)),
              "dilation": int(rng.integers(1, 3))}) for _ in range(40)]


def _pool_cases(rng):
    out = []
    for i in range(30):
        k = int(rng.integers(1, 5))
        out.append(((int(rng.integers(k, 30)), k),
                    {"stride": None if i % 3 == 0 else int(rng.integers(1, 4)),
                     "padding": int(rng.integers(0, k // 2 + 1)), "ceil_mode": bool(i % 2)}))
    out.append(((10, 3), {"stride": 0}))  # a stride of 0 is refused, not read as "default"
    return out


def _transpose_cases(rng):
    out = []
    for _ in range(30):
        s, d = int(rng.integers(1, 4)), int(rng.integers(1, 3))
        out.append(((int(rng.integers(1, 20)), int(rng.integers(1, 6))),
                    {"stride": s, "padding": int(rng.integers(0, 3)),
                     "output_padding": int(rng.integers(0, max(s, d))), "dilation": d}))
    return out


def _net_cases(rng):
    out = []
    for _ in range(12):
        layers, c = [], int(rng.integers(1, 4))
        for _ in range(int(rng.integers(1, 4))):
            k = int(rng.choice([1, 3, 5]))
            layers += [("conv", int(rng.integers(1, 9)), k, int(rng.integers(1, 3)), k // 2),
                       ("relu",), ("pool", 2, 2)]
        layers += [("flatten",), ("linear", 10)]
        out.append(((layers, (c, 32, 28)), {}))
    out.append((([("conv", 4, 5, 1, 0), ("conv", 4, 5, 1, 0), ("pool", 2, 2)], (1, 6, 6)), {}))
    return out


def _field_cases(rng):
    stacks = [[(3, 1)] * n for n in (1, 2, 3)] + [[(3, 2), (3, 2), (3, 1)], [(5, 1, 2), (3, 2)]]
    for _ in range(10):
        stacks.append([(int(rng.integers(1, 6)), int(rng.integers(1, 3)), int(rng.integers(1, 3)))
                       for _ in range(int(rng.integers(1, 5)))])
    return [((stack,), {}) for stack in stacks]


def _backward(dout, x, w, b, stride=1, padding=0):
    if w.shape[1] != x.shape[1]:
        raise ValueError("channels")
    leaves = [torch.tensor(a, dtype=torch.float64, requires_grad=True) for a in (x, w, b)]
    out = F.conv2d(*leaves, stride=stride, padding=padding)
    if tuple(out.shape) != dout.shape:
        raise ValueError("dout")
    (out * torch.from_numpy(dout)).sum().backward()
    return tuple(leaf.grad.numpy() for leaf in leaves)


def _backward_cases(rng):
    out = []
    for i in range(10):
        n, c, f = (int(v) for v in rng.integers(1, 4, size=3))
        kh, kw = (int(v) for v in rng.integers(1, 4, size=2))
        sh, sw = (int(v) for v in rng.integers(1, 3, size=2))
        ph, pw = (int(v) for v in rng.integers(0, 2, size=2))
        if i % 2 == 0:  # int stride and padding: the same along both axes
            sw, pw = sh, ph
        h, wd = kh + int(rng.integers(0, 6)), kw + int(rng.integers(0, 6))
        x, w = rng.normal(size=(n, c, h, wd)), rng.normal(size=(f, c, kh, kw))
        dout = rng.normal(size=(n, f, (h + 2 * ph - kh) // sh + 1, (wd + 2 * pw - kw) // sw + 1))
        pairs = {"stride": (sh, sw), "padding": (ph, pw)}
        kwargs = pairs if i % 2 else {"stride": sh, "padding": ph}
        out.append(((dout, x, w, rng.normal(size=f)), kwargs))
    x, w, b = rng.normal(size=(1, 2, 6, 6)), rng.normal(size=(3, 2, 3, 3)), rng.normal(size=3)
    out.append(((rng.normal(size=(1, 3, 4, 4)), x, w, b), {}))  # a dout of the wrong shape
    return out

PROBES = [
    Probe("conv_output_size", _conv_cases, same_as(_conv, same_kind=True)),
    Probe("same_padding", lambda rng: [((k,), {"dilation": d}) for k in (1, 2, 3, 4, 5, 7)
                                       for d in (1, 2, 3)], same_as(_same, same_kind=True)),
    Probe("pool_output_size", _pool_cases, same_as(_pool, same_kind=True)),
    Probe("conv_transpose_output_size", _transpose_cases, same_as(_transpose, same_kind=True)),
    Probe("receptive_field", _field_cases, same_as(_field, same_kind=True)),
    Probe("trace_shapes", _net_cases, same_as(_shapes, same_kind=True)),
    Probe("conv2d_backward", _backward_cases, same_as(_backward)),
]
