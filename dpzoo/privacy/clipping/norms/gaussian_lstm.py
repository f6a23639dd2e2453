"""GaussianLSTM (Davody et al. 2020): an LSTM shares its weights over time, so each example's
gradient is formed by re-running the layer once with a private copy of the call's sampled weights
per example (the same draw W~), one batched forward and backward pass. The per-example gradients
are small (hidden 32: about 17,000 values) and kept for the clipped sum."""

import tensorflow as tf

from dpzoo.layers import GaussianLSTM
from dpzoo.privacy.clipping.norms.forms import LayerNorms


def gaussian_lstm_sqnorms(layer: GaussianLSTM, inputs: tf.Tensor, output_grads: tf.Tensor, views: int = 1):
    """Per-example gradients of <G_i, LSTM(x_i)> from one batched re-run with a copy of the
    call's (sampled) weights per example; their squared norms, and the gradients, kept."""
    if views != 1:
        raise ValueError("GaussianLSTM does not take augmentation views.")
    batch = tf.shape(inputs)[0]
    copies = [tf.tile(w[None], tf.concat([[batch], tf.ones([w.shape.rank], tf.int32)], 0)) for w in layer.last_weights]
    with tf.GradientTape() as tape:
        tape.watch(copies)
        outputs = layer.run(tf.cast(inputs, layer.compute_dtype), copies)
        objective = tf.reduce_sum(outputs * tf.stop_gradient(output_grads))
    grads = tape.gradient(objective, copies)
    norms = tf.add_n([tf.reduce_sum(tf.reshape(tf.square(g), [batch, -1]), axis=1) for g in grads])
    return LayerNorms(norms, tuple(zip(layer.cell_weights, grads, strict=True)))
