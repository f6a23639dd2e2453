"""Zoo layers: WSConv2D against a hand-standardised kernel, SkipGain, serialisation."""

import numpy as np
import pytest
import tensorflow as tf

from dpzoo.layers import SkipGain, WSConv2D
from tests.conftest import SPARSE_CE, digits_batch


def hand_standardised(kernel: np.ndarray, gain: np.ndarray, eps: float = 1e-4) -> np.ndarray:
    """METHODS.md 1: (w - mean) * gain / sqrt(max(fan_in * var, eps)), per output channel."""
    flat = kernel.reshape(-1, kernel.shape[-1]).astype(np.float64)
    mean, var = flat.mean(axis=0), flat.var(axis=0)
    return ((flat - mean) * gain / np.sqrt(np.maximum(flat.shape[0] * var, eps))).reshape(kernel.shape)


@pytest.mark.parametrize("strides,padding,groups", [(1, "same", 1), (2, "valid", 1), (1, "same", 2)])
def test_ws_conv_equals_conv_with_hand_standardised_kernel(digits, strides, padding, groups):
    x, _ = digits_batch(digits, 4)
    x = np.concatenate([x, x[..., ::-1, :]], axis=-1)  # two channels, so groups=2 is possible
    layer = WSConv2D(6, 3, strides=strides, padding=padding, groups=groups, bias_initializer="random_normal")
    layer.build(x.shape)
    layer.gain.assign(np.linspace(0.5, 2.0, 6).astype(np.float32))
    want_kernel = hand_standardised(layer.kernel.numpy(), layer.gain.numpy())
    np.testing.assert_allclose(layer.standardized_kernel().numpy(), want_kernel, rtol=1e-5, atol=1e-6)
    plain = tf.keras.layers.Conv2D(6, 3, strides=strides, padding=padding, groups=groups)
    plain.build(x.shape)
    plain.set_weights([want_kernel.astype(np.float32), layer.bias.numpy()])
    np.testing.assert_allclose(layer(x).numpy(), plain(x).numpy(), rtol=1e-5, atol=1e-5)


def test_ws_kernel_has_zero_mean_and_fan_in_variance_per_output_channel():
    layer = WSConv2D(8, 5)
    layer.build((None, 10, 10, 3))
    w = layer.standardized_kernel().numpy().reshape(-1, 8)
    np.testing.assert_allclose(w.mean(axis=0), 0, atol=1e-6)
    np.testing.assert_allclose(w.var(axis=0) * w.shape[0], 1, rtol=1e-4)


def test_ws_conv_of_a_constant_kernel_is_finite():
    """The epsilon floor: a constant kernel has zero variance and must not divide by zero."""
    layer = WSConv2D(2, 3, kernel_initializer="ones")
    out = layer(tf.ones([1, 5, 5, 1]))
    assert np.all(np.isfinite(out.numpy()))


def test_ws_conv_gradients_are_finite_at_init(digits):
    x, y = digits_batch(digits, 8)
    model = tf.keras.Sequential(
        [tf.keras.Input((8, 8, 1)), WSConv2D(4, 3), tf.keras.layers.Flatten(), tf.keras.layers.Dense(10)]
    )
    with tf.GradientTape() as tape:
        loss = SPARSE_CE(y, model(x))
    grads = tape.gradient(loss, model.trainable_variables)
    assert len(grads) == 5  # kernel, bias, gain, dense kernel, dense bias
    for g in grads:
        assert np.all(np.isfinite(g.numpy())) and np.any(g.numpy() != 0)


def test_skip_gain_starts_as_zero_branch_and_learns():
    layer = SkipGain(0.2)
    x = tf.ones([2, 3])
    np.testing.assert_array_equal(layer(x).numpy(), 0)
    with tf.GradientTape() as tape:
        out = tf.reduce_sum(layer(x))
    assert tape.gradient(out, layer.gain).numpy() == pytest.approx(0.2 * 6)


def test_layers_survive_keras_and_saved_model_round_trips(tmp_path):
    inputs = tf.keras.Input((8, 8, 1))
    x = WSConv2D(4, 3, padding="same", ws_epsilon=1e-3)(inputs)
    x = x + SkipGain(0.5)(x)
    model = tf.keras.Model(inputs, x)
    skip_gain = next(layer for layer in model.layers if isinstance(layer, SkipGain))
    skip_gain.gain.assign(0.7)
    images = tf.random.stateless_uniform([2, 8, 8, 1], seed=[1, 2])
    model.save(tmp_path / "m.keras")
    reloaded = tf.keras.models.load_model(tmp_path / "m.keras")
    np.testing.assert_allclose(reloaded(images).numpy(), model(images).numpy(), rtol=1e-6)
    assert reloaded.layers[1].get_config()["ws_epsilon"] == 1e-3
    module = tf.Module()  # a Keras 3 model saved as it is has no callable signature: give it one
    module.model = model
    module.call = tf.function(model, input_signature=[tf.TensorSpec([None, 8, 8, 1], tf.float32)])
    tf.saved_model.save(module, str(tmp_path / "saved"))
    served = tf.saved_model.load(str(tmp_path / "saved"))
    np.testing.assert_allclose(served.call(images).numpy(), model(images).numpy(), rtol=1e-6)
