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

import dataclasses

import tensorflow as tf


@dataclasses.dataclass(frozen=True)
class LayerNorms:
    """A layer's per-example squared gradient norms, [batch], plus the per-example gradients the
    computation formed anyway, as (variable, [batch, *variable.shape]) pairs: the clipped sum
    reuses them (sum_i c_i g_i as one contraction) instead of differentiating the layer again."""

    sqnorms: tf.Tensor
    per_example: tuple[tuple[tf.Variable, tf.Tensor], ...] = ()


def _worth_keeping(elements: int, output_grads: tf.Tensor, views: int) -> bool:
    """Keep an example's formed gradient of ``elements`` values for the clipped sum only when it
    is at most twice the layer's output gradient, which the clipped sum would hold otherwise: a
    little more memory, and the layer's pull-back is saved (LeNet-5's second convolution,
    2,400 values against 1,600, runs about 7% faster per step on this project's CPU)."""
    return elements <= 2 * views * output_grads.shape[1:].num_elements()


def _formed_whole(elements: int, output_grads: tf.Tensor, views: int) -> bool:
    """Form an example's gradient of ``elements`` values whole, for its norm only, when it is at
    most 4 times the output gradient; larger ones are reduced tap by tap (``_over_taps``), which
    costs more small ops but holds one tap's share at a time."""
    return elements <= 4 * views * output_grads.shape[1:].num_elements()


def _ghost_is_cheaper(positions: int | None, d_in: int, d_out: int) -> bool:
    """The gram (ghost) form costs T^2 (d_in + d_out) per example, the instantiated one
    T d_in d_out: the ghost form wins with few positions T and many channels."""
    return positions is not None and positions * (d_in + d_out) < d_in * d_out


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
    middle = inputs.shape[1:-1]  # static even when the batch size is not (variable Poisson batches)
    positions = views * middle.num_elements() if middle.is_fully_defined() else None
    d_in, d_out = a.shape[-1], g.shape[-1]
    if positions == 1:
        return tf.reduce_sum(tf.square(a[:, 0]), axis=1) * tf.reduce_sum(tf.square(g[:, 0]), axis=1)
    if _ghost_is_cheaper(positions, d_in, d_out):
        gram_a = tf.matmul(a, a, transpose_b=True)
        gram_g = tf.matmul(g, g, transpose_b=True)
        return tf.reduce_sum(gram_a * gram_g, axis=[1, 2])
    per_example = tf.matmul(a, g, transpose_a=True)  # [batch, d_in, d_out]
    return tf.reduce_sum(tf.square(per_example), axis=[1, 2])


def bias_grads(output_grads: tf.Tensor, views: int = 1) -> tf.Tensor:
    """sum_t G_i[t]: each example's gradient of a bias added at every position, [batch, d]."""
    return tf.reduce_sum(_flatten_positions(output_grads, views), axis=1)


def bias_sqnorms(output_grads: tf.Tensor, views: int = 1) -> tf.Tensor:
    """||sum_t G_i[t]||^2: the bias gradient's squared norm, [batch]."""
    return tf.reduce_sum(tf.square(bias_grads(output_grads, views)), axis=1)


def with_bias_sqnorms(layer: tf.keras.layers.Layer, norms: tf.Tensor, output_grads: tf.Tensor, views: int) -> tf.Tensor:
    """A layer's kernel norms plus its bias gradient's squared norms, if it has a bias."""
    return norms + bias_sqnorms(output_grads, views) if layer.use_bias else norms


def dense_sqnorms(
    layer: tf.keras.layers.Dense, inputs: tf.Tensor, output_grads: tf.Tensor, views: int = 1
) -> tf.Tensor:
    """Dense (on any rank: the kernel is shared across the middle axes)."""
    norms = matmul_kernel_sqnorms(inputs, output_grads, views)
    return with_bias_sqnorms(layer, norms, output_grads, views)


IDENTITY_CONV_MAX_PATCH = 160  # one-hot-conv patches: at most this many values per patch ...
IDENTITY_CONV_MAX_CHANNELS = 3  # ... and this many input channels (image stems)


def _one_hot_patches(layer: tf.keras.layers.Conv2D, inputs: tf.Tensor) -> bool:
    kh, kw = layer.kernel_size
    channels = inputs.shape[-1]
    return channels <= IDENTITY_CONV_MAX_CHANNELS and kh * kw * channels <= IDENTITY_CONV_MAX_PATCH


def _through_patches(layer: tf.keras.layers.Conv2D, inputs: tf.Tensor) -> bool:
    """Image stems and strided layers go through their patch tensor (small: few channels, or
    few output positions), which CPU kernels handle faster than tap by tap; stride-1 layers,
    whose patches would be kh * kw times the input, go tap by tap (``_over_taps``)."""
    return layer.groups == 1 and (_one_hot_patches(layer, inputs) or tuple(layer.strides) != (1, 1))


def conv_patches(layer: tf.keras.layers.Conv2D, inputs: tf.Tensor) -> tf.Tensor:
    """The input patches each output position sees: [batch, out_h, out_w, kh * kw * c_in], ordered
    like the kernel reshaped to [kh * kw * c_in, c_out] (strides, padding and dilation included).

    Few input channels (image stems): a convolution with a one-hot kernel, which the conv kernels
    run several times faster than ``extract_patches``; otherwise ``extract_patches``. Both give
    the same values in the same order."""
    kh, kw = layer.kernel_size
    if _one_hot_patches(layer, inputs):
        size = kh * kw * inputs.shape[-1]
        one_hot = tf.reshape(tf.eye(size, dtype=inputs.dtype), [kh, kw, inputs.shape[-1], size])
        return tf.nn.conv2d(
            inputs, one_hot, strides=layer.strides, padding=layer.padding.upper(), dilations=layer.dilation_rate
        )
    return tf.image.extract_patches(
        inputs,
        sizes=[1, kh, kw, 1],
        strides=[1, *layer.strides, 1],
        rates=[1, *layer.dilation_rate, 1],
        padding=layer.padding.upper(),
    )


def _padded(layer: tf.keras.layers.Conv2D, inputs: tf.Tensor, out_size: tuple[int, int]) -> tf.Tensor:
    """The input with the zero padding the convolution applies ("same": TF's split, extra at the end)."""
    if layer.padding == "valid":
        return inputs
    pads = [[0, 0]]
    for size, out, k, stride, rate in zip(
        inputs.shape[1:3], out_size, layer.kernel_size, layer.strides, layer.dilation_rate, strict=True
    ):
        total = max((out - 1) * stride + (k - 1) * rate + 1 - size, 0)
        pads.append([total // 2, total - total // 2])
    return tf.pad(inputs, [*pads, [0, 0]])


def _over_taps(layer: tf.keras.layers.Conv2D, inputs: tf.Tensor, out_size: tuple[int, int], per_tap):
    """The sum over kernel taps (u, v) of per_tap(u, v, a_uv) (a tensor or a tuple of tensors),
    a_uv the [rows, out_h, out_w, c_in] slice of the padded input that tap multiplies. Each slice
    is cut only after the previous tap's sum exists, so one slice is in memory at a time and no
    patch tensor (kh * kw times the input) is formed."""
    padded = _padded(layer, inputs, out_size)
    (kh, kw), (out_h, out_w) = layer.kernel_size, out_size
    (sh, sw), (dh, dw) = layer.strides, layer.dilation_rate
    total = None
    for u in range(kh):
        for v in range(kw):
            with tf.control_dependencies(tf.nest.flatten(total) if total is not None else []):
                a = padded[:, u * dh : u * dh + (out_h - 1) * sh + 1 : sh, v * dw : v * dw + (out_w - 1) * sw + 1 : sw]
                result = per_tap(u, v, a)
                total = result if total is None else tf.nest.map_structure(tf.add, total, result)
    return total


def _tap_kernel_grads(layer: tf.keras.layers.Conv2D, output_grads: tf.Tensor, views: int):
    """A per_tap function for ``_over_taps``: tap (u, v)'s kernel gradient of each example,
    [batch, c_in / groups, c_out], a matmul over positions per example (and group)."""
    g_groups = tf.split(_flatten_positions(output_grads, views), layer.groups, axis=-1)

    def per_tap(u, v, a):
        a_groups = tf.split(_flatten_positions(a, views), layer.groups, axis=-1)
        return tf.concat([tf.matmul(ai, gi, transpose_a=True) for ai, gi in zip(a_groups, g_groups, strict=True)], -1)

    return per_tap


def _kernel_elements(layer: tf.keras.layers.Conv2D) -> int:
    return layer.kernel.shape.num_elements()


def _forms_kernel_grads(layer: tf.keras.layers.Conv2D, inputs: tf.Tensor, output_grads: tf.Tensor, views: int) -> bool:
    """Whether the instantiated form builds each example's whole kernel gradient (through the
    patches, or when it is small enough) rather than reducing it tap by tap."""
    return _formed_whole(_kernel_elements(layer), output_grads, views) or _through_patches(layer, inputs)


def _grouped_kernel_grads(layer: tf.keras.layers.Conv2D, inputs: tf.Tensor, output_grads: tf.Tensor, views: int):
    """Each example's kernel gradient as one filter gradient of a grouped convolution: the
    examples move into the channels (example i's channels are its own groups, its views stay on
    the batch axis, where the filter gradient sums them), [batch, kh, kw, c_in / groups, c_out].
    On this project's CPU it ran 3.3x faster than tap by tap for LeNet-5's second convolution
    (5x5, 6 to 16 channels, B = 256) and as fast for WRN-16-4's 3x3 64-channel ones (B = 64)."""
    kh, kw = layer.kernel_size
    c_in, c_out = inputs.shape[-1], output_grads.shape[-1]
    batch = tf.shape(inputs)[0] // views

    def examples_in_channels(t):  # [batch * views, h, w, c] -> [views, h, w, batch * c]
        shape = tf.shape(t)
        t = tf.transpose(tf.reshape(t, [batch, views, shape[1], shape[2], t.shape[-1]]), [1, 2, 3, 0, 4])
        return tf.reshape(t, [views, shape[1], shape[2], -1])

    filters = tf.raw_ops.Conv2DBackpropFilter(
        input=examples_in_channels(inputs),
        filter_sizes=tf.stack([kh, kw, c_in // layer.groups, batch * c_out]),
        out_backprop=examples_in_channels(output_grads),
        strides=[1, *layer.strides, 1],
        padding=layer.padding.upper(),
        dilations=[1, *layer.dilation_rate, 1],
    )
    filters = tf.reshape(filters, [kh, kw, c_in // layer.groups, batch, c_out])
    return tf.transpose(filters, [3, 0, 1, 2, 4])


def _single_channel(inputs: tf.Tensor) -> bool:
    """Grayscale image stems: their patches are only kh * kw values wide, and the per-example
    matmuls of such thin patches run slower than one grouped filter gradient, and the patch
    tensor is never held (LeNet-5's first convolution, 5x5 on 28x28x1, B = 256: its whole private
    step ran about 11% faster in two interleaved runs on this project's CPU, and its peak memory
    fell from 2.41x to 1.39x non-private). Three-channel stems keep the patches: for WRN-16-4's
    (3x3 on 32x32x3, B = 64) they were 1.2x faster than the filter gradient."""
    return inputs.shape[-1] == 1


def conv_kernel_grads(
    layer: tf.keras.layers.Conv2D, inputs: tf.Tensor, output_grads: tf.Tensor, views: int = 1
) -> tf.Tensor:
    """Each example's kernel gradient, [batch, kh, kw, c_in / groups, c_out] like the kernel:
    one matmul of the patches (``_through_patches``, except single-channel stems), else one
    grouped-convolution filter gradient (``_grouped_kernel_grads``)."""
    kh, kw = layer.kernel_size
    c_in, c_out = inputs.shape[-1], output_grads.shape[-1]
    if _through_patches(layer, inputs) and not _single_channel(inputs):
        patches = _flatten_positions(conv_patches(layer, inputs), views)
        per_example = tf.matmul(patches, _flatten_positions(output_grads, views), transpose_a=True)
        return tf.reshape(per_example, [-1, kh, kw, c_in, c_out])
    return _grouped_kernel_grads(layer, inputs, output_grads, views)


def _patch_statistics(layer, inputs: tf.Tensor, out_size: tuple[int, int], views: int, kernel=None) -> tuple:
    """For the ghost form, with P_i example i's patches [T, kh * kw * c_in]: the gram matrix
    P_i P_i^T [batch, T, T] and, given a kernel-shaped tensor K, the patch sums P_i 1 [batch, T] and P_i K [batch, T, c_out]. From the patches where
    ``_through_patches``, else as sums over taps, the patches never formed."""

    def statistics(p, k):  # p: [batch, T, d], k: [d, c_out] or None
        gram = tf.matmul(p, p, transpose_b=True)
        return (gram,) if k is None else (gram, tf.reduce_sum(p, axis=-1), tf.matmul(p, k))

    if _through_patches(layer, inputs):
        patches = _flatten_positions(conv_patches(layer, inputs), views)
        return statistics(patches, None if kernel is None else tf.reshape(kernel, [-1, kernel.shape[-1]]))
    return _over_taps(
        layer,
        inputs,
        out_size,
        lambda u, v, a: statistics(_flatten_positions(a, views), None if kernel is None else kernel[u, v]),
    )


def conv2d_sqnorms(
    layer: tf.keras.layers.Conv2D, inputs: tf.Tensor, output_grads: tf.Tensor, views: int = 1
) -> LayerNorms | tf.Tensor:
    """Conv2D (channels_last): the ghost form where that is cheaper (few output positions, many
    channels); else each example's kernel gradient, kept when no larger than the output
    gradient; a large one of a stride-1 layer is never formed whole, its squared norm summed
    tap by tap."""
    if layer.data_format != "channels_last":
        raise ValueError(f"{layer.name}: only channels_last convolutions have a norm function.")
    kh, kw = layer.kernel_size
    out_size = output_grads.shape[1:3]
    positions = views * out_size[0] * out_size[1]
    if layer.groups == 1 and _ghost_is_cheaper(positions, kh * kw * inputs.shape[-1], output_grads.shape[-1]):
        (gram,) = _patch_statistics(layer, inputs, out_size, views)
        g = _flatten_positions(output_grads, views)
        norms = tf.reduce_sum(gram * tf.matmul(g, g, transpose_b=True), axis=[1, 2])
        return with_bias_sqnorms(layer, norms, output_grads, views)
    kept = _worth_keeping(_kernel_elements(layer), output_grads, views)
    if _forms_kernel_grads(layer, inputs, output_grads, views):
        kernel_grads = conv_kernel_grads(layer, inputs, output_grads, views)
        norms = tf.reduce_sum(tf.square(kernel_grads), axis=[1, 2, 3, 4])
        if kept:
            return _with_bias(layer, norms, output_grads, views, (layer.kernel, kernel_grads))
        return with_bias_sqnorms(layer, norms, output_grads, views)
    tap_grads = _tap_kernel_grads(layer, output_grads, views)
    norms = _over_taps(layer, inputs, out_size, lambda u, v, a: tf.reduce_sum(tf.square(tap_grads(u, v, a)), [1, 2]))
    return with_bias_sqnorms(layer, norms, output_grads, views)


def _with_bias(layer, norms, output_grads, views, *per_example) -> LayerNorms:
    """Adds the bias gradient (if any) to a conv layer's norms, and returns the formed (kept)
    per-example gradients (variable, grads) with them."""
    if layer.use_bias:
        bias = bias_grads(output_grads, views)
        norms += tf.reduce_sum(tf.square(bias), axis=1)
        per_example += ((layer.bias, bias),)
    return LayerNorms(norms, per_example)


def ws_conv2d_sqnorms(layer, inputs: tf.Tensor, output_grads: tf.Tensor, views: int = 1) -> LayerNorms | tf.Tensor:
    """WSConv2D: the raw kernel's and the gain's gradients pass through the standardisation.

    With z = w - mean(w), S = sum(z^2) and r = max(S, eps)^(-1/2) per output channel o, the layer
    uses w_hat = gain * r * z (``standardize_kernel``). For example i's gradient H with respect
    to w_hat, and a = <H_o, z_o>: dL/dgain_o = r a and dL/dw_o = gain r P(H_o - t a z_o), P the
    centring over the channel's n = kh * kw * c_in entries and t = r^2 (0 where S <= eps: the
    max() passes no gradient). As z is centred and r^2 S = 1,

        ||dL/dw_o||^2 = gain^2 r^2 (||H_o||^2 - (sum H_o)^2 / n - 2 t a^2 + t^2 a^2 S),

    so three statistics of H per example and channel suffice. Where the ghost form is cheaper (few
    positions, many channels) they come from the patches' gram matrix and H is never formed;
    otherwise from H, kept for the clipped sum when no larger than the output gradient (a
    large H of a stride-1 layer is reduced tap by tap, never formed whole).
    """
    kernel = tf.convert_to_tensor(layer.kernel)
    kh, kw, c_in, c_out = kernel.shape
    n = kh * kw * c_in
    z = kernel - tf.reduce_mean(kernel, axis=[0, 1, 2], keepdims=True)
    squares = tf.reduce_sum(tf.square(z), axis=[0, 1, 2])  # [c_out] = fan_in * var
    r = tf.math.rsqrt(tf.maximum(squares, layer.ws_epsilon))
    t = tf.where(squares > layer.ws_epsilon, r * r, 0.0)
    out_size = output_grads.shape[1:3]
    positions = views * out_size[0] * out_size[1]
    h, kept = None, _worth_keeping(_kernel_elements(layer), output_grads, views)
    if layer.groups == 1 and _ghost_is_cheaper(positions, n, c_out):
        gram, patch_sums, patches_z = _patch_statistics(layer, inputs, out_size, views, kernel=z)
        g = _flatten_positions(output_grads, views)  # [batch, T, c_out]
        h_squares = tf.reduce_sum(g * tf.matmul(gram, g), axis=1)  # ||H_o||^2, [batch, c_out]
        h_sums = tf.reduce_sum(g * patch_sums[..., None], axis=1)
        h_dot_z = tf.reduce_sum(g * patches_z, axis=1)
    elif _forms_kernel_grads(layer, inputs, output_grads, views):
        h = conv_kernel_grads(layer, inputs, output_grads, views)  # [batch, kh, kw, c_in, c_out]
        h_squares = tf.reduce_sum(tf.square(h), axis=[1, 2, 3])
        h_sums = tf.reduce_sum(h, axis=[1, 2, 3])
        h_dot_z = tf.reduce_sum(h * z, axis=[1, 2, 3])
    else:
        tap_grads = _tap_kernel_grads(layer, output_grads, views)

        def tap_statistics(u, v, a):
            h_uv = tap_grads(u, v, a)  # [batch, c_in / groups, c_out]
            return tf.reduce_sum(tf.square(h_uv), 1), tf.reduce_sum(h_uv, 1), tf.reduce_sum(h_uv * z[u, v], 1)

        h_squares, h_sums, h_dot_z = _over_taps(layer, inputs, out_size, tap_statistics)
    kernel_squares = tf.square(layer.gain * r) * (
        h_squares - tf.square(h_sums) / n + (t * t * squares - 2 * t) * tf.square(h_dot_z)
    )
    gain_grads = r * h_dot_z
    norms = tf.reduce_sum(tf.maximum(kernel_squares, 0.0) + tf.square(gain_grads), axis=1)
    if h is None or not kept:
        return with_bias_sqnorms(layer, norms, output_grads, views)
    h_dot_z = tf.reshape(h_dot_z, [-1, 1, 1, 1, c_out])
    z_grads = layer.gain * r * (h - t * h_dot_z * z)
    kernel_grads = z_grads - tf.reduce_mean(z_grads, axis=[1, 2, 3], keepdims=True)
    return _with_bias(layer, norms, output_grads, views, (layer.kernel, kernel_grads), (layer.gain, gain_grads))


def _group_norm_gamma_grads(layer: tf.keras.layers.GroupNormalization, inputs: tf.Tensor, output_grads: tf.Tensor):
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


def _layer_norm_gamma_grads(layer: tf.keras.layers.LayerNormalization, inputs: tf.Tensor, output_grads: tf.Tensor):
    """sum over positions of G * x_hat per row, [rows, *gamma.shape] (x_hat formed: LayerNorm
    statistics are per position)."""
    axes = layer.axis if isinstance(layer.axis, list | tuple) else [layer.axis]
    mean, var = tf.nn.moments(inputs, axes=axes, keepdims=True)
    product = output_grads * (inputs - mean) * tf.math.rsqrt(var + layer.epsilon)
    return tf.reshape(tf.reduce_sum(_flatten_positions(product), axis=1), [-1, *layer.gamma.shape])


def normalization_sqnorms(layer, inputs: tf.Tensor, output_grads: tf.Tensor, views: int = 1) -> LayerNorms:
    """LayerNormalization / GroupNormalization over the last axis: gamma's gradient is
    sum over positions of G * x_hat, beta's is sum of G. Both are formed per example (one entry
    per channel, far smaller than G) and kept for the clipped sum, so G can be freed."""
    norms = tf.zeros(tf.shape(inputs)[:1] // views, inputs.dtype)
    per_example = ()
    if layer.scale:
        if isinstance(layer, tf.keras.layers.GroupNormalization):
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


def skip_gain_sqnorms(layer, inputs: tf.Tensor, output_grads: tf.Tensor, views: int = 1) -> LayerNorms:
    """SkipGain (y = alpha * g * x, g a scalar): dL_i/dg = alpha * sum(x_i * G_i), kept."""
    per_example = layer.alpha * tf.reduce_sum(_flatten_positions(inputs * output_grads, views), axis=[1, 2])
    return LayerNorms(tf.square(per_example), ((layer.gain, per_example),))


def embedding_sqnorms(layer, inputs: tf.Tensor, output_grads: tf.Tensor, views: int = 1) -> tf.Tensor:
    """Embedding: example i's gradient adds G_i[t] to row idx_i[t] of the table, so its squared
    norm is sum over position pairs with the same index of G_i[t] . G_i[s] (ghost form; the
    table itself, vocabulary x dim, is never formed per example)."""
    ids = tf.reshape(tf.cast(inputs, tf.int64), [tf.shape(inputs)[0] // views, -1])
    g = _flatten_positions(output_grads, views)
    same = tf.cast(tf.equal(ids[:, :, None], ids[:, None, :]), g.dtype)
    return tf.reduce_sum(same * tf.matmul(g, g, transpose_b=True), axis=[1, 2])
