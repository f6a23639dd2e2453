"""Dense: the matmul kernel's norm on any input rank (the kernel is shared across the middle
axes), plus the bias's."""

import tensorflow as tf

from dpzoo.common.stack import keras
from dpzoo.privacy.clipping.norms.forms import matmul_kernel_sqnorms, with_bias_sqnorms


def dense_sqnorms(layer: keras.layers.Dense, inputs: tf.Tensor, output_grads: tf.Tensor, views: int = 1) -> tf.Tensor:
    """Dense (on any rank: the kernel is shared across the middle axes)."""
    norms = matmul_kernel_sqnorms(inputs, output_grads, views)
    return with_bias_sqnorms(layer, norms, output_grads, views)
