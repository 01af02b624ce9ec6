"""cnncourse.locally_connected and the accuracy-against-parameters chart: notebook 06's
"Why convolutions? Measured" section."""

from __future__ import annotations

import matplotlib

matplotlib.use("Agg")

import matplotlib.pyplot as plt  # noqa: E402
import pytest  # noqa: E402
import torch  # noqa: E402
from torch import nn  # noqa: E402

from cnncourse.charts import plot_accuracy_vs_parameters  # noqa: E402
from cnncourse.locally_connected import LocallyConnected2d  # noqa: E402

pytestmark = pytest.mark.nb06

# (in_channels, out_channels, kernel_size, input_size, stride, padding, bias): non-square
# inputs and kernels, several channels, stride 2, padding, no bias
CASES = [
    (1, 6, 5, 28, 1, 2, True),
    (6, 16, 5, 14, 1, 0, True),
    (3, 4, (3, 2), (9, 7), 2, 1, True),
    (2, 5, 3, (6, 11), 1, 1, False),
    (4, 3, 1, 5, 2, 0, True),
]


def _shared_copy(conv: nn.Conv2d, lc: LocallyConnected2d) -> None:
    """Give every position of `lc` the kernels and biases of `conv`."""
    positions, out_channels, fan_in = lc.weight.shape
    with torch.no_grad():
        lc.weight.copy_(conv.weight.reshape(out_channels, fan_in).expand(positions, -1, -1))
        if conv.bias is not None:
            lc.bias.copy_(conv.bias[:, None, None].expand_as(lc.bias))


@pytest.mark.parametrize(("c", "f", "k", "size", "stride", "padding", "bias"), CASES)
def test_with_all_positions_equal_it_is_a_convolution(c, f, k, size, stride, padding, bias):
    torch.manual_seed(0)
    conv = nn.Conv2d(c, f, k, stride=stride, padding=padding, bias=bias)
    lc = LocallyConnected2d(c, f, k, size, stride=stride, padding=padding, bias=bias)
    _shared_copy(conv, lc)
    h, w = (size, size) if isinstance(size, int) else size
    x = (torch.randn(3, c, h, w) * 2 - 0.5).requires_grad_()
    expected = conv(x)
    got = lc(x)
    assert got.shape == expected.shape
    assert torch.allclose(got, expected, rtol=1e-5, atol=1e-5), (got - expected).abs().max()
    grad_lc, = torch.autograd.grad(got.square().sum(), x)
    grad_conv, = torch.autograd.grad(expected.square().sum(), x)
    assert torch.allclose(grad_lc, grad_conv, rtol=1e-4, atol=1e-4)


@pytest.mark.parametrize(("c", "f", "k", "size", "stride", "padding", "bias"), CASES)
def test_shapes(c, f, k, size, stride, padding, bias):
    lc = LocallyConnected2d(c, f, k, size, stride=stride, padding=padding, bias=bias)
    kh, kw = (k, k) if isinstance(k, int) else k
    h, w = (size, size) if isinstance(size, int) else size
    conv = nn.Conv2d(c, f, k, stride=stride, padding=padding)
    h_out, w_out = conv(torch.zeros(1, c, h, w)).shape[-2:]
    assert lc.output_size == (h_out, w_out)
    assert tuple(lc.weight.shape) == (h_out * w_out, f, c * kh * kw)
    assert (lc.bias is None) if not bias else tuple(lc.bias.shape) == (f, h_out, w_out)
    assert tuple(lc(torch.zeros(2, c, h, w)).shape) == (2, f, h_out, w_out)


def test_parameter_counts():
    """The source texts' example (ten 32x32 maps over 5x5x3 windows, 768,000 weights unshared)
    and LeNet5's two convolutions without sharing."""
    def count(layer):
        return sum(p.numel() for p in layer.parameters())

    assert count(LocallyConnected2d(3, 10, 5, 32, padding=2, bias=False)) == 768_000
    assert count(LocallyConnected2d(3, 10, 5, 32, padding=2)) == 768_000 + 10 * 32 * 32
    assert count(LocallyConnected2d(1, 6, 5, 28, padding=2)) == 122_304
    assert count(LocallyConnected2d(6, 16, 5, 14)) == 241_600


def test_every_position_has_its_own_weights():
    """Changing the weights of one position changes the output at that position only."""
    torch.manual_seed(1)
    lc = LocallyConnected2d(2, 3, 3, (5, 6), padding=1)
    x = torch.randn(4, 2, 5, 6)
    before = lc(x).detach()
    position = 7  # row 1, column 1 of the 5x6 output
    with torch.no_grad():
        lc.weight[position] += 1.0
    changed = (lc(x).detach() - before).abs().amax(dim=(0, 1)) > 0  # (5, 6)
    expected = torch.zeros(5, 6, dtype=torch.bool)
    expected[1, 1] = True
    assert torch.equal(changed, expected)


def test_errors_name_the_argument():
    lc = LocallyConnected2d(1, 2, 3, 8)
    with pytest.raises(ValueError, match="input of shape"):
        lc(torch.zeros(1, 1, 9, 8))  # the weights belong to 8x8 inputs
    with pytest.raises(ValueError, match="input of shape"):
        lc(torch.zeros(1, 2, 8, 8))
    with pytest.raises(ValueError, match="stride=0"):
        LocallyConnected2d(1, 2, 3, 8, stride=0)
    with pytest.raises(ValueError, match="padding=-1"):
        LocallyConnected2d(1, 2, 3, 8, padding=-1)
    with pytest.raises(ValueError, match="kernel_size"):
        LocallyConnected2d(1, 2, 5, 3)
    with pytest.raises(ValueError, match="out_channels=0"):
        LocallyConnected2d(1, 0, 3, 8)


def test_initialisation_has_the_conv2d_scale():
    lc = LocallyConnected2d(6, 16, 5, 14)
    bound = 1 / (6 * 5 * 5) ** 0.5
    assert lc.weight.abs().max() <= bound and lc.bias.abs().max() <= bound
    assert lc.weight.std() > bound / 3  # not all zeros


def test_plot_accuracy_vs_parameters_draws_one_marker_per_model_and_condition():
    params = {"MLP": 101_770, "LeNet5": 61_706, "unshared": 423_038}
    accuracy = {"held-out": {"MLP": 0.9, "LeNet5": 0.95, "unshared": 0.93},
                "shifted": {"MLP": 0.6, "unshared": 0.7}}
    ax = plot_accuracy_vs_parameters(params, accuracy)
    assert ax.get_xscale() == "log"
    drawn = [c for c in ax.collections if len(c.get_offsets())]
    assert len(drawn) == 5
    assert {tuple(c.get_offsets()[0]) for c in drawn} >= {(61_706, 0.95), (101_770, 0.6)}
    with pytest.raises(ValueError, match="no parameter count"):
        plot_accuracy_vs_parameters({"MLP": 10}, {"held-out": {"CNN": 0.5}})
    plt.close("all")
