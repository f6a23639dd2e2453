"""LayerNormalization and GroupNormalization over the last axis: gamma's and beta's per-example
gradients, formed (one value per channel) and kept for the clipped sum."""

import tensorflow as tf

from dpzoo.common.stack import keras
from dpzoo.privacy.clipping.norms.forms import LayerNorms, bias_grads, flatten_positions


def _group_norm_gamma_grads(layer: keras.layers.GroupNormalization, inputs: tf.Tensor, output_grads: tf.Tensor):
    """sum over positions of G * x_hat per row, [rows, channels], without forming x_hat: with a
    group's mean m and r = (var + eps)^(-1/2), that is r (sum G x - m sum G) per channel, and the
    group moments follow from the per-channel ones (mean of variances plus variance of means)."""
    channels, groups = inputs.shape[-1], layer.groups
    rows = tf.shape(inputs)[0]
    x, g = tf.reshape(inputs, [rows, -1, channels]), tf.reshape(output_grads, [rows, -1, channels])

    def per_group(t):
        return tf.reshape(t, [rows, groups, channels // groups])

    mean, var = tf.nn.moments(x, axes=[1])
    group_mean = tf.reduce_mean(per_group(mean), axis=2, keepdims=True)
    group_var = tf.reduce_mean(per_group(var) + tf.square(per_group(mean) - group_mean), axis=2, keepdims=True)
    grad_x, grad_sum = per_group(tf.reduce_sum(x * g, axis=1)), per_group(tf.reduce_sum(g, axis=1))
    return tf.reshape(tf.math.rsqrt(group_var + layer.epsilon) * (grad_x - group_mean * grad_sum), [rows, channels])


def _layer_norm_gamma_grads(layer: keras.layers.LayerNormalization, inputs: tf.Tensor, output_grads: tf.Tensor):
    """sum over positions of G * x_hat per row, [rows, *gamma.shape] (x_hat formed: LayerNorm
    statistics are per position)."""
    axes = layer.axis if isinstance(layer.axis, list | tuple) else [layer.axis]
    mean, var = tf.nn.moments(inputs, axes=axes, keepdims=True)
    product = output_grads * (inputs - mean) * tf.math.rsqrt(var + layer.epsilon)
    return tf.reshape(tf.reduce_sum(flatten_positions(product), axis=1), [-1, *layer.gamma.shape])


def normalization_sqnorms(layer, inputs: tf.Tensor, output_grads: tf.Tensor, views: int = 1) -> LayerNorms:
    """LayerNormalization / GroupNormalization over the last axis: gamma's gradient is
    sum over positions of G * x_hat, beta's is sum of G. Both are formed per example (one entry
    per channel, far smaller than G) and kept for the clipped sum, so G can be freed."""
    norms = tf.zeros(tf.shape(inputs)[:1] // views, inputs.dtype)
    per_example = ()
    if layer.scale:
        if isinstance(layer, keras.layers.GroupNormalization):
            rows = _group_norm_gamma_grads(layer, inputs, output_grads)
        else:
            rows = _layer_norm_gamma_grads(layer, inputs, output_grads)
        gamma = tf.reduce_sum(tf.reshape(rows, [-1, views, *layer.gamma.shape]), axis=1)  # views of one example
        norms += tf.reduce_sum(tf.reshape(tf.square(gamma), [tf.shape(gamma)[0], -1]), axis=1)
        per_example += ((layer.gamma, gamma),)
    if layer.center:
        beta = bias_grads(output_grads, views)
        norms += tf.reduce_sum(tf.square(beta), axis=1)
        per_example += ((layer.beta, tf.reshape(beta, [-1, *layer.beta.shape])),)
    return LayerNorms(norms, per_example)
