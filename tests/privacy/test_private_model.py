"""DP-SGD steps of the private engine: noise, masking, division by B, refusals."""

import dataclasses

import numpy as np
import pytest
import tensorflow as tf

import dpzoo
from dpzoo.common.errors import UsageError
from dpzoo.layers import GaussianConv2D, GaussianDense, gaussian_layers, set_weight_noise_stddev
from tests.conftest import SPARSE_CE, digits_batch, tiny_cnn


def one_step_update(model_fn, x, y, mask, config, lr=1.0):
    """Weights after one private SGD step minus weights before, per variable."""
    model = model_fn()
    before = [v.numpy().copy() for v in model.trainable_variables]
    private = dpzoo.make_private(model, config)
    private.compile(optimizer=tf.keras.optimizers.SGD(lr), loss=SPARSE_CE)
    private.train_on_batch(x, y, sample_weight=mask)
    assert int(private.dp_steps.numpy()) == 1
    return [v.numpy() - b for v, b in zip(model.trainable_variables, before, strict=True)]


@pytest.mark.parametrize("jit", [False, True])
def test_noise_std_is_sigma_c_over_b_when_gradients_are_zero(jit):
    """All gradients 0 (the loss ignores the model), so the SGD(lr=1) update is -noise / B.

    65,000 noise coordinates: the sample std's relative error has sd ~ 1/sqrt(2 * 65000) = 0.28%,
    so the 2% tolerance is a 7-sigma bound (flake rate below 1e-11); the seed is fixed anyway.
    """
    sigma, clip, batch = 2.0, 3.0, 32

    def wide_dense():
        tf.keras.utils.set_random_seed(0)
        return tf.keras.Sequential([tf.keras.Input((64,)), tf.keras.layers.Dense(1000)])

    model = wide_dense()
    private = dpzoo.make_private(
        model, dpzoo.DPConfig(l2_norm_clip=clip, noise_multiplier=sigma, expected_batch_size=batch, seed=7)
    )
    private.compile(
        optimizer=tf.keras.optimizers.SGD(1.0), loss=lambda y, p: 0.0 * tf.reduce_sum(p, axis=-1), jit_compile=jit
    )
    before = np.concatenate([v.numpy().ravel() for v in model.trainable_variables])
    x = np.random.default_rng(0).standard_normal((batch, 64)).astype(np.float32)
    private.train_on_batch(x, np.zeros(batch), sample_weight=np.ones(batch, np.float32))
    update = np.concatenate([v.numpy().ravel() for v in model.trainable_variables]) - before
    assert update.size == 64 * 1000 + 1000
    expected = sigma * clip / batch
    assert abs(update.std() / expected - 1) < 0.02
    assert abs(update.mean()) < 5 * expected / np.sqrt(update.size)


def test_noise_is_not_repeated_across_steps():
    tf.keras.utils.set_random_seed(0)
    model = tf.keras.Sequential([tf.keras.Input((4,)), tf.keras.layers.Dense(50)])
    private = dpzoo.make_private(
        model, dpzoo.DPConfig(l2_norm_clip=1, noise_multiplier=1, expected_batch_size=2, seed=1)
    )
    private.compile(optimizer=tf.keras.optimizers.SGD(1.0), loss=lambda y, p: 0.0 * tf.reduce_sum(p, axis=-1))
    x, y, w = np.ones((2, 4), np.float32), np.zeros(2), np.ones(2, np.float32)
    w0 = model.trainable_variables[0].numpy().copy()
    private.train_on_batch(x, y, sample_weight=w)
    w1 = model.trainable_variables[0].numpy().copy()
    private.train_on_batch(x, y, sample_weight=w)
    w2 = model.trainable_variables[0].numpy()
    assert not np.allclose(w1 - w0, w2 - w1)


def _views(x, augmult):
    """K = 2 views of each image (itself and its mirror image) when augmult is 2."""
    return np.stack([x, x[:, :, ::-1]], axis=1) if augmult == 2 else x


@pytest.mark.parametrize("sigma,augmult", [(0.0, 1), (1.5, 1), (1.5, 2)])
def test_padded_poisson_batch_gives_the_same_update_as_unpadded(digits, sigma, augmult):
    x, y = digits_batch(digits, 5)
    x = _views(x, augmult)
    config = dpzoo.DPConfig(l2_norm_clip=0.5, noise_multiplier=sigma, expected_batch_size=8, seed=3, augmult=augmult)
    unpadded = one_step_update(tiny_cnn, x, y, np.ones(5, np.float32), config)
    garbage_x, garbage_y = digits_batch(digits, 3, offset=100)
    garbage_x = _views(garbage_x, augmult)
    padded = one_step_update(
        tiny_cnn,
        np.concatenate([x, garbage_x]),
        np.concatenate([y, garbage_y]),
        np.array([1, 1, 1, 1, 1, 0, 0, 0], np.float32),
        config,
    )
    for a, b in zip(unpadded, padded, strict=True):
        np.testing.assert_allclose(a, b, rtol=1e-5, atol=1e-7)
    assert any(np.abs(u).max() > 0 for u in unpadded)


def test_update_is_clipped_sum_over_expected_batch_size(digits):
    """Without noise the SGD(lr=1) update is -(sum of clipped gradients) / B, B the expected size."""
    from tests.privacy.clipping.test_vectorized import brute_force_gradients

    x, y = digits_batch(digits, 6)
    clip, batch = 0.05, 10
    update = one_step_update(
        tiny_cnn,
        x,
        y,
        np.ones(6, np.float32),
        dpzoo.DPConfig(l2_norm_clip=clip, noise_multiplier=0.0, expected_batch_size=batch),
    )
    grads = brute_force_gradients(tiny_cnn(), x, y)
    norms = np.sqrt(sum(np.sum(g.reshape(6, -1) ** 2, axis=1) for g in grads))
    factors = np.minimum(1.0, clip / norms)
    for u, g in zip(update, grads, strict=True):
        np.testing.assert_allclose(u, -np.tensordot(factors, g, axes=1) / batch, rtol=1e-4, atol=1e-7)


def test_batch_normalization_is_refused_on_a_formal_path():
    inputs = tf.keras.Input((8, 8, 1))
    x = tf.keras.layers.Conv2D(4, 3)(inputs)
    x = tf.keras.layers.BatchNormalization(name="bn")(x)
    model = tf.keras.Model(inputs, tf.keras.layers.Dense(10)(tf.keras.layers.Flatten()(x)))
    config = dpzoo.DPConfig(l2_norm_clip=1, noise_multiplier=1, expected_batch_size=8)
    with pytest.raises(UsageError, match="bn.*BatchNormalization.*GroupNormalization"):
        dpzoo.make_private(model, config)
    model.get_layer("bn").trainable = False  # frozen BN uses fixed statistics: allowed
    dpzoo.make_private(model, config)


def test_activity_regularizer_is_refused():
    model = tf.keras.Sequential(
        [tf.keras.Input((4,)), tf.keras.layers.Dense(3, activity_regularizer="l2", name="act_reg")]
    )
    with pytest.raises(UsageError, match="act_reg"):
        dpzoo.make_private(model, dpzoo.DPConfig(l2_norm_clip=1, noise_multiplier=1, expected_batch_size=8))


def test_compile_without_loss_is_refused():
    private = dpzoo.make_private(tiny_cnn(), dpzoo.DPConfig(l2_norm_clip=1, noise_multiplier=1, expected_batch_size=8))
    with pytest.raises(UsageError, match="loss"):
        private.compile(optimizer="sgd")


@pytest.mark.parametrize(
    "field, value, message",
    [
        ("l2_norm_clip", 0.0, "l2_norm_clip=0.0 > 0"),
        ("noise_multiplier", -1.0, "noise_multiplier=-1.0 >= 0"),
        ("expected_batch_size", 0, "expected_batch_size=0 > 0"),
        ("clipping", "magic", "clipping='magic'"),
        ("clipping_norm", "linf", "clipping_norm='linf'"),
        ("linf_p", 100.0, "only used with clipping_norm='l2\\+linf'"),
        ({"clipping_norm": "l2+linf"}, None, "linf_p=None >= 1"),
        ({"clipping_norm": "l2+linf", "linf_p": 0.5}, None, "linf_p=0.5 >= 1"),
    ],
)
def test_dp_config_validates(field, value, message):
    fields = field if isinstance(field, dict) else {field: value}
    kwargs = dict(l2_norm_clip=1.0, noise_multiplier=1.0, expected_batch_size=8) | fields
    with pytest.raises(UsageError, match=message):
        dpzoo.DPConfig(**kwargs)


@pytest.mark.parametrize("clipping", ["vectorized", "ghost"])
@pytest.mark.parametrize("augmult", [1, 3])
def test_xla_step_equals_the_graph_step_without_noise(digits, augmult, clipping):
    """XLA changes no arithmetic that matters; with noise only the draw differs (XLA lowers the
    seeded generator's sampler differently), which the noise-std test checks under XLA too.
    With K = 3 views per example (a padded Poisson batch: the last two rows are masked)."""
    x, y = digits_batch(digits, 12)
    if augmult > 1:
        x = np.stack([x, x[:, :, ::-1], np.roll(x, 1, axis=2)], axis=1)
    results = []
    for jit in (False, True):
        model = tiny_cnn()
        config = dpzoo.DPConfig(
            l2_norm_clip=0.5, noise_multiplier=0.0, expected_batch_size=12, augmult=augmult, clipping=clipping
        )
        private = dpzoo.make_private(model, config)
        private.compile(optimizer=tf.keras.optimizers.SGD(0.5), loss=SPARSE_CE, jit_compile=jit)
        for _ in range(3):
            private.train_on_batch(x, y, sample_weight=np.array([1.0] * 10 + [0.0] * 2, np.float32))
        results.append([v.numpy() for v in model.trainable_variables])
    for a, b in zip(*results, strict=True):
        np.testing.assert_allclose(a, b, rtol=1e-5, atol=1e-6)


@pytest.mark.parametrize("strategy", ["ghost", "auto"])
def test_ghost_strategies_give_the_vectorised_update(digits, strategy):
    x, y = digits_batch(digits, 8)
    mask = np.array([1, 1, 1, 0, 1, 1, 1, 1], np.float32)
    config = dpzoo.DPConfig(l2_norm_clip=0.05, noise_multiplier=0.0, expected_batch_size=8)
    want = one_step_update(tiny_cnn, x, y, mask, config)
    got = one_step_update(tiny_cnn, x, y, mask, dataclasses.replace(config, clipping=strategy))
    for a, b in zip(got, want, strict=True):
        np.testing.assert_allclose(a, b, rtol=1e-4, atol=1e-7)


def mixed_model(seed=0):
    """Registered layers (Conv2D, Dense) around an unregistered trainable one (PReLU)."""
    tf.keras.utils.set_random_seed(seed)
    inputs = tf.keras.Input((8, 8, 1))
    x = tf.keras.layers.Conv2D(3, 3, strides=2)(inputs)
    x = tf.keras.layers.PReLU(alpha_initializer=tf.keras.initializers.Constant(0.3))(x)  # no norm function
    return tf.keras.Model(inputs, tf.keras.layers.Dense(10)(tf.keras.layers.Flatten()(x)))


def test_refined_clipping_runs_vectorised_and_its_update_is_the_clamped_sum(digits):
    """clipping_norm="l2+linf" needs per-example gradients: ghost is refused, auto picks the
    vectorised path, and the SGD(lr=1) update is -(sum of L2-clipped, then clamped gradients) / B."""
    from tests.privacy.clipping.test_vectorized import brute_force_gradients

    config = dpzoo.DPConfig(
        l2_norm_clip=0.05, noise_multiplier=0.0, expected_batch_size=8, clipping_norm="l2+linf", linf_p=400.0
    )
    with pytest.raises(UsageError, match="refined clipping.*materialised"):
        dpzoo.make_private(tiny_cnn(), dataclasses.replace(config, clipping="ghost"))
    assert dpzoo.make_private(tiny_cnn(), config)._ghost is None
    x, y = digits_batch(digits, 6)
    update = one_step_update(tiny_cnn, x, y, np.ones(6, np.float32), config)
    grads = brute_force_gradients(tiny_cnn(), x, y)
    norms = np.sqrt(sum(np.sum(g.reshape(6, -1) ** 2, axis=1) for g in grads))
    factors = np.minimum(1.0, 0.05 / norms)
    linf = 0.05 / 20.0
    for u, g in zip(update, grads, strict=True):
        clamped = np.clip(g * factors.reshape(-1, *[1] * (g.ndim - 1)), -linf, linf)
        np.testing.assert_allclose(u, -clamped.sum(axis=0) / 8, rtol=1e-4, atol=1e-7)


def test_ghost_refuses_and_auto_falls_back_for_unregistered_layers(digits):
    """A model mixing registered and unregistered layers: ghost names the layer; auto (the
    default) trains it with the vectorised strategy, and the update is the brute-force clipped sum."""
    from tests.privacy.clipping.test_vectorized import brute_force_gradients

    config = dpzoo.DPConfig(l2_norm_clip=0.05, noise_multiplier=0.0, expected_batch_size=8)
    with pytest.raises(UsageError, match="PReLU"):
        dpzoo.make_private(mixed_model(), dataclasses.replace(config, clipping="ghost"))
    assert dpzoo.make_private(mixed_model(), config)._ghost is None
    x, y = digits_batch(digits, 8)
    mask = np.array([1, 1, 0, 1, 1, 1, 1, 1], np.float32)
    update = one_step_update(mixed_model, x, y, mask, config)
    grads = brute_force_gradients(mixed_model(), x, y)
    norms = np.sqrt(sum(np.sum(g.reshape(8, -1) ** 2, axis=1) for g in grads))
    factors = np.minimum(1.0, 0.05 / norms) * mask
    assert (factors[mask > 0] < 1).all()  # every real example is clipped: the test sees clipping
    for u, g in zip(update, grads, strict=True):
        np.testing.assert_allclose(u, -np.tensordot(factors, g, axes=1) / 8, rtol=1e-4, atol=1e-7)


def gaussian_model(extra_layer=None) -> tf.keras.Model:
    inputs = tf.keras.Input((8, 8, 1))
    x = GaussianConv2D(3, 3, strides=2, seed=1)(inputs)
    x = extra_layer(x) if extra_layer else tf.keras.layers.ReLU()(x)
    return tf.keras.Model(inputs, GaussianDense(10, seed=2)(tf.keras.layers.Flatten()(x)))


def test_gaussian_weight_layers_are_refused_on_the_vectorised_path():
    """One noisy weight draw per batch forward pass: only ghost clipping runs the batch in one
    pass, so vectorised clipping (forced, or auto's fallback) is refused."""
    config = dpzoo.DPConfig(l2_norm_clip=1.0, noise_multiplier=0.0, expected_batch_size=8)
    assert dpzoo.make_private(gaussian_model(), config)._ghost is not None
    with pytest.raises(UsageError, match="Gaussian weight layers.*clipping='ghost'"):
        dpzoo.make_private(gaussian_model(), dataclasses.replace(config, clipping="vectorized"))
    with pytest.raises(UsageError, match="Gaussian weight layers.*PReLU"):
        dpzoo.make_private(gaussian_model(tf.keras.layers.PReLU()), config)


def test_ghost_update_with_gaussian_layers_is_the_clipped_sum_at_the_sampled_weights(digits):
    """SIDP's step (METHODS.md 2): one draw W~ = W + N(0, s^2) for the batch, per-example
    gradients at W~, each clipped, summed. The same W~ is re-drawn from the saved generator
    states and the update compared with a loop over single examples of a plain model at W~."""
    from tests.privacy.clipping.test_vectorized import brute_force_gradients

    model = gaussian_model()
    set_weight_noise_stddev(model, 0.05)
    layers = [layer for layer in model.layers if isinstance(layer, (GaussianConv2D, GaussianDense))]
    states = [layer.noise_generator.state.numpy() for layer in layers]
    before = [v.numpy() for v in model.trainable_variables]
    x, y = digits_batch(digits, 8)
    mask = np.array([1, 1, 0, 1, 1, 1, 1, 1], np.float32)
    config = dpzoo.DPConfig(l2_norm_clip=0.05, noise_multiplier=0.0, expected_batch_size=8)
    update = one_step_update(lambda: model, x, y, mask, config)
    sampled = []
    for layer, state in zip(layers, states, strict=True):
        layer.noise_generator.state.assign(state)
        for weight in (layer.kernel, layer.bias):  # the order the layer's call draws them in
            sampled.append(layer.noisy(tf.zeros_like(weight), training=True).numpy())
    plain = tf.keras.Sequential(
        [tf.keras.Input((8, 8, 1)), tf.keras.layers.Conv2D(3, 3, strides=2), tf.keras.layers.ReLU()]
        + [tf.keras.layers.Flatten(), tf.keras.layers.Dense(10)]
    )
    plain.set_weights([w + noise for w, noise in zip(before, sampled, strict=True)])
    assert all(np.abs(noise).max() > 0.01 for noise in sampled)  # W~ differs from W
    grads = brute_force_gradients(plain, x, y)
    norms = np.sqrt(sum(np.sum(g.reshape(8, -1) ** 2, axis=1) for g in grads))
    factors = np.minimum(1.0, 0.05 / norms) * mask
    assert (factors[mask > 0] < 1).all()
    for u, g in zip(update, grads, strict=True):
        np.testing.assert_allclose(u, -np.tensordot(factors, g, axes=1) / 8, rtol=1e-4, atol=1e-7)


@pytest.mark.parametrize("schedule", [False, True], ids=["constant-lr", "lr-schedule"])
def test_weight_noise_std_follows_the_learning_rate(digits, schedule):
    """s = lr_t * C * sigma_w / B (Davody et al. 2020), set before each step's forward pass."""
    config = dpzoo.DPConfig(l2_norm_clip=0.5, noise_multiplier=0.0, expected_batch_size=8, weight_noise_multiplier=2.0)
    private = dpzoo.make_private(gaussian_model(), config)
    lr = tf.keras.optimizers.schedules.PiecewiseConstantDecay([0], [0.5, 0.1]) if schedule else 0.3
    private.compile(optimizer=tf.keras.optimizers.SGD(lr), loss=SPARSE_CE)
    x, y = digits_batch(digits, 8)
    for lr_t in [0.5, 0.1, 0.1] if schedule else [0.3, 0.3]:
        private.train_on_batch(x, y)
        for layer in gaussian_layers(private.inner):
            assert float(layer.weight_noise_stddev) == pytest.approx(lr_t * 0.5 * 2.0 / 8)


def test_weight_noise_needs_gaussian_layers():
    config = dpzoo.DPConfig(l2_norm_clip=1.0, noise_multiplier=1.0, expected_batch_size=8, weight_noise_multiplier=1.0)
    with pytest.raises(UsageError, match="no Gaussian weight layers"):
        dpzoo.make_private(tiny_cnn(), config)
