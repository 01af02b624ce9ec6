"""06_lenet, verified outside the student's kernel.

The models are built in the sandbox with a seed; their parameters come back with their output
on a random batch, and the same forward pass is computed here with PyTorch's functional ops on
those parameters (matched by shape, so the order they are declared in does not matter).
`evaluate` and `train_one_epoch` run on a small model and loader built in the sandbox from a
seed; the same model, loader and loop are replayed here.
"""

import numpy as np
import torch
import torch.nn.functional as F
from torch import nn

from cnncourse.grading.verify import Probe

HELPER = '''
import numpy as _np
import torch as _torch


def _probe_model(name, seed, x):
    _torch.manual_seed(int(seed))
    model = {"LeNet5": LeNet5, "SimpleCNN": SimpleCNN}[name]()
    model.eval()
    params = [p.detach().numpy().copy() for p in model.parameters()]
    with _torch.no_grad():
        out = model(_torch.as_tensor(x, dtype=_torch.float32))
    return (_np.asarray(out.detach().numpy(), dtype=_np.float64), *params)


def _probe_loader(x, y, batch):
    data = _torch.utils.data.TensorDataset(_torch.as_tensor(x, dtype=_torch.float32),
                                           _torch.as_tensor(y, dtype=_torch.int64))
    return _torch.utils.data.DataLoader(data, batch_size=int(batch))


def _probe_evaluate(seed, x, y, batch):
    _torch.manual_seed(int(seed))
    model = _torch.nn.Sequential(_torch.nn.Flatten(), _torch.nn.Dropout(0.5),
                                 _torch.nn.Linear(int(_np.prod(x.shape[1:])), 10))
    model.train()  # evaluate has to switch to eval mode itself
    return _np.array(float(evaluate(model, _probe_loader(x, y, batch))))


def _probe_train(seed, x, y, batch, lr):
    _torch.manual_seed(int(seed))
    model = _torch.nn.Sequential(_torch.nn.Flatten(),
                                 _torch.nn.Linear(int(_np.prod(x.shape[1:])), 10))
    optimizer = _torch.optim.SGD(model.parameters(), lr=float(lr))
    loss = train_one_epoch(model, _probe_loader(x, y, batch), optimizer)
    return (_np.array(float(loss)), *[p.detach().numpy().copy() for p in model.parameters()])
'''

LENET_SHAPES = [(6, 1, 5, 5), (6,), (16, 6, 5, 5), (16,), (120, 400), (120,), (84, 120), (84,),
                (10, 84), (10,)]
SIMPLE_SHAPES = [(32, 1, 3, 3), (32,), (64, 32, 3, 3), (64,), (128, 3136), (128,), (10, 128),
                 (10,)]


def _lenet(p, x):
    x = F.max_pool2d(F.relu(F.conv2d(x, p[0], p[1], padding=2)), 2)
    x = F.max_pool2d(F.relu(F.conv2d(x, p[2], p[3])), 2)
    x = torch.flatten(x, 1)
    x = F.relu(F.linear(x, p[4], p[5]))
    x = F.relu(F.linear(x, p[6], p[7]))
    return F.linear(x, p[8], p[9])


def _simple(p, x):
    x = F.max_pool2d(F.relu(F.conv2d(x, p[0], p[1], padding=1)), 2)
    x = F.max_pool2d(F.relu(F.conv2d(x, p[2], p[3], padding=1)), 2)
    x = torch.flatten(x, 1)
    x = F.relu(F.linear(x, p[4], p[5]))
    return F.log_softmax(F.linear(x, p[6], p[7]), dim=1)


def _model_judge(shapes, forward):
    def judge(args, kwargs, got):
        if isinstance(got, str) or len(got) != len(shapes) + 1:
            return False
        out, params = got[0], got[1:]
        by_shape = {tuple(p.shape): p for p in params}
        if sorted(by_shape) != sorted(shapes) or len(by_shape) != len(params):
            return False
        p = [torch.as_tensor(by_shape[s], dtype=torch.float32) for s in shapes]
        with torch.no_grad():
            want = forward(p, torch.as_tensor(args[2], dtype=torch.float32)).double().numpy()
        return out.shape == want.shape and np.allclose(out, want, rtol=1e-4, atol=1e-5)
    return judge


def _model_cases(name):
    return lambda rng: [((name, int(rng.integers(1000)), rng.normal(size=(n, 1, 28, 28))), {})
                        for n in (1, 5)]


def _loader(x, y, batch):
    data = torch.utils.data.TensorDataset(torch.as_tensor(x, dtype=torch.float32),
                                          torch.as_tensor(y, dtype=torch.int64))
    return torch.utils.data.DataLoader(data, batch_size=int(batch))


def _data_cases(rng, batches, extra=()):
    cases = []
    for batch in batches:
        x = rng.normal(size=(96, 1, 6, 6))
        y = rng.integers(0, 10, size=96)
        cases.append(((int(rng.integers(1000)), x, y, batch, *extra), {}))
    return cases


def _evaluate_judge(args, kwargs, got):
    seed, x, y, batch = args
    torch.manual_seed(seed)
    model = nn.Sequential(nn.Flatten(), nn.Dropout(0.5), nn.Linear(int(np.prod(x.shape[1:])), 10))
    model.eval()
    correct = 0
    with torch.no_grad():
        for xb, yb in _loader(x, y, batch):
            correct += int((model(xb).argmax(dim=1) == yb).sum())
    return not isinstance(got, str) and len(got) == 1 and got[0].shape == () and \
        np.isclose(float(got[0]), correct / len(y), atol=1e-9)


def _train_judge(args, kwargs, got):
    seed, x, y, batch, lr = args
    torch.manual_seed(seed)
    model = nn.Sequential(nn.Flatten(), nn.Linear(int(np.prod(x.shape[1:])), 10))
    optimizer = torch.optim.SGD(model.parameters(), lr=lr)
    model.train()
    losses = []
    for xb, yb in _loader(x, y, batch):
        optimizer.zero_grad()
        loss = F.cross_entropy(model(xb), yb)
        loss.backward()
        optimizer.step()
        losses.append(loss.item())
    want = [p.detach().numpy() for p in model.parameters()]
    if isinstance(got, str) or len(got) != 1 + len(want):
        return False
    return np.isclose(float(got[0]), np.mean(losses), rtol=1e-5) and all(
        g.shape == w.shape and np.allclose(g, w, rtol=1e-4, atol=1e-6)
        for g, w in zip(got[1:], want, strict=True))


PROBES = [
    Probe("LeNet5", _model_cases("LeNet5"), _model_judge(LENET_SHAPES, _lenet),
          call="_probe_model", helper=HELPER),
    Probe("SimpleCNN", _model_cases("SimpleCNN"), _model_judge(SIMPLE_SHAPES, _simple),
          call="_probe_model", helper=HELPER),
    Probe("evaluate", lambda rng: _data_cases(rng, (32, 40)), _evaluate_judge,
          call="_probe_evaluate", helper=HELPER),
    Probe("train_one_epoch", lambda rng: _data_cases(rng, (32, 16), extra=(0.5,)), _train_judge,
          call="_probe_train", helper=HELPER),
]
