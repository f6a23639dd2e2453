"""A user's own Keras model goes private: keras.applications models (weights=None: nothing
downloads), whose BatchNormalization the guard refuses naming the fix, and the fix itself.

After ``fix_batch_normalization`` the model holds no BatchNormalization in training mode,
keeps every other weight, and its private step at sigma 0 equals a loop over single examples.
"""

import numpy as np
import pytest
import tensorflow as tf

import dpzoo
from dpzoo.common.errors import UsageError
from dpzoo.privacy import batch_norm_fix, fix_batch_normalization


def _images(n: int, shape=(32, 32, 3)) -> np.ndarray:
    return np.random.default_rng(0).uniform(0, 255, (n, *shape)).astype(np.float32)


@pytest.fixture(scope="module")
def mobilenet():
    tf.keras.utils.set_random_seed(0)
    return tf.keras.applications.MobileNetV3Small(weights=None, input_shape=(32, 32, 3), classes=10, dropout_rate=0.0)


def _batch_norm_names(model) -> list[str]:
    return [layer.name for layer in model.layers if isinstance(layer, tf.keras.layers.BatchNormalization)]


def test_the_guard_refuses_batch_normalization_and_names_the_fix(mobilenet):
    with pytest.raises(UsageError, match="fix_batch_normalization"):
        dpzoo.make_private(mobilenet, dpzoo.DPConfig(l2_norm_clip=1.0, noise_multiplier=1.0, expected_batch_size=4))


def test_group_norm_replaces_every_batch_normalization_and_keeps_the_other_weights(mobilenet):
    fixed = fix_batch_normalization(mobilenet)
    assert _batch_norm_names(mobilenet) and not _batch_norm_names(fixed)
    groups = [layer for layer in fixed.layers if isinstance(layer, tf.keras.layers.GroupNormalization)]
    assert len(groups) == len(_batch_norm_names(mobilenet))
    assert all(int(layer.input.shape[-1]) % layer.groups == 0 for layer in groups)
    for layer in mobilenet.layers:
        if layer.weights and not isinstance(layer, tf.keras.layers.BatchNormalization):
            for a, b in zip(layer.get_weights(), fixed.get_layer(layer.name).get_weights(), strict=True):
                np.testing.assert_array_equal(a, b)
    x = _images(4)
    one_by_one = np.concatenate([fixed(x[i : i + 1], training=True).numpy() for i in range(4)])
    np.testing.assert_allclose(fixed(x, training=True).numpy(), one_by_one, rtol=1e-5, atol=1e-6)


def test_the_fixed_application_steps_as_a_loop_over_single_examples(float64_keras):
    """sigma = 0: the private update is -lr * sum_i clip(g_i) / B, g_i from one example alone.
    In float64: float32 rounding through MobileNet's 50 layers reaches 2e-4 of the largest entry."""
    tf.keras.utils.set_random_seed(0)
    model = tf.keras.applications.MobileNetV3Small(weights=None, input_shape=(32, 32, 3), classes=10, dropout_rate=0.0)
    fixed = fix_batch_normalization(model)
    assert all(tf.as_dtype(v.dtype) == tf.float64 for v in fixed.trainable_variables)
    x, y = _images(4).astype(np.float64), np.array([1, 7, 3, 3])
    variables = fixed.trainable_variables
    want = [np.zeros(v.shape, np.float64) for v in variables]
    loss_fn = tf.keras.losses.SparseCategoricalCrossentropy(from_logits=True)  # a float64 loss
    for i in range(4):
        with tf.GradientTape() as tape:
            loss = loss_fn(y[i : i + 1], fixed(x[i : i + 1], training=True))
        grads = [tf.convert_to_tensor(g).numpy() for g in tape.gradient(loss, variables)]
        norm = np.sqrt(sum(np.sum(g**2) for g in grads))
        for total, g in zip(want, grads, strict=True):
            total += g * min(1.0, 0.5 / norm)
    before = [v.numpy().copy() for v in variables]
    private = dpzoo.make_private(fixed, dpzoo.DPConfig(l2_norm_clip=0.5, noise_multiplier=0.0, expected_batch_size=4))
    private.compile(tf.keras.optimizers.SGD(1.0), loss=loss_fn)
    private.train_on_batch(x, y)
    moved = 0
    for b, v, w in zip(before, variables, want, strict=True):
        np.testing.assert_allclose(b - v.numpy(), w / 4, rtol=1e-7, atol=1e-10 * (np.abs(w).max() + 1e-30))
        moved += np.abs(w).max() > 0
    assert moved > len(variables) / 2


def test_freeze_keeps_batch_normalization_in_inference_mode(mobilenet):
    frozen = fix_batch_normalization(tf.keras.models.clone_model(mobilenet), mode="freeze")
    assert all(not frozen.get_layer(name).trainable for name in _batch_norm_names(frozen))
    dpzoo.make_private(frozen, dpzoo.DPConfig(l2_norm_clip=1.0, noise_multiplier=1.0, expected_batch_size=4))
    x = _images(3)
    alone = frozen(x[:1], training=True).numpy()
    np.testing.assert_allclose(frozen(x, training=True).numpy()[:1], alone, rtol=1e-5, atol=1e-6)


def test_efficientnet_is_fixed_too():
    tf.keras.utils.set_random_seed(0)
    model = tf.keras.applications.EfficientNetV2B0(weights=None, input_shape=(32, 32, 3), classes=10)
    fixed = fix_batch_normalization(model, groups=8)
    assert not _batch_norm_names(fixed)
    assert fixed(_images(2)).shape == (2, 10)


def test_what_the_fix_cannot_do_is_refused():
    class Subclassed(tf.keras.Model):
        def __init__(self):
            super().__init__()
            self.norm = tf.keras.layers.BatchNormalization()

        def call(self, x):
            return self.norm(x)

    model = Subclassed()
    model(tf.zeros((1, 3)))
    with pytest.raises(UsageError, match="subclassed"):
        fix_batch_normalization(model)
    with pytest.raises(UsageError, match="mode='batch'"):
        fix_batch_normalization(model, mode="batch")
    assert batch_norm_fix.group_count(96, 32) == 32 and batch_norm_fix.group_count(72, 32) == 24
    assert batch_norm_fix.group_count(16, 32) == 16 and batch_norm_fix.group_count(7, 4) == 1
