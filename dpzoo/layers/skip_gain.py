"""SkipGain: a learnable scalar gain on a residual branch (SkipInit, De & Smith 2020), as the
normaliser-free ResNets of Brock et al. 2021 use it (METHODS.md section 1: De et al.'s ImageNet
model)."""

import tensorflow as tf

from dpzoo.common.stack import keras


@keras.utils.register_keras_serializable(package="dpzoo")
class SkipGain(keras.layers.Layer):
    """Multiplies a residual branch by alpha * g, g a learnable scalar (initialised to 0 by default).

    SkipInit (De & Smith 2020) as normaliser-free ResNets use it (Brock et al. 2021): every
    residual block starts as the identity, which replaces what normalisation did for the
    signal's scale at initialisation.
    """

    def __init__(self, alpha: float = 1.0, initial_gain: float = 0.0, **kwargs) -> None:
        super().__init__(**kwargs)
        self.alpha = alpha
        self.initial_gain = initial_gain

    def build(self, input_shape) -> None:
        init = keras.initializers.Constant(self.initial_gain)
        self.gain = self.add_weight(name="gain", shape=(), initializer=init, dtype=self.dtype)
        super().build(input_shape)

    def call(self, inputs: tf.Tensor) -> tf.Tensor:
        return inputs * (self.alpha * self.gain)

    def compute_output_shape(self, input_shape):
        return input_shape

    def get_config(self) -> dict:
        return {**super().get_config(), "alpha": self.alpha, "initial_gain": self.initial_gain}
