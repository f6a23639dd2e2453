"""``WSConv2D``: the weight-standardised convolution of De et al. 2022 (METHODS.md section 1).

Weight standardisation makes each output channel's kernel zero-mean with unit fan-in-scaled
variance before the convolution, so the pre-activations keep a stable scale without batch
statistics. That is what lets GroupNorm networks train well under DP-SGD, where BatchNorm is
not allowed (it mixes examples). The standardisation depends on the weights only, never on the
data, so it changes nothing about per-example sensitivity.
"""

import tensorflow as tf

from dpzoo.common import keras_api
from dpzoo.common.stack import keras

WS_EPSILON = 1e-4


def standardize_kernel(kernel: tf.Tensor, gain: tf.Tensor, epsilon: float = WS_EPSILON) -> tf.Tensor:
    """w_hat = (w - mean) * gain / sqrt(max(fan_in * var, epsilon)).

    Mean and variance are taken per output channel over (kh, kw, c_in); fan_in = kh * kw * c_in.
    This is the scaled weight standardisation of Brock et al. 2021 (NF-ResNets) that De et al.
    use; the max() keeps a constant kernel from dividing by zero.
    """
    fan_in = tf.cast(tf.reduce_prod(tf.shape(kernel)[:-1]), kernel.dtype)
    mean, var = tf.nn.moments(kernel, axes=[0, 1, 2], keepdims=True)
    scale = tf.math.rsqrt(tf.maximum(fan_in * var, epsilon)) * gain
    return (kernel - mean) * scale


@keras.utils.register_keras_serializable(package="dpzoo")
class WSConv2D(keras_api.SavesEveryVariable, keras.layers.Conv2D):
    """Conv2D whose kernel is weight-standardised at every call, with a learnable
    per-output-channel gain (initialised to 1) and the usual bias.

    Accepts every Conv2D argument; ``ws_epsilon`` is the floor of fan_in * var.
    """

    def __init__(self, *args, ws_epsilon: float = WS_EPSILON, **kwargs) -> None:
        super().__init__(*args, **kwargs)
        self.ws_epsilon = ws_epsilon

    def build(self, input_shape) -> None:
        super().build(input_shape)
        self.gain = self.add_weight(name="gain", shape=(self.filters,), initializer="ones", dtype=self.dtype)

    def standardized_kernel(self) -> tf.Tensor:
        """The kernel the convolution actually uses."""
        return standardize_kernel(self.kernel, self.gain, self.ws_epsilon)

    def convolution_op(self, inputs, kernel):
        return super().convolution_op(inputs, standardize_kernel(kernel, self.gain, self.ws_epsilon))

    def get_config(self) -> dict:
        return {**super().get_config(), "ws_epsilon": self.ws_epsilon}
