"""The trainer at scale: virtual batches and MirroredStrategy change neither the update nor the
privacy statement (real Fashion-MNIST, short runs)."""

import dataclasses

import numpy as np
import pytest
import tensorflow as tf

from dpzoo import training
from dpzoo.artifacts import run_folder
from dpzoo.common.errors import UsageError
from dpzoo.training import TrainConfig

BASE = TrainConfig(
    model="tutorial_cnn",
    dataset="fashion_mnist",
    max_train_examples=2000,
    epochs=1,
    batch_size=256,
    learning_rate=1.0,
    noise_multiplier=1.0,
    seed=5,
)


def _run(tmp_path, name: str, strategy=None, **fields) -> tuple[training.trainer.RunResult, list[np.ndarray]]:
    config = dataclasses.replace(BASE, output_dir=str(tmp_path / name), **fields)
    result = training.run(config, verbose=0, strategy=strategy)
    model, _ = run_folder.load_run(result.output_dir)
    return result, model.get_weights()


def _assert_close(reference: list[np.ndarray], other: list[np.ndarray], tolerance: float) -> None:
    for a, b in zip(reference, other, strict=True):
        np.testing.assert_allclose(b, a, rtol=tolerance, atol=tolerance * np.abs(a).max())


def test_a_virtual_batch_run_is_the_one_pass_run(tmp_path):
    """Same seed, so the same Poisson draws and the same noise: the same weights and statement.
    Two steps: the CPU kernels are not bitwise deterministic, and over many steps at lr 1 their
    rounding differences grow past any tight tolerance."""
    one_pass, reference = _run(tmp_path, "one_pass", max_steps=2)
    chunked, weights = _run(tmp_path, "chunked", physical_batch_size=48, max_steps=2)
    _assert_close(reference, weights, 1e-4)
    assert chunked.card["privacy"] == one_pass.card["privacy"]
    training_fields = chunked.card["training"]
    assert training_fields["physical_batch_size"] == 48 and "chunks of 48 rows" in training_fields["padding"]
    assert training_fields["mean_physical_rows"] > BASE.batch_size


@pytest.fixture(scope="module")
def mirrored() -> tf.distribute.MirroredStrategy:
    return training.distribution.make_strategy("mirrored")  # the process's one (see make_strategy)


def test_a_mirrored_run_has_the_one_device_run_s_weights_without_noise(tmp_path, mirrored):
    """Three steps: the two replicas' partial sums round differently from one pass's, and at lr 1
    the differences grow (over the 8 steps of an epoch to 1.4e-5, past the tolerance)."""
    _, reference = _run(tmp_path, "one_device", noise_multiplier=0.0, max_steps=3)
    result, weights = _run(tmp_path, "mirrored", mirrored, noise_multiplier=0.0, distribution="mirrored", max_steps=3)
    _assert_close(reference, weights, 1e-5)
    assert result.card["training"]["replicas"] == 2


def test_a_mirrored_run_has_the_one_device_run_s_privacy_statement(tmp_path, mirrored):
    one_device, _ = _run(tmp_path, "one_device")
    replicated, _ = _run(tmp_path, "mirrored", mirrored, distribution="mirrored", physical_batch_size=64)
    assert replicated.card["privacy"] == one_device.card["privacy"]
    assert replicated.card["privacy"]["steps"] == one_device.card["privacy"]["steps"] > 0


@pytest.mark.parametrize(
    "fields,message",
    [
        ({"physical_batch_size": 0}, "physical_batch_size=0"),
        ({"distribution": "mirrored", "engine": "tf_privacy"}, "need engine='dpzoo'"),
        ({"distribution": "pods"}, "distribution='pods'"),
        ({"max_steps": 0}, "max_steps=0"),
        (
            {"distribution": "multi_worker", "method": "modelmix", "clipping_norm": "l2+linf", "linf_p": 100.0},
            "not supported with distribution='multi_worker'",
        ),
    ],
)
def test_scale_settings_are_validated(fields, message):
    with pytest.raises(UsageError, match=message):
        dataclasses.replace(BASE, **fields)


def test_multi_worker_needs_tf_config(monkeypatch):
    monkeypatch.delenv("TF_CONFIG", raising=False)
    with pytest.raises(UsageError, match="needs TF_CONFIG"):
        training.distribution.make_strategy("multi_worker")
