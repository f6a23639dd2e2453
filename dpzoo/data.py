"""Datasets as in-memory arrays, from local files first and tensorflow-datasets second.

Sources, in order:
1. ``data_dir`` given by the user: the dataset's standard file format (IDX files, optionally
   gzipped, for MNIST and Fashion-MNIST; the python pickle batches of ``cifar-10-batches-py``
   for CIFAR-10; ``train_32x32.mat`` and ``test_32x32.mat`` for SVHN's cropped digits) or an
   ``<name>.npz`` with x_train, y_train, x_test, y_test.
2. Files installed by the system: Debian's ``dataset-fashion-mnist`` package puts the
   Fashion-MNIST IDX files under /usr/share/datasets/fashion-mnist.
3. tensorflow-datasets, when its download servers can be reached (or the data was prepared).
When none works, ``DataNotFoundError`` says how to get the data.

``digits`` is scikit-learn's bundled 8x8 digits set (1,797 images, no download), split
75/25 with a fixed seed: a second small real image set for tests.
"""

import dataclasses
import gzip
import os
import pickle
import socket
import struct

import numpy as np

from dpzoo.errors import DataNotFoundError, UsageError

SYSTEM_DIRS = {"fashion_mnist": ("/usr/share/datasets/fashion-mnist",)}
IDX_FILES = {
    "x_train": "train-images-idx3-ubyte",
    "y_train": "train-labels-idx1-ubyte",
    "x_test": "t10k-images-idx3-ubyte",
    "y_test": "t10k-labels-idx1-ubyte",
}
# Published per-channel statistics of [0, 1]-scaled pixels, treated as public constants
# (computing them from the private training set would itself leak, unaccounted).
CHANNEL_STATS = {
    "mnist": ((0.1307,), (0.3081,)),
    "fashion_mnist": ((0.2860,), (0.3530,)),
    "cifar10": ((0.4914, 0.4822, 0.4465), (0.2470, 0.2435, 0.2616)),
    "svhn": ((0.4377, 0.4438, 0.4728), (0.1980, 0.2010, 0.1970)),
    "digits": ((0.3050,), (0.3760,)),
    "imagenet2012": ((0.485, 0.456, 0.406), (0.229, 0.224, 0.225)),
}
TEXT_DATASETS = ("debian_descriptions", "ag_news")  # token ids [N, length] (dpzoo.text_data)
DATASETS = ("fashion_mnist", "mnist", "cifar10", "svhn", "digits", "imagenet2012", *TEXT_DATASETS)
TFDS_NAMES = {"svhn": "svhn_cropped"}


@dataclasses.dataclass(frozen=True)
class DatasetSpec:
    """What a dataset looks like, known without loading it (configs are checked against it)."""

    input_shape: tuple[int, ...]
    num_classes: int
    n_train: int


SPECS = {
    "fashion_mnist": DatasetSpec((28, 28, 1), 10, 60_000),
    "mnist": DatasetSpec((28, 28, 1), 10, 60_000),
    "cifar10": DatasetSpec((32, 32, 3), 10, 50_000),
    "svhn": DatasetSpec((32, 32, 3), 10, 73_257),  # the cropped digits' train split (no "extra")
    "digits": DatasetSpec((8, 8, 1), 10, 1_347),
    "imagenet2012": DatasetSpec((224, 224, 3), 1000, 1_281_167),
    "debian_descriptions": DatasetSpec((16,), 6, 6_259),  # bookworm's lists; the count follows the mirror
    "ag_news": DatasetSpec((32,), 4, 120_000),
}
IN_MEMORY_LIMIT_BYTES = 32 * 2**30
HOW_TO_GET = {
    "fashion_mnist": "install Debian's package (apt-get install dataset-fashion-mnist)",
    "mnist": "put the four MNIST IDX files (train-images-idx3-ubyte.gz, ...) in --data_dir",
    "cifar10": "unpack cifar-10-python.tar.gz into --data_dir (cifar-10-batches-py/)",
    "svhn": "put SVHN's train_32x32.mat and test_32x32.mat (cropped digits) in --data_dir",
    "ag_news": "go online once (tensorflow-datasets downloads ag_news_subset), or use --dataset=debian_descriptions",
}


@dataclasses.dataclass(frozen=True)
class Dataset:
    """Train and test arrays: images uint8 (N, H, W, C) or token ids int32 (N, length), labels
    int64 (N,)."""

    name: str
    x_train: np.ndarray
    y_train: np.ndarray
    x_test: np.ndarray
    y_test: np.ndarray
    num_classes: int
    source: str

    @property
    def input_shape(self) -> tuple[int, ...]:
        return tuple(self.x_train.shape[1:])

    @property
    def is_text(self) -> bool:
        return self.name in TEXT_DATASETS

    @property
    def channel_stats(self) -> tuple[tuple[float, ...], tuple[float, ...]] | None:
        """Published per-channel (mean, std) of the images; None for text."""
        return None if self.is_text else CHANNEL_STATS[self.name]


def load(name: str, data_dir: str | None = None) -> Dataset:
    """Loads dataset ``name`` from the first source that has it (see the module docstring)."""
    if name not in DATASETS:
        raise UsageError(f"Unknown dataset {name!r}; known: {', '.join(DATASETS)}.")
    if name == "digits":
        return _load_digits()
    if name in TEXT_DATASETS:
        return _load_text(name)
    spec = SPECS[name]
    if spec.n_train * int(np.prod(spec.input_shape)) > IN_MEMORY_LIMIT_BYTES:
        raise DataNotFoundError(
            f"{name} ({spec.n_train:,} training images of shape {spec.input_shape}) does not fit dpzoo's "
            "in-memory loader, and a streaming loader for it is not built yet. Its configs build and run "
            "on synthetic data of the right shape (tests/train/test_configs.py)."
        )
    dirs = ([data_dir] if data_dir else []) + list(SYSTEM_DIRS.get(name, ()))
    for directory in dirs:
        arrays = _load_local(name, directory)
        if arrays is not None:
            return _make(name, arrays, source=directory)
    if data_dir:
        raise DataNotFoundError(f"--data_dir={data_dir} has no {name} files in a known format: {_formats(name)}.")
    if _tfds_reachable():
        return _make(name, _load_tfds(name), source="tensorflow-datasets")
    raise DataNotFoundError(
        f"No {name} data found offline and tensorflow-datasets cannot reach the internet. "
        f"To get it: {HOW_TO_GET[name]}, or pass --data_dir with {_formats(name)}."
    )


PUBLIC_BATCH_SIZE = 30  # Davody et al. 2020: 30 images of a related public dataset


def public_auxiliary_batch(
    input_shape: tuple[int, ...], *, training_dataset: str, size: int = PUBLIC_BATCH_SIZE, seed: int = 0
) -> tuple[np.ndarray, str]:
    """(``size`` public images of ``input_shape``, uint8, and a line saying where they come from)
    for AuxBatchNorm's statistics: scikit-learn's bundled handwritten digits, resized
    bilinearly and repeated over the channels. Public data, never part of the training set;
    refused for ``digits`` itself, whose images they are."""
    if training_dataset == "digits":
        raise UsageError("No public auxiliary batch for digits: its images are the public batch of other datasets.")
    from scipy import ndimage
    from sklearn.datasets import load_digits

    images = load_digits().images  # [1797, 8, 8] in 0..16
    chosen = images[np.random.default_rng(seed).choice(len(images), size=size, replace=False)]
    height, width, channels = input_shape
    resized = np.stack([ndimage.zoom(image, (height / 8, width / 8), order=1) for image in chosen])
    pixels = np.clip(np.round(resized * (255.0 / 16.0)), 0, 255).astype(np.uint8)
    source = f"{size} scikit-learn digits (public), resized to {height}x{width}, seed {seed}"
    return np.repeat(pixels[..., None], channels, axis=-1), source


def synthetic(name: str, n_train: int, n_test: int, seed: int = 0) -> Dataset:
    """Random uint8 images (or token ids below 256) and labels shaped like dataset ``name``: for
    checking that a config builds and steps where the real data is not at hand. Never a result."""
    spec = SPECS[name]
    rng = np.random.default_rng(seed)
    images = lambda n: rng.integers(0, 256, size=(n, *spec.input_shape), dtype=np.uint8)
    labels = lambda n: rng.integers(0, spec.num_classes, size=n).astype(np.int64)
    return Dataset(
        name, images(n_train), labels(n_train), images(n_test), labels(n_test), spec.num_classes, "synthetic"
    )


def _formats(name: str) -> str:
    native = {
        "cifar10": "cifar-10-batches-py/ (data_batch_1..5, test_batch)",
        "svhn": f"{SVHN_FILES['train']} and {SVHN_FILES['test']}",
    }.get(name, "the IDX files " + ", ".join(f + "[.gz]" for f in IDX_FILES.values()))
    return f"{native}, or {name}.npz with x_train, y_train, x_test, y_test"


def _make(name: str, arrays: dict, source: str) -> Dataset:
    x_train, x_test = (_as_nhwc(arrays[k]) for k in ("x_train", "x_test"))
    y_train, y_test = (np.asarray(arrays[k], dtype=np.int64).reshape(-1) for k in ("y_train", "y_test"))
    if len(x_train) != len(y_train) or len(x_test) != len(y_test):
        raise UsageError(f"{name} from {source}: images and labels differ in count.")
    num_classes = int(max(y_train.max(), y_test.max())) + 1
    return Dataset(name, x_train, y_train, x_test, y_test, num_classes, source)


def _as_nhwc(x: np.ndarray) -> np.ndarray:
    x = np.asarray(x)
    return (x[..., None] if x.ndim == 3 else x).astype(np.uint8)


def _load_local(name: str, directory: str) -> dict | None:
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
    with opener(path, "rb") as f:
        data = f.read()
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


def _tfds_reachable(host: str = "storage.googleapis.com", timeout: float = 3.0) -> bool:
    try:
        socket.create_connection((host, 443), timeout=timeout).close()
        return True
    except OSError:
        return False


def _load_tfds(name: str) -> dict:
    import tensorflow_datasets as tfds  # heavy; only when this source is used

    train, test = tfds.as_numpy(
        tfds.load(TFDS_NAMES.get(name, name), split=["train", "test"], batch_size=-1, as_supervised=True)
    )
    return {"x_train": train[0], "y_train": train[1], "x_test": test[0], "y_test": test[1]}


def _load_text(name: str) -> Dataset:
    from dpzoo import text_data  # imports this module

    if name == "debian_descriptions":
        return text_data.load_debian_descriptions()
    if not _tfds_reachable():
        raise DataNotFoundError(f"No {name} data offline. To get it: {HOW_TO_GET[name]}.")
    return text_data.load_ag_news(SPECS[name].input_shape[0])


def _load_digits() -> Dataset:
    from sklearn.datasets import load_digits

    digits = load_digits()
    images = np.round(digits.images * (255.0 / 16.0)).astype(np.uint8)
    order = np.random.default_rng(0).permutation(len(images))
    split = int(0.75 * len(images))
    train, test = order[:split], order[split:]
    arrays = {
        "x_train": images[train],
        "y_train": digits.target[train],
        "x_test": images[test],
        "y_test": digits.target[test],
    }
    return _make("digits", arrays, source="scikit-learn load_digits")
