"""`cnncourse similarity`: copied answers are flagged, disguised or not; honest ones are not.

Real copydetect on real notebooks: the release of 01_convolution with its answer cells filled in
as students fill them (the stub's signature and docstring kept, its two stub lines replaced).
"""

from __future__ import annotations

import csv
import re
import shutil
from pathlib import Path

import nbformat
import pytest
from autograde import reference_answers, source_notebook, with_answers

from cnncourse.grading.similarity import DEFAULT_THRESHOLD, similarity
from cnncourse.notebooks import graded_cells, read_notebook

ROOT = Path(__file__).resolve().parents[1]
A = "01_convolution"
STUB = "    # YOUR CODE HERE\n    raise NotImplementedError()"

# alice's conv2d cell: the reference, its argument checks in two helpers above it
ALICE_CONV2D = '''
def _pair(value):
    """(rows, columns) from an int or a pair."""
    return (value, value) if np.isscalar(value) else tuple(value)


def _check_conv_args(x, w, b, sh, sw, ph, pw):
    if x.ndim != 4 or w.ndim != 4:
        raise ValueError(f"x must be (N, C, H, W) and w (F, C, KH, KW); got x{x.shape}, w{w.shape}")
    if w.shape[1] != x.shape[1]:
        raise ValueError(f"w has {w.shape[1]} input channels but x has {x.shape[1]} channels")
    if sh < 1 or sw < 1:
        raise ValueError(f"stride must be at least 1, got {(sh, sw)}")
    if ph < 0 or pw < 0:
        raise ValueError(f"padding must not be negative, got {(ph, pw)}")
    if b is not None and np.shape(b) != (w.shape[0],):
        raise ValueError(f"b must have shape ({w.shape[0]},), got {np.shape(b)}")
    if w.shape[2] > x.shape[2] + 2 * ph or w.shape[3] > x.shape[3] + 2 * pw:
        raise ValueError("kernel (w) is larger than the padded input")


def conv2d(x, w, b=None, stride=1, padding=0):
    """Convolution layer, as torch.nn.functional.conv2d (cross-correlation)."""
    x = np.asarray(x, dtype=float)
    w = np.asarray(w, dtype=float)
    sh, sw = _pair(stride)
    ph, pw = _pair(padding)
    _check_conv_args(x, w, b, sh, sw, ph, pw)
    n, c, h, wd = x.shape
    f, _, kh, kw = w.shape
    xp = pad2d(x, (ph, pw))  # (N, C, H + 2ph, W + 2pw)
    h_out, w_out = (h + 2 * ph - kh) // sh + 1, (wd + 2 * pw - kw) // sw + 1
    out = np.zeros((n, f, h_out, w_out))
    for i in range(h_out):
        for j in range(w_out):
            window = xp[:, :, i * sh:i * sh + kh, j * sw:j * sw + kw]  # (N, C, KH, KW)
            out[:, :, i, j] = np.tensordot(window, w, axes=([1, 2, 3], [1, 2, 3]))  # (N, F)
    if b is not None:
        out += np.asarray(b, dtype=float)[None, :, None, None]
    return out
'''

# what carol hands in: alice's code, every name of hers renamed, the helpers after conv2d and in
# the other order, other comments and spacing
CAROL_NAMES = {
    "y": "result", "out": "result", "kh": "k_rows", "kw": "k_cols", "h_out": "rows_out",
    "w_out": "cols_out", "xp": "padded", "window": "patch", "windows": "patches",
    "sh": "step_r", "sw": "step_c", "ph": "pad_r", "pw": "pad_c", "wd": "width",
    "_pair": "as_two", "_check_conv_args": "validate", "gx": "grad_x", "gy": "grad_y",
    "value": "v", "shape": "full_shape", "i": "row", "j": "col", "k": "kern", "h": "filt",
}


def _disguise(code: str) -> str:
    names = sorted(CAROL_NAMES, key=len, reverse=True)  # attributes (x.shape) keep their name
    renamed = re.sub(r"(?<![\w.])(" + "|".join(map(re.escape, names)) + r")\b",
                     lambda m: CAROL_NAMES[m.group(1)], code)
    renamed = re.sub(r"  # .*", "", renamed)  # her own comments instead
    return renamed.replace("\n    return ", "\n    # done\n    return ")


def _reorder_functions(code: str) -> str:
    """The top-level functions of a cell, last first."""
    chunks = re.split(r"\n(?=def )", code.strip())
    return "\n\n\n".join(reversed(chunks)) + "\n"


# three students, each writing their own correct conv1d, corr2d, convolve2d and pad2d: the
# body that replaces the stub's two lines (signature and docstring kept, as students do)
HONEST = {
    "dave": {  # loops, the formulas as written
        "conv1d": '''
    x = np.asarray(x, dtype=float)
    h = np.asarray(h, dtype=float)
    out = np.zeros(len(x) + len(h) - 1)
    for n in range(len(out)):
        total = 0.0
        for k in range(len(x)):
            if 0 <= n - k < len(h):
                total += x[k] * h[n - k]
        out[n] = total
    return out''',
        "corr2d": '''
    x = np.asarray(x, dtype=float)
    k = np.asarray(k, dtype=float)
    rows = x.shape[0] - k.shape[0] + 1
    cols = x.shape[1] - k.shape[1] + 1
    out = np.zeros((rows, cols))
    for i in range(rows):
        for j in range(cols):
            for a in range(k.shape[0]):
                for b in range(k.shape[1]):
                    out[i, j] += x[i + a, j + b] * k[a, b]
    return out''',
        "convolve2d": '''
    return corr2d(x, np.flip(np.asarray(k, dtype=float)))''',
        "pad2d": '''
    if isinstance(padding, int):
        padding = (padding, padding)
    top, side = padding
    if top < 0 or side < 0:
        raise ValueError(f"padding must be >= 0, got {padding}")
    x = np.asarray(x)
    widths = [(0, 0)] * (x.ndim - 2) + [(top, top), (side, side)]
    return np.pad(x, widths)''',
    },
    "erin": {  # vectorised: scatter-add, as_strided, rot90, zeros and a slice
        "conv1d": '''
    x = np.asarray(x, dtype=float)
    h = np.asarray(h, dtype=float)
    products = np.outer(x, h)  # (L, K)
    where = np.add.outer(np.arange(x.size), np.arange(h.size))  # n = k + m, (L, K)
    y = np.zeros(x.size + h.size - 1)
    np.add.at(y, where.ravel(), products.ravel())
    return y''',
        "corr2d": '''
    x = np.ascontiguousarray(x, dtype=float)
    k = np.asarray(k, dtype=float)
    kh, kw = k.shape
    shape = (x.shape[0] - kh + 1, x.shape[1] - kw + 1, kh, kw)
    patches = np.lib.stride_tricks.as_strided(x, shape=shape, strides=x.strides * 2)
    return np.tensordot(patches, k, axes=2)''',
        "convolve2d": '''
    flipped = np.rot90(np.asarray(k, dtype=float), 2)
    return corr2d(x, flipped)''',
        "pad2d": '''
    ph, pw = (padding, padding) if np.ndim(padding) == 0 else tuple(padding)
    if ph < 0 or pw < 0:
        raise ValueError(f"negative padding {padding}")
    x = np.asarray(x)
    *lead, rows, cols = x.shape
    y = np.zeros((*lead, rows + 2 * ph, cols + 2 * pw), dtype=x.dtype)
    y[..., ph:ph + rows, pw:pw + cols] = x
    return y''',
    },
    "frank": {  # the FFT, einsum over windows, the flipped index, concatenation
        "conv1d": '''
    n = len(x) + len(h) - 1
    size = 1 << (n - 1).bit_length()
    spectrum = np.fft.rfft(np.asarray(x, float), size) * np.fft.rfft(np.asarray(h, float), size)
    return np.fft.irfft(spectrum, size)[:n]''',
        "corr2d": '''
    k = np.asarray(k, dtype=float)
    windows = np.lib.stride_tricks.sliding_window_view(np.asarray(x, dtype=float), k.shape)
    return np.einsum("ijab,ab->ij", windows, k)''',
        "convolve2d": '''
    x = np.asarray(x, dtype=float)
    k = np.asarray(k, dtype=float)
    kh, kw = k.shape
    result = np.empty((x.shape[0] - kh + 1, x.shape[1] - kw + 1))
    for m in range(result.shape[0]):
        for n in range(result.shape[1]):
            acc = 0.0
            for i in range(kh):
                for j in range(kw):
                    acc += x[m + kh - 1 - i, n + kw - 1 - j] * k[i, j]
            result[m, n] = acc
    return result''',
        "pad2d": '''
    if np.ndim(padding) == 0:
        padding = (padding, padding)
    ph, pw = int(padding[0]), int(padding[1])
    if min(ph, pw) < 0:
        raise ValueError(f"padding {padding} has a negative entry")
    x = np.asarray(x)
    lead = x.shape[:-2]
    band = np.zeros(lead + (ph, x.shape[-1]), dtype=x.dtype)
    x = np.concatenate([band, x, band], axis=-2)
    band = np.zeros(lead + (x.shape[-2], pw), dtype=x.dtype)
    return np.concatenate([band, x, band], axis=-1)''',
    },
}


def _release() -> nbformat.NotebookNode:
    return read_notebook(ROOT / "notebooks" / A / f"{A}.ipynb")


def _stubs(release) -> dict[str, str]:
    return {c.grade_id: c.source for c in graded_cells(release) if c.kind == "answer"}


def _answered(release, bodies: dict[str, str]) -> nbformat.NotebookNode:
    """The release with the stubs of `bodies` answered; every other answer cell left a stub."""
    stubs = _stubs(release)
    for gid in bodies:
        assert STUB in stubs[gid], f"the stub of {gid} changed: {stubs[gid]!r}"
    return with_answers(release, {gid: stubs[gid].replace(STUB, body.strip("\n"))
                                  for gid, body in bodies.items()})


def _class() -> dict[str, nbformat.NotebookNode | str]:
    """Every student of the test class: their notebook, or the text of a broken file."""
    release = _release()
    alice = reference_answers(source_notebook(ROOT, A)) | {"conv2d": ALICE_CONV2D.strip()}
    bob = with_answers(release, alice)
    bob.cells = bob.cells[::-1]  # same answers, cells in another order: compared in release order
    carol = {gid: _disguise(_reorder_functions(src) if gid == "conv2d" else src)
             for gid, src in alice.items()}
    return {
        "alice": with_answers(release, alice), "bob": bob, "carol": with_answers(release, carol),
        **{name: _answered(release, bodies) for name, bodies in HONEST.items()},
        "gina": release, "hal": release,  # handed in the blank notebook
        "ivan": '{"cells": [{"cell_type": "code", "source": "def conv1d(x, h):',  # cut short
    }


def _hand_in(submitted: Path, students: dict) -> None:
    for student, nb in students.items():
        folder = submitted / student / A
        folder.mkdir(parents=True)
        path = folder / f"{A}.ipynb"
        if isinstance(nb, str):
            path.write_text(nb)
        else:
            nbformat.write(nb, path)


@pytest.fixture(scope="module")
def compared(tmp_path_factory):
    where = tmp_path_factory.mktemp("similarity")
    _hand_in(where / "submitted", _class())
    result = similarity(ROOT, A, where / "submitted", where / "out")
    pairs = {(p.a, p.b): p for p in result.pairs}
    for p in result.pairs:  # the figures the threshold was chosen by (pytest -s shows them)
        print(f"{p.a:>6} {p.b:>6}  a in b {p.a_in_b:.3f}  b in a {p.b_in_a:.3f}  {p.tokens}")
    return result, pairs


def test_an_identical_copy_is_flagged_with_high_similarity(compared):
    """bob handed in alice's answers (his cells in another order): nearly all of each is in the
    other's, far above the threshold."""
    result, pairs = compared
    pair = pairs["alice", "bob"]
    assert pair in result.flagged
    assert min(pair.a_in_b, pair.b_in_a) > 0.95, pair


def test_a_copy_with_renamed_names_and_reordered_helpers_is_still_flagged(compared):
    """carol renamed alice's variables and helpers, put the helpers after conv2d in the other
    order and changed the comments: still flagged, well above the threshold."""
    result, pairs = compared
    pair = pairs["alice", "carol"]
    assert pair in result.flagged
    assert min(pair.a_in_b, pair.b_in_a) > max(0.8, DEFAULT_THRESHOLD), pair


def test_honest_independent_solutions_are_not_flagged(compared):
    """dave, erin and frank each wrote their own conv1d, corr2d, convolve2d and pad2d (and left
    the same stubs): no pair of them is flagged, nor any of them with alice, whose loops are
    the reference's (dave's and frank's loops are written alike)."""
    result, pairs = compared
    honest = sorted(HONEST)
    for i, a in enumerate(honest):
        for b in honest[i + 1:]:
            pair = pairs[a, b]
            assert pair not in result.flagged, pair
            assert pair.most < DEFAULT_THRESHOLD / 2, f"too close to the threshold: {pair}"
        assert pairs["alice", a] not in result.flagged, pairs["alice", a]


def test_the_release_alone_never_matches(compared):
    """gina and hal handed in the blank release: its code is boilerplate, so nothing of theirs
    matches anyone, each other included."""
    result, pairs = compared
    blank = [p for p in result.pairs if {"gina", "hal"} & {p.a, p.b}]
    assert len(blank) == 2 * (len(result.students) - 2) + 1
    assert all(p.most == 0 and p.tokens == 0 for p in blank), [p for p in blank if p.most]


def test_a_broken_submission_is_skipped_with_its_reason(compared):
    """ivan's file is cut short: skipped as `not JSON`, every other student compared."""
    result, _ = compared
    assert [(s.student, s.reason) for s in result.skipped] == [("ivan", "not JSON")]
    assert sorted(result.students) == sorted(set(_class()) - {"ivan"})
    assert len(result.pairs) == 8 * 7 // 2
    assert {(p.a, p.b) for p in result.flagged} == {("alice", "bob"), ("alice", "carol"),
                                                     ("bob", "carol")}


def test_the_report_shows_the_matching_code_side_by_side(compared):
    result, _ = compared
    page = result.report.read_text()
    assert page.count("class='side'") == 3
    assert "highlight-red" in page and "highlight-green" in page
    assert "validate" in page and "_check_conv_args" in page  # carol's names beside alice's
    assert "ivan" in page and "not JSON" in page
    rows = list(csv.DictReader(result.table.open()))
    assert len(rows) == len(result.pairs)
    assert {r["above_threshold"] for r in rows if {r["student_a"], r["student_b"]}
            <= {"alice", "bob", "carol"}} == {"yes"}


def test_the_cli_writes_the_report_and_the_table(tmp_path, cli):
    """`cnncourse similarity 01_convolution` in a copy of the course: says how many it compared,
    names the flagged pair and the skipped file, and writes both files under grades/."""
    shutil.copy2(ROOT / "nbgrader_config.py", tmp_path / "nbgrader_config.py")
    for folder in ("solutions", "notebooks"):
        shutil.copytree(ROOT / folder / A, tmp_path / folder / A)
    students = _class()
    _hand_in(tmp_path / "submitted", {s: students[s] for s in ("alice", "bob", "dave", "ivan")})

    result = cli("similarity", A, cwd=tmp_path)
    assert result.returncode == 0, result.stdout + result.stderr
    out = result.stdout
    assert "compared 3 students" in out, out
    assert "skipped ivan: not JSON" in out, out
    assert "1 pair(s) above 50 %" in out, out
    assert "alice and bob: 100 % of alice's answer code is in bob's" in out, out
    assert not [line for line in out.splitlines() if line.startswith("  ") and "dave" in line]
    html = tmp_path / "grades" / "similarity" / f"{A}.html"
    table = tmp_path / "grades" / "similarity" / f"{A}.csv"
    assert str(html.relative_to(tmp_path)) in out and html.is_file(), out
    assert table.is_file()
    assert len(list(csv.DictReader(table.open()))) == 3

    bad = cli("similarity", A, "--threshold", "1.5", cwd=tmp_path)
    assert bad.returncode == 2 and "between 0 and 1" in bad.stderr, bad.stderr
