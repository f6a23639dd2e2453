"""Per-example gradients and clipping (METHODS.md section 0, steps 2 and 3).

``per_example_gradients`` runs the model on one example at a time inside
``tf.vectorized_map``: TensorFlow's pfor rewrites that into one batched forward and backward
pass, so each example's gradient is exact (it never sees another example) and the batch is
processed in a single vectorised computation, not a loop over microbatches.

With augmentation multiplicity (De et al. 2022) each example arrives as K augmented views,
[batch, K, ...]; its loss is the mean over its views, so its gradient is the gradient of that
mean, taken before clipping. One example still contributes one clipped gradient, so the
privacy accounting is unchanged.
"""

from collections.abc import Callable, Sequence

import tensorflow as tf

from dpzoo.common.stack import keras

PerExampleLoss = Callable[[tf.Tensor, tf.Tensor], tf.Tensor]


def per_example_gradients(
    model: keras.Model,
    loss_fn: PerExampleLoss,
    x: tf.Tensor,
    y: tf.Tensor,
    variables: Sequence[tf.Variable],
    *,
    views: bool = False,
) -> tuple[list[tf.Tensor], tf.Tensor, tf.Tensor]:
    """Gradients of each example's loss: a list of [batch, *var.shape] tensors.

    Also returns each example's loss [batch] and the model's outputs [batch, ...], both from
    the same (training-mode) forward pass. With ``views`` the inputs are [batch, K, ...] and an
    example's loss and outputs are the means over its K views.
    """

    def one_example(example):
        xi, yi = example
        inputs = xi if views else tf.expand_dims(xi, 0)
        labels = tf.repeat(tf.expand_dims(yi, 0), tf.shape(inputs)[0], axis=0)
        with tf.GradientTape() as tape:
            outputs = model(inputs, training=True)
            loss = tf.reduce_mean(loss_fn(labels, outputs))
        grads = tape.gradient(loss, variables, unconnected_gradients=tf.UnconnectedGradients.ZERO)
        return grads, loss, tf.reduce_mean(outputs, axis=0)

    return tf.vectorized_map(one_example, (x, y))


def global_norms(grads: Sequence[tf.Tensor]) -> tf.Tensor:
    """Per-example L2 norm over all variables together: [batch]."""
    return combined_norms([tf.reduce_sum(tf.reshape(tf.square(g), [tf.shape(g)[0], -1]), axis=1) for g in grads])


def combined_norms(variable_squares: Sequence[tf.Tensor]) -> tf.Tensor:
    """Per-example L2 norms from each variable's per-example squared norms ([batch] each): the
    one place the vectorised path and white-box canaries (dpzoo.privacy.canaries) join them."""
    return tf.sqrt(tf.add_n(list(variable_squares)))


def clip_factors(norms: tf.Tensor, l2_norm_clip: float) -> tf.Tensor:
    """min(1, C / ||g_i||): multiplying g_i by it gives norm <= C; zero gradients stay zero."""
    # a Python float stays exact in a float64 model's norms; a tensor clip (a DP query's) is cast
    clip = l2_norm_clip if isinstance(l2_norm_clip, int | float) else tf.cast(l2_norm_clip, norms.dtype)
    return tf.minimum(tf.ones_like(norms), clip / tf.maximum(norms, 1e-12))


def weighted_sum(grads: Sequence[tf.Tensor], weights: tf.Tensor) -> list[tf.Tensor]:
    """sum_i weights[i] * grads[i] for every variable (one contraction per variable)."""
    return [tf.tensordot(weights, g, axes=1) for g in grads]


def clipped_sum(
    grads: Sequence[tf.Tensor], mask: tf.Tensor, l2_norm_clip: float, linf_clip: float | None = None
) -> list[tf.Tensor]:
    """Sum over real (mask 1) examples of their gradients clipped to ``l2_norm_clip``.

    With ``linf_clip`` (refined clipping, Xiao et al.) each clipped gradient then has every
    coordinate clamped to [-linf_clip, linf_clip] before the sum; its L2 norm only shrinks.
    """
    factors = clip_factors(global_norms(grads), l2_norm_clip)
    mask = tf.cast(mask, factors.dtype)  # float32, or the float64 of a float64 model
    if linf_clip is None:
        return weighted_sum(grads, factors * mask)
    clamped = [tf.clip_by_value(scale_rows(g, factors), -linf_clip, linf_clip) for g in grads]
    return weighted_sum(clamped, mask)


def scale_rows(g: tf.Tensor, factors: tf.Tensor) -> tf.Tensor:
    """Each example's slice g[i] times factors[i]."""
    return g * tf.reshape(factors, tf.concat([tf.shape(factors), tf.ones([tf.rank(g) - 1], tf.int32)], 0))
