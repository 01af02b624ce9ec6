"""03_parameter_counting, verified outside the student's kernel: every count read off PyTorch
(`numel()` of real modules, multiply-accumulates from PyTorch's own FlopCounterMode)."""

import torch
import torch.nn as nn
import torch.nn.functional as F
from torch.utils.flop_counter import FlopCounterMode

from cnncourse.architectures import (
    ALEXNET,
    ALEXNET_INPUT,
    LENET5,
    LENET5_INPUT,
    SIMPLE_CNN,
    SIMPLE_CNN_INPUT,
)
from cnncourse.grading.verify import Probe, same_as


def _pair(v):
    return (int(v), int(v)) if isinstance(v, (int,)) or getattr(v, "ndim", 1) == 0 else tuple(v)


def _numel(module):
    return sum(p.numel() for p in module.parameters())


def _macs(run):
    with FlopCounterMode(display=False) as counter, torch.no_grad():
        run()
    return counter.get_total_flops() // 2  # a multiply-accumulate is two flops


def _conv2d_params(in_channels, out_channels, kernel_size, bias=True, groups=1):
    if in_channels % groups or out_channels % groups:
        raise ValueError("groups must divide the channels")
    return _numel(nn.Conv2d(in_channels, out_channels, _pair(kernel_size), bias=bias,
                            groups=groups, device="meta"))


def _linear_params(in_features, out_features, bias=True):
    return _numel(nn.Linear(in_features, out_features, bias=bias, device="meta"))


def _unshared_params(in_channels, out_channels, kernel_size, output_size, bias=True):
    # one conv filter bank per output position, no sharing: weights x positions
    weight = nn.Conv2d(in_channels, out_channels, _pair(kernel_size), bias=False,
                       device="meta").weight.numel()
    h, w = _pair(output_size)
    return weight * h * w + (out_channels * h * w if bias else 0)


def _conv2d_macs(in_channels, out_channels, kernel_size, output_size, groups=1):
    if in_channels % groups or out_channels % groups:
        raise ValueError("groups must divide the channels")
    (kh, kw), (h, w) = _pair(kernel_size), _pair(output_size)
    x = torch.zeros(1, in_channels, h + kh - 1, w + kw - 1)
    weight = torch.zeros(out_channels, in_channels // groups, kh, kw)
    return _macs(lambda: F.conv2d(x, weight, groups=groups))


def _linear_macs(in_features, out_features):
    return _macs(lambda: F.linear(torch.zeros(1, in_features), torch.zeros(out_features,
                                                                          in_features)))


def _table(layers, input_shape):
    """(params and MACs per layer, output shapes joined, their lengths), as PyTorch counts."""
    x = torch.zeros(1, *input_shape)
    numbers, shapes, lengths = [], [], []
    for layer in layers:
        kind, *args = layer
        if kind == "conv":
            if x.dim() != 4:
                raise ValueError("conv needs (C, H, W)")
            out, k, stride, padding = args
            module = nn.Conv2d(x.shape[1], out, k, stride, padding)
        elif kind == "pool":
            if x.dim() != 4:
                raise ValueError("pool needs (C, H, W)")
            module = nn.MaxPool2d(*args)
        elif kind == "linear":
            if x.dim() != 2:
                raise ValueError("linear needs a flat input")
            module = nn.Linear(x.shape[1], args[0])
        else:
            module = {"relu": nn.ReLU, "dropout": nn.Dropout, "flatten": nn.Flatten}[kind](*args)
        module.eval()
        try:
            macs = _macs(lambda m=module, v=x: m(v))
            with torch.no_grad():
                x = module(x)
        except RuntimeError as error:  # PyTorch refuses the configuration
            raise ValueError(str(error)) from error
        if x.numel() == 0:
            raise ValueError("empty output")
        numbers.append((_numel(module), macs))
        shapes.extend(x.shape[1:])
        lengths.append(x.dim() - 1)
    return numbers, shapes, lengths


TABLE_HELPER = '''
import numpy as _np

def _probe_layer_table(layers, input_shape):
    rows = layer_table(layers, input_shape)
    numbers = [(int(r["params"]), int(r["macs"])) for r in rows]
    shapes = [int(v) for r in rows for v in r["output_shape"]]
    lengths = [len(r["output_shape"]) for r in rows]
    return (_np.array(numbers, dtype=_np.int64).reshape(-1, 2), _np.array(shapes, dtype=_np.int64),
            _np.array(lengths, dtype=_np.int64))
'''


def _random_net(rng):
    c, size = int(rng.integers(1, 4)), int(rng.integers(8, 33))
    layers = []
    for _ in range(int(rng.integers(1, 4))):
        layers.append(("conv", int(rng.integers(1, 9)), int(rng.integers(1, 6)),
                       int(rng.integers(1, 3)), int(rng.integers(0, 3))))
        layers.append(("relu",))
        if rng.random() < 0.6:
            layers.append(("pool", int(rng.integers(2, 4)), int(rng.integers(1, 3))))
        if rng.random() < 0.3:
            layers.append(("dropout", float(rng.choice([0.25, 0.5]))))
    layers.append(("flatten",))
    for _ in range(int(rng.integers(1, 3))):
        layers.append(("linear", int(rng.integers(1, 21))))
    return layers, (c, size, size)


def _table_cases(rng):
    cases = [((LENET5, LENET5_INPUT), {}), ((SIMPLE_CNN, SIMPLE_CNN_INPUT), {}),
             ((ALEXNET, ALEXNET_INPUT), {})]
    while len(cases) < 12:
        layers, shape = _random_net(rng)
        try:
            _table(layers, shape)
        except ValueError:
            continue
        cases.append(((layers, shape), {}))
    cases.append(((LENET5[:-1] + [("conv", 4, 3, 1, 1)], LENET5_INPUT), {}))  # conv after flat
    cases.append((([("conv", 2, 9, 1, 0)], (1, 5, 5)), {}))  # kernel larger than the input
    return cases


def _table_judge(args, kwargs, got):
    try:
        numbers, shapes, lengths = _table(*args, **kwargs)
    except ValueError:
        return got == "ValueError"
    if isinstance(got, str) or len(got) != 3:
        return False
    return (got[0].tolist() == [list(n) for n in numbers] and got[1].tolist() == list(shapes)
            and got[2].tolist() == lengths)


def _counts(rng, with_output=False, with_groups=True, with_bias=True):
    cases = []
    for _ in range(20):
        groups = int(rng.choice([1, 1, 2, 4])) if with_groups else 1
        args = [int(rng.integers(1, 9)) * groups, int(rng.integers(1, 9)) * groups]
        k = int(rng.integers(1, 8)) if rng.random() < 0.6 else (int(rng.integers(1, 6)),
                                                                 int(rng.integers(1, 6)))
        args.append(k)
        if with_output:
            args.append(int(rng.integers(1, 20)) if rng.random() < 0.6 else
                        (int(rng.integers(1, 20)), int(rng.integers(1, 20))))
        kwargs = {}
        if with_bias and rng.random() < 0.5:
            kwargs["bias"] = bool(rng.random() < 0.5)
        if with_groups and groups > 1:
            kwargs["groups"] = groups
        cases.append((tuple(args), kwargs))
    if with_groups:
        cases.append(((6, 4, 3) + ((5,) if with_output else ()), {"groups": 4}))  # 6 % 4 != 0
    return cases


def _linear_cases(rng, with_bias=True):
    cases = []
    for _ in range(10):
        kwargs = {"bias": bool(rng.random() < 0.5)} if with_bias and rng.random() < 0.5 else {}
        cases.append(((int(rng.integers(1, 5000)), int(rng.integers(1, 500))), kwargs))
    return cases


def _compose_kernels(k1, k2):
    """The one kernel of F.conv2d(F.conv2d(x, k1), k2): its response to every one-pixel image."""
    if k1.ndim != 4 or k2.ndim != 4 or k2.shape[1] != k1.shape[0]:
        raise ValueError("k1 and k2 must be 4-D with k2.shape[1] == k1.shape[0]")
    (_, c, kh1, kw1), (f2, _, kh2, kw2) = k1.shape, k2.shape
    kh, kw = kh1 + kh2 - 1, kw1 + kw2 - 1
    impulses = torch.eye(c * kh * kw, dtype=torch.float64).reshape(-1, c, kh, kw)
    response = F.conv2d(F.conv2d(impulses, torch.from_numpy(k1)), torch.from_numpy(k2))
    return response[:, :, 0, 0].T.reshape(f2, c, kh, kw).numpy()


def _kernel_pairs(rng):
    cases = []
    for _ in range(10):
        f1, c, f2 = (int(v) for v in rng.integers(1, 5, size=3))
        cases.append(((rng.normal(size=(f1, c, *rng.integers(1, 5, size=2))),
                       rng.normal(size=(f2, f1, *rng.integers(1, 5, size=2)))), {}))
    cases.append(((rng.normal(size=(3, 2, 3, 3)), rng.normal(size=(2, 2, 3, 3))), {}))  # 3 != 2
    cases.append(((rng.normal(size=(2, 3, 3)), rng.normal(size=(1, 2, 3, 3))), {}))  # k1 3-D
    return cases


PROBES = [
    Probe("conv2d_params", _counts, same_as(_conv2d_params, same_kind=True)),
    Probe("linear_params", _linear_cases, same_as(_linear_params, same_kind=True)),
    Probe("unshared_params", lambda rng: _counts(rng, with_output=True, with_groups=False),
          same_as(_unshared_params, same_kind=True)),
    Probe("conv2d_macs", lambda rng: _counts(rng, with_output=True, with_bias=False),
          same_as(_conv2d_macs, same_kind=True)),
    Probe("linear_macs", lambda rng: _linear_cases(rng, with_bias=False),
          same_as(_linear_macs, same_kind=True)),
    Probe("layer_table", _table_cases, _table_judge, call="_probe_layer_table",
          helper=TABLE_HELPER),
    Probe("compose_kernels", _kernel_pairs, same_as(_compose_kernels)),
]
