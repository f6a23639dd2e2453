"""Dataset loaders on real data and on small files in each supported format."""

import gzip
import pickle
import struct

import numpy as np
import pytest

from dpzoo import data
from dpzoo.common.errors import DataNotFoundError, UsageError


def write_idx(path, array, compress):
    header = bytes([0, 0, 8, array.ndim]) + struct.pack(f">{array.ndim}I", *array.shape)
    opener = gzip.open if compress else open
    with opener(path, "wb") as f:
        f.write(header + array.astype(np.uint8).tobytes())


@pytest.mark.parametrize("compress", [True, False])
def test_idx_files_in_data_dir(tmp_path, compress):
    rng = np.random.default_rng(0)
    arrays = {
        "x_train": rng.integers(0, 256, (20, 28, 28)),
        "y_train": rng.integers(0, 10, 20),
        "x_test": rng.integers(0, 256, (5, 28, 28)),
        "y_test": np.arange(5),
    }
    for key, stem in data.IDX_FILES.items():
        write_idx(tmp_path / (stem + (".gz" if compress else "")), arrays[key], compress)
    ds = data.load("mnist", str(tmp_path))
    assert ds.x_train.shape == (20, 28, 28, 1) and ds.x_train.dtype == np.uint8
    np.testing.assert_array_equal(ds.x_train[..., 0], arrays["x_train"])
    np.testing.assert_array_equal(ds.y_test, np.arange(5))


def test_cifar_pickles_in_data_dir(tmp_path):
    folder = tmp_path / "cifar-10-batches-py"
    folder.mkdir()
    rng = np.random.default_rng(0)
    for name in [f"data_batch_{i}" for i in range(1, 6)] + ["test_batch"]:
        batch = {b"data": rng.integers(0, 256, (4, 3072)).astype(np.uint8), b"labels": [0, 1, 2, 9]}
        with open(folder / name, "wb") as f:
            pickle.dump(batch, f)
    ds = data.load("cifar10", str(tmp_path))
    assert ds.x_train.shape == (20, 32, 32, 3) and ds.x_test.shape == (4, 32, 32, 3)
    with open(folder / "test_batch", "rb") as f:
        first = pickle.load(f)[b"data"][0]
    np.testing.assert_array_equal(ds.x_test[0, 0, 0], first[[0, 1024, 2048]])  # channels-last


def test_svhn_mat_files_in_data_dir(tmp_path):
    """SVHN's MATLAB layout: X [32, 32, 3, N], y [N, 1] with 10 standing for the digit 0."""
    from scipy import io

    rng = np.random.default_rng(0)
    images = {split: rng.integers(0, 256, (32, 32, 3, n)).astype(np.uint8) for split, n in (("train", 6), ("test", 3))}
    labels = {"train": np.array([[10], [1], [2], [3], [9], [10]]), "test": np.array([[5], [10], [7]])}
    for split in ("train", "test"):
        io.savemat(tmp_path / data.SVHN_FILES[split], {"X": images[split], "y": labels[split]})
    ds = data.load("svhn", str(tmp_path))
    assert ds.x_train.shape == (6, 32, 32, 3) and ds.x_test.shape == (3, 32, 32, 3) and ds.num_classes == 10
    np.testing.assert_array_equal(ds.x_train[4], images["train"][..., 4])
    np.testing.assert_array_equal(ds.y_train, [0, 1, 2, 3, 9, 0])
    np.testing.assert_array_equal(ds.y_test, [5, 0, 7])


def test_npz_in_data_dir(tmp_path):
    np.savez(
        tmp_path / "fashion_mnist.npz",
        x_train=np.zeros((3, 28, 28)),
        y_train=[1, 2, 3],
        x_test=np.zeros((2, 28, 28)),
        y_test=[0, 1],
    )
    ds = data.load("fashion_mnist", str(tmp_path))
    assert ds.source == str(tmp_path) and len(ds.x_train) == 3


def test_empty_data_dir_says_what_it_expects(tmp_path):
    with pytest.raises(DataNotFoundError, match="train-images-idx3-ubyte"):
        data.load("mnist", str(tmp_path))


def test_corrupt_idx_is_refused(tmp_path):
    (tmp_path / "bad").write_bytes(b"\x01\x02\x03\x04")
    with pytest.raises(UsageError, match="magic"):
        data.read_idx(str(tmp_path / "bad"))


def test_unknown_dataset_lists_known_ones():
    with pytest.raises(UsageError, match="fashion_mnist"):
        data.load("imagenet21k")


def test_fashion_mnist_from_debian(fashion):
    assert fashion.x_train.shape == (60_000, 28, 28, 1) and fashion.x_test.shape == (10_000, 28, 28, 1)
    assert fashion.num_classes == 10
    assert np.bincount(fashion.y_train).tolist() == [6000] * 10
    mean, std = fashion.channel_stats
    assert abs(fashion.x_train.mean() / 255 - mean[0]) < 1e-3  # the published constants fit the data
    assert abs(fashion.x_train.std() / 255 - std[0]) < 1e-3


def test_digits_split_is_fixed(digits):
    assert len(digits.x_train) + len(digits.x_test) == 1797
    assert digits.x_train.shape[1:] == (8, 8, 1) and digits.x_train.max() == 255
    assert np.array_equal(digits.y_train, data.load("digits").y_train)
