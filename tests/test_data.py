"""cnncourse.data: the bundled MNIST subset and the IDX reader, offline (never the network)."""

from __future__ import annotations

import gzip
import hashlib

import numpy as np
import pytest
import torch

from cnncourse import data
from cnncourse.data import (
    download_mnist,
    load_idx,
    load_mnist_idx,
    mnist_arrays,
    mnist_datasets,
    mnist_loaders,
    parse_idx,
    verify_checksum,
)

pytestmark = pytest.mark.nb06


def idx_bytes(array: np.ndarray) -> bytes:
    """Encode an array as an IDX file (independent of the reader under test)."""
    codes = {np.dtype("uint8"): 0x08, np.dtype("int8"): 0x09, np.dtype("int16"): 0x0B,
             np.dtype("int32"): 0x0C, np.dtype("float32"): 0x0D, np.dtype("float64"): 0x0E}
    header = bytes([0, 0, codes[array.dtype], array.ndim])
    header += b"".join(int(n).to_bytes(4, "big") for n in array.shape)
    return header + array.astype(array.dtype.newbyteorder(">")).tobytes()


def write_mnist_dir(directory, n_train=12, n_test=7, gz=True, seed=0):
    """Four small IDX files with MNIST's names; returns the arrays written."""
    rng = np.random.default_rng(seed)
    written = {}
    for split, n in (("train", n_train), ("test", n_test)):
        images = rng.integers(0, 256, (n, 28, 28), dtype=np.uint8)
        labels = rng.integers(0, 10, n, dtype=np.uint8)
        for stem, array in zip(data.IDX_FILES[split], (images, labels), strict=True):
            raw = idx_bytes(array)
            if gz:
                (directory / f"{stem}.gz").write_bytes(gzip.compress(raw))
            else:
                (directory / stem).write_bytes(raw)
        written[split] = (images, labels)
    return written


# --- the bundled subset ------------------------------------------------------------------------

def test_bundled_file_is_small():
    assert data.BUNDLED.is_file()
    assert data.BUNDLED.stat().st_size < 5 * 2**20


@pytest.mark.parametrize(("split", "n"), [("train", 4000), ("test", 1000)])
def test_arrays_shapes_dtypes_range_balance(split, n):
    x, y = mnist_arrays(split)
    assert x.shape == (n, 1, 28, 28) and x.dtype == np.float32
    assert y.shape == (n,) and y.dtype == np.int64
    assert x.min() == 0.0 and x.max() == 1.0
    assert np.array_equal(np.bincount(y, minlength=10), np.full(10, n // 10))
    # real digits: mostly background, some ink in every image, close to MNIST's mean
    assert 0.08 < x.mean() < 0.18
    assert (x.reshape(n, -1).max(axis=1) > 0.5).all()


def test_split_is_fixed_and_disjoint():
    xa, ya = mnist_arrays("train")
    xb, yb = mnist_arrays("train")
    assert np.array_equal(xa, xb) and np.array_equal(ya, yb)
    xt, _ = mnist_arrays("test")
    train_rows = {row.tobytes() for row in (xa * 255).astype(np.uint8)}
    assert not any(row.tobytes() in train_rows for row in (xt * 255).astype(np.uint8))


def test_arrays_are_fresh_copies():
    x, y = mnist_arrays("test")
    x[:] = 7
    y[:] = 7
    x2, y2 = mnist_arrays("test")
    assert x2.max() == 1.0 and y2.min() == 0


def test_bad_split():
    with pytest.raises(ValueError, match="split"):
        mnist_arrays("validation")


def test_datasets_normalized():
    train, test = mnist_datasets()
    assert len(train) == 4000 and len(test) == 1000
    image, label = train[0]
    assert image.shape == (1, 28, 28) and image.dtype == torch.float32
    assert label.dtype == torch.int64
    x = train.tensors[0]
    assert abs(float(x.mean())) < 0.15 and 0.85 < float(x.std()) < 1.15
    raw, _ = mnist_datasets(normalize=False)
    assert torch.allclose((raw.tensors[0] - 0.1307) / 0.3081, x, atol=1e-6)


def test_loaders_deterministic_given_seed():
    def first_batches(seed, k=3):
        train, _ = mnist_loaders(batch_size=32, seed=seed)
        return [y for _, (x, y) in zip(range(k), train, strict=False)]

    torch.manual_seed(123)
    a = first_batches(0)
    torch.manual_seed(456)  # the global seed must not matter
    b = first_batches(0)
    c = first_batches(1)
    assert all(torch.equal(p, q) for p, q in zip(a, b, strict=True))
    assert not all(torch.equal(p, q) for p, q in zip(a, c, strict=True))


def test_loaders_leave_the_global_generator_alone():
    """Training and evaluating draw nothing from torch's global generator (a DataLoader without
    a generator of its own draws a seed from it at every pass): a demo that trains longer does
    not change what a later cell draws (issue 17)."""
    train, test = mnist_loaders(batch_size=500, seed=0)
    torch.manual_seed(7)
    before = torch.get_rng_state()
    for _ in range(2):
        for loader in (train, test):
            for _batch in loader:
                pass
    assert torch.equal(before, torch.get_rng_state())


def test_loaders_shapes_and_order():
    train, test = mnist_loaders(batch_size=64, seed=0)
    x, y = next(iter(train))
    assert x.shape == (64, 1, 28, 28) and y.shape == (64,)
    assert sum(len(yb) for _, yb in train) == 4000
    _, y_test = mnist_arrays("test")
    got = torch.cat([yb for _, yb in test]).numpy()
    assert np.array_equal(got, y_test), "the held-out loader must not shuffle"
    with pytest.raises(ValueError, match="batch_size"):
        mnist_loaders(batch_size=0)


# --- the IDX format ----------------------------------------------------------------------------

@pytest.mark.parametrize("dtype", ["uint8", "int8", "int16", "int32", "float32", "float64"])
def test_parse_idx_round_trip(dtype):
    rng = np.random.default_rng(1)
    array = (rng.standard_normal((3, 4, 5)) * 50).astype(dtype)
    back = parse_idx(idx_bytes(array))
    assert back.shape == (3, 4, 5) and back.dtype == np.dtype(dtype)
    assert np.array_equal(back, array)


@pytest.mark.parametrize("gz", [False, True])
def test_load_idx_plain_and_gzip(tmp_path, gz):
    array = np.arange(2 * 3 * 4, dtype=np.uint8).reshape(2, 3, 4)
    raw = idx_bytes(array)
    path = tmp_path / ("a.idx.gz" if gz else "a.idx")
    path.write_bytes(gzip.compress(raw) if gz else raw)
    assert np.array_equal(load_idx(path), array)


def test_bad_magic_number(tmp_path):
    raw = bytearray(idx_bytes(np.zeros((2, 2), dtype=np.uint8)))
    raw[0] = 0x12
    path = tmp_path / "bad"
    path.write_bytes(bytes(raw))
    with pytest.raises(ValueError, match="magic number"):
        load_idx(path)
    path.write_bytes(b"\x00\x00\x07\x01" + bytes(8))  # unknown type code
    with pytest.raises(ValueError, match="magic number"):
        load_idx(path)
    path.write_bytes(b"PK\x03\x04 a zip file, not IDX")
    with pytest.raises(ValueError, match="magic number"):
        load_idx(path)


@pytest.mark.parametrize("cut", [2, 9, 20, 99])
def test_truncated_file(tmp_path, cut):
    raw = idx_bytes(np.ones((4, 5, 5), dtype=np.uint8))  # 16 + 100 bytes
    path = tmp_path / "short"
    path.write_bytes(raw[:cut])
    with pytest.raises(ValueError, match="truncated"):
        load_idx(path)


def test_truncated_gzip(tmp_path):
    packed = gzip.compress(idx_bytes(np.ones((40, 28, 28), dtype=np.uint8)))
    path = tmp_path / "short.gz"
    path.write_bytes(packed[: len(packed) // 2])
    with pytest.raises(ValueError, match="truncated"):
        load_idx(path)


def test_trailing_bytes(tmp_path):
    path = tmp_path / "long"
    path.write_bytes(idx_bytes(np.ones((2, 3), dtype=np.uint8)) + b"\x00")
    with pytest.raises(ValueError, match="trailing"):
        load_idx(path)


@pytest.mark.parametrize("gz", [False, True])
def test_full_dataset_from_directory(tmp_path, gz):
    written = write_mnist_dir(tmp_path, gz=gz)
    for split in ("train", "test"):
        images, labels = load_mnist_idx(tmp_path, split)
        assert np.array_equal(images, written[split][0])
        assert np.array_equal(labels, written[split][1])
        x, y = mnist_arrays(split, directory=tmp_path)
        assert x.shape == (len(labels), 1, 28, 28) and x.dtype == np.float32
        assert y.dtype == np.int64
        assert np.allclose(x[:, 0] * 255, written[split][0])
    train, test = mnist_loaders(batch_size=5, directory=tmp_path)
    assert sum(len(y) for _, y in train) == 12 and sum(len(y) for _, y in test) == 7


def test_directory_missing_files(tmp_path):
    with pytest.raises(ValueError, match="directory"):
        load_mnist_idx(tmp_path, "train")


def test_directory_images_labels_mismatch(tmp_path):
    write_mnist_dir(tmp_path)
    labels = np.zeros(5, dtype=np.uint8)  # 12 images, 5 labels
    (tmp_path / "train-labels-idx1-ubyte.gz").write_bytes(gzip.compress(idx_bytes(labels)))
    with pytest.raises(ValueError, match="do not make one data set"):
        load_mnist_idx(tmp_path, "train")


# --- checksums and the download function (file:// URLs, never the network) --------------------

def test_verify_checksum(tmp_path):
    path = tmp_path / "f"
    path.write_bytes(b"digits")
    verify_checksum(path, hashlib.md5(b"digits").hexdigest())
    verify_checksum(path, hashlib.sha256(b"digits").hexdigest().upper(), "sha256")
    with pytest.raises(ValueError, match="checksum mismatch"):
        verify_checksum(path, hashlib.md5(b"digitz").hexdigest())


def test_download_from_a_local_mirror(tmp_path):
    mirror, dest = tmp_path / "mirror", tmp_path / "dest"
    mirror.mkdir()
    written = write_mnist_dir(mirror, gz=True)
    sums = {p.name: hashlib.md5(p.read_bytes()).hexdigest() for p in mirror.iterdir()}
    assert set(sums) == set(data.MD5)
    missing = (tmp_path / "nowhere").as_uri() + "/"
    download_mnist(dest, mirrors=[missing, mirror.as_uri() + "/"], checksums=sums)
    images, labels = load_mnist_idx(dest, "test")
    assert np.array_equal(images, written["test"][0])
    assert not list(dest.glob("*.part"))
    # a second call keeps files whose checksum is right (the mirror is gone now)
    download_mnist(dest, mirrors=[missing], checksums=sums)


def test_download_checksum_mismatch(tmp_path):
    mirror, dest = tmp_path / "mirror", tmp_path / "dest"
    mirror.mkdir()
    write_mnist_dir(mirror, gz=True)
    name = "t10k-labels-idx1-ubyte.gz"
    with pytest.raises(ValueError, match="checksum mismatch"):
        download_mnist(dest, mirrors=[mirror.as_uri() + "/"], checksums={name: "0" * 32})
    assert not (dest / name).exists(), "a file with a wrong checksum must not stay"


def test_download_no_mirror_answers(tmp_path):
    with pytest.raises(OSError, match="could not download"):
        download_mnist(tmp_path / "d", mirrors=[(tmp_path / "x").as_uri() + "/"],
                       checksums={"t10k-labels-idx1-ubyte.gz": "0" * 32})
