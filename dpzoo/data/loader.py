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

``imagenet2012`` and ``tfds:NAME`` are not held in memory: they are streamed by index from a
tfds data set prepared in ArrayRecord format (dpzoo.data.records).

``random_processes_gray28`` and ``random_processes_rgb32`` are drawn from seeds (0 for the
training split, 1 for the test split) in memory: public images for pretraining, labelled with
the process that drew them (dpzoo.data.random_processes.proxy).

``digits`` is scikit-learn's bundled 8x8 digits set (1,797 images, no download), split
75/25 with a fixed seed: a second small real image set for tests.
"""

import socket

import numpy as np

from dpzoo.common.errors import DataNotFoundError, UsageError
from dpzoo.data import file_formats, records, text_corpora
from dpzoo.data.dataset import DATASETS, RANDOM_PROCESS_DATASETS, SPECS, TEXT_DATASETS, Dataset
from dpzoo.data.random_processes import proxy

SYSTEM_DIRS = {"fashion_mnist": ("/usr/share/datasets/fashion-mnist",)}
TFDS_NAMES = {"svhn": "svhn_cropped"}
HOW_TO_GET = {
    "fashion_mnist": "install Debian's package (apt-get install dataset-fashion-mnist)",
    "mnist": "put the four MNIST IDX files (train-images-idx3-ubyte.gz, ...) in --data_dir",
    "cifar10": "unpack cifar-10-python.tar.gz into --data_dir (cifar-10-batches-py/)",
    "svhn": "put SVHN's train_32x32.mat and test_32x32.mat (cropped digits) in --data_dir",
    "ag_news": "go online once (tensorflow-datasets downloads ag_news_subset), or use --dataset=debian_descriptions",
}


def load(name: str, data_dir: str | None = None) -> Dataset:
    """Loads dataset ``name`` from the first source that has it (see the module docstring)."""
    if records.is_streamed(name):
        return records.load(name, data_dir)
    if name not in DATASETS:
        raise UsageError(
            f"Unknown dataset {name!r}; known: {', '.join(DATASETS)}, or tfds:NAME for a tfds data set in "
            "ArrayRecord format."
        )
    if name == "digits":
        return _load_digits()
    if name in TEXT_DATASETS:
        return _load_text(name)
    if name in RANDOM_PROCESS_DATASETS:
        return _load_random_processes(name)
    dirs = ([data_dir] if data_dir else []) + list(SYSTEM_DIRS.get(name, ()))
    for directory in dirs:
        arrays = file_formats.read_local(name, directory)
        if arrays is not None:
            return _make(name, arrays, source=directory)
    if data_dir:
        raise DataNotFoundError(
            f"--data_dir={data_dir} has no {name} files in a known format: {file_formats.describe_formats(name)}."
        )
    if _tfds_reachable():
        return _make(name, _load_tfds(name), source="tensorflow-datasets")
    raise DataNotFoundError(
        f"No {name} data found offline and tensorflow-datasets cannot reach the internet. "
        f"To get it: {HOW_TO_GET[name]}, or pass --data_dir with {file_formats.describe_formats(name)}."
    )


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
    if name == "debian_descriptions":
        return text_corpora.load_debian_descriptions()
    if name == "debian_tools":
        return text_corpora.load_debian_descriptions(sections=text_corpora.TOOL_SECTIONS, name=name)
    if not _tfds_reachable():
        raise DataNotFoundError(f"No {name} data offline. To get it: {HOW_TO_GET[name]}.")
    return text_corpora.load_ag_news(SPECS[name].input_shape[0])


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


RANDOM_PROCESS_SEEDS = {"train": 0, "test": 1}
N_TEST_RANDOM_PROCESSES = 10_000


def _load_random_processes(name: str) -> Dataset:
    height, width, channels = RANDOM_PROCESS_DATASETS[name]
    shape = dict(height=height, width=width, channels=channels)
    x_train, y_train = proxy.arrays(SPECS[name].n_train, seed=RANDOM_PROCESS_SEEDS["train"], **shape)
    x_test, y_test = proxy.arrays(N_TEST_RANDOM_PROCESSES, seed=RANDOM_PROCESS_SEEDS["test"], **shape)
    source = (
        "random processes (dead leaves and 1/f^alpha spectra, 10 proxy classes), seeds "
        f"{RANDOM_PROCESS_SEEDS['train']} (train) and {RANDOM_PROCESS_SEEDS['test']} (test): public, drawn from no data"
    )
    return Dataset(name, x_train, y_train, x_test, y_test, len(proxy.CLASSES), source)
