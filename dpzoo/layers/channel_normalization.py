"""ChannelNormalization: features standardised per channel with statistics set from outside
(Tramer & Boneh 2021's "data normalisation" of the scattering channels, METHODS.md section 5).

The mean and variance are non-trainable weights, set once before training by
``set_statistics`` (dpzoo.privacy.channel_statistics releases them with a Gaussian mechanism)
and saved with the model, so the checkpoint and the SavedModel normalise as training did. The
layer treats each example alone. Until its statistics are set it is the identity (mean 0,
variance 1); ``statistics_set`` says whether they were.
"""

import numpy as np
import tensorflow as tf

from dpzoo.common.stack import keras


@keras.utils.register_keras_serializable(package="dpzoo")
class ChannelNormalization(keras.layers.Layer):
    """(x - mean) / sqrt(variance + epsilon) over the last axis, mean and variance fixed."""

    def __init__(self, epsilon: float = 1e-5, **kwargs) -> None:
        kwargs.pop("trainable", None)  # never trained: the statistics come from outside
        super().__init__(trainable=False, **kwargs)
        self.epsilon = epsilon

    def build(self, input_shape) -> None:
        channels = int(input_shape[-1])
        self.mean = self.add_weight(name="mean", shape=(channels,), initializer="zeros", trainable=False)
        self.variance = self.add_weight(name="variance", shape=(channels,), initializer="ones", trainable=False)
        self.statistics_set = self.add_weight(
            name="statistics_set", shape=(), initializer="zeros", trainable=False, dtype=tf.bool
        )
        super().build(input_shape)

    def set_statistics(self, mean: np.ndarray, variance: np.ndarray) -> None:
        """Sets the per-channel mean and variance (arrays of the channel count)."""
        self.mean.assign(np.asarray(mean, np.float32))
        self.variance.assign(np.asarray(variance, np.float32))
        self.statistics_set.assign(True)

    def call(self, inputs: tf.Tensor) -> tf.Tensor:
        return (inputs - self.mean) * tf.math.rsqrt(self.variance + self.epsilon)

    def get_config(self) -> dict:
        config = super().get_config()
        config.pop("trainable", None)
        return {**config, "epsilon": self.epsilon}
