"""Embedding: the table's per-example gradient norm in the ghost form, the table never formed
per example."""

import tensorflow as tf

from dpzoo.privacy.clipping.norms.forms import flatten_positions


def embedding_sqnorms(layer, inputs: tf.Tensor, output_grads: tf.Tensor, views: int = 1) -> tf.Tensor:
    """Embedding: example i's gradient adds G_i[t] to row idx_i[t] of the table, so its squared
    norm is sum over position pairs with the same index of G_i[t] . G_i[s] (ghost form; the
    table itself, vocabulary x dim, is never formed per example)."""
    ids = tf.reshape(tf.cast(inputs, tf.int64), [tf.shape(inputs)[0] // views, -1])
    g = flatten_positions(output_grads, views)
    same = tf.cast(tf.equal(ids[:, :, None], ids[:, None, :]), g.dtype)
    return tf.reduce_sum(same * tf.matmul(g, g, transpose_b=True), axis=[1, 2])
