"""Per-layer ghost norms against brute force: a loop over single examples with GradientTape."""

import numpy as np
import pytest
import tensorflow as tf

from dpzoo.layers import SkipGain, WSConv2D
from dpzoo.privacy.clipping.norms import conv, dense, embedding, forms, normalization, skip_gain


def brute_force_and_ghost(layer, x, norm_fn):
    """(per-example squared gradient norms by a loop, the same from inputs and output grads).

    Loss of example i: sum(tanh(Z_i) * r) for a fixed random r, Z the layer's output."""
    if not layer.built:
        layer.build(x.shape)
    r = tf.random.stateless_normal(layer.compute_output_shape(x.shape)[1:], seed=[3, 4])
    loss = lambda z: tf.reduce_sum(tf.tanh(z) * r, axis=list(range(1, len(z.shape))))
    brute, per_example = [], []
    for i in range(x.shape[0]):
        with tf.GradientTape() as tape:
            value = tf.reduce_sum(loss(layer(x[i : i + 1])))
        grads = tape.gradient(value, layer.trainable_variables)
        brute.append(sum(float(tf.reduce_sum(tf.square(g))) for g in grads))
        per_example.append({id(v): g.numpy() for v, g in zip(layer.trainable_variables, grads, strict=True)})
    with tf.GradientTape() as tape:
        z = layer(x)
        tape.watch(z)
        total = tf.reduce_sum(loss(z))
    output_grads = tape.gradient(total, z)
    result = norm_fn(layer, x, output_grads)
    if isinstance(result, forms.LayerNorms):  # per-example gradients formed on the way: exact too
        for variable, grads in result.per_example:
            want = np.stack([p[id(variable)] for p in per_example])
            # float32 sums over positions: entries that nearly cancel get an error relative to the largest
            np.testing.assert_allclose(grads.numpy(), want, rtol=1e-4, atol=1e-5 * np.abs(want).max())
        result = result.sqnorms
    return np.array(brute), result.numpy()


@pytest.mark.parametrize(
    "shape,units,use_bias",
    [((6, 5), 3, True), ((6, 5), 4, False), ((4, 7, 5), 3, True), ((4, 2, 20), 30, True)],
    ids=["vector", "no-bias", "sequence-instantiated", "sequence-ghost"],
)
def test_dense_norms_equal_brute_force(shape, units, use_bias):
    x = tf.random.stateless_normal(shape, seed=[1, 2])
    layer = tf.keras.layers.Dense(units, use_bias=use_bias, bias_initializer="random_normal")
    brute, ghost = brute_force_and_ghost(layer, x, dense.dense_sqnorms)
    np.testing.assert_allclose(ghost, brute, rtol=1e-4)


CONV_CASES = {
    "3x3-same": dict(filters=4, kernel_size=3, padding="same"),
    "5x5-valid-stride2": dict(filters=3, kernel_size=5, strides=2, padding="valid"),
    "8x8-same-stride2": dict(filters=4, kernel_size=8, strides=2, padding="same"),
    "3x3-dilation2": dict(filters=2, kernel_size=3, dilation_rate=2, padding="same"),
    "1x1-no-bias": dict(filters=6, kernel_size=1, use_bias=False),
    "groups2": dict(filters=4, kernel_size=3, groups=2, padding="same"),
    "rect-4x2-stride(2,1)": dict(filters=3, kernel_size=(4, 2), strides=(2, 1), padding="valid"),
}


# 1 input channel: a grouped filter gradient; 2: one-hot-conv patches; 20: per-tap slices (stride 1,
# groups) or extract_patches. Keras needs the groups to divide the input channels.
CHANNELS = {"grayscale": 1, "one-hot": 2, "taps-or-extract": 20}
CONV_CHANNEL_CASES = {
    f"{case}-{form}": (kwargs, channels)
    for form, channels in CHANNELS.items()
    for case, kwargs in CONV_CASES.items()
    if channels % kwargs.get("groups", 1) == 0
}


@pytest.mark.parametrize("kwargs,channels", CONV_CHANNEL_CASES.values(), ids=CONV_CHANNEL_CASES.keys())
def test_conv2d_norms_equal_brute_force(kwargs, channels):
    assert conv.IDENTITY_CONV_MAX_CHANNELS >= 2 and conv.IDENTITY_CONV_MAX_PATCH >= 8 * 8 * 2
    x = tf.random.stateless_normal((5, 11, 10, channels), seed=[5, 6])
    layer = tf.keras.layers.Conv2D(bias_initializer="random_normal", **kwargs)
    brute, ghost = brute_force_and_ghost(layer, x, conv.conv2d_sqnorms)
    np.testing.assert_allclose(ghost, brute, rtol=1e-4)


FORM_CASES = {  # (input shape, Conv2D kwargs, form): the forms a conv layer's norm can take
    "ghost-patches-strided": ((5, 8, 8, 32), dict(filters=64, kernel_size=3, strides=2), "ghost"),
    "ghost-taps": ((5, 4, 4, 32), dict(filters=64, kernel_size=3), "ghost"),
    "summed-over-taps": ((5, 4, 4, 20), dict(filters=2, kernel_size=3, padding="same"), "taps"),
    "summed-over-taps-groups2": ((5, 4, 4, 20), dict(filters=2, kernel_size=3, padding="same", groups=2), "taps"),
}


def _form(layer, x) -> str:
    """Which form the norm functions take for this layer and input."""
    out = layer.compute_output_shape(x.shape)
    positions = out[1] * out[2]
    d_in = layer.kernel_size[0] * layer.kernel_size[1] * x.shape[-1]
    if layer.groups == 1 and forms.ghost_is_cheaper(positions, d_in, out[-1]):
        return "ghost"
    g = tf.zeros(out)
    whole = forms.formed_whole(layer.kernel.shape.num_elements(), g, 1)
    return "whole" if whole or conv._through_patches(layer, x) else "taps"


@pytest.mark.parametrize("ws", [False, True], ids=["Conv2D", "WSConv2D"])
@pytest.mark.parametrize("shape,kwargs,form", FORM_CASES.values(), ids=FORM_CASES.keys())
def test_each_conv_norm_form_equals_brute_force(shape, kwargs, form, ws):
    """The gram (ghost) form from patches or tap by tap, and the instantiated form reduced tap by
    tap without forming the whole per-example gradient."""
    x = tf.random.stateless_normal(shape, seed=[5, 7])
    layer = (WSConv2D if ws else tf.keras.layers.Conv2D)(bias_initializer="random_normal", **kwargs)
    layer.build(x.shape)
    assert _form(layer, x) == form
    norm_fn = conv.ws_conv2d_sqnorms if ws else conv.conv2d_sqnorms
    brute, ghost = brute_force_and_ghost(layer, x, norm_fn)
    np.testing.assert_allclose(ghost, brute, rtol=1e-4)


def test_ghost_and_instantiated_forms_agree():
    a = tf.random.stateless_normal((3, 9, 4), seed=[7, 8])
    g = tf.random.stateless_normal((3, 9, 5), seed=[9, 10])
    instantiated = tf.reduce_sum(tf.square(tf.matmul(a, g, transpose_a=True)), axis=[1, 2])
    gram = tf.reduce_sum(tf.matmul(a, a, transpose_b=True) * tf.matmul(g, g, transpose_b=True), axis=[1, 2])
    np.testing.assert_allclose(gram.numpy(), instantiated.numpy(), rtol=1e-5)
    np.testing.assert_allclose(forms.matmul_kernel_sqnorms(a, g).numpy(), instantiated.numpy(), rtol=1e-5)


WS_CASES = {  # (input shape, filters, kwargs): each form of the WSConv2D norm
    "grayscale-kept": ((4, 9, 9, 1), 5, dict(kernel_size=3, padding="same")),
    "one-hot-kept": ((4, 9, 9, 3), 5, dict(kernel_size=3, padding="same")),
    "strided-patches": ((4, 9, 9, 3), 5, dict(kernel_size=4, strides=2)),
    "taps-not-kept": ((4, 9, 9, 20), 5, dict(kernel_size=3, padding="same")),
    "extract-not-kept": ((4, 9, 9, 20), 5, dict(kernel_size=4, strides=2)),
    "ghost-gram": ((4, 4, 4, 32), 64, dict(kernel_size=3)),
    "groups2-taps": ((4, 9, 9, 4), 6, dict(kernel_size=3, groups=2, padding="same")),
}


@pytest.mark.parametrize("shape,filters,kwargs", WS_CASES.values(), ids=WS_CASES.keys())
def test_ws_conv2d_norms_equal_brute_force(shape, filters, kwargs):
    x = tf.random.stateless_normal(shape, seed=[11, 12])
    layer = WSConv2D(filters, bias_initializer="random_normal", **kwargs)
    layer.build(x.shape)
    layer.gain.assign(tf.linspace(0.5, 1.5, filters))
    brute, ghost = brute_force_and_ghost(layer, x, conv.ws_conv2d_sqnorms)
    np.testing.assert_allclose(ghost, brute, rtol=1e-4)


NORM_CASES = {
    "layer-norm": lambda: tf.keras.layers.LayerNormalization(),
    "group-norm-4": lambda: tf.keras.layers.GroupNormalization(groups=4, epsilon=1e-5),
    "group-norm-no-center": lambda: tf.keras.layers.GroupNormalization(groups=2, center=False),
}
NORM_OFFSETS = {"centred": 0.0, "offset-20": 20.0}  # group moments from channel moments stay exact


@pytest.mark.parametrize("offset", NORM_OFFSETS.values(), ids=NORM_OFFSETS.keys())
@pytest.mark.parametrize("make", NORM_CASES.values(), ids=NORM_CASES.keys())
def test_normalization_norms_equal_brute_force(make, offset):
    x = tf.random.stateless_normal((5, 6, 6, 8), seed=[13, 14]) + offset
    layer = make()
    layer.build(x.shape)
    for v in layer.trainable_variables:  # away from the identity init, so gamma matters
        v.assign(tf.random.stateless_normal(v.shape, seed=[15, 16]))
    brute, ghost = brute_force_and_ghost(layer, x, normalization.normalization_sqnorms)
    np.testing.assert_allclose(ghost, brute, rtol=1e-4)


def test_skip_gain_norms_equal_brute_force():
    x = tf.random.stateless_normal((5, 4, 4, 3), seed=[17, 18])
    layer = SkipGain(0.2, initial_gain=0.7)
    brute, ghost = brute_force_and_ghost(layer, x, skip_gain.skip_gain_sqnorms)
    np.testing.assert_allclose(ghost, brute, rtol=1e-4)


def test_embedding_norms_equal_brute_force():
    ids = tf.constant([[1, 4, 1, 7, 1], [2, 3, 5, 0, 6], [9, 9, 9, 9, 9]])  # repeats, none, all equal
    layer = tf.keras.layers.Embedding(10, 4)
    layer.build(ids.shape)
    r = tf.random.stateless_normal((5, 4), seed=[19, 20])
    loss = lambda z: tf.reduce_sum(tf.tanh(z) * r, axis=[1, 2])
    brute = []
    for i in range(3):
        with tf.GradientTape() as tape:
            value = tf.reduce_sum(loss(layer(ids[i : i + 1])))
        grad = tf.convert_to_tensor(tape.gradient(value, layer.embeddings))  # IndexedSlices -> dense
        brute.append(float(tf.reduce_sum(tf.square(grad))))
    with tf.GradientTape() as tape:
        z = layer(ids)
        tape.watch(z)
        total = tf.reduce_sum(loss(z))
    ghost = embedding.embedding_sqnorms(layer, ids, tape.gradient(total, z)).numpy()
    np.testing.assert_allclose(ghost, brute, rtol=1e-4)
