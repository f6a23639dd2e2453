"""Datasets' own file formats: MNIST-style IDX files (optionally gzipped), CIFAR-10's python
pickle batches (``cifar-10-batches-py``), SVHN's cropped-digit MATLAB files, or ``<name>.npz``
with x_train, y_train, x_test, y_test."""

import gzip
import os
import pickle
import struct
import zlib

import numpy as np

from dpzoo.common.errors import UsageError

IDX_FILES = {
    "x_train": "train-images-idx3-ubyte",
    "y_train": "train-labels-idx1-ubyte",
    "x_test": "t10k-images-idx3-ubyte",
    "y_test": "t10k-labels-idx1-ubyte",
}
# Published per-channel statistics of [0, 1]-scaled pixels, treated as public constants


def describe_formats(name: str) -> str:
    """The local file formats dataset ``name`` is read from, for error messages."""
    native = {
        "cifar10": "cifar-10-batches-py/ (data_batch_1..5, test_batch)",
        "svhn": f"{SVHN_FILES['train']} and {SVHN_FILES['test']}",
    }.get(name, "the IDX files " + ", ".join(f + "[.gz]" for f in IDX_FILES.values()))
    return f"{native}, or {name}.npz with x_train, y_train, x_test, y_test"


def read_local(name: str, directory: str) -> dict | None:
    """The train and test arrays of dataset ``name`` in ``directory``, or None when it has no files
    in a known format."""
    npz = os.path.join(directory, f"{name}.npz")
    if os.path.isfile(npz):
        with np.load(npz) as f:
            return {k: f[k] for k in IDX_FILES}
    if name == "cifar10":
        return _load_cifar_pickles(os.path.join(directory, "cifar-10-batches-py"))
    if name == "svhn":
        return _load_svhn_mat(directory)
    paths = {k: _find(directory, f) for k, f in IDX_FILES.items()}
    if all(paths.values()):
        return {k: read_idx(p) for k, p in paths.items()}
    return None


def _find(directory: str, stem: str) -> str | None:
    for candidate in (stem + ".gz", stem):
        path = os.path.join(directory, candidate)
        if os.path.isfile(path):
            return path
    return None


def read_idx(path: str) -> np.ndarray:
    """Reads an IDX file (the MNIST format), gzipped or not."""
    opener = gzip.open if path.endswith(".gz") else open
    try:
        with opener(path, "rb") as f:
            data = f.read()
    except (EOFError, gzip.BadGzipFile, zlib.error) as e:
        raise UsageError(
            f"{path} is a damaged or truncated gzip file ({e}); download it again or pass its unpacked IDX file."
        ) from e
    except OSError as e:
        raise UsageError(f"{path} cannot be read ({e.strerror or e}); check its permissions.") from e
    if len(data) < 4 or data[0] != 0 or data[1] != 0 or data[2] != 0x08:
        raise UsageError(f"{path} is not an unsigned-byte IDX file (bad magic number).")
    ndim = data[3]
    shape = struct.unpack(f">{ndim}I", data[4 : 4 + 4 * ndim])
    body = np.frombuffer(data, dtype=np.uint8, offset=4 + 4 * ndim)
    if body.size != int(np.prod(shape)):
        raise UsageError(f"{path} is truncated: expected {int(np.prod(shape))} values, got {body.size}.")
    return body.reshape(shape)


def _load_cifar_pickles(directory: str) -> dict | None:
    names = [f"data_batch_{i}" for i in range(1, 6)] + ["test_batch"]
    if not all(os.path.isfile(os.path.join(directory, n)) for n in names):
        return None
    batches = []
    for n in names:
        with open(os.path.join(directory, n), "rb") as f:
            batch = pickle.load(f, encoding="bytes")
        images = np.asarray(batch[b"data"], dtype=np.uint8).reshape(-1, 3, 32, 32)
        batches.append((images.transpose(0, 2, 3, 1), np.asarray(batch[b"labels"])))
    return {
        "x_train": np.concatenate([b[0] for b in batches[:5]]),
        "y_train": np.concatenate([b[1] for b in batches[:5]]),
        "x_test": batches[5][0],
        "y_test": batches[5][1],
    }


SVHN_FILES = {"train": "train_32x32.mat", "test": "test_32x32.mat"}


def _load_svhn_mat(directory: str) -> dict | None:
    """SVHN's cropped digits from its MATLAB files: X [32, 32, 3, N] and y [N, 1] with label 10
    for the digit 0 (mapped to 0)."""
    paths = {split: os.path.join(directory, f) for split, f in SVHN_FILES.items()}
    if not all(os.path.isfile(p) for p in paths.values()):
        return None
    from scipy import io

    arrays = {}
    for split, path in paths.items():
        mat = io.loadmat(path)
        arrays[f"x_{split}"] = np.transpose(mat["X"], (3, 0, 1, 2))
        arrays[f"y_{split}"] = np.asarray(mat["y"]).reshape(-1) % 10
    return arrays
