"""04_pooling: common mistakes (each must lose points), partial answers (right values, one rule
missed: between the mistakes and full marks) and other correct answers (full marks)."""

from harness import Variant

# The argument handling every pooling answer needs; variants differ in what follows it.
_ARGS = '''
    x = np.asarray(x)
    if x.ndim != 4:
        raise ValueError(f"x must be (N, C, H, W), got shape {x.shape}")
    if not np.issubdtype(x.dtype, np.floating):
        x = x.astype(float)
    stride = kernel_size if stride is None else stride
    kh, kw = (kernel_size, kernel_size) if np.isscalar(kernel_size) else kernel_size
    sh, sw = (stride, stride) if np.isscalar(stride) else stride
    ph, pw = (padding, padding) if np.isscalar(padding) else padding
    if kh < 1 or kw < 1:
        raise ValueError(f"kernel_size={kernel_size} must be at least 1")
    if sh < 1 or sw < 1:
        raise ValueError(f"stride={stride} must be at least 1")
    if ph < 0 or pw < 0 or ph > kh / 2 or pw > kw / 2:
        raise ValueError(f"padding={padding} must be in [0, kernel_size/2]")
    n, c, h, w = x.shape
    if kh > h + 2 * ph or kw > w + 2 * pw:
        raise ValueError(f"kernel_size={kernel_size} does not fit in the padded input")
'''

_MAX_VECTOR = '''
def max_pool2d(x, kernel_size, stride=None, padding=0):''' + _ARGS + '''
    xp = np.pad(x, ((0, 0), (0, 0), (ph, ph), (pw, pw)), constant_values=-np.inf)
    windows = np.lib.stride_tricks.sliding_window_view(xp, (kh, kw), axis=(2, 3))
    return windows[:, :, ::sh, ::sw].max(axis=(4, 5))
'''

_AVG_VECTOR = '''
def avg_pool2d(x, kernel_size, stride=None, padding=0):''' + _ARGS + '''
    xp = np.pad(x, ((0, 0), (0, 0), (ph, ph), (pw, pw)))
    windows = np.lib.stride_tricks.sliding_window_view(xp, (kh, kw), axis=(2, 3))
    return windows[:, :, ::sh, ::sw].mean(axis=(4, 5))
'''

_BACKWARD_LOOPS = '''
def max_pool2d_backward(dout, x, kernel_size, stride=None):
    x = np.asarray(x, dtype=float)
    dout = np.asarray(dout, dtype=float)
    stride = kernel_size if stride is None else stride
    kh, kw = (kernel_size, kernel_size) if np.isscalar(kernel_size) else kernel_size
    sh, sw = (stride, stride) if np.isscalar(stride) else stride
    n, c, h, w = x.shape
    h_out, w_out = (h - kh) // sh + 1, (w - kw) // sw + 1
    if dout.shape != (n, c, h_out, w_out):
        raise ValueError(f"dout has shape {dout.shape}, expected {(n, c, h_out, w_out)}")
    dx = np.zeros_like(x)
    for b in range(n):
        for ch in range(c):
            for i in range(h_out):
                for j in range(w_out):
                    window = x[b, ch, i * sh:i * sh + kh, j * sw:j * sw + kw]
                    r, s = np.unravel_index(np.argmax(window), window.shape)
                    dx[b, ch, i * sh + r, j * sw + s] += dout[b, ch, i, j]
    return dx
'''


def _edit(base: str, old: str, new: str) -> str:
    """`base` with `old` replaced by `new`; fails loudly when `old` is not there."""
    if old not in base:
        raise ValueError(f"catalogue edit does not apply: {old!r}")
    return base.replace(old, new)


MISTAKES = [
    # max_pool2d
    Variant("max-zero-padding", "max_pool2d",
            _edit(_MAX_VECTOR, ", constant_values=-np.inf)", ")"),
            "pads with zeros: on negative inputs the padding wins the max"),
    Variant("max-default-stride-one", "max_pool2d",
            _edit(_MAX_VECTOR, "stride = kernel_size if stride is None else stride",
                  "stride = 1 if stride is None else stride"),
            "stride=None taken as 1 instead of kernel_size: overlapping windows"),
    Variant("max-wrong-axes", "max_pool2d",
            _edit(_MAX_VECTOR, ".max(axis=(4, 5))", ".max(axis=(3, 4))"),
            "reduces over the wrong axes of the window view"),
    Variant("max-ignores-padding", "max_pool2d",
            _edit(_MAX_VECTOR, "(ph, ph), (pw, pw)), constant_values=-np.inf)",
                  "(0, 0), (0, 0)), constant_values=-np.inf)"),
            "never pads: the output is too small"),
    Variant("max-pads-one-side", "max_pool2d",
            _edit(_MAX_VECTOR, "(ph, ph), (pw, pw)), constant_values=-np.inf)",
                  "(ph, 0), (pw, 0)), constant_values=-np.inf)"),
            "pads only the top and left: 'padding' read as total padding"),
    Variant("max-kernel-swapped", "max_pool2d",
            _edit(_MAX_VECTOR, "kh, kw = (kernel_size, kernel_size)",
                  "kw, kh = (kernel_size, kernel_size)"),
            "reads kernel_size=(kh, kw) as (width, height)"),
    # avg_pool2d
    Variant("avg-exclude-padding", "avg_pool2d", _edit(
        _AVG_VECTOR, "    return windows[:, :, ::sh, ::sw].mean(axis=(4, 5))\n", '''
    ones = np.pad(np.ones((h, w)), ((ph, ph), (pw, pw)))
    count = np.lib.stride_tricks.sliding_window_view(ones, (kh, kw))[::sh, ::sw].sum(axis=(2, 3))
    return windows[:, :, ::sh, ::sw].sum(axis=(4, 5)) / count
'''), "divides by the real cells only (count_include_pad=False), not PyTorch's default"),
    Variant("avg-default-stride-one", "avg_pool2d",
            _edit(_AVG_VECTOR, "stride = kernel_size if stride is None else stride",
                  "stride = 1 if stride is None else stride"),
            "stride=None taken as 1 instead of kernel_size"),
    Variant("avg-edge-padding", "avg_pool2d",
            _edit(_AVG_VECTOR, "(ph, ph), (pw, pw)))", "(ph, ph), (pw, pw)), mode=\"edge\")"),
            "pads by repeating the border instead of zeros"),
    # global_avg_pool2d
    Variant("global-wrong-axes", "global_avg_pool2d", '''
def global_avg_pool2d(x):
    x = np.asarray(x, dtype=float)
    if x.ndim != 4:
        raise ValueError(f"x must be (N, C, H, W), got shape {x.shape}")
    return x.mean(axis=(1, 2))
''', "averages over channels and rows instead of rows and columns"),
    Variant("global-keepdims", "global_avg_pool2d", '''
def global_avg_pool2d(x):
    x = np.asarray(x, dtype=float)
    if x.ndim != 4:
        raise ValueError(f"x must be (N, C, H, W), got shape {x.shape}")
    return x.mean(axis=(2, 3), keepdims=True)
''', "returns (N, C, 1, 1) like adaptive_avg_pool2d instead of (N, C)"),
    Variant("global-sum", "global_avg_pool2d", '''
def global_avg_pool2d(x):
    x = np.asarray(x, dtype=float)
    if x.ndim != 4:
        raise ValueError(f"x must be (N, C, H, W), got shape {x.shape}")
    return x.sum(axis=(2, 3))
''', "global sum pooling: forgets to divide by H*W"),
    # max_pool2d_backward
    Variant("backward-assign-not-add", "max_pool2d_backward",
            _edit(_BACKWARD_LOOPS, "] += dout[", "] = dout["),
            "`=` instead of `+=`: overlapping windows overwrite each other's gradient"),
    Variant("backward-fancy-index-add", "max_pool2d_backward", '''
def max_pool2d_backward(dout, x, kernel_size, stride=None):
    x = np.asarray(x, dtype=float)
    dout = np.asarray(dout, dtype=float)
    stride = kernel_size if stride is None else stride
    kh, kw = (kernel_size, kernel_size) if np.isscalar(kernel_size) else kernel_size
    sh, sw = (stride, stride) if np.isscalar(stride) else stride
    windows = np.lib.stride_tricks.sliding_window_view(x, (kh, kw), axis=(2, 3))[:, :, ::sh, ::sw]
    n, c, h_out, w_out = windows.shape[:4]
    if dout.shape != (n, c, h_out, w_out):
        raise ValueError(f"dout has shape {dout.shape}, expected {(n, c, h_out, w_out)}")
    first = windows.reshape(n, c, h_out, w_out, kh * kw).argmax(axis=-1)
    rows = np.arange(h_out)[:, None] * sh + first // kw
    cols = np.arange(w_out)[None, :] * sw + first % kw
    dx = np.zeros_like(x)
    dx[np.arange(n)[:, None, None, None], np.arange(c)[None, :, None, None], rows, cols] += dout
    return dx
''', "fancy-index += is buffered: a cell that is the max of several windows gets one gradient"),
    Variant("backward-forgets-dout", "max_pool2d_backward",
            _edit(_BACKWARD_LOOPS, "] += dout[b, ch, i, j]", "] += 1.0"),
            "routes 1 to the max instead of the incoming gradient"),
    Variant("backward-default-stride-one", "max_pool2d_backward",
            _edit(_BACKWARD_LOOPS, "stride = kernel_size if stride is None else stride",
                  "stride = 1 if stride is None else stride"),
            "stride=None taken as 1"),
]

PARTIAL = [
    # max_pool2d
    Variant("max-no-padding-check", "max_pool2d",
            _edit(_MAX_VECTOR, "or ph > kh / 2 or pw > kw / 2", ""),
            "accepts padding larger than kernel_size/2 (windows of padding only)"),
    Variant("max-integer-input", "max_pool2d",
            _edit(_MAX_VECTOR, "        x = x.astype(float)\n", "        pass\n"),
            "integer input: -inf cannot be stored in an integer array"),
    Variant("max-no-stride-check", "max_pool2d",
            _edit(_MAX_VECTOR, "    if sh < 1 or sw < 1:\n"
                  "        raise ValueError(f\"stride={stride} must be at least 1\")\n", ""),
            "no check for stride=0: NumPy's 'slice step cannot be zero' does not name stride"),
    Variant("max-error-without-name", "max_pool2d",
            _edit(_MAX_VECTOR, 'raise ValueError(f"padding={padding} must be in [0, kernel_size/2]")',
                  'raise ValueError(f"{padding} is out of range")'),
            "the ValueError for a bad padding does not say which argument is wrong"),
    # avg_pool2d
    Variant("avg-no-padding-check", "avg_pool2d",
            _edit(_AVG_VECTOR, "or ph > kh / 2 or pw > kw / 2", ""),
            "accepts padding larger than kernel_size/2, which F.avg_pool2d rejects"),
    Variant("avg-no-stride-check", "avg_pool2d",
            _edit(_AVG_VECTOR, "    if sh < 1 or sw < 1:\n"
                  "        raise ValueError(f\"stride={stride} must be at least 1\")\n", ""),
            "no check for stride=0: NumPy's 'slice step cannot be zero' does not name stride"),
    # global_avg_pool2d
    Variant("global-keeps-input-dtype", "global_avg_pool2d", '''
def global_avg_pool2d(x):
    x = np.asarray(x)
    if x.ndim != 4:
        raise ValueError(f"x must be (N, C, H, W), got shape {x.shape}")
    return x.mean(axis=(2, 3)).astype(x.dtype)
''', "casts the means back to the input's dtype: integer input gives truncated integers"),
    Variant("global-assert-ndim", "global_avg_pool2d", '''
def global_avg_pool2d(x):
    x = np.asarray(x, dtype=float)
    assert x.ndim == 4, "x must be (N, C, H, W)"
    return x.mean(axis=(2, 3))
''', "a bare assert for the shape: AssertionError instead of a ValueError"),
    # max_pool2d_backward
    Variant("backward-ties-last", "max_pool2d_backward", '''
def max_pool2d_backward(dout, x, kernel_size, stride=None):
    x = np.asarray(x, dtype=float)
    dout = np.asarray(dout, dtype=float)
    stride = kernel_size if stride is None else stride
    kh, kw = (kernel_size, kernel_size) if np.isscalar(kernel_size) else kernel_size
    sh, sw = (stride, stride) if np.isscalar(stride) else stride
    n, c, h, w = x.shape
    h_out, w_out = (h - kh) // sh + 1, (w - kw) // sw + 1
    if dout.shape != (n, c, h_out, w_out):
        raise ValueError(f"dout has shape {dout.shape}, expected {(n, c, h_out, w_out)}")
    dx = np.zeros_like(x)
    for b in range(n):
        for ch in range(c):
            for i in range(h_out):
                for j in range(w_out):
                    best, where = -np.inf, None
                    for r in range(kh):
                        for s in range(kw):
                            v = x[b, ch, i * sh + r, j * sw + s]
                            if v >= best:
                                best, where = v, (i * sh + r, j * sw + s)
                    dx[b, ch, where[0], where[1]] += dout[b, ch, i, j]
    return dx
''', "`>=` in the scan: ties go to the last maximum instead of the first"),
    Variant("backward-all-maxima", "max_pool2d_backward", _edit(
        _BACKWARD_LOOPS,
        '''                    r, s = np.unravel_index(np.argmax(window), window.shape)
                    dx[b, ch, i * sh + r, j * sw + s] += dout[b, ch, i, j]''',
        '''                    mask = window == window.max()
                    dx[b, ch, i * sh:i * sh + kh, j * sw:j * sw + kw] += mask * dout[b, ch, i, j]'''),
        "a mask of every maximum: ties get the gradient twice"),
    Variant("backward-no-dout-check", "max_pool2d_backward",
            _edit(_BACKWARD_LOOPS, "    if dout.shape != (n, c, h_out, w_out):\n"
                  "        raise ValueError(f\"dout has shape {dout.shape}, expected {(n, c, h_out, w_out)}\")\n",
                  ""),
            "no check of dout's shape: a dout too large is silently cut to the pooled shape"),
    Variant("backward-overwrites-x", "max_pool2d_backward", '''
def max_pool2d_backward(dout, x, kernel_size, stride=None):
    x = np.asarray(x, dtype=float)  # no copy when x already holds float64
    dout = np.asarray(dout, dtype=float)
    stride = kernel_size if stride is None else stride
    kh, kw = (kernel_size, kernel_size) if np.isscalar(kernel_size) else kernel_size
    sh, sw = (stride, stride) if np.isscalar(stride) else stride
    n, c, h, w = x.shape
    h_out, w_out = (h - kh) // sh + 1, (w - kw) // sw + 1
    if dout.shape != (n, c, h_out, w_out):
        raise ValueError(f"dout has shape {dout.shape}, expected {(n, c, h_out, w_out)}")
    windows = np.lib.stride_tricks.sliding_window_view(x, (kh, kw), axis=(2, 3))[:, :, ::sh, ::sw]
    onehot = np.eye(kh * kw)[windows.reshape(n, c, h_out, w_out, kh * kw).argmax(axis=-1)]
    grads = (onehot * dout[..., None]).reshape(n, c, h_out, w_out, kh, kw)
    dx = x  # saves memory: the gradient is written over x
    dx[...] = 0
    for i in range(h_out):
        for j in range(w_out):
            dx[:, :, i * sh:i * sh + kh, j * sw:j * sw + kw] += grads[:, :, i, j]
    return dx
''', "writes dx into x's memory: the caller's x is overwritten"),
]

ALTERNATIVES = [
    Variant("max-loops", "max_pool2d", '''
def max_pool2d(x, kernel_size, stride=None, padding=0):''' + _ARGS + '''
    xp = np.full((n, c, h + 2 * ph, w + 2 * pw), -np.inf)
    xp[:, :, ph:ph + h, pw:pw + w] = x
    h_out, w_out = (h + 2 * ph - kh) // sh + 1, (w + 2 * pw - kw) // sw + 1
    out = np.empty((n, c, h_out, w_out))
    for i in range(h_out):
        for j in range(w_out):
            out[:, :, i, j] = xp[:, :, i * sh:i * sh + kh, j * sw:j * sw + kw].max(axis=(2, 3))
    return out
''', "a loop over output positions on an array pre-filled with -inf"),
    Variant("max-kernel-offsets", "max_pool2d", '''
def max_pool2d(x, kernel_size, stride=None, padding=0):''' + _ARGS + '''
    xp = np.pad(x, ((0, 0), (0, 0), (ph, ph), (pw, pw)), constant_values=-np.inf)
    h_out, w_out = (h + 2 * ph - kh) // sh + 1, (w + 2 * pw - kw) // sw + 1
    out = np.full((n, c, h_out, w_out), -np.inf)
    for r in range(kh):
        for s in range(kw):
            out = np.maximum(out, xp[:, :, r:r + sh * (h_out - 1) + 1:sh, s:s + sw * (w_out - 1) + 1:sw])
    return out
''', "a loop over the KH*KW offsets of the window, each a strided slice of the whole map"),
    Variant("max-as-strided", "max_pool2d", '''
def max_pool2d(x, kernel_size, stride=None, padding=0):''' + _ARGS + '''
    xp = np.pad(x, ((0, 0), (0, 0), (ph, ph), (pw, pw)), constant_values=-np.inf)
    h_out, w_out = (h + 2 * ph - kh) // sh + 1, (w + 2 * pw - kw) // sw + 1
    s0, s1, s2, s3 = xp.strides
    windows = np.lib.stride_tricks.as_strided(
        xp, (n, c, h_out, w_out, kh, kw), (s0, s1, s2 * sh, s3 * sw, s2, s3), writeable=False)
    return windows.reshape(n, c, h_out, w_out, kh * kw).max(axis=-1)
''', "as_strided window view"),
    Variant("avg-kernel-offsets", "avg_pool2d", '''
def avg_pool2d(x, kernel_size, stride=None, padding=0):''' + _ARGS + '''
    xp = np.pad(x, ((0, 0), (0, 0), (ph, ph), (pw, pw)))
    h_out, w_out = (h + 2 * ph - kh) // sh + 1, (w + 2 * pw - kw) // sw + 1
    total = np.zeros((n, c, h_out, w_out))
    for r in range(kh):
        for s in range(kw):
            total += xp[:, :, r:r + sh * (h_out - 1) + 1:sh, s:s + sw * (w_out - 1) + 1:sw]
    return total / (kh * kw)
''', "sums the KH*KW strided slices, then divides"),
    Variant("avg-integral-image", "avg_pool2d", '''
def avg_pool2d(x, kernel_size, stride=None, padding=0):''' + _ARGS + '''
    xp = np.pad(x, ((0, 0), (0, 0), (ph, ph), (pw, pw)))
    h_out, w_out = (h + 2 * ph - kh) // sh + 1, (w + 2 * pw - kw) // sw + 1
    ii = np.zeros((n, c, xp.shape[2] + 1, xp.shape[3] + 1))
    ii[:, :, 1:, 1:] = xp.cumsum(axis=2).cumsum(axis=3)  # ii[r, s] = sum of xp[:r, :s]
    r0 = np.arange(h_out) * sh
    s0 = np.arange(w_out) * sw
    top, bottom = r0[:, None], (r0 + kh)[:, None]
    left, right = s0[None, :], (s0 + kw)[None, :]
    sums = ii[:, :, bottom, right] - ii[:, :, top, right] - ii[:, :, bottom, left] + ii[:, :, top, left]
    return sums / (kh * kw)
''', "summed-area table: four look-ups per window"),
    Variant("global-reshape", "global_avg_pool2d", '''
def global_avg_pool2d(x):
    x = np.asarray(x)
    if x.ndim != 4:
        raise ValueError(f"x must be (N, C, H, W), got shape {x.shape}")
    n, c = x.shape[:2]
    return x.reshape(n, c, -1).astype(float).mean(axis=-1)
''', "flattens each map, then one mean"),
    Variant("global-sum-divide", "global_avg_pool2d", '''
def global_avg_pool2d(x):
    if np.ndim(x) != 4:
        raise ValueError("x must have 4 dimensions (N, C, H, W)")
    x = np.asarray(x, dtype=np.float64)
    return x.sum(axis=-1).sum(axis=-1) / (x.shape[2] * x.shape[3])
''', "sums the columns, then the rows, divides by H*W"),
    Variant("backward-loops", "max_pool2d_backward", _BACKWARD_LOOPS,
            "loops over windows, np.argmax + unravel_index"),
    Variant("backward-onehot", "max_pool2d_backward", '''
def max_pool2d_backward(dout, x, kernel_size, stride=None):
    x = np.asarray(x, dtype=float)
    dout = np.asarray(dout, dtype=float)
    stride = kernel_size if stride is None else stride
    kh, kw = (kernel_size, kernel_size) if np.isscalar(kernel_size) else kernel_size
    sh, sw = (stride, stride) if np.isscalar(stride) else stride
    n, c, h, w = x.shape
    h_out, w_out = (h - kh) // sh + 1, (w - kw) // sw + 1
    if dout.shape != (n, c, h_out, w_out):
        raise ValueError(f"dout has shape {dout.shape}, expected {(n, c, h_out, w_out)}")
    windows = np.lib.stride_tricks.sliding_window_view(x, (kh, kw), axis=(2, 3))[:, :, ::sh, ::sw]
    flat = windows.reshape(n, c, h_out, w_out, kh * kw)
    onehot = np.eye(kh * kw)[flat.argmax(axis=-1)]  # (N, C, H_out, W_out, KH*KW)
    grads = (onehot * dout[..., None]).reshape(n, c, h_out, w_out, kh, kw)
    dx = np.zeros_like(x)
    for i in range(h_out):
        for j in range(w_out):
            dx[:, :, i * sh:i * sh + kh, j * sw:j * sw + kw] += grads[:, :, i, j]
    return dx
''', "one-hot of the argmax times dout, windows added back one output position at a time"),
]
