"""FeatureCentering: every feature minus its mean over the training set, the mean set from outside.

A linear model trained with DP-SGD on fixed features does better when the features are centred
(Sun, Suresh & Menon, ICLR 2024, DPSGD-F): DP-SGD's error then grows with the features' diameter
instead of their largest norm, since an offset shared by every example no longer enlarges each
example's gradient before it is clipped. The mean is computed from private data, so
it is released with a Gaussian mechanism before training (dpzoo.privacy.channel_statistics
``private_feature_mean``) and set here as a non-trainable weight; the checkpoint and the SavedModel
centre as training did. The layer treats each example alone. Until its mean is set it is the
identity; ``statistics_set`` says whether it was.
"""

import numpy as np
import tensorflow as tf

from dpzoo.common.stack import keras


@keras.utils.register_keras_serializable(package="dpzoo")
class FeatureCentering(keras.layers.Layer):
    """x - mean, the mean one value per feature (the input's shape without the batch axis), fixed."""

    def __init__(self, **kwargs) -> None:
        kwargs.pop("trainable", None)  # never trained: the mean comes from outside
        super().__init__(trainable=False, **kwargs)

    def build(self, input_shape) -> None:
        self.mean = self.add_weight(name="mean", shape=tuple(input_shape[1:]), initializer="zeros", trainable=False)
        self.statistics_set = self.add_weight(
            name="statistics_set", shape=(), initializer="zeros", trainable=False, dtype=tf.bool
        )
        super().build(input_shape)

    def set_mean(self, mean: np.ndarray) -> None:
        """Sets the mean (an array of the features' shape, or flat with as many values)."""
        self.mean.assign(np.asarray(mean, np.float32).reshape(self.mean.shape))
        self.statistics_set.assign(True)

    def call(self, inputs: tf.Tensor) -> tf.Tensor:
        return inputs - self.mean

    def get_config(self) -> dict:
        config = super().get_config()
        config.pop("trainable", None)
        return config
