"""Dense: the matmul kernel's norm on any input rank (the kernel is shared across the middle
axes), plus the bias's; with LoRA (Keras 3's ``enable_lora``), the adapters' norms instead of
the frozen kernel's. Only trainable weights count: a frozen kernel or bias adds nothing."""

import tensorflow as tf

from dpzoo.common.stack import keras
from dpzoo.privacy.clipping.norms.forms import (
    base_trainable,
    bias_sqnorms,
    lora_enabled,
    lora_sqnorms,
    matmul_kernel_sqnorms,
    summed,
)


def dense_sqnorms(layer: keras.layers.Dense, inputs: tf.Tensor, output_grads: tf.Tensor, views: int = 1) -> tf.Tensor:
    """Dense (on any rank: the kernel is shared across the middle axes), its trainable weights only.
    With LoRA (Hu et al. 2021: W + s A B, A [d_in, r], B [r, d_out]), example i's adapter
    gradients are dL/dA = s X_i^T (G_i B^T) and dL/dB = s (X_i A)^T G_i, each a matmul kernel's
    gradient whose norm has the ghost or the instantiated form."""
    terms = []
    if lora_enabled(layer):
        terms += lora_sqnorms(
            layer,
            lambda b: matmul_kernel_sqnorms(inputs, tf.matmul(output_grads, b, transpose_b=True), views),
            lambda a: matmul_kernel_sqnorms(tf.matmul(inputs, a), output_grads, views),
        )
    if base_trainable(layer):
        terms.append(matmul_kernel_sqnorms(inputs, output_grads, views))
    if layer.use_bias and layer.bias.trainable:
        terms.append(bias_sqnorms(output_grads, views))
    return summed(terms, output_grads, views)
