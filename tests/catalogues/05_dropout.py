"""05_dropout: common mistakes (each must lose points), partial answers (right values, one rule
missed: between the mistakes and full marks) and other correct answers (full marks)."""

from harness import Variant

# A plain correct dropout, as a student writes it; most mistakes are one edit of it.
_DROPOUT = '''
def dropout(x, p, training=True, rng=None):
    if not 0 <= p <= 1:
        raise ValueError(f"p={p} must be in [0, 1]")
    x = np.asarray(x, dtype=float)
    if rng is None:
        rng = np.random.default_rng()
    if not training or p == 0:
        return x.copy(), np.ones_like(x)
    if p == 1:
        return np.zeros_like(x), np.zeros_like(x)
    mask = (rng.random(x.shape) >= p) / (1 - p)
    return x * mask, mask
'''

_DROPOUT2D = '''
def dropout2d(x, p, training=True, rng=None):
    if not 0 <= p <= 1:
        raise ValueError(f"p={p} must be in [0, 1]")
    x = np.asarray(x, dtype=float)
    if x.ndim != 4:
        raise ValueError(f"x must be (N, C, H, W), got {x.shape}")
    n, c, h, w = x.shape
    if rng is None:
        rng = np.random.default_rng()
    if not training or p == 0:
        return x.copy(), np.ones((n, c, 1, 1))
    if p == 1:
        return np.zeros_like(x), np.zeros((n, c, 1, 1))
    mask = (rng.random((n, c, 1, 1)) >= p) / (1 - p)
    return x * mask, mask
'''


def _edit(base: str, old: str, new: str) -> str:
    """`base` with `old` replaced by `new`; fails loudly when `old` is not there."""
    if old not in base:
        raise ValueError(f"catalogue edit does not apply: {old!r}")
    return base.replace(old, new)


_DRAW = "mask = (rng.random(x.shape) >= p) / (1 - p)"
_DRAW2D = "mask = (rng.random((n, c, 1, 1)) >= p) / (1 - p)"

MISTAKES = [
    # dropout
    Variant("no-rescaling", "dropout",
            _edit(_DROPOUT, _DRAW, "mask = (rng.random(x.shape) >= p).astype(float)"),
            "kept units not scaled by 1/(1-p): the mean shrinks by 1-p"),
    Variant("p-as-keep-probability", "dropout",
            _edit(_DROPOUT, _DRAW, "mask = (rng.random(x.shape) < p) / p"),
            "p read as the probability to keep a unit"),
    Variant("scale-by-p", "dropout",
            _edit(_DROPOUT, _DRAW, "mask = (rng.random(x.shape) >= p) / p"),
            "kept units divided by p instead of 1-p (the same only at p=0.5)"),
    Variant("eval-mode-still-drops", "dropout",
            _edit(_DROPOUT, "if not training or p == 0:", "if p == 0:"),
            "training=False ignored: dropout applied at evaluation"),
    Variant("scale-at-test-time", "dropout",
            _edit(_edit(_DROPOUT, _DRAW, "mask = (rng.random(x.shape) >= p).astype(float)"),
                  "return x.copy(), np.ones_like(x)",
                  "return x * (1 - p), np.full_like(x, 1 - p)"),
            "the original, non-inverted dropout: unscaled in training, times (1-p) at evaluation"),
    Variant("boolean-mask", "dropout",
            _edit(_DROPOUT, _DRAW + "\n    return x * mask, mask",
                  "keep = rng.random(x.shape) >= p\n    return x * keep / (1 - p), keep"),
            "returns the boolean keep mask: the backward pass would lose the scale"),
    Variant("p-one-division-by-zero", "dropout",
            _edit(_DROPOUT, "    if p == 1:\n        return np.zeros_like(x), np.zeros_like(x)\n", ""),
            "no special case for p=1: 0/0 gives nan (and a RuntimeWarning)"),
    Variant("p-one-before-training", "dropout",
            _edit(_edit(_DROPOUT, "    if p == 1:\n        return np.zeros_like(x), np.zeros_like(x)\n", ""),
                  "    if not training or p == 0:",
                  "    if p == 1:\n        return np.zeros_like(x), np.zeros_like(x)\n"
                  "    if not training or p == 0:"),
            "p=1 tested before training: evaluation mode with p=1 returns zeros"),
    # dropout_backward
    Variant("backward-mask-without-scale", "dropout_backward", '''
def dropout_backward(dout, mask):
    return dout * (mask != 0)
''', "gradient routed to the kept units but not scaled by 1/(1-p)"),
    Variant("backward-passes-through", "dropout_backward", '''
def dropout_backward(dout, mask):
    return np.array(dout, dtype=float)  # dropout has no weights
''', "gradient passed through unchanged, as if no unit had been dropped"),
    # dropout2d
    Variant("elementwise-not-channelwise", "dropout2d",
            _edit(_DROPOUT2D, _DRAW2D, "mask = (rng.random(x.shape) >= p) / (1 - p)"),
            "drops single pixels (mask (N, C, H, W)) instead of whole maps"),
    Variant("channels-shared-across-batch", "dropout2d",
            _edit(_DROPOUT2D, _DRAW2D, "mask = (rng.random((1, c, 1, 1)) >= p) / (1 - p)"),
            "one mask (1, C, 1, 1) for the whole batch: every image loses the same channels"),
    Variant("whole-images-dropped", "dropout2d",
            _edit(_DROPOUT2D, _DRAW2D, "mask = (rng.random((n, 1, 1, 1)) >= p) / (1 - p)"),
            "mask (N, 1, 1, 1): drops whole images instead of channels"),
    Variant("2d-no-rescaling", "dropout2d",
            _edit(_DROPOUT2D, _DRAW2D, "mask = (rng.random((n, c, 1, 1)) >= p).astype(float)"),
            "kept maps not scaled by 1/(1-p)"),
    Variant("2d-eval-mode-still-drops", "dropout2d",
            _edit(_DROPOUT2D, "if not training or p == 0:", "if p == 0:"),
            "training=False ignored"),
]

PARTIAL = [
    # dropout
    Variant("global-np-random", "dropout",
            _edit(_DROPOUT, _DRAW, "mask = (np.random.rand(*x.shape) >= p) / (1 - p)"),
            "draws from np.random's global state, ignoring the rng argument"),
    Variant("ignores-rng-argument", "dropout",
            _edit(_DROPOUT, "if rng is None:\n        rng = np.random.default_rng()",
                  "rng = np.random.default_rng()"),
            "a fresh generator on every call, whatever rng was passed: seeds do nothing"),
    Variant("seeded-inside", "dropout",
            _edit(_DROPOUT, "rng = np.random.default_rng()", "rng = np.random.default_rng(0)"),
            "rng=None seeds a fixed generator: every call drops the same units"),
    Variant("p-not-validated", "dropout",
            _edit(_DROPOUT, '    if not 0 <= p <= 1:\n        raise ValueError(f"p={p} must be in [0, 1]")\n', ""),
            "p outside [0, 1] accepted silently"),
    Variant("modifies-input", "dropout",
            _edit(_edit(_DROPOUT, "x = np.asarray(x, dtype=float)", "x = np.asarray(x)"),
                  "return x * mask, mask", "x *= mask\n    return x, mask"),
            "multiplies x in place: the caller's array is changed"),
    # dropout_backward
    Variant("backward-in-place", "dropout_backward", '''
def dropout_backward(dout, mask):
    dout *= mask
    return dout
''', "multiplies dout in place: the caller's upstream gradient is changed"),
    # dropout2d
    Variant("2d-global-np-random", "dropout2d",
            _edit(_DROPOUT2D, _DRAW2D, "mask = (np.random.rand(n, c, 1, 1) >= p) / (1 - p)"),
            "draws from np.random's global state, ignoring the rng argument"),
    Variant("2d-p-not-validated", "dropout2d",
            _edit(_DROPOUT2D, '    if not 0 <= p <= 1:\n        raise ValueError(f"p={p} must be in [0, 1]")\n', ""),
            "p outside [0, 1] accepted silently"),
    Variant("2d-assert-ndim", "dropout2d",
            _edit(_DROPOUT2D, 'if x.ndim != 4:\n        raise ValueError(f"x must be (N, C, H, W), got {x.shape}")',
                  'assert x.ndim == 4, "x must be (N, C, H, W)"'),
            "a bare assert for the shape: AssertionError instead of a ValueError"),
    Variant("2d-modifies-input", "dropout2d",
            _edit(_edit(_DROPOUT2D, "x = np.asarray(x, dtype=float)", "x = np.asarray(x)"),
                  "return x * mask, mask", "x *= mask\n    return x, mask"),
            "multiplies x in place: the caller's maps are changed (and integer input fails)"),
]

ALTERNATIVES = [
    # dropout
    Variant("binomial", "dropout",
            _edit(_DROPOUT, _DRAW, "mask = rng.binomial(1, 1 - p, size=x.shape) / (1 - p)"),
            "keep decisions from rng.binomial(1, 1-p)"),
    Variant("choice-of-two-values", "dropout",
            _edit(_DROPOUT, _DRAW,
                  "mask = rng.choice([0.0, 1 / (1 - p)], size=x.shape, p=[p, 1 - p])"),
            "the mask values drawn directly with rng.choice"),
    Variant("where-uniform", "dropout", '''
def dropout(x, p, training=True, rng=None):
    if p < 0 or p > 1:
        raise ValueError("dropout probability p must be between 0 and 1, got " + str(p))
    x = np.array(x, dtype=np.float64)  # a copy
    if not training:
        return x, np.ones(x.shape)
    rng = rng if rng is not None else np.random.default_rng()
    dropped = rng.uniform(size=x.shape) < p
    scale = 0.0 if p == 1 else 1.0 / (1.0 - p)
    mask = np.where(dropped, 0.0, scale)
    return x * mask, mask
''', "np.where on uniform numbers, p=0 and p=1 handled by the same formula"),
    Variant("torch-bernoulli-seeded-from-rng", "dropout", '''
def dropout(x, p, training=True, rng=None):
    if not (0.0 <= p <= 1.0):
        raise ValueError(f"dropout probability p={p} is not in [0, 1]")
    rng = np.random.default_rng() if rng is None else rng
    xt = torch.as_tensor(np.asarray(x), dtype=torch.float64)
    if not training or p == 0.0:
        mask = torch.ones_like(xt)
    else:
        g = torch.Generator().manual_seed(int(rng.integers(2**62)))
        mask = torch.bernoulli(torch.full_like(xt, 1.0 - p), generator=g)
        if p < 1.0:
            mask = mask / (1.0 - p)
    return (xt * mask).numpy(), mask.numpy()
''', "PyTorch draws the mask, from a torch generator seeded by rng"),
    Variant("keeps-float-dtype", "dropout", '''
def dropout(x, p, training=True, rng=None):
    if not 0 <= p <= 1:
        raise ValueError(f"p must be in [0, 1], got p={p}")
    x = np.asarray(x)
    if not np.issubdtype(x.dtype, np.floating):
        x = x.astype(np.float64)
    if rng is None:
        rng = np.random.default_rng()
    if training:
        keep = rng.random(x.shape) >= p
        scale = 0.0 if p == 1 else 1.0 / (1.0 - p)
    else:
        keep, scale = np.ones(x.shape, dtype=bool), 1.0
    mask = keep.astype(x.dtype) * x.dtype.type(scale)
    return x * mask, mask
''', "keeps the input's float dtype (float32 stays float32): a boolean keep, then scaled"),
    # dropout_backward
    Variant("backward-np-multiply", "dropout_backward", '''
def dropout_backward(dout, mask):
    return np.multiply(dout, mask, dtype=np.float64)
''', "np.multiply"),
    Variant("backward-where", "dropout_backward", '''
def dropout_backward(dout, mask):
    dout = np.asarray(dout, dtype=float)
    return np.where(mask == 0, 0.0, dout * mask)
''', "zero where dropped, scaled elsewhere"),
    Variant("backward-broadcast-to", "dropout_backward", '''
def dropout_backward(dout, mask):
    full = np.broadcast_to(mask, np.shape(dout))  # (N, C, 1, 1) -> (N, C, H, W)
    return full * dout
''', "the mask broadcast explicitly to the shape of dout"),
    # dropout2d
    Variant("2d-calls-dropout", "dropout2d", '''
def dropout2d(x, p, training=True, rng=None):
    x = np.asarray(x)
    if x.ndim != 4:
        raise ValueError(f"x must have 4 axes (N, C, H, W), got {x.ndim}")
    n, c = x.shape[:2]
    _, mask = dropout(np.ones((n, c, 1, 1)), p, training, rng)
    return x * mask, mask
''', "dropout on an (N, C, 1, 1) array of ones, broadcast over H and W"),
    Variant("2d-binomial", "dropout2d",
            _edit(_DROPOUT2D, _DRAW2D,
                  "mask = rng.binomial(1, 1 - p, size=(n, c, 1, 1)) / (1 - p)"),
            "rng.binomial with the mask's shape"),
    Variant("2d-index-new-axes", "dropout2d",
            _edit(_DROPOUT2D, _DRAW2D,
                  "mask = np.where(rng.random((n, c)) < p, 0.0, 1 / (1 - p))[:, :, None, None]"),
            "an (N, C) mask given two new axes"),
    Variant("2d-loops", "dropout2d", '''
def dropout2d(x, p, training=True, rng=None):
    if p < 0 or p > 1:
        raise ValueError(f"p={p}: must be in [0, 1]")
    if np.ndim(x) != 4:
        raise ValueError("x must be 4-D (N, C, H, W)")
    x = np.asarray(x) * 1.0
    n, c = x.shape[0], x.shape[1]
    rng = np.random.default_rng() if rng is None else rng
    mask = np.ones((n, c, 1, 1))
    if training:
        for i in range(n):
            for j in range(c):
                mask[i, j] = 0.0 if rng.random() < p else 1 / (1 - p)
    return x * mask, mask
''', "one decision per image and channel, in two loops"),
]
