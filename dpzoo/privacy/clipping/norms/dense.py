"""Dense: the matmul kernel's norm on any input rank (the kernel is shared across the middle
axes), plus the bias's; with LoRA (Keras 3's ``enable_lora``), the adapters' norms instead of
the frozen kernel's. Only trainable weights count: a frozen kernel or bias adds nothing."""

import tensorflow as tf

from dpzoo.common.stack import keras
from dpzoo.privacy.clipping.norms.forms import bias_sqnorms, lora_enabled, matmul_kernel_sqnorms


def _lora_sqnorms(layer: keras.layers.Dense, inputs: tf.Tensor, output_grads: tf.Tensor, views: int) -> tf.Tensor:
    """LoRA's adapters (Hu et al. 2021): the layer uses W + s A B (A [d_in, r], B [r, d_out],
    s = alpha / r), so example i's gradients are dL/dA = s X_i^T (G_i B^T) and dL/dB = s (X_i A)^T G_i,
    each a matmul kernel's gradient whose norm has the ghost or the instantiated form."""
    scale = layer.lora_alpha / layer.lora_rank
    a, b = tf.convert_to_tensor(layer.lora_kernel_a), tf.convert_to_tensor(layer.lora_kernel_b)
    norms = tf.zeros(tf.shape(output_grads)[:1] // views, output_grads.dtype)
    if layer.lora_kernel_a.trainable:
        norms += scale**2 * matmul_kernel_sqnorms(inputs, tf.matmul(output_grads, b, transpose_b=True), views)
    if layer.lora_kernel_b.trainable:
        norms += scale**2 * matmul_kernel_sqnorms(tf.matmul(inputs, a), output_grads, views)
    return norms


def _base_kernel(layer: keras.layers.Dense):
    """The kernel variable; with LoRA, the frozen base W (``layer.kernel`` is then W + s A B)."""
    if not lora_enabled(layer):
        return layer.kernel
    adapters_and_bias = {id(layer.lora_kernel_a), id(layer.lora_kernel_b), id(layer.bias)}
    (kernel,) = [w for w in layer.weights if id(w) not in adapters_and_bias]
    return kernel


def dense_sqnorms(layer: keras.layers.Dense, inputs: tf.Tensor, output_grads: tf.Tensor, views: int = 1) -> tf.Tensor:
    """Dense (on any rank: the kernel is shared across the middle axes), its trainable weights only."""
    norms = tf.zeros(tf.shape(output_grads)[:1] // views, output_grads.dtype)
    if lora_enabled(layer):
        norms += _lora_sqnorms(layer, inputs, output_grads, views)
    if _base_kernel(layer).trainable:
        norms += matmul_kernel_sqnorms(inputs, output_grads, views)
    if layer.use_bias and layer.bias.trainable:
        norms += bias_sqnorms(output_grads, views)
    return norms
