"""Per-example squared gradient norms of single layers, from layer inputs and output gradients.

The building block of ghost clipping (Goodfellow 2015; Li et al. 2022; Bu et al. 2023 for the
mixed choice): for a layer computing Z = A W (+ b), example i's kernel gradient is
A_i^T G_i with G_i = dL_i/dZ_i, so its squared Frobenius norm is known without forming it:

* A_i, G_i vectors (one position): ||A_i||^2 * ||G_i||^2.
* A_i [T, d_in], G_i [T, d_out] (T positions: a sequence, or the image patches of a conv):
  either the "ghost" form sum((A_i A_i^T) * (G_i G_i^T)), costing O(T^2 (d_in + d_out)), or
  the instantiated form ||A_i^T G_i||^2, costing O(T d_in d_out); the cheaper is used per layer.
* the bias gradient is sum_t G_i[t], its norm is computed directly.

Each function returns a [batch] tensor of squared norms over the layer's kernel and bias. With
``views`` K > 1 the rows are K augmented views per example (example-major) and an example's
gradient is the sum over its views' positions. Under
DP-SGD the sum of these over layers is ||g_i||^2, the quantity clipping needs. The inputs must be
the layer's actual inputs and G the gradient of the sum of per-example losses with respect to the
layer's pre-activation output (examples are independent, so that is each example's own gradient).
"""

import tensorflow as tf


def _flatten_positions(x: tf.Tensor, views: int = 1) -> tf.Tensor:
    """[batch * views, ..., d] -> [batch, views * T, d] (T = 1 for [batch, d]).

    Rows come example-major (an example's views are adjacent), so an example's views become its
    positions: a shared kernel's gradient for the example sums over all of them."""
    shape = tf.shape(x)
    return tf.reshape(x, [shape[0] // views, -1, shape[-1]])


def matmul_kernel_sqnorms(inputs: tf.Tensor, output_grads: tf.Tensor, views: int = 1) -> tf.Tensor:
    """||A_i^T G_i||_F^2 for A [batch, ..., d_in], G [batch, ..., d_out] (same positions).

    Chooses the ghost or the instantiated form by their cost for these static shapes.
    """
    a, g = _flatten_positions(inputs, views), _flatten_positions(output_grads, views)
    positions = a.shape[1]
    d_in, d_out = a.shape[-1], g.shape[-1]
    if positions == 1:
        return tf.reduce_sum(tf.square(a[:, 0]), axis=1) * tf.reduce_sum(tf.square(g[:, 0]), axis=1)
    if positions is not None and positions * positions * (d_in + d_out) < positions * d_in * d_out:
        gram_a = tf.matmul(a, a, transpose_b=True)
        gram_g = tf.matmul(g, g, transpose_b=True)
        return tf.reduce_sum(gram_a * gram_g, axis=[1, 2])
    per_example = tf.matmul(a, g, transpose_a=True)  # [batch, d_in, d_out]
    return tf.reduce_sum(tf.square(per_example), axis=[1, 2])


def bias_sqnorms(output_grads: tf.Tensor, views: int = 1) -> tf.Tensor:
    """||sum_t G_i[t]||^2: the bias gradient's squared norm, [batch]."""
    return tf.reduce_sum(tf.square(tf.reduce_sum(_flatten_positions(output_grads, views), axis=1)), axis=1)


def dense_sqnorms(
    layer: tf.keras.layers.Dense, inputs: tf.Tensor, output_grads: tf.Tensor, views: int = 1
) -> tf.Tensor:
    """Dense (on any rank: the kernel is shared across the middle axes)."""
    norms = matmul_kernel_sqnorms(inputs, output_grads, views)
    return norms + bias_sqnorms(output_grads, views) if layer.use_bias else norms


def conv_patches(layer: tf.keras.layers.Conv2D, inputs: tf.Tensor) -> tf.Tensor:
    """The input patches each output position sees: [batch, out_h, out_w, kh * kw * c_in], ordered
    like the kernel reshaped to [kh * kw * c_in, c_out] (strides, padding and dilation included)."""
    kh, kw = layer.kernel_size
    return tf.image.extract_patches(
        inputs,
        sizes=[1, kh, kw, 1],
        strides=[1, *layer.strides, 1],
        rates=[1, *layer.dilation_rate, 1],
        padding=layer.padding.upper(),
    )


def conv2d_sqnorms(
    layer: tf.keras.layers.Conv2D, inputs: tf.Tensor, output_grads: tf.Tensor, views: int = 1
) -> tf.Tensor:
    """Conv2D (channels_last) as a matmul over its patches; grouped convs sum over their groups."""
    if layer.data_format != "channels_last":
        raise ValueError(f"{layer.name}: only channels_last convolutions have a norm function.")
    groups = layer.groups
    kh, kw = layer.kernel_size
    patches = conv_patches(layer, inputs)
    if groups == 1:
        norms = matmul_kernel_sqnorms(patches, output_grads, views)
    else:
        c_in = inputs.shape[-1]
        patches = tf.reshape(patches, [-1, *patches.shape[1:3], kh * kw, c_in])
        in_groups = tf.split(patches, groups, axis=-1)
        out_groups = tf.split(output_grads, groups, axis=-1)
        norms = tf.add_n(
            [
                matmul_kernel_sqnorms(tf.reshape(p, [-1, *p.shape[1:3], kh * kw * (c_in // groups)]), g, views)
                for p, g in zip(in_groups, out_groups, strict=True)
            ]
        )
    return norms + bias_sqnorms(output_grads, views) if layer.use_bias else norms


def ws_conv2d_sqnorms(layer, inputs: tf.Tensor, output_grads: tf.Tensor, views: int = 1) -> tf.Tensor:
    """WSConv2D: the raw kernel's and the gain's gradients pass through the standardisation.

    Example i's gradient with respect to the standardised kernel is instantiated from its patches
    ([batch, kh * kw * c_in, c_out], like the per-example gradient itself); the vector-Jacobian
    product of the standardisation then maps it to the kernel and gain gradients, vectorised over
    the batch. The bias is added after the convolution, as in Conv2D.
    """
    from dpzoo.layers import standardize_kernel  # layers imports nothing from here; keeps deps one-way

    if layer.groups != 1:
        raise ValueError(f"{layer.name}: grouped WSConv2D has no norm function yet.")
    patches = _flatten_positions(conv_patches(layer, inputs), views)
    grads = _flatten_positions(output_grads, views)
    standardized_grads = tf.reshape(tf.matmul(patches, grads, transpose_a=True), [-1, *layer.kernel.shape])

    def through_standardization(g_hat):
        with tf.GradientTape() as tape:
            tape.watch([layer.kernel, layer.gain])
            w_hat = standardize_kernel(layer.kernel, layer.gain, layer.ws_epsilon)
        kernel_grad, gain_grad = tape.gradient(w_hat, [layer.kernel, layer.gain], output_gradients=g_hat)
        return tf.reduce_sum(tf.square(kernel_grad)) + tf.reduce_sum(tf.square(gain_grad))

    norms = tf.vectorized_map(through_standardization, standardized_grads)
    return norms + bias_sqnorms(output_grads, views) if layer.use_bias else norms


def _normalized_inputs(layer, inputs: tf.Tensor) -> tf.Tensor:
    """x_hat of a LayerNormalization or GroupNormalization (what gamma multiplies)."""
    if isinstance(layer, tf.keras.layers.GroupNormalization):
        shape = tf.shape(inputs)
        channels = inputs.shape[-1]
        grouped = tf.reshape(inputs, tf.concat([shape[:-1], [layer.groups, channels // layer.groups]], axis=0))
        axes = list(range(1, len(inputs.shape) - 1)) + [len(inputs.shape)]
        mean, var = tf.nn.moments(grouped, axes=axes, keepdims=True)
        return tf.reshape((grouped - mean) * tf.math.rsqrt(var + layer.epsilon), shape)
    axes = layer.axis if isinstance(layer.axis, list | tuple) else [layer.axis]
    mean, var = tf.nn.moments(inputs, axes=axes, keepdims=True)
    return (inputs - mean) * tf.math.rsqrt(var + layer.epsilon)


def normalization_sqnorms(layer, inputs: tf.Tensor, output_grads: tf.Tensor, views: int = 1) -> tf.Tensor:
    """LayerNormalization / GroupNormalization over the last axis: gamma's gradient is
    sum over positions of G * x_hat, beta's is sum of G (both instantiated: they have one
    entry per channel)."""
    norms = tf.zeros(tf.shape(inputs)[:1] // views, inputs.dtype)
    if layer.scale:
        gamma = tf.reduce_sum(_flatten_positions(output_grads * _normalized_inputs(layer, inputs), views), axis=1)
        norms += tf.reduce_sum(tf.square(gamma), axis=1)
    if layer.center:
        norms += bias_sqnorms(output_grads, views)
    return norms


def skip_gain_sqnorms(layer, inputs: tf.Tensor, output_grads: tf.Tensor, views: int = 1) -> tf.Tensor:
    """SkipGain (y = alpha * g * x, g a scalar): dL_i/dg = alpha * sum(x_i * G_i)."""
    per_row = layer.alpha * tf.reduce_sum(_flatten_positions(inputs * output_grads, views), axis=[1, 2])
    return tf.square(per_row)


def embedding_sqnorms(layer, inputs: tf.Tensor, output_grads: tf.Tensor, views: int = 1) -> tf.Tensor:
    """Embedding: example i's gradient adds G_i[t] to row idx_i[t] of the table, so its squared
    norm is sum over position pairs with the same index of G_i[t] . G_i[s] (ghost form; the
    table itself, vocabulary x dim, is never formed per example)."""
    ids = tf.reshape(tf.cast(inputs, tf.int64), [tf.shape(inputs)[0] // views, -1])
    g = _flatten_positions(output_grads, views)
    same = tf.cast(tf.equal(ids[:, :, None], ids[:, None, :]), g.dtype)
    return tf.reduce_sum(same * tf.matmul(g, g, transpose_b=True), axis=[1, 2])
