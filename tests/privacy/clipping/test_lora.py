"""LoRA (Keras 3's ``enable_lora``) under ghost clipping: the adapters' per-example gradients,
not the frozen kernel's, are clipped, equal to a loop over single examples; a norm function that
ignores LoRA (the plain Dense one before it knew of adapters) misses them, which the same check
catches; LoRA on layers without an adapter-aware norm function (grouped convolutions, Embedding)
falls back to vectorised clipping."""

import numpy as np
import pytest
import tensorflow as tf

from dpzoo.common.keras_api import KERAS_3
from dpzoo.common.stack import keras
from dpzoo.privacy import DPConfig, make_private
from dpzoo.privacy.clipping import vectorized
from dpzoo.privacy.clipping.ghost import GhostClipper, unsupported_layers
from dpzoo.privacy.clipping.norms import NORM_FUNCTIONS
from dpzoo.privacy.clipping.norms.forms import bias_sqnorms, matmul_kernel_sqnorms
from tests.conftest import SPARSE_CE, digits_batch

pytestmark = pytest.mark.skipif(not KERAS_3, reason="LoRA (enable_lora) is Keras 3's")


def _lora_mlp(rank: int = 2, seed: int = 0) -> keras.Model:
    """Digits (8x8) -> Dense 16 tanh -> Dense 10, LoRA on both, adapters B drawn non-zero (as after
    some training) so that every adapter has a gradient."""
    keras.utils.set_random_seed(seed)
    inputs = keras.Input((8, 8))
    x = keras.layers.Flatten()(inputs)
    hidden = keras.layers.Dense(16, name="hidden")
    logits = keras.layers.Dense(10, name="logits")
    model = keras.Model(inputs, logits(keras.layers.Activation("tanh")(hidden(x))))
    rng = np.random.default_rng(seed)
    for layer in (hidden, logits):
        layer.enable_lora(rank, lora_alpha=3 * rank)  # adapters scaled by 3, not Keras' default 1
        layer.lora_kernel_b.assign(rng.normal(0, 0.5, layer.lora_kernel_b.shape))
    return model


def _lora_cnn(seed: int = 0) -> keras.Model:
    """Digits (8x8x1) -> Conv2D 4 3x3/2 same tanh -> Conv2D 6 3x3 valid -> Dense 10, LoRA (rank 2,
    scaled by 3) on all three, adapters B drawn non-zero; biases left trainable, as Keras leaves them."""
    keras.utils.set_random_seed(seed)
    inputs = keras.Input((8, 8, 1))
    layers = [
        keras.layers.Conv2D(4, 3, strides=2, padding="same", activation="tanh", name="conv1"),
        keras.layers.Conv2D(6, 3, padding="valid", name="conv2"),
    ]
    x = layers[1](layers[0](inputs))
    logits = keras.layers.Dense(10, name="logits")
    model = keras.Model(inputs, logits(keras.layers.Flatten()(x)))
    rng = np.random.default_rng(seed)
    for layer in (*layers, logits):
        layer.enable_lora(2, lora_alpha=6)
        layer.lora_kernel_b.assign(rng.normal(0, 0.5, layer.lora_kernel_b.shape))
    return model


def _lora_text(seed: int = 0) -> keras.Model:
    """12 tokens (of 16) -> Embedding 8 -> Dense 6 tanh on every token -> mean -> Dense 10, LoRA
    (rank 2, scaled by 3) on all three, adapters B drawn non-zero."""
    keras.utils.set_random_seed(seed)
    tokens = keras.Input((12,), dtype="int32")
    embedding = keras.layers.Embedding(16, 8, name="embedding")
    hidden = keras.layers.Dense(6, activation="tanh", name="hidden")
    logits = keras.layers.Dense(10, name="logits")
    x = keras.layers.GlobalAveragePooling1D()(hidden(embedding(tokens)))
    model = keras.Model(tokens, logits(x))
    rng = np.random.default_rng(seed)
    for layer in (embedding, hidden, logits):
        layer.enable_lora(2, lora_alpha=6)
        adapter_b = layer.lora_embeddings_b if layer is embedding else layer.lora_kernel_b
        adapter_b.assign(rng.normal(0, 0.5, adapter_b.shape))
    return model


MODELS = {"mlp": lambda: _lora_mlp(), "cnn": lambda: _lora_cnn(), "text": lambda: _lora_text()}


def _inputs(name: str, digits):
    """Digits as images, or as tokens: the first 12 pixels' intensities in 16 levels (repeats included)."""
    x, y = digits_batch(digits, 8)
    if name == "text":
        return np.minimum(x.reshape(8, -1)[:, 12:24] * 16, 15).astype(np.int32), y
    return x.reshape(8, 8, 8, *([1] if name == "cnn" else [])), y


def _looped_clipped_sum(model, x, y, mask, clip, views=False):
    """sum_i mask_i * clip(g_i, C) over the trainable variables, one example at a time, and the
    norms; with ``views``, x[i] holds example i's views and its loss is their mean."""
    variables = model.trainable_variables
    summed, norms = [tf.zeros_like(v) for v in variables], []
    for i in range(len(x)):
        with tf.GradientTape() as tape:
            rows = x[i] if views else x[i : i + 1]
            loss = tf.reduce_mean(SPARSE_CE.call(np.repeat(y[i : i + 1], len(rows)), model(rows, training=True)))
        grads = tape.gradient(loss, variables)
        norm = tf.linalg.global_norm(grads)
        norms.append(float(norm))
        factor = mask[i] * min(1.0, clip / float(norm))
        summed = [s + factor * g for s, g in zip(summed, grads, strict=True)]
    return summed, np.array(norms)


def test_lora_trains_only_the_adapters_and_the_biases():
    model = _lora_mlp()
    names = sorted(v.path.split("/")[-1] for v in model.trainable_variables)
    assert names == ["bias", "bias", "lora_kernel_a", "lora_kernel_a", "lora_kernel_b", "lora_kernel_b"]
    assert unsupported_layers(model) == []


@pytest.mark.parametrize("views", [False, True], ids=["K=1", "K=2"])
@pytest.mark.parametrize("name", MODELS)
def test_ghost_clipping_of_lora_equals_a_loop_over_single_examples(digits, name, views):
    model = MODELS[name]()
    assert unsupported_layers(model) == []
    x, y = _inputs(name, digits)
    if views:
        x = np.stack([x, x[:, ::-1]], axis=1)  # each example and its mirror image (tokens reversed)
    mask = np.array([1, 1, 0, 1, 1, 1, 0, 1], np.float32)
    _, want_norms = _looped_clipped_sum(model, x, y, mask, clip=np.inf, views=views)
    clip = float(np.median(want_norms))  # half the examples clipped
    want, _ = _looped_clipped_sum(model, x, y, mask, clip, views=views)
    got, norms, _ = GhostClipper(model).clipped_sum(
        SPARSE_CE.call, tf.constant(x), tf.constant(y), tf.constant(mask), clip, model.trainable_variables, views=views
    )
    np.testing.assert_allclose(norms.numpy(), want_norms, rtol=1e-4)
    for g, w in zip(got, want, strict=True):
        np.testing.assert_allclose(g.numpy(), w.numpy(), rtol=1e-4, atol=1e-6 * clip)


def _lora_blind_dense_sqnorms(layer, inputs, output_grads, views=1):
    """The plain Dense norm function, which knows no adapters: the frozen kernel's and the bias's."""
    return matmul_kernel_sqnorms(inputs, output_grads, views) + bias_sqnorms(output_grads, views)


def test_a_norm_function_blind_to_lora_is_refused_and_would_be_caught(digits):
    """A registry whose Dense function knows no adapters is refused for a LoRA model; forced in
    past that guard, it gets the norms wrong, so its clip factors would bound nothing the
    update contains (the parity check above fails on it)."""
    model = _lora_mlp()
    with pytest.raises(
        ValueError, match="hidden \\(Dense\\): LoRA has norm functions on Dense, Embedding and ungrouped Conv2D only"
    ):
        GhostClipper(model, {**NORM_FUNCTIONS, keras.layers.Dense: _lora_blind_dense_sqnorms})
    x, y = digits_batch(digits, 8)
    _, want_norms = _looped_clipped_sum(model, x, y, np.ones(8, np.float32), clip=np.inf)
    blind = GhostClipper(model)
    blind.norm_functions = {layer: _lora_blind_dense_sqnorms for layer in blind.layers}
    _, norms, _ = blind.clipped_sum(
        SPARSE_CE.call, tf.constant(x), tf.constant(y), tf.ones([8]), 1.0, model.trainable_variables
    )
    assert not np.allclose(norms.numpy(), want_norms, rtol=1e-2)


def test_lora_on_a_grouped_convolution_falls_back_to_vectorised_clipping(digits):
    """A grouped convolution's LoRA kernel A @ B mixes the groups, so no ghost norm: the vectorised
    path, which equals the loop."""
    keras.utils.set_random_seed(0)
    inputs = keras.Input((8, 8, 2))
    conv = keras.layers.Conv2D(4, 3, groups=2, name="conv")
    x = keras.layers.Flatten()(conv(inputs))
    model = keras.Model(inputs, keras.layers.Dense(10)(x))
    conv.enable_lora(2)
    assert any("conv (Conv2D): LoRA" in reason for reason in unsupported_layers(model))
    private = make_private(model, DPConfig(l2_norm_clip=1.0, noise_multiplier=0.0, expected_batch_size=4))
    assert private.clipping_strategy == "vectorized"  # clipping="auto" falls back
    x, y = digits_batch(digits, 4)
    x = x.reshape(4, 8, 8)
    x = np.stack([x, x[:, ::-1]], axis=-1)  # two channels: the digit and its vertical flip
    grads, _, _ = vectorized.per_example_gradients(model, SPARSE_CE.call, x, y, model.trainable_variables)
    want, _ = _looped_clipped_sum(model, x, y, np.ones(4, np.float32), 1.0)
    got = vectorized.clipped_sum(grads, tf.ones([4]), 1.0)
    for g, w in zip(got, want, strict=True):
        np.testing.assert_allclose(g.numpy(), w.numpy(), rtol=1e-4, atol=1e-6)
