"""Embedding: the table's per-example gradient norm in the ghost form, the table never formed
per example; with Keras 3's LoRA, the adapters' norms."""

import tensorflow as tf

from dpzoo.privacy.clipping.norms.forms import (
    base_trainable,
    flatten_positions,
    lora_enabled,
    lora_sqnorms,
    matmul_kernel_sqnorms,
    summed,
)


def _table_sqnorms(inputs: tf.Tensor, output_grads: tf.Tensor, views: int) -> tf.Tensor:
    """Example i's gradient adds G_i[t] to row idx_i[t] of a table, so its squared norm is the sum
    over position pairs with the same index of G_i[t] . G_i[s] (ghost form; the table itself,
    vocabulary x dim, is never formed per example)."""
    ids = tf.reshape(tf.cast(inputs, tf.int64), [tf.shape(inputs)[0] // views, -1])
    g = flatten_positions(output_grads, views)
    same = tf.cast(tf.equal(ids[:, :, None], ids[:, None, :]), g.dtype)
    return tf.reduce_sum(same * tf.matmul(g, g, transpose_b=True), axis=[1, 2])


def _lora_terms(layer, inputs: tf.Tensor, output_grads: tf.Tensor, views: int) -> list[tf.Tensor]:
    """Embedding with LoRA: the table is E + s A B (A [vocabulary, r], B [r, dim], s = alpha / r),
    so token t's output row gains s A[id_t] B. dL/dA adds s G_t B^T to row id_t (a table gradient
    for the output gradient G B^T) and dL/dB = s A[ids]^T G (a matmul kernel's). Frozen weights
    add nothing."""
    return lora_sqnorms(
        layer,
        lambda b: _table_sqnorms(inputs, tf.tensordot(output_grads, tf.transpose(b), axes=1), views),
        lambda a: matmul_kernel_sqnorms(tf.gather(a, tf.cast(inputs, tf.int64)), output_grads, views),
    )


def embedding_sqnorms(layer, inputs: tf.Tensor, output_grads: tf.Tensor, views: int = 1) -> tf.Tensor:
    """Embedding: the table's per-example gradient norm in the ghost form; with LoRA on, the
    adapters' (``_lora_terms``), plus the table's if it was left trainable."""
    if not lora_enabled(layer):
        return _table_sqnorms(inputs, output_grads, views)
    terms = _lora_terms(layer, inputs, output_grads, views)
    if base_trainable(layer):
        terms.append(_table_sqnorms(inputs, output_grads, views))
    return summed(terms, output_grads, views)
