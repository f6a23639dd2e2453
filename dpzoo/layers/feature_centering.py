"""FeatureCentering: every feature minus its mean over the training set, the mean set from outside.

A linear model trained with DP-SGD on fixed features does better when the features are centred
(Sun, Suresh & Menon, ICLR 2024, DPSGD-F): DP-SGD's error then grows with the features' diameter
instead of their largest norm, since an offset shared by every example no longer enlarges each
example's gradient before it is clipped. The mean is computed from private data, so
it is released with a Gaussian mechanism before training (dpzoo.privacy.channel_statistics
``private_feature_mean``) and set here as a non-trainable weight; the checkpoint and the SavedModel
centre as training did. The layer treats each example alone. Until its mean is set it is the
identity; ``statistics_set`` says whether it was.

``channel_scale`` (one fixed factor per channel, the last axis) multiplies the centred features:
a fixed map of each example's features, so it costs no privacy. It sets how far DP-SGD's noise
reaches the logits through each channel against how fast their weights learn (the ScatterNet
linear model's ``first_order_scale``).
"""

import numpy as np
import tensorflow as tf

from dpzoo.common.stack import keras


@keras.utils.register_keras_serializable(package="dpzoo")
class FeatureCentering(keras.layers.Layer):
    """(x - mean) * channel_scale, the mean one value per feature (the input's shape without the
    batch axis), fixed; no scale without ``channel_scale``."""

    def __init__(self, channel_scale: list[float] | None = None, **kwargs) -> None:
        kwargs.pop("trainable", None)  # never trained: the mean comes from outside
        super().__init__(trainable=False, **kwargs)
        self.channel_scale = None if channel_scale is None else [float(v) for v in channel_scale]

    def build(self, input_shape) -> None:
        self.mean = self.add_weight(name="mean", shape=tuple(input_shape[1:]), initializer="zeros", trainable=False)
        self.statistics_set = self.add_weight(
            name="statistics_set", shape=(), initializer="zeros", trainable=False, dtype=tf.bool
        )
        if self.channel_scale is not None and len(self.channel_scale) != input_shape[-1]:
            raise ValueError(
                f"{self.name}: channel_scale has {len(self.channel_scale)} factors for {input_shape[-1]} channels."
            )
        super().build(input_shape)

    def set_mean(self, mean: np.ndarray) -> None:
        """Sets the mean (an array of the features' shape, or flat with as many values)."""
        self.mean.assign(np.asarray(mean, np.float32).reshape(self.mean.shape))
        self.statistics_set.assign(True)

    def call(self, inputs: tf.Tensor) -> tf.Tensor:
        centred = inputs - self.mean
        if self.channel_scale is None:
            return centred
        return centred * tf.constant(self.channel_scale, centred.dtype)

    def get_config(self) -> dict:
        config = super().get_config()
        config.pop("trainable", None)
        return config | {"channel_scale": self.channel_scale}
