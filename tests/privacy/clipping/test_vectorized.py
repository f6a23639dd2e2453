"""Per-example gradients and clipping against brute force (a loop over single examples)."""

import numpy as np
import pytest
import tensorflow as tf

from dpzoo.privacy.clipping import vectorized
from tests.conftest import SPARSE_CE, digits_batch, tiny_cnn


def brute_force_gradients(model, x, y):
    """One GradientTape per example: the definition of a per-example gradient."""
    per_example = []
    for i in range(len(x)):
        with tf.GradientTape() as tape:
            loss = SPARSE_CE(y[i : i + 1], model(x[i : i + 1], training=True))
        per_example.append(tape.gradient(loss, model.trainable_variables))
    return [np.stack([g[v].numpy() for g in per_example]) for v in range(len(model.trainable_variables))]


def test_per_example_gradients_equal_loop_over_single_examples(digits):
    model = tiny_cnn()
    x, y = digits_batch(digits, 16)
    grads, losses, outputs = vectorized.per_example_gradients(
        model, SPARSE_CE.call, tf.constant(x), tf.constant(y), model.trainable_variables
    )
    expected = brute_force_gradients(model, x, y)
    assert len(grads) == len(expected) == len(model.trainable_variables)
    for got, want in zip(grads, expected, strict=True):
        np.testing.assert_allclose(got.numpy(), want, rtol=1e-5, atol=1e-6)
    np.testing.assert_allclose(losses.numpy(), SPARSE_CE.call(y, model(x)).numpy(), rtol=1e-5)
    np.testing.assert_allclose(outputs.numpy(), model(x).numpy(), rtol=1e-5, atol=1e-6)


@pytest.mark.parametrize("clip", [0.01, 0.5, 100.0])
def test_every_clipped_norm_is_at_most_c(digits, clip):
    model = tiny_cnn()
    x, y = digits_batch(digits, 32)
    grads, _, _ = vectorized.per_example_gradients(model, SPARSE_CE.call, x, y, model.trainable_variables)
    norms = vectorized.global_norms(grads).numpy()
    factors = vectorized.clip_factors(tf.constant(norms), clip).numpy()
    clipped_norms = norms * factors
    assert np.all(clipped_norms <= clip * (1 + 1e-6))
    # Gradients already inside the ball are left alone.
    np.testing.assert_allclose(clipped_norms[norms <= clip], norms[norms <= clip], rtol=1e-6)
    if clip == 0.01:
        assert np.all(norms > clip)  # the test really clipped something


def test_global_norms_cover_all_variables_together(digits):
    model = tiny_cnn()
    x, y = digits_batch(digits, 4)
    expected = brute_force_gradients(model, x, y)
    want = np.sqrt(sum(np.sum(g.reshape(len(x), -1) ** 2, axis=1) for g in expected))
    got = vectorized.global_norms([tf.constant(g) for g in expected]).numpy()
    np.testing.assert_allclose(got, want, rtol=1e-6)


def test_clipped_sum_ignores_masked_rows(digits):
    model = tiny_cnn()
    x, y = digits_batch(digits, 6)
    grads, _, _ = vectorized.per_example_gradients(model, SPARSE_CE.call, x, y, model.trainable_variables)
    mask = tf.constant([1, 1, 0, 1, 0, 0], tf.float32)
    summed = vectorized.clipped_sum(grads, mask, 0.1)
    kept = [g.numpy()[[0, 1, 3]] for g in grads]
    norms = np.sqrt(sum(np.sum(g.reshape(3, -1) ** 2, axis=1) for g in kept))
    factors = np.minimum(1.0, 0.1 / norms)
    for got, g in zip(summed, kept, strict=True):
        np.testing.assert_allclose(got.numpy(), np.tensordot(factors, g, axes=1), rtol=1e-5, atol=1e-7)


def test_augmult_gradient_is_the_mean_over_views_then_clipped(digits):
    """K views per example: clip(grad of the mean loss over the views), by brute force."""
    model = tiny_cnn()
    x, y = digits_batch(digits, 5)
    views = np.stack([x, x[:, :, ::-1], np.roll(x, 1, axis=1)], axis=1)  # [5, K=3, 8, 8, 1]
    grads, losses, outputs = vectorized.per_example_gradients(
        model, SPARSE_CE.call, tf.constant(views), tf.constant(y), model.trainable_variables, views=True
    )
    clip, mask = 0.05, tf.ones([5])
    want_sum = [np.zeros(v.shape) for v in model.trainable_variables]
    for i in range(5):
        with tf.GradientTape() as tape:
            loss = tf.reduce_mean(SPARSE_CE.call(np.repeat(y[i : i + 1], 3), model(views[i], training=True)))
        g = [t.numpy() for t in tape.gradient(loss, model.trainable_variables)]
        for got, want in zip(grads, g, strict=True):
            np.testing.assert_allclose(got.numpy()[i], want, rtol=1e-5, atol=1e-6)
        norm = np.sqrt(sum(np.sum(t**2) for t in g))
        want_sum = [s + t * min(1.0, clip / norm) for s, t in zip(want_sum, g, strict=True)]
        assert losses.numpy()[i] == pytest.approx(loss.numpy(), rel=1e-5)
        np.testing.assert_allclose(outputs.numpy()[i], model(views[i]).numpy().mean(axis=0), rtol=1e-5, atol=1e-6)
    for got, want in zip(vectorized.clipped_sum(grads, mask, clip), want_sum, strict=True):
        np.testing.assert_allclose(got.numpy(), want, rtol=1e-5, atol=1e-7)


@pytest.mark.parametrize("p", [1.0, 25.0, 400.0])
def test_refined_clipping_bounds_both_norms_and_equals_a_loop(digits, p):
    """clipping_norm="l2+linf": each example clipped to L2 norm C, then every coordinate
    clamped to C/sqrt(p) (Xiao et al.); the clipped gradients keep both bounds."""
    model = tiny_cnn()
    x, y = digits_batch(digits, 8)
    clip = 0.2
    linf = clip / np.sqrt(p)
    grads, _, _ = vectorized.per_example_gradients(model, SPARSE_CE.call, x, y, model.trainable_variables)
    expected = brute_force_gradients(model, x, y)
    want_sum = [np.zeros(v.shape) for v in model.trainable_variables]
    clamped_any = False
    for i in range(len(x)):
        g = [e[i] for e in expected]
        norm = np.sqrt(sum(np.sum(t**2) for t in g))
        scaled = [t * min(1.0, clip / norm) for t in g]
        clamped = [np.clip(t, -linf, linf) for t in scaled]
        clamped_any |= any(np.any(np.abs(t) > linf) for t in scaled)
        assert np.sqrt(sum(np.sum(t**2) for t in clamped)) <= clip * (1 + 1e-6)
        assert max(np.abs(t).max() for t in clamped) <= linf * (1 + 1e-6)
        want_sum = [s + t for s, t in zip(want_sum, clamped, strict=True)]
    mask = tf.ones([len(x)])
    for got, want in zip(vectorized.clipped_sum(grads, mask, clip, linf), want_sum, strict=True):
        np.testing.assert_allclose(got.numpy(), want, rtol=1e-5, atol=1e-7)
    if p == 400.0:
        assert clamped_any  # the clamp really acted
