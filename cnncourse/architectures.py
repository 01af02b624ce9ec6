"""Classic networks written down as layer specs: plain tuples, one per layer, no PyTorch.

The layer spec is the one of the course contract (notebooks 02 and 03), square kernels::

    ("conv", out_channels, kernel_size, stride, padding)
    ("pool", kernel_size, stride)          # max pooling, no padding
    ("relu",)
    ("dropout", p)
    ("flatten",)
    ("linear", out_features)               # in_features: whatever flatten produced

Shapes are `(C, H, W)` until `flatten`, then `(D,)`. Each network comes with the input shape
it was designed for. The specs are data only: working out shapes, parameters and compute from
them is the students' job (`trace_shapes`, `layer_table`).
"""

from __future__ import annotations

from collections import Counter

__all__ = ["ALEXNET", "ALEXNET_INPUT", "KINDS", "LENET5", "LENET5_INPUT", "Layer", "NETWORKS",
           "SIMPLE_CNN", "SIMPLE_CNN_INPUT", "VGG16", "VGG16_INPUT", "describe", "layer_names"]

Layer = tuple

# LeNet-5 as the course builds it (notebook 06): 28x28 grey digits, the first convolution padded
# by 2 so that the rest sees LeCun's 32x32 geometry. 61,706 parameters.
LENET5: list[Layer] = [
    ("conv", 6, 5, 1, 2), ("relu",), ("pool", 2, 2),
    ("conv", 16, 5, 1, 0), ("relu",), ("pool", 2, 2),
    ("flatten",),
    ("linear", 120), ("relu",),
    ("linear", 84), ("relu",),
    ("linear", 10),
]
LENET5_INPUT = (1, 28, 28)

# The small CNN of the source texts: 28 -> 28 -> 14 -> 14 -> 7, flattened to 7*7*64 = 3136.
# 421,642 parameters (its log_softmax output has none and is left out).
SIMPLE_CNN: list[Layer] = [
    ("conv", 32, 3, 1, 1), ("relu",), ("pool", 2, 2),
    ("conv", 64, 3, 1, 1), ("relu",), ("pool", 2, 2),
    ("flatten",),
    ("linear", 128), ("relu",),
    ("linear", 10),
]
SIMPLE_CNN_INPUT = (1, 28, 28)


def _vgg(config) -> list[Layer]:
    layers: list[Layer] = []
    for v in config:
        layers += [("pool", 2, 2)] if v == "M" else [("conv", v, 3, 1, 1), ("relu",)]
    return layers


# VGG-16 (Simonyan & Zisserman 2014, configuration D) on 224x224 RGB: thirteen 3x3 convolutions,
# five 2x2 pools, three fully connected layers. 138,357,544 parameters.
VGG16: list[Layer] = _vgg(
    [64, 64, "M", 128, 128, "M", 256, 256, 256, "M", 512, 512, 512, "M", 512, 512, 512, "M"]
) + [
    ("flatten",),
    ("linear", 4096), ("relu",), ("dropout", 0.5),
    ("linear", 4096), ("relu",), ("dropout", 0.5),
    ("linear", 1000),
]
VGG16_INPUT = (3, 224, 224)

# AlexNet in the one-tower form of torchvision (Krizhevsky et al. 2012; 64/192 channels in the
# first two layers). 61,100,840 parameters.
ALEXNET: list[Layer] = [
    ("conv", 64, 11, 4, 2), ("relu",), ("pool", 3, 2),
    ("conv", 192, 5, 1, 2), ("relu",), ("pool", 3, 2),
    ("conv", 384, 3, 1, 1), ("relu",),
    ("conv", 256, 3, 1, 1), ("relu",),
    ("conv", 256, 3, 1, 1), ("relu",), ("pool", 3, 2),
    ("flatten",),
    ("dropout", 0.5), ("linear", 4096), ("relu",),
    ("dropout", 0.5), ("linear", 4096), ("relu",),
    ("linear", 1000),
]
ALEXNET_INPUT = (3, 224, 224)

# name -> (layer spec, input shape (C, H, W))
NETWORKS: dict[str, tuple[list[Layer], tuple[int, int, int]]] = {
    "LeNet-5": (LENET5, LENET5_INPUT),
    "SimpleCNN": (SIMPLE_CNN, SIMPLE_CNN_INPUT),
    "AlexNet": (ALEXNET, ALEXNET_INPUT),
    "VGG-16": (VGG16, VGG16_INPUT),
}

KINDS = ("conv", "pool", "relu", "dropout", "flatten", "linear")


def layer_names(layers) -> list[str]:
    """Short labels for plots and tables: conv1, relu1, pool1, ..., flatten, fc1, fc2, ...

    Each kind is numbered on its own (`linear` layers are called `fc`).
    """
    seen: Counter = Counter()
    names = []
    for layer in layers:
        kind = layer[0]
        if kind not in KINDS:
            raise ValueError(f"unknown layer kind {kind!r} in {layer!r}; expected one of {KINDS}")
        label = "fc" if kind == "linear" else kind
        seen[label] += 1
        names.append(label if kind == "flatten" else f"{label}{seen[label]}")
    return names


def describe(layer: Layer) -> str:
    """One layer as PyTorch spells it: ("relu",) -> "ReLU()", ("pool", 2, 2) -> "MaxPool2d(...)"."""
    kind, *args = layer
    if kind == "conv":
        out_channels, kernel_size, stride, padding = args
        return (f"Conv2d(out_channels={out_channels}, kernel_size={kernel_size}, "
                f"stride={stride}, padding={padding})")
    if kind == "pool":
        kernel_size, stride = args
        return f"MaxPool2d(kernel_size={kernel_size}, stride={stride})"
    if kind == "linear":
        return f"Linear(out_features={args[0]})"
    if kind == "dropout":
        return f"Dropout(p={args[0]})"
    if kind in ("relu", "flatten"):
        return {"relu": "ReLU()", "flatten": "Flatten()"}[kind]
    raise ValueError(f"unknown layer kind {kind!r} in {layer!r}; expected one of {KINDS}")
