"""TF Privacy's DP Keras optimizers, dpzoo-bench's peers, on the same models and batches. They need
tf-keras: scripts/test_keras2.sh runs this module there; the Keras 3 run skips it."""

import numpy as np
import pytest
import tensorflow as tf

from dpzoo.common.errors import UsageError
from dpzoo.common.keras_api import KERAS_3
from dpzoo.privacy import tf_privacy_optimizers
from tests.conftest import digits_batch, tiny_cnn

pytestmark = pytest.mark.skipif(KERAS_3, reason="TF Privacy's Keras optimizers need tf-keras (scripts/test_keras2.sh)")

COMMON = dict(
    optimizer="sgd",
    learning_rate=0.5,
    momentum=0.0,
    l2_norm_clip=1.0,
    noise_multiplier=0.0,
    rows_per_batch=16,
    expected_batch_size=16,
)


def test_tf_privacy_step_without_noise_equals_dpzoo_step(digits):
    """sigma = 0: both engines apply -lr * (sum of clipped per-example gradients) / B."""
    import dpzoo

    x, y = digits_batch(digits, 16)
    stock = tf_privacy_optimizers.compile_model(tiny_cnn(), **COMMON)
    before = [v.numpy().copy() for v in stock.trainable_variables]
    stock.train_on_batch(x, y, sample_weight=np.ones(16, np.float32))
    ours = tiny_cnn()
    private = dpzoo.make_private(ours, dpzoo.DPConfig(l2_norm_clip=1.0, noise_multiplier=0.0, expected_batch_size=16))
    private.compile(tf.keras.optimizers.SGD(0.5), loss=tf.keras.losses.SparseCategoricalCrossentropy(from_logits=True))
    private.train_on_batch(x, y, sample_weight=np.ones(16, np.float32))
    for b, s, o in zip(before, stock.trainable_variables, ours.trainable_variables, strict=True):
        assert np.abs(s.numpy() - b).max() > 0
        np.testing.assert_allclose(s.numpy(), o.numpy(), rtol=1e-4, atol=1e-6)


def test_tf_privacy_path_refuses_batch_normalization():
    model = tf.keras.Sequential([tf.keras.Input((4,)), tf.keras.layers.Dense(3), tf.keras.layers.BatchNormalization()])
    with pytest.raises(UsageError, match="BatchNormalization"):
        tf_privacy_optimizers.compile_model(model, **COMMON)
