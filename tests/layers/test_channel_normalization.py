"""ChannelNormalization: the identity until its statistics are set, then (x - mean) /
sqrt(variance + eps) per channel, each example alone, never trained, and saved with the model."""

import numpy as np
import tensorflow as tf

from dpzoo.layers import ChannelNormalization


def test_normalises_with_the_statistics_it_is_given_and_is_never_trained(tmp_path):
    x = np.random.default_rng(0).normal(3.0, 2.0, size=(5, 2, 2, 3)).astype(np.float32)
    inputs = tf.keras.Input((2, 2, 3))
    layer = ChannelNormalization(name="norm")
    model = tf.keras.Model(inputs, layer(inputs))
    np.testing.assert_allclose(model(x).numpy(), x / np.sqrt(1 + 1e-5), rtol=1e-6)  # identity before
    assert not bool(layer.statistics_set.numpy()) and model.trainable_weights == []
    mean, variance = np.array([1.0, 2.0, 3.0]), np.array([4.0, 0.25, 1.0])
    layer.set_statistics(mean, variance)
    np.testing.assert_allclose(model(x).numpy(), (x - mean) / np.sqrt(variance + 1e-5), rtol=1e-5)
    np.testing.assert_allclose(model(x[:1]).numpy(), model(x).numpy()[:1], rtol=1e-6)  # each example alone
    path = str(tmp_path / "model.keras")
    model.save(path)
    reloaded = tf.keras.models.load_model(path)
    np.testing.assert_allclose(reloaded(x).numpy(), model(x).numpy(), rtol=1e-6)
    assert bool(reloaded.get_layer("norm").statistics_set.numpy())
