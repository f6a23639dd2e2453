"""The stock path: the same models trained with TF Privacy's DP Keras optimizers.

A thin adapter, so the rest of dpzoo never imports TF Privacy's optimizers directly. TF Privacy
clips one microbatch per example (``num_microbatches=None``: as many as the batch has rows),
adds N(0, sigma^2 C^2) to the sum and divides by the number of rows, padding included. Padded
rows carry weight 0, so their loss and gradient are 0 and they clip to 0. To divide by the
expected batch size B like dpzoo's engine, the learning rate is multiplied by rows / B, with
rows the sampler's physical batch size (a rare overflow step of 2x that many rows takes a
half-size step).
"""

import tensorflow as tf

from dpzoo.common.tf_privacy import tf_privacy_module
from dpzoo.privacy.guards import refuse_activity_regularizers, refuse_batch_statistics


def compile_model(
    model: tf.keras.Model,
    *,
    optimizer: str,
    learning_rate: float,
    momentum: float,
    l2_norm_clip: float,
    noise_multiplier: float,
    rows_per_batch: int,
    expected_batch_size: int,
    jit_compile: bool = False,
) -> tf.keras.Model:
    """Compiles ``model`` in place with TF Privacy's DPKerasSGD/AdamOptimizer and returns it."""
    refuse_batch_statistics(model)
    refuse_activity_regularizers(model)
    dp_optimizer_keras = tf_privacy_module("privacy.optimizers.dp_optimizer_keras")
    common = dict(l2_norm_clip=l2_norm_clip, noise_multiplier=noise_multiplier, num_microbatches=None)
    lr = learning_rate * rows_per_batch / expected_batch_size
    if optimizer == "adam":
        dp_optimizer = dp_optimizer_keras.DPKerasAdamOptimizer(learning_rate=lr, **common)
    else:
        dp_optimizer = dp_optimizer_keras.DPKerasSGDOptimizer(
            learning_rate=lr, momentum=momentum if optimizer == "momentum" else 0.0, **common
        )
    loss = tf.keras.losses.SparseCategoricalCrossentropy(from_logits=True, reduction=tf.keras.losses.Reduction.NONE)
    model.compile(optimizer=dp_optimizer, loss=loss, metrics=["accuracy"], jit_compile=jit_compile)
    return model
