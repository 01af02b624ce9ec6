"""A locally connected layer: a convolution whose output positions share no weights.

A convolution slides one kernel over the image: every output position of a feature map uses the
same `(C, KH, KW)` weights and the same bias (weight sharing). A locally connected layer has
the same geometry (the same windows, the same output size) but gives every output position its
own weights and every output unit its own bias, so it keeps local receptive fields and drops
weight sharing. Notebook 06 trains LeNet with its convolutions replaced by these layers to
measure what sharing buys; notebook 03 counts their parameters (`unshared_params`).

Shapes: input `(N, C, H, W)`, output `(N, F, H_out, W_out)` with, per side,
`H_out = floor((H + 2 * padding - KH) / stride) + 1` (notebook 02); `L = H_out * W_out`
output positions. Parameters: weight `(L, F, C * KH * KW)`, bias `(F, H_out, W_out)`.
"""

from __future__ import annotations

import math

import torch
import torch.nn.functional as F
from torch import nn

__all__ = ["LocallyConnected2d"]


def _pair(value, name: str) -> tuple[int, int]:
    pair = (value, value) if isinstance(value, int) else tuple(value)
    if len(pair) != 2 or not all(isinstance(v, int) for v in pair):
        raise ValueError(f"{name}={value!r} must be an int or a pair of ints")
    return pair


class LocallyConnected2d(nn.Module):
    """Like `nn.Conv2d`, but every output position has its own weights (no weight sharing).

    Args:
        in_channels: C, channels of the input.
        out_channels: F, channels (feature maps) of the output.
        kernel_size: KH = KW = k, or a pair (KH, KW).
        input_size: H = W, or a pair (H, W): the layer's weights belong to positions, so it
            accepts one input size only.
        stride: one int for both sides, at least 1.
        padding: zeros added on each side, one int for both sides, at least 0.
        bias: whether every output unit (channel and position) gets its own bias.

    Shapes:
        x: (N, C, H, W) -> (N, F, H_out, W_out), H_out = (H + 2 * padding - KH) // stride + 1.
        weight: (H_out * W_out, F, C * KH * KW): row `l` holds the F kernels of position `l`
            (positions in row-major order), each flattened as `F.unfold` orders a window.
        bias: (F, H_out, W_out), or None.

    Both are initialised like `nn.Conv2d`'s: uniform in +-1/sqrt(C * KH * KW).

    Raises:
        ValueError: a size below 1, a negative padding, a kernel larger than the padded input,
            or (in forward) an input that is not (N, C, H, W) with this layer's C, H and W.
    """

    def __init__(self, in_channels: int, out_channels: int, kernel_size, input_size,
                 stride: int = 1, padding: int = 0, bias: bool = True):
        super().__init__()
        kh, kw = _pair(kernel_size, "kernel_size")
        h, w = _pair(input_size, "input_size")
        for name, value in (("in_channels", in_channels), ("out_channels", out_channels),
                            ("kernel_size", min(kh, kw)), ("input_size", min(h, w)),
                            ("stride", stride)):
            if value < 1:
                raise ValueError(f"{name}={value} must be at least 1")
        if padding < 0:
            raise ValueError(f"padding={padding} must be at least 0")
        if kh > h + 2 * padding or kw > w + 2 * padding:
            raise ValueError(f"kernel_size={(kh, kw)} is larger than the padded input "
                             f"{(h + 2 * padding, w + 2 * padding)}")
        self.in_channels, self.out_channels = in_channels, out_channels
        self.kernel_size, self.input_size = (kh, kw), (h, w)
        self.stride, self.padding = stride, padding
        self.output_size = ((h + 2 * padding - kh) // stride + 1,
                            (w + 2 * padding - kw) // stride + 1)
        positions = self.output_size[0] * self.output_size[1]
        fan_in = in_channels * kh * kw
        self.weight = nn.Parameter(torch.empty(positions, out_channels, fan_in))
        self.bias = nn.Parameter(torch.empty(out_channels, *self.output_size)) if bias else None
        self.reset_parameters()

    def reset_parameters(self) -> None:
        """Uniform in +-1/sqrt(fan_in), the distribution of `nn.Conv2d`'s default init."""
        bound = 1 / math.sqrt(self.weight.shape[-1])
        nn.init.uniform_(self.weight, -bound, bound)
        if self.bias is not None:
            nn.init.uniform_(self.bias, -bound, bound)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        """x: (N, C, H, W) -> (N, F, H_out, W_out)."""
        expected = (self.in_channels, *self.input_size)
        if x.dim() != 4 or tuple(x.shape[1:]) != expected:
            raise ValueError(f"input of shape {tuple(x.shape)}: this layer takes (N, "
                             f"{', '.join(map(str, expected))})")
        cols = F.unfold(x, self.kernel_size, padding=self.padding,
                        stride=self.stride)  # (N, C*KH*KW, L)
        out = torch.einsum("nkl,lfk->nfl", cols, self.weight)  # (N, F, L): position l's own weights
        out = out.reshape(len(x), self.out_channels, *self.output_size)  # (N, F, H_out, W_out)
        return out if self.bias is None else out + self.bias

    def extra_repr(self) -> str:
        return (f"{self.in_channels}, {self.out_channels}, kernel_size={self.kernel_size}, "
                f"input_size={self.input_size}, stride={self.stride}, padding={self.padding}, "
                f"bias={self.bias is not None}")
