"""Gaussian weight layers (SIDP): noise of std s on kernel and bias, fresh per training call,
absent at inference and in exported SavedModels, gradients to the clean weights."""

import numpy as np
import pytest
import tensorflow as tf

from dpzoo.artifacts import export
from dpzoo.layers import GaussianConv2D, GaussianDense, gaussian_layers, set_weight_noise_stddev
from dpzoo.privacy.clipping.norms import conv, dense, norm_function
from tests.conftest import op_types

S = 0.3


def _dense(d_in: int, units: int, **kwargs) -> GaussianDense:
    layer = GaussianDense(units, seed=7, bias_initializer="random_normal", **kwargs)
    layer.build((None, d_in))
    layer.weight_noise_stddev.assign(S)
    return layer


def _assert_gaussian(samples: np.ndarray, std: float) -> None:
    """Mean 0 and std ``std`` for n i.i.d. normal samples, at 5 standard errors: the sample std
    has standard error std / sqrt(2n), the mean std / sqrt(n); a false failure has odds below
    1e-6 (and the seed is fixed)."""
    n = samples.size
    assert abs(samples.mean()) < 5 * std / np.sqrt(n)
    assert abs(samples.std() - std) < 5 * std / np.sqrt(2 * n)


def test_kernel_noise_has_std_s_and_is_fresh_at_each_training_call():
    layer = _dense(64, 64, use_bias=False)
    eye = tf.eye(64)  # row i of the output is row i of the kernel actually used
    first, second = layer(eye, training=True).numpy(), layer(eye, training=True).numpy()
    clean = layer.kernel.numpy()
    _assert_gaussian(first - clean, S)
    _assert_gaussian(second - clean, S)
    assert abs(np.corrcoef((first - clean).ravel(), (second - clean).ravel())[0, 1]) < 0.1  # fresh draws


def test_bias_noise_has_std_s():
    layer = _dense(4, 64)
    draws = np.stack([layer(tf.zeros([1, 4]), training=True).numpy()[0] for _ in range(100)])
    _assert_gaussian(draws - layer.bias.numpy(), S)


def test_conv_kernel_and_bias_noise_have_std_s():
    layer = GaussianConv2D(32, 1, seed=3, bias_initializer="random_normal")
    layer.build((None, 1, 1, 128))
    set_weight_noise_stddev(layer, S)
    one_hots = tf.reshape(tf.eye(128), [128, 1, 1, 128])  # example i sees row i of the kernel used
    zeros = tf.zeros([1, 1, 1, 128])  # sees the bias used
    used = layer(tf.concat([one_hots, zeros], axis=0), training=True).numpy()[:, 0, 0]  # one draw for the batch
    _assert_gaussian(used[:-1] - used[-1] - layer.kernel.numpy()[0, 0], S)
    bias_draws = np.stack([layer(zeros, training=True).numpy()[0, 0, 0] for _ in range(100)])
    _assert_gaussian(bias_draws - layer.bias.numpy(), S)


def test_inference_uses_clean_weights_unless_asked():
    layer = _dense(8, 5)
    x = tf.random.stateless_normal([3, 8], seed=[1, 2])
    clean = x.numpy() @ layer.kernel.numpy() + layer.bias.numpy()
    np.testing.assert_allclose(layer(x, training=False).numpy(), clean, rtol=1e-5, atol=1e-6)
    np.testing.assert_allclose(layer(x).numpy(), clean, rtol=1e-5, atol=1e-6)
    noisy_at_inference = GaussianDense(5, seed=1, inference_noise=True)
    noisy_at_inference.build((None, 8))
    noisy_at_inference.weight_noise_stddev.assign(S)
    assert not np.allclose(noisy_at_inference(x).numpy(), noisy_at_inference(x).numpy())


def test_zero_std_is_the_plain_layer():
    layer = _dense(8, 5)
    layer.weight_noise_stddev.assign(0.0)
    x = tf.random.stateless_normal([3, 8], seed=[1, 2])
    np.testing.assert_allclose(layer(x, training=True).numpy(), layer(x, training=False).numpy(), rtol=1e-6)


def test_gradients_flow_to_the_clean_weights():
    """The noise is additive and independent of W: dL/dW = dL/dW~ = x^T r for L = sum(r * (x W~ + b~))."""
    layer = _dense(6, 4)
    x = tf.random.stateless_normal([5, 6], seed=[3, 4])
    r = tf.random.stateless_normal([5, 4], seed=[5, 6])
    with tf.GradientTape() as tape:
        loss = tf.reduce_sum(r * layer(x, training=True))
    kernel_grad, bias_grad, *rest = tape.gradient(loss, layer.trainable_variables)
    assert not rest and len(layer.trainable_variables) == 2  # s is not trainable
    np.testing.assert_allclose(kernel_grad.numpy(), x.numpy().T @ r.numpy(), rtol=1e-5)
    np.testing.assert_allclose(bias_grad.numpy(), r.numpy().sum(axis=0), rtol=1e-5)


def test_fused_activation_is_refused_with_a_way_out():
    with pytest.raises(ValueError, match="Activation layer after it"):
        GaussianDense(4, activation="relu")
    with pytest.raises(ValueError, match="activation='relu'"):
        GaussianConv2D(4, 3, activation="relu")


def test_ghost_clipping_covers_gaussian_layers():
    assert norm_function(GaussianDense(2)) is dense.dense_sqnorms
    assert norm_function(GaussianConv2D(2, 3)) is conv.conv2d_sqnorms


def _tiny_model() -> tf.keras.Model:
    inputs = tf.keras.Input((8, 8, 1))
    x = GaussianConv2D(4, 3, seed=1)(inputs)
    x = tf.keras.layers.ReLU()(x)
    x = tf.keras.layers.Flatten()(x)
    model = tf.keras.Model(inputs, GaussianDense(3, seed=2)(x))
    set_weight_noise_stddev(model, S)
    return model


def test_noise_generator_state_is_checkpointed(tmp_path):
    """A restored model continues the draws where the saved one stood (no repeated noise)."""
    model = _tiny_model()
    images = tf.random.stateless_uniform([2, 8, 8, 1], seed=[1, 2])
    path = tf.train.Checkpoint(model=model).save(str(tmp_path / "ckpt"))
    after_save = model(images, training=True).numpy()
    model(images, training=True)  # move the generators on
    tf.train.Checkpoint(model=model).restore(path).assert_existing_objects_matched()
    np.testing.assert_allclose(model(images, training=True).numpy(), after_save, rtol=1e-6)


def test_keras_round_trip_keeps_the_settings_and_s(tmp_path):
    model = _tiny_model()
    model.save(tmp_path / "m.keras")
    reloaded = tf.keras.models.load_model(tmp_path / "m.keras")
    layers = gaussian_layers(reloaded)
    assert sorted(layer.seed for layer in layers) == [1, 2]
    assert all(float(layer.weight_noise_stddev) == pytest.approx(S) for layer in layers)
    images = tf.random.stateless_uniform([2, 8, 8, 1], seed=[1, 2])
    np.testing.assert_allclose(reloaded(images).numpy(), model(images).numpy(), rtol=1e-6)


def test_exported_saved_model_has_no_noise_ops(tmp_path):
    model = _tiny_model()
    path = export.saved_model(model, str(tmp_path / "served" / "1"), input_shape=(8, 8, 1), preprocess=lambda x: x)
    serve = tf.saved_model.load(path).signatures["serving_default"]
    random_ops = {op for op in op_types(serve.graph.as_graph_def()) if "Random" in op or "Rng" in op}
    assert not random_ops
    images = tf.random.stateless_uniform([2, 8, 8, 1], seed=[3, 4])
    want = tf.nn.softmax(model(images, training=False)).numpy()
    np.testing.assert_allclose(serve(images=images)["probabilities"].numpy(), want, rtol=1e-5)
    # and the check can fail: a training-mode function does contain the generator's ops
    noisy = tf.function(lambda x: model(x, training=True)).get_concrete_function(tf.TensorSpec([None, 8, 8, 1]))
    assert any("Rng" in op or "Random" in op for op in op_types(noisy.graph.as_graph_def()))
