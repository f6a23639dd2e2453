"""DP-SGD under MirroredStrategy on the 2 logical CPU devices of tests/conftest.py (METHODS.md section 4).

The global batch is split over the replicas, each clips and sums its own rows, the sums are
all-reduced and the noise is added once: without noise a step equals the one-device step; with
noise the update's std is sigma*C/B, which two deliberately broken variants (every replica adds
the full noise; every replica adds sigma*C/R) fail; the replicas' variables stay identical.
"""

import dataclasses

import numpy as np
import pytest
import tensorflow as tf

import dpzoo
from dpzoo.common import keras_api
from dpzoo.common.errors import UsageError
from dpzoo.methods.modelmix import ModelMix
from dpzoo.privacy import PrivateModel
from dpzoo.training import distribution
from tests.conftest import LOGICAL_CPUS, SPARSE_CE, digits_batch, tiny_cnn
from tests.privacy.test_private_model import gaussian_model
from tests.privacy.test_virtual_batches import NOISE_TOLERANCE, zero_gradient_noise_ratio


@pytest.fixture(scope="module")
def mirrored() -> tf.distribute.MirroredStrategy:
    strategy = distribution.make_strategy("mirrored")  # the process's one: a second would clash with it
    assert strategy.num_replicas_in_sync == LOGICAL_CPUS == 2
    return strategy


def _batch(digits, rows: int = 16):
    x, y = digits_batch(digits, rows)
    mask = np.ones(rows, np.float32)
    mask[[3, rows - 4]] = 0.0
    return x, y, mask


def fit_steps(strategy, data, config: dpzoo.DPConfig, steps: int = 1, callbacks=(), optimizer=None):
    """(the inner model, weights after minus before ``steps`` steps on ``data``)."""
    with strategy.scope():
        model = tiny_cnn()
        before = [v.numpy().copy() for v in model.trainable_variables]
        private = dpzoo.make_private(model, config)
        private.compile(optimizer=optimizer or tf.keras.optimizers.SGD(1.0), loss=SPARSE_CE)
    private.fit(tf.data.Dataset.from_tensors(data).repeat(steps), epochs=1, verbose=0, callbacks=list(callbacks))
    assert int(private.dp_steps.numpy()) == steps
    return model, [v.numpy() - b for v, b in zip(model.trainable_variables, before, strict=True)]


@pytest.mark.parametrize("clipping", ["vectorized", "ghost"])
@pytest.mark.parametrize("physical_batch_size", [None, 16], ids=["one-pass", "chunked"])
def test_mirrored_step_equals_the_one_device_step(digits, mirrored, clipping, physical_batch_size):
    data = _batch(digits)
    config = dpzoo.DPConfig(l2_norm_clip=0.5, noise_multiplier=0.0, expected_batch_size=12, clipping=clipping)
    _, one_device = fit_steps(tf.distribute.get_strategy(), data, config)
    _, replicated = fit_steps(mirrored, data, dataclasses.replace(config, physical_batch_size=physical_batch_size))
    assert all(np.abs(u).max() > 0 for u in one_device)
    for a, b in zip(one_device, replicated, strict=True):
        np.testing.assert_allclose(b, a, rtol=1e-5, atol=1e-5 * np.abs(a).max())


class NoiseOnEveryReplica(PrivateModel):
    """Known bug 1: every replica adds the full noise before the summing all-reduce (std x sqrt(R))."""

    def replica_noise_stddev(self):
        return self.dp_config.noise_stddev


class NoiseShareOverR(PrivateModel):
    """Known bug 2: every replica adds sigma*C/R from its own generator (std x 1/sqrt(R): too little)."""

    def replica_noise_stddev(self):
        return self.dp_config.noise_stddev / tf.distribute.get_replica_context().num_replicas_in_sync


@pytest.mark.parametrize("physical_batch_size", [None, 16], ids=["one-pass", "chunked"])
def test_update_noise_is_sigma_c_over_b_once_over_the_replicas(mirrored, physical_batch_size):
    config = dpzoo.DPConfig(
        l2_norm_clip=3.0, noise_multiplier=2.0, expected_batch_size=32, seed=7, physical_batch_size=physical_batch_size
    )
    assert abs(zero_gradient_noise_ratio(config, strategy=mirrored) - 1) < NOISE_TOLERANCE
    too_much = zero_gradient_noise_ratio(config, model_class=NoiseOnEveryReplica, strategy=mirrored)
    too_little = zero_gradient_noise_ratio(config, model_class=NoiseShareOverR, strategy=mirrored)
    np.testing.assert_allclose([too_much, too_little], [np.sqrt(2), 1 / np.sqrt(2)], rtol=2 * NOISE_TOLERANCE)
    assert abs(too_much - 1) > NOISE_TOLERANCE and abs(too_little - 1) > NOISE_TOLERANCE  # both caught


def _replicas_agree(model: tf.keras.Model) -> None:
    for v in model.variables:
        mirrored = v.value if keras_api.KERAS_3 else v  # Keras 3 wraps the MirroredVariable
        first, *others = [t.numpy() for t in mirrored.values]
        for other in others:
            np.testing.assert_array_equal(other, first, err_msg=v.name)


def test_replicas_stay_identical_over_noisy_steps(digits, mirrored):
    config = dpzoo.DPConfig(l2_norm_clip=0.5, noise_multiplier=1.0, expected_batch_size=12, physical_batch_size=8)
    model, update = fit_steps(mirrored, _batch(digits, 8), config, steps=5)
    assert all(np.abs(u).max() > 0 for u in update)
    _replicas_agree(model)


def test_modelmix_mixes_identically_on_every_replica(digits, mirrored):
    """One process: the callback draws the mixing weights once and assigns them to every replica."""
    config = dpzoo.DPConfig(
        l2_norm_clip=0.5,
        noise_multiplier=1.0,
        expected_batch_size=12,
        clipping_norm="l2+linf",
        linf_p=100.0,
        physical_batch_size=16,
    )
    mixing = ModelMix(tau_ratio=0.15, seed=3)
    model, _ = fit_steps(mirrored, _batch(digits), config, steps=5, callbacks=[mixing])
    assert bool(mixing.state.started.numpy())
    _replicas_agree(model)


def test_what_replicas_cannot_compute_exactly_is_refused(digits, mirrored):
    x, y, mask = _batch(digits)
    with mirrored.scope():
        config = dpzoo.DPConfig(l2_norm_clip=1.0, noise_multiplier=0.0, expected_batch_size=16, physical_batch_size=5)
        private = dpzoo.make_private(tiny_cnn(), config)
        private.compile(optimizer="sgd", loss=SPARSE_CE)
    with pytest.raises(UsageError, match="multiple of the 2 replicas"):
        private.fit(x, y, sample_weight=mask, batch_size=16, verbose=0)
    with mirrored.scope():
        config = dpzoo.DPConfig(l2_norm_clip=1.0, noise_multiplier=0.0, expected_batch_size=16)
        private = dpzoo.make_private(gaussian_model(), config)
        private.compile(optimizer="sgd", loss=SPARSE_CE)
    with pytest.raises(UsageError, match="Gaussian weight layers"):
        private.fit(x, y, sample_weight=mask, batch_size=16, verbose=0)
