"""03_parameter_counting: common mistakes (each must lose points), partial answers (right values,
one rule missed) and other correct answers."""

from harness import Variant

_CONV_CHECKS = '''
    kh, kw = (kernel_size, kernel_size) if np.isscalar(kernel_size) else kernel_size
    for name, value in (("in_channels", in_channels), ("out_channels", out_channels),
                        ("kernel_size", min(kh, kw)), ("groups", groups)):
        if value < 1:
            raise ValueError(f"{name}={value} must be at least 1")
    if in_channels % groups or out_channels % groups:
        raise ValueError(f"groups={groups} must divide both channel counts")
'''

_PARAMS = ("def conv2d_params(in_channels, out_channels, kernel_size, bias=True, groups=1):"
           + _CONV_CHECKS)

_MACS = ('''def conv2d_macs(in_channels, out_channels, kernel_size, output_size, groups=1):
    h_out, w_out = (output_size, output_size) if np.isscalar(output_size) else output_size
    if min(h_out, w_out) < 1:
        raise ValueError(f"output_size={output_size} must be at least 1")''' + _CONV_CHECKS)

def _without(code: str, lines: str) -> str:
    """`code` with `lines` cut out (a rule check left out of an otherwise right answer)."""
    if lines not in code:
        raise ValueError(f"catalogue: {lines!r} is not in the code")
    return code.replace(lines, "")


_LINEAR_CHECKS = '''
    for name, value in (("in_features", in_features), ("out_features", out_features)):
        if value < 1:
            raise ValueError(f"{name}={value} must be at least 1")
'''

_UNSHARED = '''def unshared_params(in_channels, out_channels, kernel_size, output_size, bias=True):
    kh, kw = (kernel_size, kernel_size) if np.isscalar(kernel_size) else kernel_size
    h_out, w_out = (output_size, output_size) if np.isscalar(output_size) else output_size
    for name, value in (("in_channels", in_channels), ("out_channels", out_channels),
                        ("kernel_size", min(kh, kw)), ("output_size", min(h_out, w_out))):
        if value < 1:
            raise ValueError(f"{name}={value} must be at least 1")
'''

# layer_table with the lines that differ between variants left as {placeholders}.
_TABLE = '''def layer_table(layers, input_shape):
    def out_size(size, kernel_size, stride, padding):
        n = {size_formula}
        if n < 1:
            raise ValueError(f"kernel_size={{kernel_size}} does not fit an input of size {{size}}")
        return n

    shape = tuple(input_shape)
    rows = []
    for layer in layers:
        kind = layer[0]
        params = macs = 0
        if kind in ("conv", "pool") and len(shape) != 3:
            raise ValueError(f"{{layer}} needs a (C, H, W) input, got {{shape}}")
        if kind == "conv":
            _, f, k, s, p = layer
            c, h, w = shape
            h_out, w_out = out_size(h, k, s, p), out_size(w, k, s, p)
            params = {conv_params}
            macs = {conv_macs}
            shape = (f, h_out, w_out)
        elif kind == "pool":
            _, k, s = layer
            c, h, w = shape
            h_out, w_out = out_size(h, k, s, 0), out_size(w, k, s, 0)
            {pool_costs}
            shape = (c, h_out, w_out)
        elif kind == "flatten":
            shape = {flatten}
        elif kind == "linear":
            {linear_check}
            d, out_features = shape[0], layer[1]
            params = d * out_features + out_features
            macs = {linear_macs}
            shape = (out_features,)
        elif kind not in ("relu", "dropout"):
            raise ValueError(f"unknown layer kind {{kind!r}}")
        rows.append({{"layer": layer, "output_shape": shape, "params": params, "macs": macs}})
    return rows
'''

_RIGHT = dict(
    size_formula="(size + 2 * padding - kernel_size) // stride + 1",
    conv_params="f * c * k * k + f",
    conv_macs="f * h_out * w_out * c * k * k",
    pool_costs="pass",
    flatten="(math.prod(shape),)",
    linear_check=('if len(shape) != 1:\n'
                  '                raise ValueError(f"{layer} needs a flat input, got {shape}")'),
    linear_macs="d * out_features",
)


def _table(**changes) -> str:
    unknown = set(changes) - set(_RIGHT)
    if unknown:
        raise ValueError(f"catalogue: no placeholder {unknown}")
    return _TABLE.format(**{**_RIGHT, **changes})


_COMPOSE_CHECKS = '''def compose_kernels(k1, k2):
    k1 = np.asarray(k1, dtype=float)
    k2 = np.asarray(k2, dtype=float)
    if k1.ndim != 4:
        raise ValueError(f"k1 must be 4-D, got shape {k1.shape}")
    if k2.ndim != 4:
        raise ValueError(f"k2 must be 4-D, got shape {k2.shape}")
    if k2.shape[1] != k1.shape[0]:
        raise ValueError(f"k2 reads {k2.shape[1]} channels, k1 makes {k1.shape[0]}")
    f1, c, kh1, kw1 = k1.shape
    f2, _, kh2, kw2 = k2.shape
'''

# compose_kernels' loop, one tap of k2 at a time, with the parts that differ left as {placeholders}
_COMPOSE_BODY = '''    composed = np.zeros((f2, c, {size}))
    for p in range(kh2):
        for q in range(kw2):
            composed[:, :, p:p + kh1, q:q + kw1] += np.einsum("{mix}", {tap}, k1)
    return {result}
'''

_COMPOSE_RIGHT = dict(size="kh1 + kh2 - 1, kw1 + kw2 - 1", mix="gf,fcuv->gcuv", tap="k2[:, :, p, q]",
                      result="composed")


def _compose(**changes) -> str:
    unknown = set(changes) - set(_COMPOSE_RIGHT)
    if unknown:
        raise ValueError(f"catalogue: no placeholder {unknown}")
    return _COMPOSE_CHECKS + _COMPOSE_BODY.format(**{**_COMPOSE_RIGHT, **changes})


MISTAKES = [
    # conv2d_params
    Variant("conv-forgot-bias", "conv2d_params",
            _PARAMS + "    return out_channels * (in_channels // groups) * kh * kw\n",
            "counts the weights only: the bias vector is forgotten"),
    Variant("conv-bias-always", "conv2d_params",
            _PARAMS + "    return out_channels * (in_channels // groups) * kh * kw + out_channels\n",
            "adds the biases even when bias=False"),
    Variant("conv-forgot-in-channels", "conv2d_params",
            _PARAMS + "    return out_channels * kh * kw + (out_channels if bias else 0)\n",
            "a filter taken as KH x KW: its depth (the input channels) is forgotten"),
    Variant("conv-groups-ignored", "conv2d_params",
            _PARAMS + "    return out_channels * in_channels * kh * kw + (out_channels if bias else 0)\n",
            "groups checked but not used: every filter still sees all input channels"),
    Variant("conv-groups-twice", "conv2d_params",
            _PARAMS + ("    return (out_channels // groups) * (in_channels // groups) * kh * kw"
                       " + (out_channels if bias else 0)\n"),
            "divides both channel counts by groups: counts one group's weights only"),
    Variant("conv-square-kernel", "conv2d_params",
            _PARAMS.replace("kh, kw = (kernel_size, kernel_size) if np.isscalar(kernel_size) "
                            "else kernel_size",
                            "kh = kw = kernel_size if np.isscalar(kernel_size) else kernel_size[0]")
            + ("    return out_channels * (in_channels // groups) * kh * kw"
               " + (out_channels if bias else 0)\n"),
            "assumes square kernels: a (3, 5) kernel counted as 3x3"),
    # linear_params
    Variant("linear-forgot-bias", "linear_params",
            "def linear_params(in_features, out_features, bias=True):" + _LINEAR_CHECKS
            + "    return in_features * out_features\n",
            "weights only"),
    Variant("linear-bias-per-input", "linear_params",
            "def linear_params(in_features, out_features, bias=True):" + _LINEAR_CHECKS
            + "    return in_features * out_features + (in_features if bias else 0)\n",
            "one bias per input instead of one per output"),
    # unshared_params
    Variant("unshared-bias-shared", "unshared_params",
            _UNSHARED + ("    units = out_channels * h_out * w_out\n"
                         "    return units * in_channels * kh * kw + (out_channels if bias else 0)\n"),
            "one bias per output map, as in a convolution: the biases are still shared"),
    Variant("unshared-square-map", "unshared_params",
            _UNSHARED + ("    units = out_channels * h_out * h_out\n"
                         "    return units * in_channels * kh * kw + (units if bias else 0)\n"),
            "assumes square output maps: H_out * H_out positions"),
    Variant("unshared-forgot-channels", "unshared_params",
            _UNSHARED + ("    units = out_channels * h_out * w_out\n"
                         "    return units * kh * kw + (units if bias else 0)\n"),
            "each unit's patch taken as KH x KW: the input channels are forgotten"),
    # conv2d_macs
    Variant("macs-count-bias", "conv2d_macs",
            _MACS + ("    outputs = out_channels * h_out * w_out\n"
                     "    return outputs * (in_channels // groups) * kh * kw + outputs\n"),
            "counts the bias additions as MACs"),
    Variant("macs-groups-ignored", "conv2d_macs",
            _MACS + "    return out_channels * h_out * w_out * in_channels * kh * kw\n",
            "every output reads all input channels, whatever groups says"),
    Variant("macs-one-position", "conv2d_macs",
            _MACS + "    return out_channels * (in_channels // groups) * kh * kw\n",
            "the cost of one output position: the map size is forgotten (MACs = params)"),
    # linear_macs
    Variant("linear-macs-count-bias", "linear_macs",
            "def linear_macs(in_features, out_features):" + _LINEAR_CHECKS
            + "    return in_features * out_features + out_features\n",
            "counts the bias additions as MACs"),
    # layer_table
    Variant("table-pool-with-params", "layer_table",
            _table(pool_costs="params = c"),
            "pooling given one parameter per channel"),
    Variant("table-pool-macs", "layer_table",
            _table(pool_costs="macs = c * h_out * w_out * k * k"),
            "pooling's comparisons counted as multiply-accumulates"),
    Variant("table-off-by-one", "layer_table",
            _table(size_formula="(size + 2 * padding - kernel_size) // stride"),
            "output size without the + 1: wrong shapes and MACs downstream"),
    Variant("table-padding-once", "layer_table",
            _table(size_formula="(size + padding - kernel_size) // stride + 1"),
            "padding added on one side only"),
    Variant("table-forgot-in-channels", "layer_table",
            _table(conv_params="f * k * k + f", conv_macs="f * h_out * w_out * k * k"),
            "a filter taken as k x k: the input channels are forgotten"),
    Variant("table-conv-no-bias", "layer_table",
            _table(conv_params="f * c * k * k"),
            "convolution biases forgotten"),
    Variant("table-macs-count-bias", "layer_table",
            _table(conv_macs="f * h_out * w_out * (c * k * k + 1)",
                   linear_macs="d * out_features + out_features"),
            "bias additions counted as MACs"),
    Variant("table-flatten-one-map", "layer_table",
            _table(flatten="(shape[-2] * shape[-1],) if len(shape) == 3 else shape"),
            "flatten forgets the channels: the first linear layer gets H*W inputs"),
    # compose_kernels
    Variant("compose-correlation", "compose_kernels",
            _compose(tap="k2[:, :, kh2 - 1 - p, kw2 - 1 - q]"),
            "kernels composed by correlation instead of convolution: k2 enters flipped"),
    Variant("compose-flipped-result", "compose_kernels",
            _compose(result="composed[:, :, ::-1, ::-1]"),
            "flips both kernels to make true convolutions of them, composes, and forgets to flip back"),
    Variant("compose-channels-transposed", "compose_kernels",
            _compose(mix="fg,fcuv->gcuv"),
            "wrong order in the channel product: k2's matrix transposed (runs only when F1 == F2)"),
    Variant("compose-size-no-minus-one", "compose_kernels",
            _compose(size="kh1 + kh2, kw1 + kw2"),
            "kernel of size KH1 + KH2 instead of KH1 + KH2 - 1: a row and a column of zeros too many"),
    Variant("compose-last-middle-channel", "compose_kernels",
            _COMPOSE_CHECKS + '''    for f in range(f1):
        composed = np.zeros((f2, c, kh1 + kh2 - 1, kw1 + kw2 - 1))  # reset for every middle channel
        for p in range(kh2):
            for q in range(kw2):
                composed[:, :, p:p + kh1, q:q + kw1] += k2[:, f, p, q][:, None, None, None] * k1[f][None]
    return composed
''', "the sum over the middle channel is missing: only the last channel's term is kept"),
    Variant("compose-elementwise", "compose_kernels",
            _COMPOSE_CHECKS + '''    return np.einsum("gfuv,fcuv->gcuv", k2, k1)
''', "elementwise product of the kernels, summed over the middle channel: no sliding, no growth"),
]

PARTIAL = [
    # conv2d_params
    Variant("conv-no-groups-check", "conv2d_params",
            '''def conv2d_params(in_channels, out_channels, kernel_size, bias=True, groups=1):
    kh, kw = (kernel_size, kernel_size) if np.isscalar(kernel_size) else kernel_size
    for name, value in (("in_channels", in_channels), ("out_channels", out_channels),
                        ("kernel_size", min(kh, kw)), ("groups", groups)):
        if value < 1:
            raise ValueError(f"{name}={value} must be at least 1")
    return out_channels * (in_channels // groups) * kh * kw + (out_channels if bias else 0)
''', "no ValueError when groups does not divide the channels (PyTorch refuses the layer)"),
    Variant("conv-size-errors-name-nothing", "conv2d_params",
            '''def conv2d_params(in_channels, out_channels, kernel_size, bias=True, groups=1):
    kh, kw = (kernel_size, kernel_size) if np.isscalar(kernel_size) else kernel_size
    if min(in_channels, out_channels, kh, kw) < 1:
        raise ValueError("every size must be at least 1")
    if groups < 1 or in_channels % groups or out_channels % groups:
        raise ValueError(f"groups={groups} must be at least 1 and divide both channel counts")
    return out_channels * (in_channels // groups) * kh * kw + (out_channels if bias else 0)
''', "right counts, but the ValueError for a size below 1 does not say which argument"),
    # linear_params
    Variant("linear-no-checks", "linear_params",
            "def linear_params(in_features, out_features, bias=True):\n"
            "    return in_features * out_features + (out_features if bias else 0)\n",
            "right counts, but in_features=0 gives 0 parameters instead of a ValueError"),
    # unshared_params
    Variant("unshared-no-output-size-check", "unshared_params",
            '''def unshared_params(in_channels, out_channels, kernel_size, output_size, bias=True):
    kh, kw = (kernel_size, kernel_size) if np.isscalar(kernel_size) else kernel_size
    h_out, w_out = (output_size, output_size) if np.isscalar(output_size) else output_size
    for name, value in (("in_channels", in_channels), ("out_channels", out_channels),
                        ("kernel_size", min(kh, kw))):
        if value < 1:
            raise ValueError(f"{name}={value} must be at least 1")
    units = out_channels * h_out * w_out
    return units * in_channels * kh * kw + (units if bias else 0)
''', "right counts, but an empty or negative output map is not refused"),
    # conv2d_macs
    Variant("macs-no-groups-check", "conv2d_macs",
            _without(_MACS, '''    if in_channels % groups or out_channels % groups:
        raise ValueError(f"groups={groups} must divide both channel counts")
''') + "    return out_channels * h_out * w_out * (in_channels // groups) * kh * kw\n",
            "right counts, but groups that do not divide the channels are not refused"),
    # linear_macs
    Variant("linear-macs-no-checks", "linear_macs",
            "def linear_macs(in_features, out_features):\n    return in_features * out_features\n",
            "right counts, but sizes below 1 are not refused"),
    # layer_table
    Variant("table-int-truncation", "layer_table",
            _table(size_formula="int((size + 2 * padding - kernel_size) / stride) + 1"),
            "int() rounds towards zero: a window that overhangs by less than a stride still 'fits'"),
    Variant("table-no-flatten-check", "layer_table",
            _table(linear_check="pass"),
            "a linear layer after a (C, H, W) shape is accepted (reads C as its inputs)"),
    # compose_kernels
    Variant("compose-no-checks", "compose_kernels",
            '''def compose_kernels(k1, k2):
    f1, c, kh1, kw1 = np.shape(k1)
    f2, _, kh2, kw2 = np.shape(k2)
    composed = np.zeros((f2, c, kh1 + kh2 - 1, kw1 + kw2 - 1))
    for p in range(kh2):
        for q in range(kw2):
            composed[:, :, p:p + kh1, q:q + kw1] += np.tensordot(k2[:, :, p, q], k1, axes=1)
    return composed
''', "right kernels, but no ValueError that names k1 or k2 for channels that do not match or a 3-D kernel"),
]

ALTERNATIVES = [
    Variant("conv-weight-shape", "conv2d_params",
            '''def conv2d_params(in_channels, out_channels, kernel_size, bias=True, groups=1):
    if isinstance(kernel_size, int):
        kernel_size = (kernel_size, kernel_size)
    sizes = {"in_channels": in_channels, "out_channels": out_channels, "groups": groups}
    for name, value in sizes.items():
        if value < 1:
            raise ValueError(f"{name} must be positive, got {value}")
    if min(kernel_size) < 1:
        raise ValueError(f"kernel_size must be positive, got {kernel_size}")
    if in_channels % groups != 0:
        raise ValueError("in_channels must be divisible by groups")
    if out_channels % groups != 0:
        raise ValueError("out_channels must be divisible by groups")
    weight_shape = (out_channels, in_channels // groups, *kernel_size)  # (F, C/g, KH, KW)
    bias_shape = (out_channels,) if bias else (0,)
    return math.prod(weight_shape) + math.prod(bias_shape)
''', "the product of the weight tensor's shape, plus the bias vector"),
    Variant("conv-measured-in-pytorch", "conv2d_params",
            '''def conv2d_params(in_channels, out_channels, kernel_size, bias=True, groups=1):
    kernel = np.broadcast_to(np.asarray(kernel_size), (2,))
    if min(in_channels, out_channels) < 1:
        raise ValueError(f"in_channels={in_channels} and out_channels={out_channels} must be >= 1")
    if kernel.min() < 1:
        raise ValueError(f"kernel_size={kernel_size} must be >= 1")
    if groups < 1 or in_channels % groups or out_channels % groups:
        raise ValueError(f"groups={groups} must be >= 1 and divide the channel counts")
    layer = nn.Conv2d(in_channels, out_channels, tuple(int(k) for k in kernel), bias=bias,
                      groups=groups, device="meta")  # shapes only, no memory
    return sum(p.numel() for p in layer.parameters())
''', "builds the layer on the meta device and counts its parameters"),
    Variant("linear-augmented-input", "linear_params",
            '''def linear_params(in_features, out_features, bias=True):
    if in_features < 1 or out_features < 1:
        raise ValueError(f"in_features={in_features}, out_features={out_features}: both must be >= 1")
    # the bias as one more weight on a constant input of 1
    return (in_features + int(bool(bias))) * out_features
''', "bias folded into the weight matrix as an extra input"),
    Variant("unshared-per-unit", "unshared_params",
            '''def unshared_params(in_channels, out_channels, kernel_size, output_size, bias=True):
    kh, kw = kernel_size if isinstance(kernel_size, tuple) else (kernel_size, kernel_size)
    oh, ow = output_size if isinstance(output_size, tuple) else (output_size, output_size)
    if in_channels < 1:
        raise ValueError("in_channels must be at least 1")
    if out_channels < 1:
        raise ValueError("out_channels must be at least 1")
    if kh < 1 or kw < 1:
        raise ValueError("kernel_size must be at least 1")
    if oh < 1 or ow < 1:
        raise ValueError("output_size must be at least 1")
    per_unit = in_channels * kh * kw + (1 if bias else 0)  # one private filter and bias
    return per_unit * out_channels * oh * ow
''', "parameters of one output unit times the number of units"),
    Variant("macs-loop-over-groups", "conv2d_macs",
            _MACS + '''    total = 0
    per_group_in, per_group_out = in_channels // groups, out_channels // groups
    for _ in range(groups):  # each group is an ordinary convolution of its own
        total += per_group_out * h_out * w_out * per_group_in * kh * kw
    return total
''', "sums the MACs of the g independent small convolutions"),
    Variant("linear-macs-as-1x1-conv", "linear_macs",
            '''def linear_macs(in_features, out_features):
    if in_features < 1:
        raise ValueError(f"in_features={in_features} must be at least 1")
    if out_features < 1:
        raise ValueError(f"out_features={out_features} must be at least 1")
    # a linear layer is a 1x1 convolution on a 1x1 map with in_features channels
    out_h = out_w = kernel_h = kernel_w = 1
    return out_features * out_h * out_w * in_features * kernel_h * kernel_w
''', "seen as a 1x1 convolution on a 1x1 map"),
    Variant("table-float-floor", "layer_table",
            _table(size_formula="math.floor((size + 2 * padding - kernel_size) / stride) + 1"),
            "math.floor of a true division (rounds negative values down, as //)"),
    Variant("table-measured-in-pytorch", "layer_table",
            '''def layer_table(layers, input_shape):
    from torch.utils.flop_counter import FlopCounterMode

    x = torch.zeros(1, *input_shape, device="meta")
    rows = []
    for layer in layers:
        kind, *args = layer
        if kind in ("conv", "pool") and x.dim() != 4:
            raise ValueError(f"{layer} needs a (C, H, W) input")
        if kind == "linear" and x.dim() != 2:
            raise ValueError(f"{layer} needs a flat input")
        if kind == "conv":
            module = nn.Conv2d(x.shape[1], *args, device="meta")
        elif kind == "linear":
            module = nn.Linear(x.shape[1], *args, device="meta")
        elif kind == "pool":
            module = nn.MaxPool2d(*args)
        elif kind in ("relu", "dropout", "flatten"):
            module = nn.Flatten() if kind == "flatten" else nn.Identity()
        else:
            raise ValueError(f"unknown layer kind {kind!r}")
        try:
            with FlopCounterMode(display=False) as counter:
                x = module(x)
        except RuntimeError as err:
            raise ValueError(f"{layer} does not fit: {err}") from None
        rows.append({"layer": layer, "output_shape": tuple(x.shape[1:]),
                     "params": sum(p.numel() for p in module.parameters()),
                     "macs": counter.get_total_flops() // 2})
    return rows
''', "lets PyTorch do the counting: meta-device modules and FlopCounterMode"),
    Variant("table-dispatch", "layer_table",
            '''def layer_table(layers, input_shape):
    def size_after(n, k, s, p=0):
        out = (n + 2 * p - k) // s + 1
        if out < 1:
            raise ValueError(f"window of size {k} does not fit in {n} (+{p} padding)")
        return out

    def conv(shape, f, k, s, p):
        if len(shape) != 3:
            raise ValueError("conv needs a (C, H, W) input")
        c, h, w = shape
        new = (f, size_after(h, k, s, p), size_after(w, k, s, p))
        weights = f * c * k * k
        return new, weights + f, weights * new[1] * new[2]

    def pool(shape, k, s):
        if len(shape) != 3:
            raise ValueError("pool needs a (C, H, W) input")
        return (shape[0], size_after(shape[1], k, s), size_after(shape[2], k, s)), 0, 0

    def linear(shape, f):
        if len(shape) != 1:
            raise ValueError("linear needs a flat input")
        return (f,), shape[0] * f + f, shape[0] * f

    rules = {
        "conv": conv,
        "pool": pool,
        "linear": linear,
        "flatten": lambda shape: ((int(np.prod(shape)),), 0, 0),
        "relu": lambda shape: (shape, 0, 0),
        "dropout": lambda shape, p: (shape, 0, 0),
    }
    shape, table = tuple(input_shape), []
    for layer in layers:
        if layer[0] not in rules:
            raise ValueError(f"unknown layer kind {layer[0]!r}")
        shape, params, macs = rules[layer[0]](shape, *layer[1:])
        table.append(dict(layer=layer, output_shape=shape, params=params, macs=macs))
    return table
''', "one small function per layer kind, looked up in a dict"),
    Variant("compose-loops", "compose_kernels",
            '''def compose_kernels(k1, k2):
    k1, k2 = np.asarray(k1, dtype=float), np.asarray(k2, dtype=float)
    if k1.ndim != 4 or k2.ndim != 4:
        raise ValueError(f"k1 and k2 must both be 4-D, got k1 {k1.shape} and k2 {k2.shape}")
    if k1.shape[0] != k2.shape[1]:
        raise ValueError(f"k2.shape[1]={k2.shape[1]} must equal k1.shape[0]={k1.shape[0]}")
    f1, c, kh1, kw1 = k1.shape
    f2, _, kh2, kw2 = k2.shape
    out = np.zeros((f2, c, kh1 + kh2 - 1, kw1 + kw2 - 1))
    for g in range(f2):
        for ch in range(c):
            for f in range(f1):
                for a in range(kh1):
                    for b in range(kw1):
                        for p in range(kh2):
                            for q in range(kw2):
                                out[g, ch, a + p, b + q] += k2[g, f, p, q] * k1[f, ch, a, b]
    return out
''', "seven plain loops: every product k2[g, f, p, q] * k1[f, c, a, b] lands on tap (a + p, b + q)"),
    Variant("compose-loop-over-k1-taps", "compose_kernels",
            _COMPOSE_CHECKS + '''    out = np.zeros((f2, c, kh1 + kh2 - 1, kw1 + kw2 - 1))
    for a in range(kh1):
        for b in range(kw1):
            out[:, :, a:a + kh2, b:b + kw2] += np.einsum("gfpq,fc->gcpq", k2, k1[:, :, a, b])
    return out
''', "slides k2 over k1's taps instead of k1 over k2's (convolution commutes)"),
    Variant("compose-windows-einsum", "compose_kernels",
            _COMPOSE_CHECKS + '''    padded = np.pad(k1, ((0, 0), (0, 0), (kh2 - 1, kh2 - 1), (kw2 - 1, kw2 - 1)))
    windows = np.lib.stride_tricks.sliding_window_view(padded, (kh2, kw2), axis=(2, 3))
    # windows: (F1, C, KH, KW, KH2, KW2); full convolution = correlation with the flipped kernel
    return np.einsum("fcuvpq,gfpq->gcuv", windows, k2[:, :, ::-1, ::-1])
''', "full convolution as a correlation of the zero-padded k1 with the flipped k2, in one einsum"),
    Variant("compose-torch-conv2d", "compose_kernels",
            _COMPOSE_CHECKS + '''    # k1's C input channels as a batch, its F1 output channels as channels: (C, F1, KH1, KW1)
    batch = torch.from_numpy(np.ascontiguousarray(k1.transpose(1, 0, 2, 3)))
    weight = torch.flip(torch.from_numpy(k2), dims=(2, 3))  # flipped: a true convolution
    out = torch.nn.functional.conv2d(batch, weight, padding=(kh2 - 1, kw2 - 1))  # (C, F2, KH, KW)
    return out.numpy().transpose(1, 0, 2, 3)
''', "PyTorch does the work: F.conv2d of k1 (channels as a batch) with the flipped k2, padded to full size"),
    Variant("compose-fft", "compose_kernels",
            _COMPOSE_CHECKS + '''    size = (kh1 + kh2 - 1, kw1 + kw2 - 1)
    spectrum = np.einsum("gfuv,fcuv->gcuv", np.fft.rfft2(k2, s=size), np.fft.rfft2(k1, s=size))
    return np.fft.irfft2(spectrum, s=size)
''', "convolution theorem: multiply the zero-padded spectra, summed over the middle channel"),
]
