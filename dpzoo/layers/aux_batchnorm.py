"""BatchNorm with a public auxiliary batch (Davody et al. 2020, METHODS.md section 2).

``AuxBatchNorm`` normalises each channel with statistics of chosen rows of the batch and has no
affine parameters (nothing to clip). The private training engine appends a fixed public batch
(30 public images, ``dpzoo.data.public_auxiliary_batch``) to every batch and marks the rows
(``marked_rows``), in training and in ``evaluate`` alike:

* ``statistics="batch"``: the real private rows together with the public rows: the paper's
  layer. One example's output depends on the other private examples, so DP-SGD's per-example
  sensitivity bound fails: only a nominal run (``DPConfig(private_batch_statistics=True)``,
  set by ``--method=sidp``) may use it.
* ``statistics="public"``: the public rows alone. Each private example is normalised by
  statistics that depend on the weights and public data only, so the formal guarantee holds.

The statistics are constants for differentiation (``tf.stop_gradient``): the per-example gradient
is that of the example's loss at this batch's statistics, which is what makes each example's
gradient its own (and ghost norms exact). Padded rows (mask 0) never enter the statistics.

Outside the engine (a SavedModel, ``predict``), the layer uses moving averages of the training
statistics, as Keras' BatchNormalization does, so a served prediction depends on its image alone;
in training outside the engine, "batch" uses the whole batch and "public" (no rows known to be
public) the moving statistics.
"""

import contextlib

import tensorflow as tf

from dpzoo.common import keras_api
from dpzoo.common.stack import keras

STATISTICS = ("batch", "public")


@keras.utils.register_keras_serializable(package="dpzoo")
class AuxBatchNorm(keras.layers.Layer):
    """Per-channel (last axis) normalisation with statistics of marked rows; no scale or offset."""

    def __init__(self, statistics: str = "batch", momentum: float = 0.99, epsilon: float = 1e-3, **kwargs) -> None:
        super().__init__(**kwargs)
        if statistics not in STATISTICS:
            raise ValueError(f"Expected statistics={statistics!r} to be one of {STATISTICS}.")
        self.statistics = statistics
        self.momentum = momentum
        self.epsilon = epsilon
        self.rows: tuple[tf.Tensor, tf.Tensor] | None = None  # (private, public) row weights, set by marked_rows

    def build(self, input_shape) -> None:
        channels = input_shape[-1]
        self.moving_mean = self.add_weight(name="moving_mean", shape=(channels,), initializer="zeros", trainable=False)
        self.moving_variance = self.add_weight(
            name="moving_variance", shape=(channels,), initializer="ones", trainable=False
        )
        super().build(input_shape)

    def _row_weights(self, inputs: tf.Tensor, training) -> tf.Tensor | None:
        """Weights of the rows whose statistics normalise the batch, or None for the moving ones."""
        if self.rows is not None:
            private, public = self.rows
            return public + private if self.statistics == "batch" else public
        if not training or self.statistics == "public":  # no public rows known: the moving statistics
            return None
        return tf.ones(tf.shape(inputs)[:1], inputs.dtype)  # plain batch statistics (non-private training)

    def call(self, inputs: tf.Tensor, training=None) -> tf.Tensor:
        weights = self._row_weights(inputs, training)
        if weights is None:
            mean, variance = self.moving_mean, self.moving_variance
        else:
            axes = list(range(inputs.shape.rank - 1))
            shape = tf.concat([tf.shape(weights), tf.ones([inputs.shape.rank - 1], tf.int32)], 0)
            frequency = tf.broadcast_to(tf.reshape(tf.cast(weights, inputs.dtype), shape), tf.shape(inputs))
            mean, variance = tf.nn.weighted_moments(tf.stop_gradient(inputs), axes, frequency)
            if training:
                self.moving_mean.assign(self.momentum * self.moving_mean + (1 - self.momentum) * mean)
                self.moving_variance.assign(self.momentum * self.moving_variance + (1 - self.momentum) * variance)
        return (inputs - mean) * tf.math.rsqrt(variance + self.epsilon)

    def get_config(self) -> dict:
        return {
            **super().get_config(),
            "statistics": self.statistics,
            "momentum": self.momentum,
            "epsilon": self.epsilon,
        }


def aux_batchnorm_layers(module: tf.Module) -> list[AuxBatchNorm]:
    """The AuxBatchNorm layers of a model (nested models included)."""
    return [m for m in (module, *keras_api.sublayers(module)) if isinstance(m, AuxBatchNorm)]


def private_statistics_layers(module: tf.Module) -> list[AuxBatchNorm]:
    """The AuxBatchNorm layers whose statistics include private rows."""
    return [layer for layer in aux_batchnorm_layers(module) if layer.statistics == "batch"]


@contextlib.contextmanager
def marked_rows(module: tf.Module, private: tf.Tensor, public: tf.Tensor):
    """For one forward pass: ``private`` (1 for real private rows, 0 for padding and public rows)
    and ``public`` (1 for the public rows) tell every AuxBatchNorm which rows to take
    statistics over."""
    layers = aux_batchnorm_layers(module)
    try:
        for layer in layers:
            layer.rows = (private, public)
        yield
    finally:
        for layer in layers:
            layer.rows = None


def append_public(x: tf.Tensor, y: tf.Tensor, mask: tf.Tensor, public_x: tf.Tensor):
    """(x and y with the public batch appended, the private row weights: the mask with 0s for the
    public rows, the public row weights). The public rows carry label 0 and mask 0: they never
    enter the loss or the clipped sum."""
    n_public = tf.shape(public_x)[0]
    zeros = tf.zeros([n_public], mask.dtype)
    public_y = tf.zeros(tf.concat([[n_public], tf.shape(y)[1:]], 0), y.dtype)
    private = tf.concat([mask, zeros], 0)
    public = tf.concat([tf.zeros_like(mask), tf.ones([n_public], mask.dtype)], 0)
    return tf.concat([x, tf.cast(public_x, x.dtype)], 0), tf.concat([y, public_y], 0), private, public
