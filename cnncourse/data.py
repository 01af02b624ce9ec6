"""MNIST for the notebooks: a bundled subset that works offline, and the full IDX files.

The package ships 5,000 real MNIST digits (500 per class, see `cnncourse/data/README.md`),
split once into a fixed, stratified training part (4,000) and held-out part (1,000). Nothing is
downloaded at run time. Who has the full dataset points `directory=` at the four standard IDX
files (`train-images-idx3-ubyte[.gz]`, ...); `download_mnist` fetches them when online and
verifies their MD5 checksums.

Shapes: images `(N, 1, 28, 28)` float32 in `[0, 1]`, labels `(N,)` int64.
"""

from __future__ import annotations

import gzip
import hashlib
import shutil
import urllib.request
from functools import lru_cache
from pathlib import Path

import numpy as np
import torch
from torch.utils.data import DataLoader, TensorDataset

__all__ = ["BUNDLED", "IDX_FILES", "MD5", "MIRRORS", "MNIST_MEAN", "MNIST_STD", "SPLITS",
           "download_mnist", "file_digest", "load_idx", "load_mnist_idx", "mnist_arrays",
           "mnist_datasets", "mnist_loaders", "normalize_images", "parse_idx", "verify_checksum"]

BUNDLED = Path(__file__).with_name("data") / "mnist_5k.npz"
MNIST_MEAN, MNIST_STD = 0.1307, 0.3081  # of the 60,000 training images, pixels in [0, 1]
SPLITS = ("train", "test")

# The standard files and their MD5 checksums (the compressed files, as published).
IDX_FILES = {
    "train": ("train-images-idx3-ubyte", "train-labels-idx1-ubyte"),
    "test": ("t10k-images-idx3-ubyte", "t10k-labels-idx1-ubyte"),
}
MD5 = {
    "train-images-idx3-ubyte.gz": "f68b3c2dcbeaaa9fbdd348bbdeb94873",
    "train-labels-idx1-ubyte.gz": "d53e105ee54ea40749a09fcbcd1e9432",
    "t10k-images-idx3-ubyte.gz": "9fb629c4189551a2d022fa330f9573f3",
    "t10k-labels-idx1-ubyte.gz": "ec29112dd5afa0611ce80d1b7f02629c",
}
MIRRORS = (
    "https://ossci-datasets.s3.amazonaws.com/mnist/",
    "http://yann.lecun.com/exdb/mnist/"  # checksums guard the plain HTTP,
)

# IDX type codes (third byte of the magic number) -> big-endian NumPy dtypes.
_IDX_DTYPES = {0x08: ">u1", 0x09: ">i1", 0x0B: ">i2", 0x0C: ">i4", 0x0D: ">f4", 0x0E: ">f8"}


def _check_split(split: str) -> None:
    if split not in SPLITS:
        raise ValueError(f"split={split!r}: expected 'train' or 'test'")


# ---------------------------------------------------------------------------------------------
# The IDX format (http://yann.lecun.com/exdb/mnist/): magic 0x0000 <type> <ndim>, ndim big-endian
# int32 sizes, then the values, big-endian, row-major.


def parse_idx(data: bytes, name: str = "IDX data") -> np.ndarray:
    """Decode the bytes of one (uncompressed) IDX file into an array of its shape and type."""
    if len(data) < 4:
        raise ValueError(f"{name}: truncated file, {len(data)} bytes, no magic number")
    zero, type_code, ndim = int.from_bytes(data[:2], "big"), data[2], data[3]
    if zero != 0 or type_code not in _IDX_DTYPES or ndim == 0:
        raise ValueError(f"{name}: bad magic number 0x{data[:4].hex()}, not an IDX file "
                         "(expected 0x0000 then a type code such as 08 and the number of axes)")
    header = 4 + 4 * ndim
    if len(data) < header:
        raise ValueError(f"{name}: truncated file, header needs {header} bytes, has {len(data)}")
    shape = tuple(int.from_bytes(data[4 + 4 * i: 8 + 4 * i], "big") for i in range(ndim))
    dtype = np.dtype(_IDX_DTYPES[type_code])
    expected = header + int(np.prod(shape)) * dtype.itemsize
    if len(data) != expected:
        what = "truncated file" if len(data) < expected else "trailing bytes"
        raise ValueError(f"{name}: {what}: shape {shape} needs {expected} bytes, has {len(data)}")
    array = np.frombuffer(data, dtype=dtype, offset=header).reshape(shape)
    return array.astype(dtype.newbyteorder("="))


def load_idx(path: str | Path) -> np.ndarray:
    """Read one IDX file, gzip'd (`.gz`, or by its gzip header) or not."""
    path = Path(path)
    raw = path.read_bytes()
    if raw[:2] == b"\x1f\x8b":
        try:
            raw = gzip.decompress(raw)
        except (OSError, EOFError) as exc:
            raise ValueError(f"{path}: damaged or truncated gzip file ({exc})") from None
    return parse_idx(raw, name=str(path))


def _find(directory: Path, stem: str) -> Path:
    for candidate in (directory / stem, directory / f"{stem}.gz"):
        if candidate.exists():
            return candidate
    raise ValueError(f"directory={str(directory)!r} holds neither {stem} nor {stem}.gz")


def load_mnist_idx(directory: str | Path, split: str = "train") -> tuple[np.ndarray, np.ndarray]:
    """The full MNIST `split` from the standard IDX files in `directory`.

    Returns images `(N, 28, 28)` uint8 and labels `(N,)` uint8.
    """
    _check_split(split)
    directory = Path(directory)
    image_file, label_file = (_find(directory, stem) for stem in IDX_FILES[split])
    images, labels = load_idx(image_file), load_idx(label_file)
    if images.ndim != 3 or labels.ndim != 1 or len(images) != len(labels):
        raise ValueError(f"directory={str(directory)!r}: images {images.shape} and labels "
                         f"{labels.shape} do not make one data set")
    return images.astype(np.uint8), labels.astype(np.uint8)


def file_digest(path: str | Path, algorithm: str = "md5") -> str:
    """Hex digest of a file (`algorithm`: any name `hashlib` knows, e.g. "md5", "sha256")."""
    digest = hashlib.new(algorithm)
    with open(path, "rb") as f:
        for block in iter(lambda: f.read(1 << 20), b""):
            digest.update(block)
    return digest.hexdigest()


def verify_checksum(path: str | Path, expected: str, algorithm: str = "md5") -> None:
    """Raise ValueError unless the file's digest equals `expected`."""
    got = file_digest(path, algorithm)
    if got != expected.lower():
        raise ValueError(f"{path}: checksum mismatch, {algorithm} {got}, expected {expected} "
                         "(a damaged or different file; delete it and download again)")


def download_mnist(directory: str | Path, mirrors=MIRRORS, checksums: dict | None = None,
                   algorithm: str = "md5") -> Path:
    """Download the four MNIST files into `directory` (needs a network), verifying checksums.

    Files already present with the right checksum are kept. `mirrors`: base URLs tried in
    order; `checksums`: file name -> hex digest (default: the published MD5s). A file whose
    checksum does not match is deleted and ValueError is raised.
    """
    directory = Path(directory)
    directory.mkdir(parents=True, exist_ok=True)
    checksums = MD5 if checksums is None else checksums
    for name, expected in checksums.items():
        target = directory / name
        if target.exists() and file_digest(target, algorithm) == expected.lower():
            continue
        errors = []
        for base in mirrors:
            partial = target.with_name(target.name + ".part")
            try:
                with urllib.request.urlopen(base + name, timeout=60) as response, \
                        open(partial, "wb") as out:
                    shutil.copyfileobj(response, out)
            except OSError as exc:
                errors.append(f"{base}: {exc}")
                partial.unlink(missing_ok=True)
                continue
            partial.replace(target)
            break
        else:
            raise OSError(f"could not download {name}: " + "; ".join(errors))
        try:
            verify_checksum(target, expected, algorithm)
        except ValueError:
            target.unlink()
            raise
    return directory


# ---------------------------------------------------------------------------------------------
# Arrays, datasets, loaders.


@lru_cache(maxsize=1)
def _bundled() -> dict[str, np.ndarray]:
    with np.load(BUNDLED) as npz:
        return {key: npz[key] for key in npz.files}


def mnist_arrays(split: str = "train", directory: str | Path | None = None
                 ) -> tuple[np.ndarray, np.ndarray]:
    """Images `(N, 1, 28, 28)` float32 in [0, 1] and labels `(N,)` int64 of `split`.

    `split`: "train" (4,000 bundled digits, or 60,000 from `directory`) or "test" (1,000
    held-out bundled digits, or the 10,000 test digits). Fresh arrays on every call.
    """
    _check_split(split)
    if directory is None:
        raw = _bundled()
        images, labels = raw[f"{split}_images"], raw[f"{split}_labels"]
    else:
        images, labels = load_mnist_idx(directory, split)
    x = (images.astype(np.float32) / 255.0)[:, None, :, :]  # (N, 1, 28, 28)
    return x, labels.astype(np.int64)


def normalize_images(x: np.ndarray | torch.Tensor):
    """Standardise pixels in [0, 1] with MNIST's mean and standard deviation."""
    return (x - MNIST_MEAN) / MNIST_STD


def mnist_datasets(normalize: bool = True, directory: str | Path | None = None
                   ) -> tuple[TensorDataset, TensorDataset]:
    """Training and held-out `TensorDataset`s of `(image (1, 28, 28), label)` pairs."""
    out = []
    for split in SPLITS:
        x, y = mnist_arrays(split, directory)
        if normalize:
            x = (x - np.float32(MNIST_MEAN)) / np.float32(MNIST_STD)
        out.append(TensorDataset(torch.from_numpy(x), torch.from_numpy(y)))
    return out[0], out[1]


def mnist_loaders(batch_size: int = 64, seed: int = 0, normalize: bool = True,
                  test_batch_size: int = 1000, directory: str | Path | None = None
                  ) -> tuple[DataLoader, DataLoader]:
    """Training loader (shuffled by a generator seeded with `seed`) and held-out loader.

    The same `seed` gives the same batches in the same order, epoch after epoch, whatever
    the global torch seed; the held-out loader is not shuffled. Neither draws from torch's
    global generator (a DataLoader without a generator of its own draws a seed from it at every
    pass), so training and evaluating leave the global random state as they found it.
    """
    if batch_size < 1 or test_batch_size < 1:
        raise ValueError(f"batch_size={batch_size}, test_batch_size={test_batch_size}: "
                         "must be >= 1")
    train, test = mnist_datasets(normalize=normalize, directory=directory)
    generator = torch.Generator().manual_seed(seed)
    return (DataLoader(train, batch_size=batch_size, shuffle=True, generator=generator),
            DataLoader(test, batch_size=test_batch_size, shuffle=False,
                       generator=torch.Generator().manual_seed(seed)))
