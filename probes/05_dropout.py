"""05_dropout, verified outside the student's kernel: properties a random answer must have.

Bounds are six binomial standard deviations wide on thousands of units, so a right answer
fails with a probability below 1e-8, and the seeds are fixed.
"""

import numpy as np

from cnncourse.grading.verify import Probe, same_as


def _is_inverted_dropout(x, p, training, got, mask_shape) -> bool:
    if isinstance(got, str) or len(got) != 2:
        return False
    out, mask = got
    if out.shape != x.shape or mask.shape != mask_shape:
        return False
    if not training or p == 0:
        return bool(np.allclose(out, x) and np.allclose(mask, 1))
    if p == 1:
        return bool(np.allclose(out, 0) and np.allclose(mask, 0))
    kept = 1 / (1 - p)
    values_ok = np.all(np.isclose(mask, 0) | np.isclose(mask, kept))
    dropped = float(np.mean(np.isclose(mask, 0)))
    sd = np.sqrt(p * (1 - p) / mask.size)
    return bool(values_ok and np.allclose(out, x * mask) and abs(dropped - p) < 6 * sd)


def _judge(mask_shape):
    def judge(args, kwargs, got):
        x, p = args
        if not 0 <= p <= 1:
            return got == "ValueError"
        return _is_inverted_dropout(x, p, kwargs.get("training", True), got, mask_shape(x))

    return judge


def _cases(rng, shape):
    out = []
    for i, p in enumerate([0.5, 0.2, 0.8, 0.0, 1.0, 0.5, 1.0, 1.5, -0.1]):
        kwargs = {"training": i not in (5, 6),  # eval mode: the identity, even for p = 1
                  "rng": np.random.default_rng(int(rng.integers(1 << 30)))}
        out.append(((rng.normal(size=shape), p), kwargs))
    return out


PROBES = [
    Probe("dropout", lambda rng: _cases(rng, (40, 60)), _judge(lambda x: x.shape)),
    Probe("dropout_backward", lambda rng: [
        ((rng.normal(size=(5, 6)), rng.choice([0.0, 2.0], size=(5, 6))), {}),
        ((rng.normal(size=(3, 4, 2, 2)), rng.choice([0.0, 1.25], size=(3, 4, 1, 1))), {})],
        same_as(lambda dout, mask: dout * mask)),
    Probe("dropout2d", lambda rng: _cases(rng, (40, 50, 2, 3)),
          _judge(lambda x: (x.shape[0], x.shape[1], 1, 1))),
]
