"""ModelMix's mixing step against a hand computation, its gap, coverage, guards and checkpoint."""

import numpy as np
import pytest
import tensorflow as tf

import dpzoo
from dpzoo.common import keras_api
from dpzoo.common.errors import UsageError
from dpzoo.methods.modelmix import ModelMix, enforce_gap
from tests.conftest import SPARSE_CE, digits_batch, tiny_cnn


def _compiled(optimizer=None, seed=0, **compile_kwargs) -> tf.keras.Model:
    model = tiny_cnn(seed=seed)
    model.compile(optimizer=optimizer or tf.keras.optimizers.SGD(0.5), loss=SPARSE_CE, **compile_kwargs)
    return model


def _fit(model, x, y, steps, callbacks):
    """``steps`` full-batch steps on (x, y), in order (one step per epoch); the History."""
    return model.fit(x, y, batch_size=len(x), epochs=steps, shuffle=False, verbose=0, callbacks=callbacks)


def test_enforce_gap_moves_close_pairs_apart_symmetrically():
    newer = tf.constant([0.0, 0.01, -0.01, 1.0, 0.3])
    older = tf.constant([0.0, 0.0, 0.0, 0.0, 0.35])
    got_newer, got_older = enforce_gap(newer, older, tf.constant(0.1))
    # equal: newer up by tau/2; |gap| < tau: apart by tau/2 each in the gap's direction; 1.0: left alone
    np.testing.assert_allclose(got_newer.numpy(), [0.05, 0.06, -0.06, 1.0, 0.25], atol=1e-7)
    np.testing.assert_allclose(got_older.numpy(), [-0.05, -0.05, 0.05, 0.0, 0.4], atol=1e-7)
    assert np.all(np.abs(got_newer.numpy() - got_older.numpy()) >= 0.1 - 1e-7)


@pytest.mark.parametrize("mixing", ["uniform", "fixed"])
def test_mixing_steps_equal_a_hand_computation(digits, mixing):
    """Three steps of SGD + ModelMix against numpy: gradient at w_{k-1}, gap enforced from
    w_{-1} = w_0, a from a generator with the same seed drawn in the variables' order (a = 1 for
    the "fixed" ablation); and each step's logged mixing_rms, the RMS of how far mixing moved
    the weights from w_{k-1} before the SGD update."""
    x, y = digits_batch(digits, 16)
    rms = []
    lr, tau, seed = 0.5, 0.02, 7
    model = _compiled(tf.keras.optimizers.SGD(lr))
    reference = tiny_cnn()  # same initial weights (same seed)
    current = [v.numpy() for v in reference.trainable_variables]
    older = [w.copy() for w in current]
    draws = tf.random.Generator.from_seed(seed)
    for _ in range(3):
        for v, w in zip(reference.trainable_variables, current, strict=True):
            v.assign(w)
        with tf.GradientTape() as tape:
            loss = SPARSE_CE(y, reference(x, training=True))
        grads = [g.numpy() for g in tape.gradient(loss, reference.trainable_variables)]
        following, squares = [], []
        for i, (w, o, g) in enumerate(zip(current, older, grads, strict=True)):
            sign = np.where(w >= o, 1.0, -1.0)
            shift = np.where(np.abs(w - o) < tau, sign * tau / 2, 0.0)
            a = draws.uniform(w.shape).numpy()
            a = np.ones_like(a) if mixing == "fixed" else a
            mixed = a * (w + shift) + (1 - a) * (o - shift)
            squares.append((mixed - w).ravel() ** 2)
            following.append(mixed - lr * g)
            older[i] = w + shift
        current = following
        rms.append(np.sqrt(np.concatenate(squares).mean()))
    history = _fit(model, x, y, 3, [ModelMix(tau=tau, seed=seed, mixing=mixing)])
    for got, want in zip(model.trainable_variables, current, strict=True):
        np.testing.assert_allclose(got.numpy(), want, rtol=1e-4, atol=1e-6)
    np.testing.assert_allclose(history.history["mixing_rms"], rms, rtol=1e-4)
    # the first gap is enforced from zero, so each coordinate moves by (2a - 1) tau / 2: an RMS of
    # tau / 2 with a = 1, of tau / (2 sqrt(3)) with a ~ U[0, 1] (about 700 coordinates)
    expected = tau / 2 if mixing == "fixed" else tau / (2 * np.sqrt(3))
    assert abs(rms[0] / expected - 1) < 0.1


def test_every_trainable_variable_is_mixed_in_a_private_run(digits):
    """With the DP engine, each variable ends away from where plain DP-SGD takes it, and the
    mixing state holds one previous state per trainable variable."""
    x, y = digits_batch(digits, 16)
    config = dpzoo.DPConfig(l2_norm_clip=1.0, noise_multiplier=0.0, expected_batch_size=16)

    def private():
        model = dpzoo.make_private(tiny_cnn(), config)
        model.compile(optimizer=tf.keras.optimizers.SGD(0.5), loss=SPARSE_CE)
        return model

    plain, mixed = private(), private()
    callback = ModelMix(tau=0.01, seed=1)
    _fit(plain, x, y, 2, [])
    _fit(mixed, x, y, 2, [callback])
    assert len(callback.state.older) == len(mixed.trainable_variables) == 6
    assert callback.violations() == []
    for a, b in zip(plain.trainable_variables, mixed.trainable_variables, strict=True):
        assert np.abs(a.numpy() - b.numpy()).max() > 1e-4, b.name


def test_tau_ratio_sets_the_gap_from_the_learning_rate(digits):
    x, y = digits_batch(digits, 8)
    model = _compiled(tf.keras.optimizers.SGD(0.4))
    callback = ModelMix(tau_ratio=0.15, seed=0)
    _fit(model, x, y, 1, [callback])
    assert callback.gap == pytest.approx(0.06)


@pytest.mark.parametrize(
    "optimizer, reason",
    [
        (lambda: tf.keras.optimizers.SGD(0.1, momentum=0.9), "SGD with momentum 0.9"),
        (lambda: tf.keras.optimizers.Adam(0.1), "Adam"),
        (lambda: tf.keras.optimizers.SGD(0.1), None),
    ],
)
def test_violations_name_a_momentum_or_adaptive_optimizer(digits, optimizer, reason):
    model = _compiled(optimizer())
    callback = ModelMix(tau=0.01)
    callback.set_model(model)
    found = "; ".join(callback.violations())
    assert (reason in found) if reason else found == ""


def test_a_variable_made_trainable_after_attaching_is_reported_unmixed():
    model = _compiled()
    dense = model.layers[-1]
    dense.trainable = False
    callback = ModelMix(tau=0.01)
    callback.set_model(model)
    dense.trainable = True
    assert sorted(callback.unmixed_variables()) == sorted(keras_api.variable_name(v) for v in dense.trainable_variables)
    assert "are not mixed" in "; ".join(callback.violations())


def test_resuming_from_a_checkpoint_continues_the_same_mixing(digits, tmp_path):
    x, y = digits_batch(digits, 16)
    model, callback = _compiled(), ModelMix(tau=0.02, seed=3)
    _fit(model, x, y, 2, [callback])
    path = tf.train.Checkpoint(model=model, modelmix=callback.state).write(str(tmp_path / "ckpt"))
    _fit(model, x, y, 1, [callback])

    resumed, fresh = _compiled(seed=1), ModelMix(tau=0.02, seed=99)  # other weights, other seed
    resumed.optimizer.build(resumed.trainable_variables)
    fresh.set_model(resumed)
    tf.train.Checkpoint(model=resumed, modelmix=fresh.state).read(path).assert_existing_objects_matched()
    _fit(resumed, x, y, 1, [fresh])
    for a, b in zip(model.trainable_variables, resumed.trainable_variables, strict=True):
        np.testing.assert_allclose(a.numpy(), b.numpy(), rtol=1e-6, atol=1e-7)


def test_several_steps_per_execution_are_refused(digits):
    x, y = digits_batch(digits, 8)
    with pytest.raises(UsageError, match="steps_per_execution=1"):
        _fit(_compiled(steps_per_execution=2), x, y, 1, [ModelMix(tau=0.01)])


@pytest.mark.parametrize("kwargs", [{}, {"tau": 0.1, "tau_ratio": 0.1}])
def test_exactly_one_of_tau_and_tau_ratio(kwargs):
    with pytest.raises(UsageError, match="exactly one of tau or tau_ratio"):
        ModelMix(**kwargs)
