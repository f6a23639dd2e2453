"""``Scattering2D``: the fixed wavelet scattering transform of Tramer & Boneh 2021's ScatterNet
models (Oyallon & Mallat; METHODS.md section 5), as a Keras layer.

The transform is kymatio's (its TensorFlow frontend): J scales, L orientations, order 2. For
J = 2 and L = 8 an image of H x W x C becomes (H/4) x (W/4) x 81C: 28x28x1 gives 7x7x81 and
32x32x3 gives 8x8x243. Its filters are fixed Morlet and Gaussian wavelets that look at no data,
so the layer has no weights and no privacy cost, and it treats each example on its own.
Inside a model it makes a served model take raw images.
"""

import tensorflow as tf

# Not ``kymatio.keras``: it imports kymatio's 3D module, which needs scipy.special.sph_harm,
# gone from the scipy dpzoo pins. The 2D TensorFlow frontend does not.
from kymatio.scattering2d.frontend.tensorflow_frontend import ScatteringTensorFlow2D

from dpzoo.common.stack import keras


def scattering_channels(J: int, L: int, max_order: int = 2) -> int:
    """Output channels per input channel: 1 + JL (+ L^2 J(J-1)/2 at order 2)."""
    first = J * L
    return 1 + first + (L * L * J * (J - 1) // 2 if max_order == 2 else 0)


@keras.utils.register_keras_serializable(package="dpzoo")
class Scattering2D(keras.layers.Layer):
    """[batch, H, W, C] -> [batch, H / 2^J, W / 2^J, C * channels], channels-last, grouped by
    input channel (all of channel 0's coefficients, then channel 1's). H and W must be
    multiples of 2^J."""

    def __init__(self, J: int = 2, L: int = 8, max_order: int = 2, **kwargs) -> None:
        super().__init__(trainable=False, **kwargs)
        if J < 1 or L < 1 or max_order not in (1, 2):
            raise ValueError(f"Expected J >= 1, L >= 1 and max_order 1 or 2, got J={J}, L={L}, max_order={max_order}.")
        self.J, self.L, self.max_order = J, L, max_order
        self._transform = None

    def build(self, input_shape) -> None:
        height, width, _ = input_shape[1:]
        if height % 2**self.J or width % 2**self.J:
            raise ValueError(
                f"Scattering2D with J={self.J} needs H and W multiples of {2**self.J}, got {height}x{width}."
            )
        self._transform = ScatteringTensorFlow2D(J=self.J, shape=(height, width), L=self.L, max_order=self.max_order)
        super().build(input_shape)

    def call(self, images: tf.Tensor) -> tf.Tensor:
        images = tf.cast(images, tf.float32)
        shape = tf.shape(images)
        per_channel = tf.transpose(images, [0, 3, 1, 2])  # [b, C, H, W]: kymatio's layout
        coefficients = self._transform(per_channel)  # [b, C, K, H', W']
        size = 2**self.J
        out = tf.reshape(coefficients, [shape[0], -1, shape[1] // size, shape[2] // size])
        out = tf.transpose(out, [0, 2, 3, 1])
        return tf.ensure_shape(out, self.compute_output_shape(images.shape))

    def compute_output_shape(self, input_shape) -> tf.TensorShape:
        batch, height, width, channels = tf.TensorShape(input_shape).as_list()
        size = 2**self.J
        per_channel = scattering_channels(self.J, self.L, self.max_order)
        return tf.TensorShape(
            [
                batch,
                None if height is None else height // size,
                None if width is None else width // size,
                None if channels is None else channels * per_channel,
            ]
        )

    def get_config(self) -> dict:
        return {**super().get_config(), "J": self.J, "L": self.L, "max_order": self.max_order}

    @classmethod
    def from_config(cls, config: dict) -> "Scattering2D":
        config = dict(config)
        config.pop("trainable", None)  # always False
        return cls(**config)
