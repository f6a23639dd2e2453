"""The shared forms of per-example squared gradient norms (see dpzoo.privacy.clipping.norms).

``LayerNorms`` is a norm function's result when it formed per-example gradients anyway; the
rest are the pieces the layers' functions are built from: an example's positions (and views),
the ghost and instantiated forms of a matmul kernel's norm, and a bias added at every position.
"""

import dataclasses

import tensorflow as tf

from dpzoo.common.stack import keras


@dataclasses.dataclass(frozen=True)
class LayerNorms:
    """A layer's per-example squared gradient norms, [batch], plus the per-example gradients the
    computation formed anyway, as (variable, [batch, *variable.shape]) pairs: the clipped sum
    reuses them (sum_i c_i g_i as one contraction) instead of differentiating the layer again."""

    sqnorms: tf.Tensor
    per_example: tuple[tuple[tf.Variable, tf.Tensor], ...] = ()


def lora_enabled(layer: keras.layers.Layer) -> bool:
    """Whether Keras 3's LoRA is on for ``layer`` (its kernel frozen, two adapters trained)."""
    return bool(getattr(layer, "lora_enabled", False))


def lora_adapters(layer: keras.layers.Layer) -> tuple:
    """LoRA's (A, B) variables: ``lora_kernel_a/b`` (Dense, Conv) or ``lora_embeddings_a/b`` (Embedding)."""
    if hasattr(layer, "lora_embeddings_a"):
        return layer.lora_embeddings_a, layer.lora_embeddings_b
    return layer.lora_kernel_a, layer.lora_kernel_b


def lora_sqnorms(layer: keras.layers.Layer, a_sqnorms, b_sqnorms) -> list[tf.Tensor]:
    """The squared norms of LoRA's trainable adapters (W + s A B, s = alpha / r): A's as
    s^2 ``a_sqnorms(B)``, B's as s^2 ``b_sqnorms(A)``, each of the other adapter's value; frozen ones add nothing."""
    scale = layer.lora_alpha / layer.lora_rank
    a, b = lora_adapters(layer)
    terms = []
    if a.trainable:
        terms.append(scale**2 * a_sqnorms(tf.convert_to_tensor(b)))
    if b.trainable:
        terms.append(scale**2 * b_sqnorms(tf.convert_to_tensor(a)))
    return terms


def base_trainable(layer: keras.layers.Layer) -> bool:
    """Whether the layer's own kernel (or table) trains: a weight that is neither a LoRA adapter
    nor the bias (with LoRA on, Keras freezes it)."""
    others = {id(layer.bias) if getattr(layer, "bias", None) is not None else None}
    if lora_enabled(layer):
        others |= {id(w) for w in lora_adapters(layer)}
    return any(w.trainable for w in layer.weights if id(w) not in others)


def summed(terms: list[tf.Tensor], output_grads: tf.Tensor, views: int) -> tf.Tensor:
    """The sum of a layer's squared-norm terms, [batch]; zeros (in the gradient's dtype) if none."""
    if terms:
        return tf.add_n(terms)
    return tf.zeros(tf.shape(output_grads)[:1] // views, output_grads.dtype)


def worth_keeping(elements: int, output_grads: tf.Tensor, views: int) -> bool:
    """Keep an example's formed gradient of ``elements`` values for the clipped sum only when it
    is at most twice the layer's output gradient, which the clipped sum would hold otherwise: a
    little more memory, and the layer's pull-back is saved (LeNet-5's second convolution,
    2,400 values against 1,600, runs about 7% faster per step on this project's CPU)."""
    return elements <= 2 * views * output_grads.shape[1:].num_elements()


def formed_whole(elements: int, output_grads: tf.Tensor, views: int) -> bool:
    """Form an example's gradient of ``elements`` values whole, for its norm only, when it is at
    most 4 times the output gradient; larger ones are reduced tap by tap (``_over_taps``), which
    costs more small ops but holds one tap's share at a time."""
    return elements <= 4 * views * output_grads.shape[1:].num_elements()


def ghost_is_cheaper(positions: int | None, d_in: int, d_out: int) -> bool:
    """The gram (ghost) form costs T^2 (d_in + d_out) per example, the instantiated one
    T d_in d_out: the ghost form wins with few positions T and many channels."""
    return positions is not None and positions * (d_in + d_out) < d_in * d_out


def flatten_positions(x: tf.Tensor, views: int = 1) -> tf.Tensor:
    """[batch * views, ..., d] -> [batch, views * T, d] (T = 1 for [batch, d]).

    Rows come example-major (an example's views are adjacent), so an example's views become its
    positions: a shared kernel's gradient for the example sums over all of them."""
    shape = tf.shape(x)
    return tf.reshape(x, [shape[0] // views, -1, shape[-1]])


def matmul_kernel_sqnorms(inputs: tf.Tensor, output_grads: tf.Tensor, views: int = 1) -> tf.Tensor:
    """||A_i^T G_i||_F^2 for A [batch, ..., d_in], G [batch, ..., d_out] (same positions).

    Chooses the ghost or the instantiated form by their cost for these static shapes.
    """
    a, g = flatten_positions(inputs, views), flatten_positions(output_grads, views)
    middle = inputs.shape[1:-1]  # static even when the batch size is not (variable Poisson batches)
    positions = views * middle.num_elements() if middle.is_fully_defined() else None
    d_in, d_out = a.shape[-1], g.shape[-1]
    if positions == 1:
        return tf.reduce_sum(tf.square(a[:, 0]), axis=1) * tf.reduce_sum(tf.square(g[:, 0]), axis=1)
    if ghost_is_cheaper(positions, d_in, d_out):
        gram_a = tf.matmul(a, a, transpose_b=True)
        gram_g = tf.matmul(g, g, transpose_b=True)
        return tf.reduce_sum(gram_a * gram_g, axis=[1, 2])
    per_example = tf.matmul(a, g, transpose_a=True)  # [batch, d_in, d_out]
    return tf.reduce_sum(tf.square(per_example), axis=[1, 2])


def bias_grads(output_grads: tf.Tensor, views: int = 1) -> tf.Tensor:
    """sum_t G_i[t]: each example's gradient of a bias added at every position, [batch, d]."""
    return tf.reduce_sum(flatten_positions(output_grads, views), axis=1)


def bias_sqnorms(output_grads: tf.Tensor, views: int = 1) -> tf.Tensor:
    """||sum_t G_i[t]||^2: the bias gradient's squared norm, [batch]."""
    return tf.reduce_sum(tf.square(bias_grads(output_grads, views)), axis=1)


def with_bias_sqnorms(layer: keras.layers.Layer, norms: tf.Tensor, output_grads: tf.Tensor, views: int) -> tf.Tensor:
    """A layer's kernel norms plus its bias gradient's squared norms, if it has a bias."""
    return norms + bias_sqnorms(output_grads, views) if layer.use_bias else norms
