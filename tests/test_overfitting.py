"""cnncourse.overfitting: the train-with-and-without-dropout experiment of notebook 05."""

from __future__ import annotations

import pytest
import torch
import torch.nn as nn

from cnncourse.overfitting import accuracy_and_loss, make_mlp, mnist_subset, train_curves

pytestmark = pytest.mark.nb05


def test_subset_is_balanced_flat_and_seeded():
    (x, y), (x_test, y_test) = mnist_subset(n_train=100, seed=3)
    assert x.shape == (100, 784) and x.dtype == torch.float32
    assert torch.bincount(y, minlength=10).tolist() == [10] * 10
    assert x_test.shape == (1000, 784) and y_test.shape == (1000,)
    again, _ = mnist_subset(n_train=100, seed=3)
    assert torch.equal(x, again[0]) and torch.equal(y, again[1])
    other, _ = mnist_subset(n_train=100, seed=4)
    assert not torch.equal(x, other[0])
    with pytest.raises(ValueError, match="n_train"):
        mnist_subset(n_train=5)


def test_mlp_places_dropout_and_shares_initial_weights():
    plain, dropped = make_mlp((32, 16), p=0.0), make_mlp((32, 16), p=0.5, p_input=0.2)
    assert sum(isinstance(m, nn.Dropout) for m in plain) == 0
    assert sum(isinstance(m, nn.Dropout) for m in dropped) == 3
    assert isinstance(dropped[0], nn.Dropout) and dropped[0].p == 0.2
    linear = [m for m in plain if isinstance(m, nn.Linear)]
    same = [m for m in dropped if isinstance(m, nn.Linear)]
    assert all(torch.equal(a.weight, b.weight) for a, b in zip(linear, same, strict=True))
    assert plain(torch.zeros(2, 784)).shape == (2, 10)


def test_train_curves_records_every_epoch_in_eval_mode():
    train, test = mnist_subset(n_train=50)
    model = make_mlp((16,), p=0.5)
    history = train_curves(model, train, test, epochs=2, batch_size=25)
    assert set(history) == {"train accuracy", "held-out accuracy", "train loss", "held-out loss"}
    assert all(len(v) == 2 for v in history.values())
    assert all(0 <= a <= 1 for a in history["train accuracy"] + history["held-out accuracy"])
    acc, _ = accuracy_and_loss(model, train)
    assert acc == accuracy_and_loss(model, train)[0]  # dropout off while measuring
    with pytest.raises(ValueError, match="epochs"):
        train_curves(model, train, test, epochs=0)
