"""Ghost clipping against the vectorised strategy on zoo models: same norms, same clipped sum."""

import numpy as np
import pytest
import tensorflow as tf

import dpzoo
from dpzoo import models
from dpzoo.common import keras_api
from dpzoo.common.errors import UsageError
from dpzoo.models.text import TEXT_MODELS
from dpzoo.privacy.clipping import vectorized
from dpzoo.privacy.clipping.ghost import GhostClipper, unsupported_layers
from dpzoo.privacy.clipping.norms import NORM_FUNCTIONS
from dpzoo.training.precomputed import fixed_front
from tests.conftest import SPARSE_CE, tiny_cnn

MODELS = {
    "tiny_cnn": lambda: tiny_cnn(input_shape=(28, 28, 1)),
    "tutorial_cnn_gnws": lambda: models.get("tutorial_cnn_gnws"),
    "tutorial_cnn_ws": lambda: models.get("tutorial_cnn_ws"),
    "lenet5_layer": lambda: models.get("lenet5", normalization="layer"),
    "wrn10_1": lambda: models.get("wrn", depth=10, width=1, input_shape=(28, 28, 1)),
    "scatternet_cnn": lambda: models.get("scatternet_cnn"),
}


@pytest.mark.parametrize("views", [False, True], ids=["K=1", "K=2"])
@pytest.mark.parametrize("make", MODELS.values(), ids=MODELS.keys())
def test_ghost_clipped_sum_equals_vectorised(fashion, make, views):
    tf.keras.utils.set_random_seed(0)
    model = make()
    x, y = fashion.x_train[:6].astype(np.float32) / 255.0, fashion.y_train[:6]
    if views:
        x = np.stack([x, x[:, :, ::-1]], axis=1)
    mask = tf.constant([1, 1, 1, 1, 0, 1], tf.float32)
    variables = model.trainable_variables
    grads, _, outputs = vectorized.per_example_gradients(model, SPARSE_CE.call, x, y, variables, views=views)
    norms = vectorized.global_norms(grads)
    clip = float(np.median(norms.numpy()))  # half the examples clipped, half not
    want = vectorized.clipped_sum(grads, mask, clip)
    got, ghost_norms, ghost_outputs = GhostClipper(model).clipped_sum(
        SPARSE_CE.call, tf.constant(x), tf.constant(y), mask, clip, variables, views=views
    )
    np.testing.assert_allclose(ghost_norms.numpy(), norms.numpy(), rtol=1e-4)
    # float32 sums taken in another order: absolute tolerance 1e-5 * C, C bounding each example's norm
    for g, w in zip(got, want, strict=True):
        np.testing.assert_allclose(g.numpy(), w.numpy(), rtol=1e-4, atol=1e-5 * clip)
    np.testing.assert_allclose(ghost_outputs.numpy(), outputs.numpy(), rtol=1e-4, atol=1e-6)


def test_unsupported_layers_are_named():
    inputs = tf.keras.Input((5,))
    shared = tf.keras.layers.Dense(5)
    x = shared(shared(inputs))
    x = tf.keras.layers.PReLU()(x)
    model = tf.keras.Model(inputs, x)
    reasons = unsupported_layers(model)
    assert any("called 2 times" in r for r in reasons)
    assert any("PReLU" in r and "no norm function" in r for r in reasons)
    with pytest.raises(ValueError, match="Ghost clipping cannot run"):
        GhostClipper(model)


def test_a_layer_shared_with_another_model_counts_only_its_calls_in_the_clipped_one(fashion):
    """The ScatterNet CNN's split head (the trainer trains it on the fixed front's features) calls
    each layer once, as the whole model does too: ghost clipping runs it, equal to the vectorised
    sum. Counting every call of a layer, the head's were refused (called 2 times)."""
    tf.keras.utils.set_random_seed(0)
    head = fixed_front.split(models.get("scatternet_cnn")).head
    assert {keras_api.call_count(layer) for layer in head.layers[1:]} == {2}  # the whole model's, and the head's
    assert {keras_api.calls_in(head, layer) for layer in head.layers[1:]} == {1}
    assert unsupported_layers(head) == []
    x = tf.random.normal([5, *head.input_shape[1:]], seed=1)
    y = tf.constant(fashion.y_train[:5])
    mask = tf.ones([5])
    variables = head.trainable_variables
    grads, _, _ = vectorized.per_example_gradients(head, SPARSE_CE.call, x, y, variables)
    clip = float(np.median(vectorized.global_norms(grads).numpy()))
    got, _, _ = GhostClipper(head).clipped_sum(SPARSE_CE.call, x, y, mask, clip, variables)
    for g, w in zip(got, vectorized.clipped_sum(grads, mask, clip), strict=True):
        np.testing.assert_allclose(g.numpy(), w.numpy(), rtol=1e-4, atol=1e-5 * clip)


@pytest.mark.parametrize("name", models.names())
def test_every_zoo_model_can_use_ghost_clipping(name):
    """Every trainable layer of every registered model has a norm function (a new zoo layer
    without one fails here)."""
    shape = {} if name in TEXT_MODELS else {"input_shape": (32, 32, 3)}
    model = models.get(name, num_classes=10, **shape)
    assert unsupported_layers(model) == []


def test_ghost_clipped_sum_of_a_text_model_equals_vectorised():
    """Embedding -> Dense on every token -> LayerNorm -> mean over tokens -> Dense."""
    tf.keras.utils.set_random_seed(0)
    tokens = tf.keras.Input((6,), dtype=tf.int32)
    x = tf.keras.layers.Embedding(20, 8)(tokens)
    x = tf.keras.layers.Dense(5, activation="tanh")(x)
    x = tf.keras.layers.LayerNormalization()(x)
    x = tf.keras.layers.GlobalAveragePooling1D()(x)
    model = tf.keras.Model(tokens, tf.keras.layers.Dense(3)(x))
    ids = tf.constant(np.random.default_rng(0).integers(0, 20, size=(7, 6)), tf.int32)
    y = tf.constant([0, 1, 2, 0, 1, 2, 0])
    mask = tf.ones([7])
    variables = model.trainable_variables
    grads, _, _ = vectorized.per_example_gradients(model, SPARSE_CE.call, ids, y, variables)
    grads = [tf.convert_to_tensor(g) for g in grads]
    norms = vectorized.global_norms(grads)
    clip = float(np.median(norms.numpy()))
    want = vectorized.clipped_sum(grads, mask, clip)
    got, ghost_norms, _ = GhostClipper(model).clipped_sum(SPARSE_CE.call, ids, y, mask, clip, variables)
    np.testing.assert_allclose(ghost_norms.numpy(), norms.numpy(), rtol=1e-4)
    for g, w in zip(got, want, strict=True):
        np.testing.assert_allclose(tf.convert_to_tensor(g).numpy(), w.numpy(), rtol=1e-4, atol=1e-5 * clip)


class ChannelScale(tf.keras.layers.Layer):
    """y = x * w, w one trainable value per channel: a layer no norm function covers."""

    def build(self, input_shape):
        self.w = self.add_weight(name="w", shape=(input_shape[-1],), initializer="ones")

    def call(self, inputs):
        return inputs * self.w


def channel_scale_sqnorms(layer, inputs, output_grads, views=1):
    """Example i's gradient of w is sum over positions of x_i * G_i."""
    return tf.reduce_sum(tf.square(inputs * output_grads), axis=1)


def test_a_users_norm_function_is_passed_in_and_matches_the_vectorised_sum(fashion):
    tf.keras.utils.set_random_seed(0)
    inputs = tf.keras.Input((28, 28, 1))
    x = ChannelScale()(tf.keras.layers.Dense(6)(tf.keras.layers.Flatten()(inputs)))
    model = tf.keras.Model(inputs, tf.keras.layers.Dense(10)(x))
    registry = {**NORM_FUNCTIONS, ChannelScale: channel_scale_sqnorms}
    assert any("ChannelScale" in r for r in unsupported_layers(model)) and unsupported_layers(model, registry) == []
    config = dpzoo.DPConfig(l2_norm_clip=1.0, noise_multiplier=1.0, expected_batch_size=6, clipping="ghost")
    with pytest.raises(UsageError, match="ChannelScale"):
        dpzoo.make_private(model, config)
    assert dpzoo.make_private(model, config, norm_functions=registry)._ghost is not None
    x, y = fashion.x_train[:6].astype(np.float32) / 255.0, fashion.y_train[:6]
    mask = tf.ones([6])
    grads, _, _ = vectorized.per_example_gradients(model, SPARSE_CE.call, x, y, model.trainable_variables)
    want = vectorized.clipped_sum(grads, mask, 0.5)
    got, _, _ = GhostClipper(model, registry).clipped_sum(
        SPARSE_CE.call, tf.constant(x), tf.constant(y), mask, 0.5, model.trainable_variables
    )
    for g, w in zip(got, want, strict=True):
        np.testing.assert_allclose(g.numpy(), w.numpy(), rtol=1e-4, atol=1e-6)
