"""Shared fixtures: real data (scikit-learn digits, Fashion-MNIST from Debian) and tiny models."""

import dataclasses
import os
import types
from unittest import mock

os.environ.setdefault("TF_CPP_MIN_LOG_LEVEL", "3")

import numpy as np  # noqa: E402
import pytest  # noqa: E402
import tensorflow as tf  # noqa: E402

from dpzoo import data  # noqa: E402
from dpzoo.common.keras_api import KERAS_3  # noqa: E402

# Two logical CPU devices, for the tf.distribute tests (MirroredStrategy over both); everything
# else runs on the first, as on a plain CPU. Must happen before TensorFlow initialises its devices.
LOGICAL_CPUS = 2
tf.config.set_logical_device_configuration(
    tf.config.list_physical_devices("CPU")[0], [tf.config.LogicalDeviceConfiguration()] * LOGICAL_CPUS
)

ROOT = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))  # the repository


def pytest_collection_modifyitems(items) -> None:
    """For pytest-xdist's ``--dist=loadgroup`` (scripts/test.sh): a module's tests run on one
    worker, so its module-scoped fixtures (training runs) are built once, unless the module
    declares ``SPREAD_OVER_WORKERS = True`` (independent tests, such as one per config)."""
    for item in items:
        if not getattr(item.module, "SPREAD_OVER_WORKERS", False):
            item.add_marker(pytest.mark.xdist_group(item.module.__name__))


@pytest.fixture(scope="session")
def digits() -> data.Dataset:
    return data.load("digits")


@pytest.fixture(scope="session")
def fashion() -> data.Dataset:
    return data.load("fashion_mnist")


def tiny_cnn(input_shape=(8, 8, 1), num_classes=10, seed=0) -> tf.keras.Model:
    """Conv + GroupNorm + Dense: small enough for brute-force checks, real enough to matter."""
    tf.keras.utils.set_random_seed(seed)
    inputs = tf.keras.Input(input_shape)
    x = tf.keras.layers.Conv2D(4, 3, strides=2, padding="same")(inputs)
    x = tf.keras.layers.GroupNormalization(groups=2)(x)
    x = tf.keras.layers.Activation("tanh")(x)
    x = tf.keras.layers.Flatten()(x)
    outputs = tf.keras.layers.Dense(num_classes)(x)
    return tf.keras.Model(inputs, outputs)


def digits_batch(dataset: data.Dataset, size: int, offset: int = 0):
    """(float images in [0, 1], int labels) of real digits."""
    x = dataset.x_train[offset : offset + size].astype(np.float32) / 255.0
    return x, dataset.y_train[offset : offset + size]


SPARSE_CE = tf.keras.losses.SparseCategoricalCrossentropy(from_logits=True)

# a formally private run small enough for a test: 2,048 Fashion-MNIST images, 16 steps
SMALL_FASHION_RUN = types.MappingProxyType(
    dict(
        model="tutorial_cnn",
        dataset="fashion_mnist",
        max_train_examples=2048,
        epochs=2,
        batch_size=256,
        learning_rate=1.0,
        target_epsilon=1.0,
    )
)


def op_types(graph_def) -> set[str]:
    """Every op type in a GraphDef, its function library included."""
    nodes = list(graph_def.node)
    for function in graph_def.library.function:
        nodes.extend(function.node_def)
    return {node.op for node in nodes}


def write_idx(path: str, array: np.ndarray) -> None:
    """Writes a uint8 array as a gzipped IDX file (the MNIST format dpzoo.data reads)."""
    import gzip
    import struct

    header = bytes([0, 0, 0x08, array.ndim]) + struct.pack(f">{array.ndim}I", *array.shape)
    with gzip.open(path, "wb") as f:
        f.write(header + np.ascontiguousarray(array, np.uint8).tobytes())


def data_subset(dataset: data.Dataset, n_train: int, n_test: int = 32) -> data.Dataset:
    """The first n_train / n_test examples of a real dataset, in memory (short runs in tests)."""
    return dataclasses.replace(
        dataset,
        x_train=dataset.x_train[:n_train],
        y_train=dataset.y_train[:n_train],
        x_test=dataset.x_test[:n_test],
        y_test=dataset.y_test[:n_test],
    )


def fashion_subset_dir(directory, fashion: data.Dataset, n_train: int, n_test: int) -> str:
    """A --data_dir with the first n_train / n_test real Fashion-MNIST examples as IDX files
    (short command-line runs: evaluating the whole test set would dominate them)."""
    os.makedirs(directory, exist_ok=True)
    parts = {
        "train-images-idx3-ubyte.gz": fashion.x_train[:n_train, ..., 0],
        "train-labels-idx1-ubyte.gz": fashion.y_train[:n_train],
        "t10k-images-idx3-ubyte.gz": fashion.x_test[:n_test, ..., 0],
        "t10k-labels-idx1-ubyte.gz": fashion.y_test[:n_test],
    }
    for name, array in parts.items():
        write_idx(os.path.join(directory, name), array.astype(np.uint8))
    return str(directory)


def scatternet_subset_run(fashion: data.Dataset, root, **changes):
    """(result, config) of a short ScatterNet + linear run (3 epochs of B = 500) on the first 2,000
    training and 1,000 test images, its features cached under ``root`` (DPZOO_CACHE_DIR as it was
    afterwards); ``changes`` replace fields of that config."""
    from dpzoo import training

    config = training.TrainConfig(
        model="scatternet_linear",
        data_dir=fashion_subset_dir(root / "data", fashion, 2000, 1000),
        epochs=3,
        batch_size=500,
        learning_rate=4.0,
        optimizer="momentum",
        l2_norm_clip=0.1,
        noise_multiplier=1.0,
        accountant="rdp",
        output_dir=str(root / "run"),
    )
    config = dataclasses.replace(config, **changes)
    with mock.patch.dict(os.environ, {"DPZOO_CACHE_DIR": str(root / "cache")}):
        return training.run(config, verbose=0), config


@pytest.fixture
def float64_keras():
    """Models and losses built in float64 while the test runs: float32 rounding out of the
    comparison (Keras 3 takes a layer's dtype from its policy and a loss's from floatx)."""
    set_defaults = [tf.keras.backend.set_floatx]
    if KERAS_3:
        set_defaults.append(tf.keras.config.set_dtype_policy)
    for set_default in set_defaults:
        set_default("float64")
    try:
        yield
    finally:
        for set_default in set_defaults:
            set_default("float32")
