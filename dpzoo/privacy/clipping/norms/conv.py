"""Conv2D and WSConv2D (channels_last; strides, padding, dilation, groups): per layer the ghost
form from the patches' gram matrix where it is cheaper, else each example's kernel gradient,
formed through the patches, by one grouped-convolution filter gradient, or reduced tap by tap
(never a patch tensor kh * kw times the input for a stride-1 layer). WSConv2D's gradients pass
through the weight standardisation."""

import tensorflow as tf

from dpzoo.common.stack import keras
from dpzoo.privacy.clipping.norms.forms import (
    LayerNorms,
    base_trainable,
    bias_grads,
    bias_sqnorms,
    flatten_positions,
    formed_whole,
    ghost_is_cheaper,
    lora_enabled,
    lora_sqnorms,
    matmul_kernel_sqnorms,
    summed,
    with_bias_sqnorms,
    worth_keeping,
)

IDENTITY_CONV_MAX_PATCH = 160  # one-hot-conv patches: at most this many values per patch ...
IDENTITY_CONV_MAX_CHANNELS = 3  # ... and this many input channels (image stems)


def _one_hot_patches(layer: keras.layers.Conv2D, inputs: tf.Tensor) -> bool:
    kh, kw = layer.kernel_size
    channels = inputs.shape[-1]
    return channels <= IDENTITY_CONV_MAX_CHANNELS and kh * kw * channels <= IDENTITY_CONV_MAX_PATCH


def _through_patches(layer: keras.layers.Conv2D, inputs: tf.Tensor) -> bool:
    """Image stems and strided layers go through their patch tensor (small: few channels, or
    few output positions), which CPU kernels handle faster than tap by tap; stride-1 layers,
    whose patches would be kh * kw times the input, go tap by tap (``_over_taps``)."""
    return layer.groups == 1 and (_one_hot_patches(layer, inputs) or tuple(layer.strides) != (1, 1))


def conv_patches(layer: keras.layers.Conv2D, inputs: tf.Tensor) -> tf.Tensor:
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


def _padded(layer: keras.layers.Conv2D, inputs: tf.Tensor, out_size: tuple[int, int]) -> tf.Tensor:
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


def _over_taps(layer: keras.layers.Conv2D, inputs: tf.Tensor, out_size: tuple[int, int], per_tap):
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


def _tap_kernel_grads(layer: keras.layers.Conv2D, output_grads: tf.Tensor, views: int):
    """A per_tap function for ``_over_taps``: tap (u, v)'s kernel gradient of each example,
    [batch, c_in / groups, c_out], a matmul over positions per example (and group)."""
    g_groups = tf.split(flatten_positions(output_grads, views), layer.groups, axis=-1)

    def per_tap(u, v, a):
        a_groups = tf.split(flatten_positions(a, views), layer.groups, axis=-1)
        return tf.concat([tf.matmul(ai, gi, transpose_a=True) for ai, gi in zip(a_groups, g_groups, strict=True)], -1)

    return per_tap


def _kernel_elements(layer: keras.layers.Conv2D) -> int:
    return layer.kernel.shape.num_elements()


def _forms_kernel_grads(layer: keras.layers.Conv2D, inputs: tf.Tensor, output_grads: tf.Tensor, views: int) -> bool:
    """Whether the instantiated form builds each example's whole kernel gradient (through the
    patches, or when it is small enough) rather than reducing it tap by tap."""
    return formed_whole(_kernel_elements(layer), output_grads, views) or _through_patches(layer, inputs)


def _grouped_kernel_grads(layer: keras.layers.Conv2D, inputs: tf.Tensor, output_grads: tf.Tensor, views: int):
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
    layer: keras.layers.Conv2D, inputs: tf.Tensor, output_grads: tf.Tensor, views: int = 1
) -> tf.Tensor:
    """Each example's kernel gradient, [batch, kh, kw, c_in / groups, c_out] like the kernel:
    one matmul of the patches (``_through_patches``, except single-channel stems), else one
    grouped-convolution filter gradient (``_grouped_kernel_grads``)."""
    kh, kw = layer.kernel_size
    c_in, c_out = inputs.shape[-1], output_grads.shape[-1]
    if _through_patches(layer, inputs) and not _single_channel(inputs):
        patches = flatten_positions(conv_patches(layer, inputs), views)
        per_example = tf.matmul(patches, flatten_positions(output_grads, views), transpose_a=True)
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
        patches = flatten_positions(conv_patches(layer, inputs), views)
        return statistics(patches, None if kernel is None else tf.reshape(kernel, [-1, kernel.shape[-1]]))
    return _over_taps(
        layer,
        inputs,
        out_size,
        lambda u, v, a: statistics(flatten_positions(a, views), None if kernel is None else kernel[u, v]),
    )


class _ConvWithKernel:
    """A Conv2D's geometry (strides, padding, dilation, groups) with another kernel and no bias:
    what the norm functions below read of a layer, for LoRA's parts of one."""

    def __init__(self, layer: keras.layers.Conv2D, kernel) -> None:
        self.name, self.kernel, self.use_bias = layer.name, kernel, False
        self.kernel_size, self.strides, self.padding = layer.kernel_size, layer.strides, layer.padding
        self.dilation_rate, self.groups, self.data_format = layer.dilation_rate, layer.groups, layer.data_format


def _kernel_sqnorms(layer, inputs: tf.Tensor, output_grads: tf.Tensor, views: int) -> tf.Tensor:
    result = conv2d_sqnorms(layer, inputs, output_grads, views)
    return result.sqnorms if isinstance(result, LayerNorms) else result


def _lora_conv2d_sqnorms(layer: keras.layers.Conv2D, inputs: tf.Tensor, output_grads: tf.Tensor, views: int):
    """Conv2D with LoRA (groups = 1): the layer convolves with W + s A B (A [kh, kw, c_in, r],
    B [r, c_out], s = alpha / r), which is W's convolution plus s times A's convolution followed
    by B as a 1x1 convolution. So dL/dA is s times the kernel gradient of A's convolution for
    the output gradient G B^T, and dL/dB = s H^T G with H the output of A's convolution: a conv
    kernel's and a matmul kernel's norms, each in its cheaper form. Frozen weights add nothing."""

    def a_sqnorms(b):  # A's convolution's kernel gradient for G B^T, [rows, out_h, out_w, r]
        projected = tf.tensordot(output_grads, tf.transpose(b), axes=1)
        return _kernel_sqnorms(_ConvWithKernel(layer, layer.lora_kernel_a), inputs, projected, views)

    def b_sqnorms(a):  # H = A's convolution of the input
        hidden = tf.nn.conv2d(
            inputs, a, strides=layer.strides, padding=layer.padding.upper(), dilations=layer.dilation_rate
        )
        return matmul_kernel_sqnorms(hidden, output_grads, views)

    terms = lora_sqnorms(layer, a_sqnorms, b_sqnorms)
    if base_trainable(layer):  # the base kernel unfrozen too: its gradient is the merged kernel's
        base = _ConvWithKernel(layer, tf.convert_to_tensor(layer.kernel))
        terms.append(_kernel_sqnorms(base, inputs, output_grads, views))
    if layer.use_bias and layer.bias.trainable:
        terms.append(bias_sqnorms(output_grads, views))
    return summed(terms, output_grads, views)


def conv2d_sqnorms(
    layer: keras.layers.Conv2D, inputs: tf.Tensor, output_grads: tf.Tensor, views: int = 1
) -> LayerNorms | tf.Tensor:
    """Conv2D (channels_last): the ghost form where that is cheaper (few output positions, many
    channels); else each example's kernel gradient, kept when no larger than the output
    gradient; a large one of a stride-1 layer is never formed whole, its squared norm summed
    tap by tap. With LoRA on, the adapters' norms (``_lora_conv2d_sqnorms``)."""
    if lora_enabled(layer):
        return _lora_conv2d_sqnorms(layer, inputs, output_grads, views)
    if layer.data_format != "channels_last":
        raise ValueError(f"{layer.name}: only channels_last convolutions have a norm function.")
    kh, kw = layer.kernel_size
    out_size = output_grads.shape[1:3]
    positions = views * out_size[0] * out_size[1]
    if layer.groups == 1 and ghost_is_cheaper(positions, kh * kw * inputs.shape[-1], output_grads.shape[-1]):
        (gram,) = _patch_statistics(layer, inputs, out_size, views)
        g = flatten_positions(output_grads, views)
        norms = tf.reduce_sum(gram * tf.matmul(g, g, transpose_b=True), axis=[1, 2])
        return with_bias_sqnorms(layer, norms, output_grads, views)
    kept = worth_keeping(_kernel_elements(layer), output_grads, views)
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
    # one read of each, shared by the norm and the kept gradient: with a second read of the gain
    # for the kept gradient, two identical de22 runs at once differed in that layer's kernel in 6
    # of 7 pairs (one intra-op thread, TF 2.15 CPU); with one read, 7 of 7 were bitwise equal
    kernel, gain = tf.convert_to_tensor(layer.kernel), tf.convert_to_tensor(layer.gain)
    kh, kw, c_in, c_out = kernel.shape
    n = kh * kw * c_in
    z = kernel - tf.reduce_mean(kernel, axis=[0, 1, 2], keepdims=True)
    squares = tf.reduce_sum(tf.square(z), axis=[0, 1, 2])  # [c_out] = fan_in * var
    r = tf.math.rsqrt(tf.maximum(squares, layer.ws_epsilon))
    t = tf.where(squares > layer.ws_epsilon, r * r, 0.0)
    out_size = output_grads.shape[1:3]
    positions = views * out_size[0] * out_size[1]
    h, kept = None, worth_keeping(_kernel_elements(layer), output_grads, views)
    if layer.groups == 1 and ghost_is_cheaper(positions, n, c_out):
        gram, patch_sums, patches_z = _patch_statistics(layer, inputs, out_size, views, kernel=z)
        g = flatten_positions(output_grads, views)  # [batch, T, c_out]
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
    kernel_squares = tf.square(gain * r) * (
        h_squares - tf.square(h_sums) / n + (t * t * squares - 2 * t) * tf.square(h_dot_z)
    )
    gain_grads = r * h_dot_z
    norms = tf.reduce_sum(tf.maximum(kernel_squares, 0.0) + tf.square(gain_grads), axis=1)
    if h is None or not kept:
        return with_bias_sqnorms(layer, norms, output_grads, views)
    h_dot_z = tf.reshape(h_dot_z, [-1, 1, 1, 1, c_out])
    z_grads = gain * r * (h - t * h_dot_z * z)
    kernel_grads = z_grads - tf.reduce_mean(z_grads, axis=[1, 2, 3], keepdims=True)
    return _with_bias(layer, norms, output_grads, views, (layer.kernel, kernel_grads), (layer.gain, gain_grads))
