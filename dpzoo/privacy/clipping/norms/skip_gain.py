"""SkipGain (y = alpha * g * x with a scalar gain g): its per-example gradient, kept."""

import tensorflow as tf

from dpzoo.privacy.clipping.norms.forms import LayerNorms, flatten_positions


def skip_gain_sqnorms(layer, inputs: tf.Tensor, output_grads: tf.Tensor, views: int = 1) -> LayerNorms:
    """SkipGain (y = alpha * g * x, g a scalar): dL_i/dg = alpha * sum(x_i * G_i), kept."""
    per_example = layer.alpha * tf.reduce_sum(flatten_positions(inputs * output_grads, views), axis=[1, 2])
    return LayerNorms(tf.square(per_example), ((layer.gain, per_example),))
