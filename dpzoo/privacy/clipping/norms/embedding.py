"""Embedding: the table's per-example gradient norm in the ghost form, the table never formed
per example; with Keras 3's LoRA, the adapters' norms."""

import tensorflow as tf

from dpzoo.privacy.clipping.norms.forms import flatten_positions, lora_enabled, matmul_kernel_sqnorms


def _table_sqnorms(inputs: tf.Tensor, output_grads: tf.Tensor, views: int) -> tf.Tensor:
    """Example i's gradient adds G_i[t] to row idx_i[t] of a table, so its squared norm is the sum
    over position pairs with the same index of G_i[t] . G_i[s] (ghost form; the table itself,
    vocabulary x dim, is never formed per example)."""
    ids = tf.reshape(tf.cast(inputs, tf.int64), [tf.shape(inputs)[0] // views, -1])
    g = flatten_positions(output_grads, views)
    same = tf.cast(tf.equal(ids[:, :, None], ids[:, None, :]), g.dtype)
    return tf.reduce_sum(same * tf.matmul(g, g, transpose_b=True), axis=[1, 2])


def _lora_sqnorms(layer, inputs: tf.Tensor, output_grads: tf.Tensor, views: int) -> tf.Tensor:
    """Embedding with LoRA: the table is E + s A B (A [vocabulary, r], B [r, dim], s = alpha / r),
    so token t's output row gains s A[id_t] B. dL/dA adds s G_t B^T to row id_t (a table gradient
    for the output gradient G B^T) and dL/dB = s A[ids]^T G (a matmul kernel's). Frozen weights
    add nothing."""
    scale = layer.lora_alpha / layer.lora_rank
    a, b = tf.convert_to_tensor(layer.lora_embeddings_a), tf.convert_to_tensor(layer.lora_embeddings_b)
    norms = tf.zeros(tf.shape(output_grads)[:1] // views, output_grads.dtype)
    if layer.lora_embeddings_a.trainable:
        norms += scale**2 * _table_sqnorms(inputs, tf.tensordot(output_grads, tf.transpose(b), axes=1), views)
    if layer.lora_embeddings_b.trainable:
        rows = tf.gather(a, tf.cast(inputs, tf.int64))  # [rows, ..., r]
        norms += scale**2 * matmul_kernel_sqnorms(rows, output_grads, views)
    return norms


def embedding_sqnorms(layer, inputs: tf.Tensor, output_grads: tf.Tensor, views: int = 1) -> tf.Tensor:
    """Embedding: the table's per-example gradient norm in the ghost form; with LoRA on, the
    adapters' (``_lora_sqnorms``), plus the table's if it was left trainable."""
    if not lora_enabled(layer):
        return _table_sqnorms(inputs, output_grads, views)
    norms = _lora_sqnorms(layer, inputs, output_grads, views)
    adapters = {id(layer.lora_embeddings_a), id(layer.lora_embeddings_b)}
    if any(w.trainable for w in layer.weights if id(w) not in adapters):
        norms += _table_sqnorms(inputs, output_grads, views)
    return norms
