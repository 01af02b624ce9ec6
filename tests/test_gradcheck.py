"""The numerical gradient check finds known gradients, leaves x as it was, and judges fairly."""

import numpy as np
import pytest
import torch
import torch.nn.functional as F
from hypothesis import given, settings
from hypothesis import strategies as st

from cnncourse.gradcheck import numerical_gradient, relative_error


@pytest.mark.parametrize(("f", "grad"), [
    (lambda x: np.sum(x ** 2), lambda x: 2 * x),
    (lambda x: np.sum(np.sin(x) * np.arange(x.size).reshape(x.shape)),
     lambda x: np.cos(x) * np.arange(x.size).reshape(x.shape)),
    (lambda x: np.exp(x).sum() / 3, lambda x: np.exp(x) / 3),
    (lambda x: float(x[0, 1] * x[1, 2]), lambda x: np.array([[0, x[1, 2], 0], [0, 0, x[0, 1]]])),
])
def test_numerical_gradient_matches_known_gradients(f, grad):
    x = np.random.default_rng(0).normal(size=(2, 3))
    num = numerical_gradient(f, x)
    assert num.shape == x.shape and num.dtype == np.float64
    assert relative_error(num, grad(x)) < 1e-7


def test_numerical_gradient_of_a_convolution_equals_autograd():
    rng = np.random.default_rng(1)
    x, w = rng.normal(size=(1, 2, 5, 4)), rng.normal(size=(3, 2, 3, 2))
    dout = rng.normal(size=(1, 3, 3, 3))  # (5 + 2 - 3) // 2 + 1 rows, (4 + 2 - 2) // 2 + 1 columns

    def loss(values):  # from_numpy shares memory: the perturbed entries are seen
        return (F.conv2d(torch.from_numpy(values), torch.from_numpy(w), stride=2, padding=1)
                * torch.from_numpy(dout)).sum()

    leaf = torch.from_numpy(x.copy()).requires_grad_()
    out = F.conv2d(leaf, torch.from_numpy(w), stride=2, padding=1)
    (out * torch.from_numpy(dout)).sum().backward()
    assert relative_error(numerical_gradient(loss, x), leaf.grad) < 1e-7


@settings(max_examples=25, deadline=None)
@given(st.lists(st.floats(-1e3, 1e3), min_size=1, max_size=6), st.sampled_from([1e-3, 1e-5, 0.1]))
def test_x_is_left_exactly_as_it_was(values, h):
    x = np.array(values)
    before = x.copy()
    numerical_gradient(lambda v: float(np.sum(v ** 3)), x, h=h)
    assert np.array_equal(x, before)


def test_x_is_restored_when_f_raises():
    x = np.array([1.0, 2.0, 3.0])
    calls = []

    def f(v):
        calls.append(v.copy())
        if len(calls) == 3:
            raise RuntimeError("boom")
        return float(v.sum())

    with pytest.raises(RuntimeError, match="boom"):
        numerical_gradient(f, x)
    assert np.array_equal(x, [1.0, 2.0, 3.0])
    assert calls[0][0] == 1.0 + 1e-5 and calls[1][0] == 1.0 - 1e-5  # one entry at a time


def test_a_zero_dimensional_array_works():
    x = np.array(2.0)
    assert numerical_gradient(lambda v: float(v) ** 2, x) == pytest.approx(4.0)


@pytest.mark.parametrize(("x", "h", "f", "says"), [
    (np.array([1, 2]), 1e-5, np.sum, "floating-point"),
    ([1.0, 2.0], 1e-5, np.sum, "floating-point"),
    (np.ones(2), 0.0, np.sum, "h must be positive"),
    (np.ones(2), 1e-5, lambda v: v * 2, "must return a scalar"),
])
def test_numerical_gradient_refuses_with_a_reason(x, h, f, says):
    with pytest.raises(ValueError, match=says):
        numerical_gradient(f, x, h=h)


def test_relative_error_edge_cases():
    assert relative_error(np.zeros(3), np.zeros(3)) == 0.0  # both zero: no division by zero
    assert relative_error([1.0, -2.0], [1.0, -2.0]) == 0.0
    assert relative_error([1.0], [-1.0]) == 1.0  # opposite signs: the largest possible
    assert relative_error([0.0], [1e-20]) == pytest.approx(1e-12)  # the 1e-8 floor
    assert relative_error([0.0], [1.0]) == 1.0
    assert relative_error(np.ones((0, 3)), np.ones((0, 3))) == 0.0
    assert relative_error([1.0, 100.0], [1.1, 100.0]) == pytest.approx(0.1 / 2.1)  # the largest
    assert relative_error(torch.tensor([2.0]), np.array([2.0])) == 0.0
    assert isinstance(relative_error(3.0, 3.0), float)
    with pytest.raises(ValueError, match="same shape"):
        relative_error(np.ones(3), np.ones((3, 1)))


@given(st.lists(st.floats(-1e6, 1e6), min_size=1, max_size=10))
def test_relative_error_is_symmetric_and_between_0_and_1(values):
    a = np.array(values)
    b = a[::-1].copy()
    err = relative_error(a, b)
    assert err == relative_error(b, a) and 0.0 <= err <= 1.0
