"""01_convolution: common mistakes (each must lose points), partial answers (right values, one rule
missed: fewer points lost than any mistake) and other correct answers (full marks)."""

from harness import Variant

_CONV2D_HEAD = '''def conv2d(x, w, b=None, stride=1, padding=0):
    x = np.asarray(x, dtype=float); w = np.asarray(w, dtype=float)
    sh, sw = (stride, stride) if np.isscalar(stride) else stride
    ph, pw = (padding, padding) if np.isscalar(padding) else padding
    if w.shape[1] != x.shape[1]:
        raise ValueError("w and x have different channel counts")
    if sh < 1 or sw < 1:
        raise ValueError(f"stride must be at least 1, got {stride}")
    if ph < 0 or pw < 0:
        raise ValueError(f"padding must not be negative, got {padding}")
    n, c, h, wd = x.shape
    f, _, kh, kw = w.shape
    if kh > h + 2 * ph or kw > wd + 2 * pw:
        raise ValueError("kernel w larger than the padded input")
'''

MISTAKES = [
    Variant("conv1d-correlate", "conv1d", '''
def conv1d(x, h):
    return np.correlate(np.asarray(x, float), np.asarray(h, float), mode="full")
''', "cross-correlation instead of convolution: the kernel is not flipped"),
    Variant("conv1d-valid-length", "conv1d", '''
def conv1d(x, h):
    x = np.asarray(x, float); h = np.asarray(h, float)
    if len(h) > len(x):
        x, h = h, x
    return np.convolve(x, h, mode="valid")
''', "only the positions where the kernel fully overlaps: len(x)-len(h)+1 values"),
    Variant("conv1d-same-length", "conv1d", '''
def conv1d(x, h):
    y = np.zeros(len(x))
    for n in range(len(x)):
        for k in range(len(x)):
            if 0 <= n - k < len(h):
                y[n] += x[k] * h[n - k]
    return y
''', "output as long as x: the tail of the full convolution is cut off"),
    Variant("corr2d-flips", "corr2d", '''
def corr2d(x, k):
    x = np.asarray(x, float); k = np.asarray(k, float)[::-1, ::-1]
    kh, kw = k.shape
    y = np.zeros((x.shape[0] - kh + 1, x.shape[1] - kw + 1))
    for i in range(y.shape[0]):
        for j in range(y.shape[1]):
            y[i, j] = np.sum(x[i:i + kh, j:j + kw] * k)
    return y
''', "flips the kernel: true convolution where CNNs correlate"),
    Variant("corr2d-off-by-one", "corr2d", '''
def corr2d(x, k):
    x = np.asarray(x, float); k = np.asarray(k, float)
    kh, kw = k.shape
    y = np.zeros((x.shape[0] - kh, x.shape[1] - kw))
    for i in range(y.shape[0]):
        for j in range(y.shape[1]):
            y[i, j] = np.sum(x[i:i + kh, j:j + kw] * k)
    return y
''', "output size H-KH instead of H-KH+1: the last window is missed"),
    Variant("convolve2d-one-axis", "convolve2d", '''
def convolve2d(x, k):
    return corr2d(x, np.asarray(k, float)[::-1])
''', "flips the rows of the kernel only"),
    Variant("convolve2d-no-flip", "convolve2d", '''
def convolve2d(x, k):
    return corr2d(x, k)
''', "forgets the flip: cross-correlation"),
    Variant("pad2d-every-axis", "pad2d", '''
def pad2d(x, padding):
    if np.isscalar(padding):
        if padding < 0:
            raise ValueError(f"padding must not be negative, got {padding}")
        return np.pad(x, padding)
    ph, pw = padding
    if ph < 0 or pw < 0:
        raise ValueError(f"padding must not be negative, got {padding}")
    return np.pad(x, [(0, 0)] * (np.ndim(x) - 2) + [(ph, ph), (pw, pw)])
''', "an int padding pads every axis, batch and channels too"),
    Variant("pad2d-one-side", "pad2d", '''
def pad2d(x, padding):
    ph, pw = (padding, padding) if np.isscalar(padding) else padding
    if ph < 0 or pw < 0:
        raise ValueError(f"padding must not be negative, got {padding}")
    x = np.asarray(x)
    return np.pad(x, [(0, 0)] * (x.ndim - 2) + [(0, 2 * ph), (0, 2 * pw)])
''', "all the zeros after the image, none before it"),
    Variant("pad2d-swapped-pair", "pad2d", '''
def pad2d(x, padding):
    pw, ph = (padding, padding) if np.isscalar(padding) else padding
    if ph < 0 or pw < 0:
        raise ValueError(f"padding must not be negative, got {padding}")
    x = np.asarray(x)
    return np.pad(x, [(0, 0)] * (x.ndim - 2) + [(ph, ph), (pw, pw)])
''', "reads (ph, pw) as (columns, rows)"),
    Variant("conv2d-no-bias", "conv2d", _CONV2D_HEAD + '''
    xp = pad2d(x, (ph, pw))
    h_out, w_out = (h + 2 * ph - kh) // sh + 1, (wd + 2 * pw - kw) // sw + 1
    out = np.zeros((n, f, h_out, w_out))
    for i in range(h_out):
        for j in range(w_out):
            window = xp[:, :, i * sh:i * sh + kh, j * sw:j * sw + kw]
            out[:, :, i, j] = np.tensordot(window, w, axes=([1, 2, 3], [1, 2, 3]))
    return out
''', "forgets to add the bias"),
    Variant("conv2d-first-channel-only", "conv2d", _CONV2D_HEAD + '''
    xp = pad2d(x, (ph, pw))
    h_out, w_out = (h + 2 * ph - kh) // sh + 1, (wd + 2 * pw - kw) // sw + 1
    out = np.zeros((n, f, h_out, w_out))
    for i in range(h_out):
        for j in range(w_out):
            window = xp[:, 0, i * sh:i * sh + kh, j * sw:j * sw + kw]
            out[:, :, i, j] = np.tensordot(window, w[:, 0], axes=([1, 2], [1, 2]))
    if b is not None:
        out += np.asarray(b, float)[None, :, None, None]
    return out
''', "no sum over input channels: only channel 0 is used"),
    Variant("conv2d-size-without-plus-one", "conv2d", _CONV2D_HEAD + '''
    xp = pad2d(x, (ph, pw))
    h_out, w_out = max((h + 2 * ph - kh) // sh, 1), max((wd + 2 * pw - kw) // sw, 1)
    out = np.zeros((n, f, h_out, w_out))
    for i in range(h_out):
        for j in range(w_out):
            window = xp[:, :, i * sh:i * sh + kh, j * sw:j * sw + kw]
            out[:, :, i, j] = np.tensordot(window, w, axes=([1, 2, 3], [1, 2, 3]))
    if b is not None:
        out += np.asarray(b, float)[None, :, None, None]
    return out
''', "output size (H + 2p - K) // s, without the + 1"),
    Variant("conv2d-flipped-kernel", "conv2d", _CONV2D_HEAD + '''
    w = w[:, :, ::-1, ::-1]
    xp = pad2d(x, (ph, pw))
    h_out, w_out = (h + 2 * ph - kh) // sh + 1, (wd + 2 * pw - kw) // sw + 1
    out = np.zeros((n, f, h_out, w_out))
    for i in range(h_out):
        for j in range(w_out):
            window = xp[:, :, i * sh:i * sh + kh, j * sw:j * sw + kw]
            out[:, :, i, j] = np.tensordot(window, w, axes=([1, 2, 3], [1, 2, 3]))
    if b is not None:
        out += np.asarray(b, float)[None, :, None, None]
    return out
''', "true convolution: PyTorch layers do not flip"),
    Variant("conv2d-stride-subsamples-input", "conv2d", _CONV2D_HEAD + '''
    xp = pad2d(x, (ph, pw))[:, :, ::sh, ::sw]
    h_out, w_out = xp.shape[2] - kh + 1, xp.shape[3] - kw + 1
    out = np.zeros((n, f, h_out, w_out))
    for i in range(h_out):
        for j in range(w_out):
            window = xp[:, :, i:i + kh, j:j + kw]
            out[:, :, i, j] = np.tensordot(window, w, axes=([1, 2, 3], [1, 2, 3]))
    if b is not None:
        out += np.asarray(b, float)[None, :, None, None]
    return out
''', "applies the stride to the input pixels instead of to the window positions"),
    Variant("conv2d-fast-bias-on-wrong-axis", "conv2d_fast", '''
def conv2d_fast(x, w, b=None, stride=1, padding=0):
    x = np.asarray(x, dtype=float); w = np.asarray(w, dtype=float)
    if w.shape[1] != x.shape[1]:
        raise ValueError("channel mismatch between w and x")
    sh, sw = (stride, stride) if np.isscalar(stride) else stride
    if sh < 1 or sw < 1:
        raise ValueError(f"stride must be at least 1, got {stride}")
    ph, pw = (padding, padding) if np.isscalar(padding) else padding
    xp = pad2d(x, (ph, pw))
    f, c, kh, kw = w.shape
    win = np.lib.stride_tricks.sliding_window_view(xp, (kh, kw), axis=(2, 3))[:, :, ::sh, ::sw]
    out = np.einsum("nchwij,fcij->nfhw", win, w)
    if b is not None:
        out = out + np.asarray(b, float)  # broadcasts along the last axis (W_out) when F == W_out
    return out
''', "adds b along the last axis instead of the filter axis"),
    Variant("conv2d-fast-strides-swapped", "conv2d_fast", '''
def conv2d_fast(x, w, b=None, stride=1, padding=0):
    x = np.asarray(x, dtype=float); w = np.asarray(w, dtype=float)
    if w.shape[1] != x.shape[1]:
        raise ValueError("channel mismatch between w and x")
    sh, sw = (stride, stride) if np.isscalar(stride) else stride
    if sh < 1 or sw < 1:
        raise ValueError(f"stride must be at least 1, got {stride}")
    ph, pw = (padding, padding) if np.isscalar(padding) else padding
    xp = pad2d(x, (ph, pw))
    f, c, kh, kw = w.shape
    win = np.lib.stride_tricks.sliding_window_view(xp, (kh, kw), axis=(2, 3))[:, :, ::sw, ::sh]
    out = np.einsum("nchwij,fcij->nfhw", win, w)
    return out if b is None else out + np.asarray(b, float)[None, :, None, None]
''', "reads stride=(rows, columns) the other way round"),
    Variant("fft-circular", "fft_conv2d", '''
def fft_conv2d(x, k):
    x = np.asarray(x, float)
    return np.real(np.fft.ifft2(np.fft.fft2(x) * np.fft.fft2(k, s=x.shape)))
''', "no zero padding: a circular convolution of the image's size"),
    Variant("fft-correlation", "fft_conv2d", '''
def fft_conv2d(x, k):
    x = np.asarray(x, float); k = np.asarray(k, float)
    shape = (x.shape[0] + k.shape[0] - 1, x.shape[1] + k.shape[1] - 1)
    return np.real(np.fft.ifft2(np.fft.fft2(x, s=shape) * np.conj(np.fft.fft2(k, s=shape))))
''', "multiplies by the conjugate spectrum: a circular cross-correlation, not a convolution"),
    Variant("sobel-no-sqrt", "sobel_edges", '''
def sobel_edges(img):
    kx = np.array([[-1.0, 0, 1], [-2, 0, 2], [-1, 0, 1]])
    return corr2d(img, kx) ** 2 + corr2d(img, kx.T) ** 2
''', "squared magnitude: forgets the square root"),
    Variant("sobel-abs-sum", "sobel_edges", '''
def sobel_edges(img):
    kx = np.array([[-1.0, 0, 1], [-2, 0, 2], [-1, 0, 1]])
    return np.abs(corr2d(img, kx)) + np.abs(corr2d(img, kx.T))
''', "|gx| + |gy|, a cheaper approximation, not the magnitude"),
    Variant("sobel-gx-only", "sobel_edges", '''
def sobel_edges(img):
    kx = np.array([[-1.0, 0, 1], [-2, 0, 2], [-1, 0, 1]])
    return np.abs(corr2d(img, kx))
''', "only vertical edges"),
]

PARTIAL = [
    Variant("conv1d-flips-kernel-in-place", "conv1d", '''
def conv1d(x, h):
    x = np.asarray(x, dtype=float); h = np.asarray(h, dtype=float)
    h[:] = h[::-1].copy()  # flip the kernel, then slide it: the caller's float array is flipped too
    y = np.zeros(len(x) + len(h) - 1)
    xp = np.concatenate([np.zeros(len(h) - 1), x, np.zeros(len(h) - 1)])
    for n in range(len(y)):
        y[n] = np.dot(xp[n:n + len(h)], h)
    return y
''', "right values, but it flips the caller's kernel in place (float arrays are not copied)"),
    Variant("pad2d-no-check", "pad2d", '''
def pad2d(x, padding):
    ph, pw = (padding, padding) if np.isscalar(padding) else padding
    x = np.asarray(x)
    out = np.zeros(x.shape[:-2] + (x.shape[-2] + 2 * ph, x.shape[-1] + 2 * pw), dtype=x.dtype)
    out[..., ph:ph + x.shape[-2], pw:pw + x.shape[-1]] = x
    return out
''', "a negative padding gives a wrong array instead of a ValueError"),
    Variant("conv2d-no-channel-check", "conv2d", '''
def conv2d(x, w, b=None, stride=1, padding=0):
    x = np.asarray(x, dtype=float); w = np.asarray(w, dtype=float)
    sh, sw = (stride, stride) if np.isscalar(stride) else stride
    ph, pw = (padding, padding) if np.isscalar(padding) else padding
    if sh < 1 or sw < 1:
        raise ValueError(f"stride must be at least 1, got {stride}")
    if ph < 0 or pw < 0:
        raise ValueError(f"padding must not be negative, got {padding}")
    n, c, h, wd = x.shape
    f, _, kh, kw = w.shape
    if kh > h + 2 * ph or kw > wd + 2 * pw:
        raise ValueError("kernel w larger than the padded input")
    xp = pad2d(x, (ph, pw))
    h_out, w_out = (h + 2 * ph - kh) // sh + 1, (wd + 2 * pw - kw) // sw + 1
    out = np.zeros((n, f, h_out, w_out))
    for i in range(h_out):
        for j in range(w_out):
            window = xp[:, None, :, i * sh:i * sh + kh, j * sw:j * sw + kw]
            out[:, :, i, j] = (window * w[None]).sum(axis=(2, 3, 4))
    if b is not None:
        out += np.asarray(b, float)[None, :, None, None]
    return out
''', "no channel check: 1-channel filters broadcast silently over a 3-channel input"),
    Variant("conv2d-fast-loops-over-positions", "conv2d_fast", '''
def conv2d_fast(x, w, b=None, stride=1, padding=0):
    return conv2d(x, w, b, stride=stride, padding=padding)
''', "correct numbers, but it is the loop version: a Python loop over output positions"),
    Variant("conv2d-fast-loops-over-batch", "conv2d_fast", '''
def conv2d_fast(x, w, b=None, stride=1, padding=0):
    x = np.asarray(x, dtype=float)
    return np.stack([_one(xi, w, b, stride, padding) for xi in x])

def _one(xi, w, b, stride, padding):
    w = np.asarray(w, dtype=float)
    if w.shape[1] != xi.shape[0]:
        raise ValueError("channel mismatch between w and x")
    sh, sw = (stride, stride) if np.isscalar(stride) else stride
    if sh < 1 or sw < 1:
        raise ValueError(f"stride must be at least 1, got {stride}")
    ph, pw = (padding, padding) if np.isscalar(padding) else padding
    xp = pad2d(xi, (ph, pw))
    f, c, kh, kw = w.shape
    win = np.lib.stride_tricks.sliding_window_view(xp, (kh, kw), axis=(1, 2))[:, ::sh, ::sw]
    out = np.einsum("chwij,fcij->fhw", win, w)
    return out if b is None else out + np.asarray(b, float)[:, None, None]
''', "vectorized over positions but a Python loop over the batch"),
    Variant("conv2d-errors-name-nothing", "conv2d", '''
def conv2d(x, w, b=None, stride=1, padding=0):
    x = np.asarray(x, dtype=float); w = np.asarray(w, dtype=float)
    sh, sw = (stride, stride) if np.isscalar(stride) else stride
    ph, pw = (padding, padding) if np.isscalar(padding) else padding
    n, c, h, wd = x.shape
    f, _, kh, kw = w.shape
    if c != w.shape[1] or min(sh, sw) < 1 or min(ph, pw) < 0 or kh > h + 2 * ph or kw > wd + 2 * pw:
        raise ValueError("invalid arguments")
    xp = pad2d(x, (ph, pw))
    h_out, w_out = (h + 2 * ph - kh) // sh + 1, (wd + 2 * pw - kw) // sw + 1
    out = np.zeros((n, f, h_out, w_out))
    for i in range(h_out):
        for j in range(w_out):
            window = xp[:, :, i * sh:i * sh + kh, j * sw:j * sw + kw]
            out[:, :, i, j] = np.tensordot(window, w, axes=([1, 2, 3], [1, 2, 3]))
    if b is not None:
        out += np.asarray(b, float)[None, :, None, None]
    return out
''', "right values and a ValueError for every bad call, but the message names no argument"),
    Variant("conv2d-fast-no-stride-check", "conv2d_fast", '''
def conv2d_fast(x, w, b=None, stride=1, padding=0):
    x = np.asarray(x, dtype=float); w = np.asarray(w, dtype=float)
    if w.shape[1] != x.shape[1]:
        raise ValueError(f"w has {w.shape[1]} channels, x has {x.shape[1]}")
    sh, sw = (stride, stride) if np.isscalar(stride) else stride
    ph, pw = (padding, padding) if np.isscalar(padding) else padding
    f, c, kh, kw = w.shape
    xp = pad2d(x, (ph, pw))
    win = np.lib.stride_tricks.sliding_window_view(xp, (kh, kw), axis=(2, 3))[:, :, ::sh, ::sw]
    out = np.einsum("nchwij,fcij->nfhw", win, w)
    return out if b is None else out + np.asarray(b, float)[None, :, None, None]
''', "no stride check: stride=0 fails inside NumPy ('slice step cannot be zero'), not naming stride"),
    Variant("fft-complex-result", "fft_conv2d", '''
def fft_conv2d(x, k):
    x = np.asarray(x, float); k = np.asarray(k, float)
    shape = (x.shape[0] + k.shape[0] - 1, x.shape[1] + k.shape[1] - 1)
    return np.fft.ifft2(np.fft.fft2(x, s=shape) * np.fft.fft2(k, s=shape))
''', "returns the complex inverse transform"),
]

ALTERNATIVES = [
    Variant("conv1d-double-loop", "conv1d", '''
def conv1d(x, h):
    n_out = len(x) + len(h) - 1
    y = [0.0] * n_out
    for n in range(n_out):
        for k in range(len(x)):
            if 0 <= n - k < len(h):
                y[n] += float(x[k]) * float(h[n - k])
    return np.array(y)
''', "the formula, literally, with lists"),
    Variant("conv1d-numpy", "conv1d", '''
def conv1d(x, h):
    return np.convolve(np.asarray(x, dtype=float), np.asarray(h, dtype=float))
''', "NumPy's own convolve (mode='full' is its default)"),
    Variant("conv1d-fft", "conv1d", '''
def conv1d(x, h):
    n = len(x) + len(h) - 1
    return np.fft.irfft(np.fft.rfft(x, n) * np.fft.rfft(h, n), n)
''', "the convolution theorem in 1-D"),
    Variant("corr2d-einsum", "corr2d", '''
def corr2d(x, k):
    k = np.asarray(k, dtype=float)
    windows = np.lib.stride_tricks.sliding_window_view(np.asarray(x, dtype=float), k.shape)
    return np.einsum("ijab,ab->ij", windows, k)
''', "all windows at once with sliding_window_view, one einsum"),
    Variant("corr2d-shifted-sums", "corr2d", '''
def corr2d(x, k):
    x = np.asarray(x, dtype=float); k = np.asarray(k, dtype=float)
    kh, kw = k.shape
    h_out, w_out = x.shape[0] - kh + 1, x.shape[1] - kw + 1
    y = np.zeros((h_out, w_out))
    for a in range(kh):
        for b in range(kw):
            y += k[a, b] * x[a:a + h_out, b:b + w_out]
    return y
''', "a loop over the kernel's cells, adding shifted copies of the image"),
    Variant("convolve2d-loops", "convolve2d", '''
def convolve2d(x, k):
    x = np.asarray(x, dtype=float); k = np.asarray(k, dtype=float)
    kh, kw = k.shape
    y = np.zeros((x.shape[0] - kh + 1, x.shape[1] - kw + 1))
    for m in range(y.shape[0]):
        for n in range(y.shape[1]):
            for i in range(kh):
                for j in range(kw):
                    y[m, n] += x[m + kh - 1 - i, n + kw - 1 - j] * k[i, j]
    return y
''', "the flipped index written out, no flip of the array"),
    Variant("pad2d-np-pad", "pad2d", '''
def pad2d(x, padding):
    ph, pw = (padding, padding) if isinstance(padding, (int, np.integer)) else tuple(padding)
    if min(ph, pw) < 0:
        raise ValueError(f"padding must be >= 0, got padding={padding}")
    x = np.asarray(x)
    return np.pad(x, [(0, 0)] * (x.ndim - 2) + [(ph, ph), (pw, pw)], mode="constant")
''', "np.pad with per-axis widths"),
    Variant("pad2d-concatenate", "pad2d", '''
def pad2d(x, padding):
    if np.ndim(padding) == 0:
        padding = (padding, padding)
    ph, pw = padding
    if ph < 0 or pw < 0:
        raise ValueError("padding cannot be negative: " + str(padding))
    x = np.asarray(x)
    rows = np.zeros(x.shape[:-2] + (ph, x.shape[-1]), dtype=x.dtype)
    x = np.concatenate([rows, x, rows], axis=-2)
    cols = np.zeros(x.shape[:-1] + (pw,), dtype=x.dtype)
    return np.concatenate([cols, x, cols], axis=-1)
''', "zeros concatenated around the image"),
    Variant("conv2d-six-loops", "conv2d", '''
def conv2d(x, w, b=None, stride=1, padding=0):
    x = np.asarray(x, dtype=float); w = np.asarray(w, dtype=float)
    sh, sw = stride if isinstance(stride, tuple) else (stride, stride)
    ph, pw = padding if isinstance(padding, tuple) else (padding, padding)
    N, C, H, W = x.shape
    Fn, Cw, KH, KW = w.shape
    if Cw != C:
        raise ValueError(f"filters have {Cw} channels, input has {C}")
    if sh <= 0 or sw <= 0:
        raise ValueError("stride must be positive")
    if ph < 0 or pw < 0:
        raise ValueError("padding must be >= 0")
    Ho, Wo = (H + 2 * ph - KH) // sh + 1, (W + 2 * pw - KW) // sw + 1
    if Ho < 1 or Wo < 1:
        raise ValueError("the kernel w does not fit in the padded input")
    xp = np.zeros((N, C, H + 2 * ph, W + 2 * pw)); xp[:, :, ph:ph + H, pw:pw + W] = x
    out = np.zeros((N, Fn, Ho, Wo))
    for n in range(N):
        for f in range(Fn):
            for i in range(Ho):
                for j in range(Wo):
                    s = 0.0 if b is None else b[f]
                    for c in range(C):
                        for a in range(KH):
                            for bb in range(KW):
                                s += xp[n, c, i * sh + a, j * sw + bb] * w[f, c, a, bb]
                    out[n, f, i, j] = s
    return out
''', "scalar loops everywhere, its own padding"),
    Variant("conv2d-im2col-matmul", "conv2d", '''
def conv2d(x, w, b=None, stride=1, padding=0):
    x = np.asarray(x, dtype=float); w = np.asarray(w, dtype=float)
    sh, sw = np.broadcast_to(stride, 2); ph, pw = np.broadcast_to(padding, 2)
    if w.shape[1] != x.shape[1]:
        raise ValueError("w: wrong number of input channels")
    if min(sh, sw) < 1:
        raise ValueError("stride must be >= 1")
    if min(ph, pw) < 0:
        raise ValueError("padding must be >= 0")
    N, C, H, W = x.shape; Fn, _, KH, KW = w.shape
    Ho, Wo = (H + 2 * ph - KH) // sh + 1, (W + 2 * pw - KW) // sw + 1
    if Ho < 1 or Wo < 1:
        raise ValueError("kernel w too large")
    xp = pad2d(x, (ph, pw))
    cols = np.empty((N, Ho, Wo, C * KH * KW))
    for i in range(Ho):
        for j in range(Wo):
            cols[:, i, j] = xp[:, :, i * sh:i * sh + KH, j * sw:j * sw + KW].reshape(N, -1)
    out = cols @ w.reshape(Fn, -1).T  # (N, Ho, Wo, F)
    if b is not None:
        out = out + b
    return out.transpose(0, 3, 1, 2)
''', "im2col with a loop, then one matrix product"),
    Variant("conv2d-fast-kernel-offsets", "conv2d_fast", '''
def conv2d_fast(x, w, b=None, stride=1, padding=0):
    x = np.asarray(x, dtype=float); w = np.asarray(w, dtype=float)
    sh, sw = (stride, stride) if np.isscalar(stride) else stride
    ph, pw = (padding, padding) if np.isscalar(padding) else padding
    if x.shape[1] != w.shape[1]:
        raise ValueError(f"channels: x has {x.shape[1]}, w has {w.shape[1]}")
    if sh < 1 or sw < 1:
        raise ValueError(f"stride must be >= 1, got {stride}")
    if ph < 0 or pw < 0:
        raise ValueError(f"padding must be >= 0, got {padding}")
    xp = pad2d(x, (ph, pw))
    n, c, hp, wp = xp.shape; f, _, kh, kw = w.shape
    ho, wo = (hp - kh) // sh + 1, (wp - kw) // sw + 1
    if ho < 1 or wo < 1:
        raise ValueError("kernel w larger than the padded input")
    out = np.zeros((n, f, ho, wo))
    for a in range(kh):          # loops over kernel offsets only: their count does not grow with the image
        for bb in range(kw):
            patch = xp[:, :, a:a + sh * (ho - 1) + 1:sh, bb:bb + sw * (wo - 1) + 1:sw]  # (N, C, Ho, Wo)
            out += np.einsum("nchw,fc->nfhw", patch, w[:, :, a, bb])
    if b is not None:
        out += np.asarray(b, float)[None, :, None, None]
    return out
''', "one strided slice and einsum per kernel offset (KH*KW passes)"),
    Variant("conv2d-fast-as-strided-matmul", "conv2d_fast", '''
def conv2d_fast(x, w, b=None, stride=1, padding=0):
    from numpy.lib.stride_tricks import as_strided
    x = np.asarray(x, dtype=float); w = np.asarray(w, dtype=float)
    sh, sw = (stride, stride) if isinstance(stride, int) else stride
    ph, pw = (padding, padding) if isinstance(padding, int) else padding
    if w.shape[1] != x.shape[1]:
        raise ValueError("w and x disagree on the number of channels")
    if sh < 1 or sw < 1:
        raise ValueError("stride must be at least 1")
    if ph < 0 or pw < 0:
        raise ValueError("padding must not be negative")
    xp = np.ascontiguousarray(pad2d(x, (ph, pw)))
    n, c, hp, wp = xp.shape; f, _, kh, kw = w.shape
    ho, wo = (hp - kh) // sh + 1, (wp - kw) // sw + 1
    if ho < 1 or wo < 1:
        raise ValueError("kernel w does not fit")
    s = xp.strides
    cols = as_strided(xp, (n, ho, wo, c, kh, kw), (s[0], s[2] * sh, s[3] * sw, s[1], s[2], s[3]))
    out = cols.reshape(n * ho * wo, c * kh * kw) @ w.reshape(f, -1).T  # (N*Ho*Wo, F)
    out = out.reshape(n, ho, wo, f).transpose(0, 3, 1, 2)
    return out if b is None else out + np.asarray(b, float).reshape(1, -1, 1, 1)
''', "as_strided im2col and one matrix product"),
    Variant("fft-rfft2", "fft_conv2d", '''
def fft_conv2d(x, k):
    s = (np.shape(x)[0] + np.shape(k)[0] - 1, np.shape(x)[1] + np.shape(k)[1] - 1)
    return np.fft.irfft2(np.fft.rfft2(x, s) * np.fft.rfft2(k, s), s)
''', "real FFTs (rfft2 / irfft2) return real values directly"),
    Variant("fft-explicit-padding", "fft_conv2d", '''
def fft_conv2d(x, k):
    x = np.asarray(x, dtype=float); k = np.asarray(k, dtype=float)
    H, W = x.shape[0] + k.shape[0] - 1, x.shape[1] + k.shape[1] - 1
    xp = np.zeros((H, W)); xp[:x.shape[0], :x.shape[1]] = x
    kp = np.zeros((H, W)); kp[:k.shape[0], :k.shape[1]] = k
    return np.fft.ifft2(np.fft.fft2(xp) * np.fft.fft2(kp)).real
''', "pads by hand before the FFTs"),
    Variant("sobel-hypot-convolve", "sobel_edges", '''
def sobel_edges(img):
    gy_kernel = np.array([[1.0, 2.0, 1.0], [0.0, 0.0, 0.0], [-1.0, -2.0, -1.0]])
    return np.hypot(convolve2d(img, gy_kernel.T), convolve2d(img, gy_kernel))
''', "true convolution and np.hypot: the signs flip, the magnitude does not"),
    Variant("sobel-conv2d-layer", "sobel_edges", '''
def sobel_edges(img):
    kx = np.array([[-1.0, 0, 1], [-2, 0, 2], [-1, 0, 1]])
    g = conv2d_fast(np.asarray(img, float)[None, None], np.stack([kx, kx.T])[:, None])[0]  # (2, H-2, W-2)
    return np.sqrt(np.sum(g ** 2, axis=0))
''', "one conv layer with two filters"),
]
