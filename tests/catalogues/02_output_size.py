"""Mistakes, partial answers and alternative answers for 02_output_size (see tests/harness.py)."""

from harness import Variant

_CONV_CHECKS = '''
    for name, value, least in (("size", size, 1), ("kernel_size", kernel_size, 1),
                               ("stride", stride, 1), ("padding", padding, 0),
                               ("dilation", dilation, 1)):
        if value < least:
            raise ValueError(f"{name}={value} must be at least {least}")
'''


def _conv(body: str, checks: str = _CONV_CHECKS) -> str:
    return ("def conv_output_size(size, kernel_size, stride=1, padding=0, dilation=1):"
            + checks + body)


def _pool(body: str) -> str:
    return '''def pool_output_size(size, kernel_size, stride=None, padding=0, ceil_mode=False):
''' + body


_POOL_CHECKS = '''
    for name, value, least in (("size", size, 1), ("kernel_size", kernel_size, 1),
                               ("stride", stride, 1), ("padding", padding, 0)):
        if value < least:
            raise ValueError(f"{name}={value} must be at least {least}")
'''

_TRANSPOSE_CHECKS = '''
    for name, value, least in (("size", size, 1), ("kernel_size", kernel_size, 1),
                               ("stride", stride, 1), ("padding", padding, 0),
                               ("output_padding", output_padding, 0), ("dilation", dilation, 1)):
        if value < least:
            raise ValueError(f"{name}={value} must be at least {least}")
'''


def _transpose(body: str, checks: str = _TRANSPOSE_CHECKS) -> str:
    return ('''def conv_transpose_output_size(size, kernel_size, stride=1, padding=0,
                               output_padding=0, dilation=1):''' + checks + body)


def _trace(conv_line: str, pool_line: str, flatten_line: str, extra: str = "") -> str:
    return f'''def trace_shapes(layers, input_shape):
    shape = tuple(input_shape)
    shapes = []{extra}
    for layer in layers:
        kind = layer[0]
        if kind in ("conv", "pool") and len(shape) != 3:
            raise ValueError(f"{{layer}} needs a (C, H, W) input, got {{shape}}")
        if kind == "conv":
            _, out_channels, kernel_size, stride, padding = layer
            {conv_line}
        elif kind == "pool":
            _, kernel_size, stride = layer
            {pool_line}
        elif kind == "flatten":
            {flatten_line}
        elif kind == "linear":
            if len(shape) != 1:
                raise ValueError(f"linear needs a flat input, got {{shape}}")
            shape = (layer[1],)
        elif kind not in ("relu", "dropout"):
            raise ValueError(f"unknown layer kind {{kind!r}}")
        shapes.append(shape)
    return shapes
'''


def _without(code: str, lines: str) -> str:
    """`code` with `lines` cut out (a rule check left out of an otherwise right answer)."""
    if lines not in code:
        raise ValueError(f"catalogue: {lines!r} is not in the code")
    return code.replace(lines, "")


_CONV_OK = ("shape = (out_channels, conv_output_size(shape[1], kernel_size, stride, padding), "
            "conv_output_size(shape[2], kernel_size, stride, padding))")
_POOL_OK = ("shape = (shape[0], pool_output_size(shape[1], kernel_size, stride), "
            "pool_output_size(shape[2], kernel_size, stride))")
_FLAT_OK = "shape = (shape[0] * shape[1] * shape[2],) if len(shape) == 3 else shape"

_FIELD = '''def receptive_field(layers):
    field, jump = 1, 1
    for layer in layers:
        k, s = layer[0], layer[1]
        d = layer[2] if len(layer) == 3 else 1
'''


# conv2d_backward: the checks every variant starts with, and the reference's loop over kernel taps
_BACKWARD_HEAD = '''def conv2d_backward(dout, x, w, b, stride=1, padding=0):
    x, w, dout = (np.asarray(a, dtype=float) for a in (x, w, dout))
    sh, sw = (stride, stride) if np.isscalar(stride) else stride
    ph, pw = (padding, padding) if np.isscalar(padding) else padding
    n, c, h, wd = x.shape
    f, c_w, kh, kw = w.shape
    if c_w != c:
        raise ValueError(f"w has {c_w} input channels, x has {c}")
    h_out, w_out = (h + 2 * ph - kh) // sh + 1, (wd + 2 * pw - kw) // sw + 1
    if dout.shape != (n, f, h_out, w_out):
        raise ValueError(f"dout has shape {dout.shape}, expected {(n, f, h_out, w_out)}")
    xp = np.pad(x, ((0, 0), (0, 0), (ph, ph), (pw, pw)))  # (N, C, H + 2ph, W + 2pw)
'''
_DOUT_CHECK = '''    if dout.shape != (n, f, h_out, w_out):
        raise ValueError(f"dout has shape {dout.shape}, expected {(n, f, h_out, w_out)}")
'''
_TAPS = _BACKWARD_HEAD + '''    dxp = np.zeros_like(xp)
    dw = np.zeros_like(w)
    for u in range(kh):
        for v in range(kw):
            rows = slice(u, u + sh * (h_out - 1) + 1, sh)
            cols = slice(v, v + sw * (w_out - 1) + 1, sw)
            dw[:, :, u, v] = np.einsum("nfij,ncij->fc", dout, xp[:, :, rows, cols])
            dxp[:, :, rows, cols] += np.einsum("nfij,fc->ncij", dout, w[:, :, u, v])
    dx = dxp[:, :, ph:ph + h, pw:pw + wd]
    db = dout.sum(axis=(0, 2, 3))
    return dx, dw, db
'''

# dx as the prose derives it: dout with stride-1 zeros between its values, padded by
# kernel_size - 1 and correlated with the flipped kernel (a full convolution); then the rows the
# stride left over (output_padding) and the layer's padding cropped away. dw: the padded input
# correlated with the zero-inserted dout.
_FULL = _BACKWARD_HEAD + '''    dil = np.zeros((n, f, (h_out - 1) * sh + 1, (w_out - 1) * sw + 1))
    dil[:, :, ::sh, ::sw] = dout  # zero-inserted dout
    full = np.pad(dil, ((0, 0), (0, 0), (kh - 1, kh - 1), (kw - 1, kw - 1)))
    flipped = w[:, :, ::-1, ::-1]
    win = np.lib.stride_tricks.sliding_window_view(full, (kh, kw), axis=(2, 3))
    dxp = np.einsum("nfijuv,fcuv->ncij", win, flipped)  # ((H_out-1)*sh + KH, ...)
    dxp = np.pad(dxp, ((0, 0), (0, 0), (0, xp.shape[2] - dxp.shape[2]),
                       (0, xp.shape[3] - dxp.shape[3])))  # output_padding: rows left over
    dx = dxp[:, :, ph:ph + h, pw:pw + wd]
    xwin = np.lib.stride_tricks.sliding_window_view(xp, dil.shape[2:], axis=(2, 3))
    dw = np.einsum("ncuvij,nfij->fcuv", xwin[:, :, :kh, :kw], dil)
    return dx, dw, dout.sum(axis=(0, 2, 3))
'''


def _swap(code: str, old: str, new: str) -> str:
    """`code` with the line(s) `old` replaced by `new` (one mistake in a right answer)."""
    if old not in code:
        raise ValueError(f"catalogue: {old!r} is not in the code")
    return code.replace(old, new)


MISTAKES = [
    # conv_output_size
    Variant("conv-no-plus-one", "conv_output_size", _conv('''
    out = (size + 2 * padding - dilation * (kernel_size - 1) - 1) // stride
    if out < 1:
        raise ValueError(f"kernel_size={kernel_size} does not fit")
    return out
'''), "off by one: forgets the +1 for the first window"),
    Variant("conv-padding-once", "conv_output_size", _conv('''
    out = (size + padding - dilation * (kernel_size - 1) - 1) // stride + 1
    if out < 1:
        raise ValueError(f"kernel_size={kernel_size} does not fit")
    return out
'''), "counts the padding on one side only"),
    Variant("conv-no-dilation", "conv_output_size", _conv('''
    out = (size + 2 * padding - kernel_size) // stride + 1
    if out < 1:
        raise ValueError(f"kernel_size={kernel_size} does not fit")
    return out
'''), "ignores dilation (n + 2p - k)/s + 1"),
    Variant("conv-dilation-times-kernel", "conv_output_size", _conv('''
    out = (size + 2 * padding - dilation * kernel_size) // stride + 1
    if out < 1:
        raise ValueError(f"kernel_size={kernel_size} does not fit")
    return out
'''), "takes the dilated kernel to span dilation*kernel_size cells"),
    Variant("conv-true-division", "conv_output_size", _conv('''
    out = (size + 2 * padding - dilation * (kernel_size - 1) - 1) / stride + 1
    if out < 1:
        raise ValueError(f"kernel_size={kernel_size} does not fit")
    return out
'''), "uses / instead of //: returns 4.5 (and floats)"),
    Variant("conv-ceil", "conv_output_size", _conv('''
    import math
    out = math.ceil((size + 2 * padding - dilation * (kernel_size - 1) - 1) / stride) + 1
    if out < 1:
        raise ValueError(f"kernel_size={kernel_size} does not fit")
    return out
'''), "rounds up instead of down"),
    # same_padding
    Variant("same-half-kernel", "same_padding", '''def same_padding(kernel_size, dilation=1):
    if kernel_size % 2 == 0:
        raise ValueError(f"kernel_size={kernel_size} is even")
    return kernel_size // 2
''', "kernel_size // 2: forgets the dilation"),
    Variant("same-even-kernel-check", "same_padding", '''def same_padding(kernel_size, dilation=1):
    if kernel_size < 1 or dilation < 1:
        raise ValueError(f"kernel_size={kernel_size}, dilation={dilation} must be >= 1")
    if kernel_size % 2 == 0:
        raise ValueError(f"kernel_size={kernel_size} is even: no symmetric padding")
    return dilation * (kernel_size - 1) // 2
''', "refuses every even kernel, also kernel 2 with dilation 2 (padding 1 works)"),
    # pool_output_size
    Variant("pool-stride-defaults-to-one", "pool_output_size", _pool('''    if stride is None:
        stride = 1
''' + _POOL_CHECKS + '''
    if 2 * padding > kernel_size:
        raise ValueError(f"padding={padding} exceeds kernel_size/2")
    span = size + 2 * padding - kernel_size
    out = -(-span // stride) + 1 if ceil_mode else span // stride + 1
    if ceil_mode and (out - 1) * stride >= size + padding:
        out -= 1
    if out < 1:
        raise ValueError(f"kernel_size={kernel_size} does not fit")
    return out
'''), "stride defaults to 1 as in Conv2d, not to kernel_size"),
    Variant("pool-ceil-without-rule", "pool_output_size", _pool('''    if stride is None:
        stride = kernel_size
''' + _POOL_CHECKS + '''
    if 2 * padding > kernel_size:
        raise ValueError(f"padding={padding} exceeds kernel_size/2")
    span = size + 2 * padding - kernel_size
    out = -(-span // stride) + 1 if ceil_mode else span // stride + 1
    if out < 1:
        raise ValueError(f"kernel_size={kernel_size} does not fit")
    return out
'''), "ceil_mode keeps a last window that starts in the padding"),
    # conv_transpose_output_size
    Variant("transpose-size-times-stride", "conv_transpose_output_size", _transpose('''
    if output_padding >= max(stride, dilation):
        raise ValueError(f"output_padding={output_padding} too large")
    out = size * stride - 2 * padding + dilation * (kernel_size - 1) + output_padding
    if out < 1:
        raise ValueError(f"padding={padding} crops everything")
    return out
'''), "size*stride instead of (size-1)*stride + 1"),
    Variant("transpose-op-vs-stride-only", "conv_transpose_output_size", _transpose('''
    if output_padding >= stride:
        raise ValueError(f"output_padding={output_padding} must be smaller than stride")
    out = (size - 1) * stride - 2 * padding + dilation * (kernel_size - 1) + output_padding + 1
    if out < 1:
        raise ValueError(f"padding={padding} crops everything")
    return out
'''), "compares output_padding with the stride only, not max(stride, dilation)"),
    Variant("transpose-padding-added", "conv_transpose_output_size", _transpose('''
    if output_padding >= max(stride, dilation):
        raise ValueError(f"output_padding={output_padding} too large")
    out = (size - 1) * stride + 2 * padding + dilation * (kernel_size - 1) + output_padding + 1
    return out
'''), "adds the padding as in a convolution instead of cropping it"),
    # receptive_field
    Variant("field-ignores-stride", "receptive_field", _FIELD + '''
        field += d * (k - 1)
    return field
''', "adds kernel sizes, ignores the strides"),
    Variant("field-jump-too-early", "receptive_field", _FIELD + '''
        jump *= s
        field += d * (k - 1) * jump
    return field
''', "multiplies by the layer's own stride before using it"),
    Variant("field-no-dilation", "receptive_field", _FIELD + '''
        field += (k - 1) * jump
        jump *= s
    return field
''', "ignores dilation"),
    # trace_shapes
    Variant("trace-pool-always-halves", "trace_shapes",
            _trace(_CONV_OK, "shape = (shape[0], shape[1] // 2, shape[2] // 2)", _FLAT_OK),
            "every pool halves the size, whatever its kernel and stride"),
    Variant("trace-flatten-forgets-channels", "trace_shapes",
            _trace(_CONV_OK, _POOL_OK, "shape = (shape[1] * shape[2],) if len(shape) == 3 else shape"),
            "flatten forgets the channels: 7*7 instead of 7*7*64"),
    Variant("trace-conv-keeps-channels", "trace_shapes",
            _trace("shape = (shape[0], conv_output_size(shape[1], kernel_size, stride, padding), "
                   "conv_output_size(shape[2], kernel_size, stride, padding))", _POOL_OK, _FLAT_OK),
            "a conv keeps the input's channels instead of out_channels"),
    Variant("trace-square-only", "trace_shapes",
            _trace("h = conv_output_size(shape[1], kernel_size, stride, padding)\n"
                   "            shape = (out_channels, h, h)", _POOL_OK, _FLAT_OK),
            "assumes square inputs: takes the width from the height"),
    Variant("trace-includes-input", "trace_shapes",
            _trace(_CONV_OK, _POOL_OK, _FLAT_OK, extra="\n    shapes.append(shape)"),
            "starts the list with the input shape (one shape too many)"),
    # conv2d_backward
    Variant("backward-db-wrong-axes", "conv2d_backward",
            _swap(_TAPS, "db = dout.sum(axis=(0, 2, 3))", "db = dout.sum(axis=(1, 2, 3))"),
            "db sums over the filters instead of over the batch: one number per image"),
    Variant("backward-dx-no-flip", "conv2d_backward",
            _swap(_FULL, "flipped = w[:, :, ::-1, ::-1]", "flipped = w"),
            "dx as a full correlation of dout with the kernel, not flipped"),
    Variant("backward-stride-ignored", "conv2d_backward",
            _swap(_swap(_TAPS, "rows = slice(u, u + sh * (h_out - 1) + 1, sh)",
                        "rows = slice(u, u + h_out)"),
                  "cols = slice(v, v + sw * (w_out - 1) + 1, sw)", "cols = slice(v, v + w_out)"),
            "the windows of dx and dw one cell apart: the stride is ignored"),
    Variant("backward-padding-not-cropped", "conv2d_backward",
            _swap(_TAPS, "dx = dxp[:, :, ph:ph + h, pw:pw + wd]", "dx = dxp"),
            "returns the gradient of the padded input: the padding is not cropped from dx"),
    Variant("backward-dw-swapped", "conv2d_backward",
            _swap(_TAPS, "dw[:, :, u, v] =", "dw[:, :, kh - 1 - u, kw - 1 - v] ="),
            "correlates dout with x instead of x with dout: dw comes out flipped"),
    Variant("backward-dx-overwrites", "conv2d_backward",
            _swap(_TAPS, "dxp[:, :, rows, cols] +=", "dxp[:, :, rows, cols] ="),
            "= instead of +=: where windows overlap, a later kernel tap overwrites dx"),
    Variant("backward-no-output-padding", "conv2d_backward",
            _swap(_FULL, '''    dxp = np.pad(dxp, ((0, 0), (0, 0), (0, xp.shape[2] - dxp.shape[2]),
                       (0, xp.shape[3] - dxp.shape[3])))  # output_padding: rows left over
''', ""),
            "the full convolution without output_padding: no rows for those the stride left over"),
    Variant("backward-dw-unpadded", "conv2d_backward",
            _swap(_TAPS, "dout, xp[:, :, rows, cols])", "dout, x[:, :, rows, cols])"),
            "dw from x instead of the padded input"),
]

PARTIAL = [
    # conv_output_size
    Variant("conv-no-fit-check", "conv_output_size", _conv('''
    return (size + 2 * padding - dilation * (kernel_size - 1) - 1) // stride + 1
'''), "returns 0 or negative sizes instead of raising"),
    Variant("conv-no-argument-checks", "conv_output_size", _conv('''
    out = (size + 2 * padding - dilation * (kernel_size - 1) - 1) // stride + 1
    if out < 1:
        raise ValueError(f"kernel_size={kernel_size} does not fit")
    return out
''', checks="\n"), "no range checks: stride=0 divides by zero, negative padding passes"),
    Variant("conv-float-floor", "conv_output_size", _conv('''
    out = (size + 2 * padding - dilation * (kernel_size - 1) - 1) / stride // 1 + 1
    if out < 1:
        raise ValueError(f"kernel_size={kernel_size} does not fit")
    return out
'''), "floors a true division with // 1: the right size, but a float (4.0)"),
    # same_padding
    Variant("same-floor-even", "same_padding", '''def same_padding(kernel_size, dilation=1):
    if kernel_size < 1 or dilation < 1:
        raise ValueError(f"kernel_size={kernel_size}, dilation={dilation} must be >= 1")
    return dilation * (kernel_size - 1) // 2
''', "rounds down for even kernels instead of refusing them"),
    Variant("same-float", "same_padding", '''def same_padding(kernel_size, dilation=1):
    if kernel_size < 1 or dilation < 1:
        raise ValueError(f"kernel_size={kernel_size}, dilation={dilation} must be >= 1")
    if dilation * (kernel_size - 1) % 2:
        raise ValueError(f"kernel_size={kernel_size}: no symmetric padding")
    return dilation * (kernel_size - 1) / 2
''', "returns a float (1.0)"),
    # pool_output_size
    Variant("pool-no-padding-check", "pool_output_size", _pool('''    if stride is None:
        stride = kernel_size
''' + _POOL_CHECKS + '''
    span = size + 2 * padding - kernel_size
    out = -(-span // stride) + 1 if ceil_mode else span // stride + 1
    if ceil_mode and (out - 1) * stride >= size + padding:
        out -= 1
    if out < 1:
        raise ValueError(f"kernel_size={kernel_size} does not fit")
    return out
'''), "accepts padding larger than kernel_size / 2"),
    Variant("pool-stride-or-kernel", "pool_output_size", _pool('''    stride = stride or kernel_size
''' + _POOL_CHECKS + '''
    if 2 * padding > kernel_size:
        raise ValueError(f"padding={padding} exceeds kernel_size/2")
    span = size + 2 * padding - kernel_size
    out = -(-span // stride) + 1 if ceil_mode else span // stride + 1
    if ceil_mode and (out - 1) * stride >= size + padding:
        out -= 1
    if out < 1:
        raise ValueError(f"kernel_size={kernel_size} does not fit")
    return out
'''), "stride = stride or kernel_size turns stride=0 into kernel_size instead of refusing it"),
    # conv_transpose_output_size
    Variant("transpose-no-crop-check", "conv_transpose_output_size", _transpose('''
    if output_padding >= max(stride, dilation):
        raise ValueError(f"output_padding={output_padding} must be smaller than stride or dilation")
    return (size - 1) * stride - 2 * padding + dilation * (kernel_size - 1) + output_padding + 1
'''), "returns 0 or a negative size when the padding crops the whole output"),
    Variant("transpose-no-output-padding-rule", "conv_transpose_output_size", _transpose('''
    out = (size - 1) * stride - 2 * padding + dilation * (kernel_size - 1) + output_padding + 1
    if out < 1:
        raise ValueError(f"padding={padding} crops everything")
    return out
'''), "accepts output_padding >= max(stride, dilation), which PyTorch refuses"),
    # trace_shapes
    Variant("trace-linear-on-maps", "trace_shapes",
            _without(_trace(_CONV_OK, _POOL_OK, _FLAT_OK), '''            if len(shape) != 1:
                raise ValueError(f"linear needs a flat input, got {shape}")
'''),
            "right shapes, but a linear layer on a (C, H, W) shape is accepted instead of refused"),
    Variant("trace-conv-after-flatten-index-error", "trace_shapes",
            _without(_trace(_CONV_OK, _POOL_OK, _FLAT_OK), '''        if kind in ("conv", "pool") and len(shape) != 3:
            raise ValueError(f"{layer} needs a (C, H, W) input, got {shape}")
'''),
            "right shapes, but a conv after flatten fails with an IndexError, not a ValueError"),
    # conv2d_backward
    Variant("backward-no-dout-check", "conv2d_backward", _swap(_TAPS, _DOUT_CHECK, ""),
            "right gradients, but a dout of the wrong shape fails inside np.einsum, not with a "
            "ValueError that names dout"),
    Variant("backward-dout-not-named", "conv2d_backward",
            _swap(_TAPS, 'raise ValueError(f"dout has shape {dout.shape}, expected',
                  'raise ValueError(f"shapes do not match: {dout.shape}, expected'),
            "right gradients, but the ValueError for a dout of the wrong shape does not name dout"),
]

ALTERNATIVES = [
    Variant("conv-math-floor", "conv_output_size", '''import math


def conv_output_size(size, kernel_size, stride=1, padding=0, dilation=1):
    if size < 1 or kernel_size < 1 or stride < 1 or dilation < 1:
        bad = [n for n, v in [("size", size), ("kernel_size", kernel_size), ("stride", stride),
                              ("dilation", dilation)] if v < 1][0]
        raise ValueError(f"{bad} must be positive")
    if padding < 0:
        raise ValueError(f"padding={padding} is negative")
    out = math.floor((size + 2 * padding - dilation * (kernel_size - 1) - 1) / stride) + 1
    if out <= 0:
        raise ValueError("the kernel does not fit in the padded input")
    return out
''', "math.floor of a true division"),
    Variant("conv-count-windows", "conv_output_size", _conv('''
    last = size + 2 * padding - 1          # index of the last padded cell
    span = dilation * (kernel_size - 1)    # from the first tap to the last
    count = 0
    start = 0
    while start + span <= last:
        count += 1
        start += stride
    if count == 0:
        raise ValueError(f"kernel_size={kernel_size} does not fit in size={size}")
    return count
'''), "counts the window positions one by one"),
    Variant("same-divmod-style", "same_padding", '''def same_padding(kernel_size, dilation=1):
    if kernel_size <= 0:
        raise ValueError("kernel_size must be positive")
    if dilation <= 0:
        raise ValueError("dilation must be positive")
    extent = dilation * (kernel_size - 1) + 1
    if extent % 2 == 0:
        raise ValueError(f"kernel_size={kernel_size} (dilation {dilation}) spans an even "
                         f"number of cells: it has no centre")
    return (extent - 1) // 2
''', "through the extent: an even extent has no centre"),
    Variant("pool-explicit-branches", "pool_output_size", '''import math


def pool_output_size(size, kernel_size, stride=None, padding=0, ceil_mode=False):
    s = kernel_size if stride is None else stride
    if size <= 0:
        raise ValueError("size must be positive")
    if kernel_size <= 0:
        raise ValueError("kernel_size must be positive")
    if s <= 0:
        raise ValueError("stride must be positive")
    if padding < 0 or padding > kernel_size / 2:
        raise ValueError(f"padding={padding} must be between 0 and kernel_size/2")
    rounding = math.ceil if ceil_mode else math.floor
    out = rounding((size + 2 * padding - kernel_size) / s) + 1
    # the last window must start inside the input or the left padding
    while ceil_mode and out > 0 and (out - 1) * s >= size + padding:
        out -= 1
    if out < 1:
        raise ValueError(f"kernel_size={kernel_size} does not fit in size={size}")
    return int(out)
''', "math.ceil/floor and a while loop for the ceil_mode rule"),
    Variant("pool-window-starts", "pool_output_size", '''def pool_output_size(size, kernel_size, stride=None, padding=0, ceil_mode=False):
    if stride is None:
        stride = kernel_size
    for name, value in (("size", size), ("kernel_size", kernel_size), ("stride", stride)):
        if value < 1:
            raise ValueError(f"{name}={value} must be positive")
    if padding < 0 or 2 * padding > kernel_size:
        raise ValueError(f"padding={padding} must be in [0, kernel_size/2]")
    padded = size + 2 * padding
    # starts of windows inside the padded input; with ceil_mode one more window may stick out
    # on the right (rounding up adds at most one), as long as it starts before the right padding
    starts = [s for s in range(0, padded, stride)
              if s + kernel_size <= padded
              or (ceil_mode and s < size + padding and s + kernel_size < padded + stride)]
    if not starts:
        raise ValueError(f"kernel_size={kernel_size} does not fit in size={size}")
    return len(starts)
''', "lists the window starts"),
    Variant("transpose-inverse-of-conv", "conv_transpose_output_size", '''def conv_transpose_output_size(size, kernel_size, stride=1, padding=0, output_padding=0,
                               dilation=1):
    if min(size, kernel_size, stride, dilation) < 1:
        for name, v in (("size", size), ("kernel_size", kernel_size), ("stride", stride),
                        ("dilation", dilation)):
            if v < 1:
                raise ValueError(f"{name}={v} must be >= 1")
    if padding < 0:
        raise ValueError("padding must be >= 0")
    if output_padding < 0 or output_padding >= max(stride, dilation):
        raise ValueError("output_padding must be in [0, max(stride, dilation))")
    extent = dilation * (kernel_size - 1) + 1
    full = (size - 1) * stride + extent       # every stamp, nothing cropped
    out = full - 2 * padding + output_padding
    if out <= 0:
        raise ValueError(f"padding={padding} leaves no output")
    return out
''', "full stamped length, then crop and extend"),
    Variant("field-backwards", "receptive_field", '''def receptive_field(layers):
    field = 1
    for layer in reversed(list(layers)):
        kernel_size, stride, *rest = layer
        dilation = rest[0] if rest else 1
        field = (field - 1) * stride + dilation * (kernel_size - 1) + 1
    return field
''', "from the output back to the input, a transposed-convolution size per layer"),
    Variant("trace-match", "trace_shapes", '''def trace_shapes(layers, input_shape):
    shapes, shape = [], tuple(input_shape)
    for layer in layers:
        match layer:
            case ("conv", f, k, s, p):
                if len(shape) != 3:
                    raise ValueError("conv needs (C, H, W)")
                shape = (f, *(conv_output_size(n, k, s, p) for n in shape[1:]))
            case ("pool", k, s):
                if len(shape) != 3:
                    raise ValueError("pool needs (C, H, W)")
                shape = (shape[0], *(pool_output_size(n, k, s) for n in shape[1:]))
            case ("relu",) | ("dropout", _):
                pass
            case ("flatten",):
                size = 1
                for n in shape:
                    size *= n
                shape = (size,)
            case ("linear", d):
                if len(shape) != 1:
                    raise ValueError("linear needs a flattened input")
                shape = (d,)
            case _:
                raise ValueError(f"cannot apply {layer!r}")
        shapes.append(shape)
    return shapes
''', "structural pattern matching"),
    Variant("trace-own-formulas-lists", "trace_shapes", '''def trace_shapes(layers, input_shape):
    c, *hw = input_shape
    flat = None
    out = []
    for layer in layers:
        kind = layer[0]
        if kind == "conv":
            if flat is not None:
                raise ValueError("conv after flatten")
            _, c, k, s, p = layer
            hw = [(n + 2 * p - k) // s + 1 for n in hw]
        elif kind == "pool":
            if flat is not None:
                raise ValueError("pool after flatten")
            _, k, s = layer
            hw = [(n - k) // s + 1 for n in hw]
        elif kind == "flatten":
            if flat is None:
                flat = c * hw[0] * hw[1]
        elif kind == "linear":
            if flat is None:
                raise ValueError("linear before flatten")
            flat = layer[1]
        elif kind not in ("relu", "dropout"):
            raise ValueError(f"unknown layer {kind}")
        if flat is None and min(hw) < 1:
            raise ValueError(f"{layer} does not fit")
        out.append([flat] if flat is not None else [c, *hw])
    return out
''', "its own formulas, shapes as lists"),
    # conv2d_backward
    Variant("backward-loops", "conv2d_backward", _BACKWARD_HEAD + '''    dxp = np.zeros_like(xp)
    dw = np.zeros_like(w)
    db = np.zeros(f)
    for i in range(n):
        for k in range(f):
            db[k] += dout[i, k].sum()
            for r in range(h_out):
                for s in range(w_out):
                    top, left = r * sh, s * sw
                    window = xp[i, :, top:top + kh, left:left + kw]  # (C, KH, KW)
                    dw[k] += dout[i, k, r, s] * window
                    dxp[i, :, top:top + kh, left:left + kw] += dout[i, k, r, s] * w[k]
    return dxp[:, :, ph:xp.shape[2] - ph, pw:xp.shape[3] - pw], dw, db
''', "CS231n's naive loops over images, filters and output positions"),
    Variant("backward-im2col", "conv2d_backward", _BACKWARD_HEAD + '''    r = (np.arange(h_out) * sh)[:, None, None, None] + np.arange(kh)[None, None, :, None]
    q = (np.arange(w_out) * sw)[None, :, None, None] + np.arange(kw)[None, None, None, :]
    cols = xp[:, :, r, q]  # (N, C, H_out, W_out, KH, KW)
    cols = cols.transpose(0, 2, 3, 1, 4, 5).reshape(n * h_out * w_out, c * kh * kw)
    d = dout.transpose(0, 2, 3, 1).reshape(n * h_out * w_out, f)
    dw = (d.T @ cols).reshape(w.shape)
    dcols = (d @ w.reshape(f, -1)).reshape(n, h_out, w_out, c, kh, kw).transpose(0, 3, 1, 2, 4, 5)
    dxp = np.zeros_like(xp)
    np.add.at(dxp, (slice(None), slice(None), r, q), dcols)  # col2im: overlaps add up
    return dxp[:, :, ph:ph + h, pw:pw + wd], dw, d.sum(axis=0)
''', "im2col: two matrix products, then col2im with np.add.at"),
    Variant("backward-full-convolution", "conv2d_backward", _FULL,
            "dx: zero-inserted dout, full correlation with the flipped kernel, output_padding, "
            "crop; dw: padded input correlated with the zero-inserted dout"),
    Variant("backward-windows-einsum", "conv2d_backward", _BACKWARD_HEAD + '''    win = np.lib.stride_tricks.sliding_window_view(xp, (kh, kw), axis=(2, 3))
    win = win[:, :, ::sh, ::sw]  # (N, C, H_out, W_out, KH, KW)
    dw = np.einsum("ncijuv,nfij->fcuv", win, dout)
    contrib = np.einsum("nfij,fcuv->ncijuv", dout, w)  # what each output sends to its window
    dxp = np.zeros_like(xp)
    for i in range(h_out):  # one window at a time: inside a window no cell repeats
        for j in range(w_out):
            rows = i * sh + np.arange(kh)[:, None]  # (KH, 1)
            cols = j * sw + np.arange(kw)[None, :]  # (1, KW)
            dxp[:, :, rows, cols] += contrib[:, :, i, j]
    return dxp[:, :, ph:ph + h, pw:pw + wd], dw, np.einsum("nfij->f", dout)
''', "sliding_window_view and einsum; dx window by window"),
]
