"""Gaussian weight layers of Davody et al. 2020 ("SIDP", METHODS.md section 2).

In training, every forward pass uses W~ = W + N(0, s^2) for the kernel and for the bias, drawn
fresh at each call from the layer's own seeded generator (its state is saved with the weights,
so a resumed run does not repeat draws). ``s`` is the layer's non-trainable
``weight_noise_stddev``, which the training engine sets before each step to
lr_t * C * sigma / B, the std DP-SGD would add to the update (``set_weight_noise_stddev``).
The noise is additive and independent of W, so dL/dW = dL/dW~: gradients flow to W.

Inference (``training=False``) uses the clean weights, unless the layer was made with
``inference_noise=True``; a SavedModel exported in inference mode has no random ops.

The weight noise is data-independent, so it never weakens a DP guarantee; on its own it does not
give one either (METHODS.md section 2: the paper's epsilon is nominal).

A fused non-linear activation is refused: ghost clipping needs the layer's pre-activation output
gradient, and re-running a Gaussian layer to get it would draw different weights. Put an
``Activation`` layer after it instead.
"""

import tensorflow as tf

from dpzoo.common import keras_api
from dpzoo.common.stack import keras


def _refuse_fused_activation(layer: keras.layers.Layer) -> None:
    if layer.activation is not keras.activations.linear:
        raise ValueError(
            f"{type(layer).__name__} {layer.name}: activation={layer.activation.__name__!r} is not supported "
            "(re-running the layer for its pre-activation gradient would draw new weight noise). "
            "Use activation=None and a keras.layers.Activation layer after it."
        )


class GaussianWeights:
    """The noise shared by the Gaussian layers: a stddev variable and a seeded generator (mix into
    a Keras layer; call ``_init_noise`` in __init__ and ``_build_noise`` in build)."""

    def _init_noise(self, seed: int | None, inference_noise: bool) -> None:
        self.seed = seed
        self.inference_noise = inference_noise

    def _build_noise(self) -> None:
        self.weight_noise_stddev = self.add_weight(
            name="weight_noise_stddev", shape=(), initializer="zeros", trainable=False, dtype=self.dtype
        )
        if self.seed is None:
            self.noise_generator = tf.random.Generator.from_non_deterministic_state()
        else:
            self.noise_generator = tf.random.Generator.from_seed(self.seed)

    def noisy(self, weight: tf.Variable, training) -> tf.Tensor:
        """W + N(0, s^2) with a fresh draw when training (or ``inference_noise``), else W."""
        if not (training or self.inference_noise):
            return tf.convert_to_tensor(weight)
        noise = self.noise_generator.normal(tf.shape(weight), dtype=weight.dtype)
        return weight + tf.stop_gradient(noise * self.weight_noise_stddev)

    def _noise_config(self) -> dict:
        return {"seed": self.seed, "inference_noise": self.inference_noise}


@keras.utils.register_keras_serializable(package="dpzoo")
class GaussianDense(keras_api.SavesEveryVariable, GaussianWeights, keras.layers.Dense):
    """Dense whose kernel and bias are sampled around their values at every training call.

    Accepts Dense's arguments (no fused non-linear activation), plus ``seed`` for the noise
    generator and ``inference_noise`` to keep the noise at inference.
    """

    def __init__(self, units: int, *, seed: int | None = None, inference_noise: bool = False, **kwargs) -> None:
        super().__init__(units, **kwargs)
        _refuse_fused_activation(self)
        self._init_noise(seed, inference_noise)

    def build(self, input_shape) -> None:
        super().build(input_shape)
        self._build_noise()

    def call(self, inputs: tf.Tensor, training=None) -> tf.Tensor:
        inputs = tf.cast(inputs, self.compute_dtype)
        kernel = self.noisy(self.kernel, training)
        if inputs.shape.rank == 2:
            outputs = tf.matmul(inputs, kernel)
        else:
            outputs = tf.tensordot(inputs, kernel, [[inputs.shape.rank - 1], [0]])
        if self.use_bias:
            outputs = tf.nn.bias_add(outputs, self.noisy(self.bias, training))
        return outputs

    def get_config(self) -> dict:
        return {**super().get_config(), **self._noise_config()}


@keras.utils.register_keras_serializable(package="dpzoo")
class GaussianConv2D(keras_api.SavesEveryVariable, GaussianWeights, keras.layers.Conv2D):
    """Conv2D whose kernel and bias are sampled around their values at every training call.

    Accepts Conv2D's arguments (channels_last, no fused non-linear activation), plus ``seed``
    and ``inference_noise`` as ``GaussianDense``.
    """

    def __init__(
        self, filters: int, kernel_size, *, seed: int | None = None, inference_noise: bool = False, **kwargs
    ) -> None:
        super().__init__(filters, kernel_size, **kwargs)
        if self.data_format != "channels_last":
            raise ValueError(f"GaussianConv2D {self.name}: only data_format='channels_last' is supported.")
        _refuse_fused_activation(self)
        self._init_noise(seed, inference_noise)

    def build(self, input_shape) -> None:
        super().build(input_shape)
        self._build_noise()

    def call(self, inputs: tf.Tensor, training=None) -> tf.Tensor:
        outputs = self.convolution_op(inputs, self.noisy(self.kernel, training))
        if self.use_bias:
            outputs = tf.nn.bias_add(outputs, self.noisy(self.bias, training))
        return outputs

    def get_config(self) -> dict:
        return {**super().get_config(), **self._noise_config()}


GAUSSIAN_LAYERS = (GaussianWeights,)  # GaussianDense, GaussianConv2D, dpzoo.layers.gaussian_lstm.GaussianLSTM


def gaussian_layers(module: tf.Module) -> list[keras.layers.Layer]:
    """The Gaussian weight layers of a model (nested models included), or the layer itself."""
    return [m for m in (module, *keras_api.sublayers(module)) if isinstance(m, GAUSSIAN_LAYERS)]


def set_weight_noise_stddev(module: tf.Module, stddev) -> None:
    """Sets s in every Gaussian weight layer of a model, or of one layer (a float or a scalar
    tensor, so it can follow the learning-rate schedule inside a compiled train step)."""
    for layer in gaussian_layers(module):
        layer.weight_noise_stddev.assign(tf.cast(stddev, layer.weight_noise_stddev.dtype))
