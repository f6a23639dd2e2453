"""White-box gradient canaries (dpzoo.privacy.canaries) and the one-run audit they feed
(METHODS.md section 7), on real digits.

A correct engine's audit stays below its claim and its noise check finds the claimed sigma.
Three deliberately broken engines, each claiming epsilon 1, are caught: noise a quarter of the
claim by both bounds; one variable left out of the per-example norm by the one-run bound (above
1; the noise is as claimed there, so the parametric bound cannot see it); two replicas each adding
noise of std sigma C / 2 by the parametric bound from the noise check (above 1, near the bug's
true epsilon of 1.6), which one run's guesses cannot refute (bound 0.70 here; about 0.8 with even
50,000 canaries, simulated).
"""

import numpy as np
import pytest
import tensorflow as tf

import dpzoo
from dpzoo.accounting import dpsgd
from dpzoo.privacy import PrivateModel, canaries
from dpzoo.privacy.clipping import vectorized
from tests.conftest import SPARSE_CE, digits_batch

CLAIMED_EPSILON, DELTA = 1.0, 1e-5
N, BATCH, STEPS = 640, 64, 40  # the canaries' Poisson rate q = B / N, as the accountant's
COUNT = 2000


def _mlp() -> tf.keras.Model:
    tf.keras.utils.set_random_seed(0)
    return tf.keras.Sequential(
        [
            tf.keras.Input((8, 8, 1)),
            tf.keras.layers.Flatten(),
            tf.keras.layers.Dense(32, "tanh"),
            tf.keras.layers.Dense(10),
        ]
    )


def _sigma() -> float:
    return dpsgd.calibrate_noise(
        target_epsilon=CLAIMED_EPSILON, delta=DELTA, n=N, batch_size=BATCH, epochs=STEPS * BATCH / N
    )


def audited_run(digits, *, model_class=PrivateModel, clipping="ghost", strategy=None, seed=0):
    """A private run of ``STEPS`` steps on real digits with ``COUNT`` canaries, and its audit."""
    strategy = strategy or tf.distribute.get_strategy()
    config = dpzoo.DPConfig(
        l2_norm_clip=1.0, noise_multiplier=_sigma(), expected_batch_size=BATCH, clipping=clipping, seed=seed
    )
    plan = canaries.CanaryPlan(count=COUNT, sampling_rate=BATCH / N, seed=seed)
    with strategy.scope():
        private = dpzoo.make_private(_mlp(), config, canaries=plan, model_class=model_class)
        private.compile(optimizer=tf.keras.optimizers.SGD(0.5), loss=SPARSE_CE)
    x, y = digits_batch(digits, BATCH)
    private.fit(tf.data.Dataset.from_tensors((x, y)).repeat(STEPS), epochs=1, verbose=0)
    assert int(private.canaries.steps.numpy()) == STEPS
    return canaries.audit(private.canaries, delta=DELTA)


def test_a_correct_engine_stays_below_its_claim(digits):
    result = audited_run(digits)
    assert result.epsilon_lower_bound <= CLAIMED_EPSILON
    assert result.noise.as_claimed
    assert 0.5 * CLAIMED_EPSILON < result.noise_epsilon_lower_bound <= CLAIMED_EPSILON


class _QuarterNoise(PrivateModel):
    def replica_noise_stddev(self):
        return super().replica_noise_stddev() / 4


def test_noise_a_quarter_of_the_claim_is_caught(digits):
    result = audited_run(digits, model_class=_QuarterNoise)
    assert result.epsilon_lower_bound > CLAIMED_EPSILON
    assert result.noise_epsilon_lower_bound > CLAIMED_EPSILON


def test_a_variable_left_out_of_the_norm_is_caught(digits, monkeypatch):
    monkeypatch.setattr(vectorized, "combined_norms", lambda squares: tf.sqrt(tf.add_n(list(squares)[1:])))
    result = audited_run(digits, clipping="vectorized")
    assert result.epsilon_lower_bound > CLAIMED_EPSILON
    assert result.noise_epsilon_lower_bound <= CLAIMED_EPSILON  # the noise is as claimed


class _NoisePerReplica(PrivateModel):
    """Every replica adds noise of std sigma C / 2: sigma C / sqrt(2) in all over 2 replicas."""

    def replica_noise_stddev(self):
        return self.dp_config.noise_stddev / tf.distribute.get_replica_context().num_replicas_in_sync


@pytest.fixture(scope="module")
def mirrored() -> tf.distribute.Strategy:
    from dpzoo.training import distribution  # the process's one strategy (see make_strategy)

    return distribution.make_strategy("mirrored")


def test_replicas_add_the_canaries_and_the_noise_once(digits, mirrored):
    assert mirrored.num_replicas_in_sync == 2
    result = audited_run(digits, strategy=mirrored)
    assert result.epsilon_lower_bound <= CLAIMED_EPSILON
    assert result.noise.as_claimed


def test_noise_added_per_replica_is_caught_by_the_parametric_bound(digits, mirrored):
    result = audited_run(digits, model_class=_NoisePerReplica, strategy=mirrored)
    assert result.noise.upper < 1.0
    assert result.noise.ratio == pytest.approx(2**-0.5, rel=0.02)
    true_epsilon = dpsgd.epsilon(
        n=N, batch_size=BATCH, noise_multiplier=_sigma() / 2**0.5, steps=STEPS, delta=DELTA, sampling="poisson"
    )
    assert CLAIMED_EPSILON < result.noise_epsilon_lower_bound <= true_epsilon < 2 * CLAIMED_EPSILON
    # one run's guesses cannot refute a claim of 1 here, and stay below the bug's true epsilon
    assert result.epsilon_lower_bound <= CLAIMED_EPSILON


def _steps(private, digits, steps: int) -> None:
    x, y = digits_batch(digits, BATCH)
    private.fit(tf.data.Dataset.from_tensors((x, y)).repeat(steps), epochs=1, verbose=0)


def _private_with_canaries(raw_norm_multiple=canaries.DEFAULT_RAW_NORM_MULTIPLE):
    config = dpzoo.DPConfig(l2_norm_clip=0.5, noise_multiplier=1.0, expected_batch_size=BATCH, seed=3)
    plan = canaries.CanaryPlan(count=500, sampling_rate=0.5, seed=1, raw_norm_multiple=raw_norm_multiple)
    private = dpzoo.make_private(_mlp(), config, canaries=plan)
    private.compile(optimizer=tf.keras.optimizers.SGD(0.5), loss=SPARSE_CE)
    return private


def test_canaries_are_distinct_dirac_vectors_clipped_to_c():
    private = _private_with_canaries()
    planted = private.canaries
    added = planted.clipped_gradients(tf.constant(1.0))
    drawn = planted.drawn().numpy()
    flat = np.concatenate([a.numpy().ravel() for a in added])
    assert 0 < drawn.sum() < planted.count and not drawn[~planted.included].any()
    np.testing.assert_allclose(np.sort(flat[flat != 0]), 0.5, rtol=1e-6)  # raw 10 C, clipped to C = 0.5
    assert np.count_nonzero(flat) == drawn.sum()  # one coordinate each, none shared
    assert 0.4 < planted.included.mean() < 0.6
    assert not any(a.numpy().any() for a in planted.clipped_gradients(tf.constant(0.0)))  # the other replicas


def test_canary_scores_resume_bitwise(digits, tmp_path):
    uninterrupted = _private_with_canaries()
    _steps(uninterrupted, digits, 6)
    first = _private_with_canaries()
    _steps(first, digits, 3)
    path = tf.train.Checkpoint(model=first, optimizer=first.optimizer).write(str(tmp_path / "ckpt"))
    resumed = _private_with_canaries()
    _steps(resumed, digits, 1)  # builds the optimizer's variables; the restore overwrites them all
    tf.train.Checkpoint(model=resumed, optimizer=resumed.optimizer).read(path).assert_existing_objects_matched()
    assert int(resumed.canaries.steps.numpy()) == 3
    _steps(resumed, digits, 3)
    np.testing.assert_array_equal(resumed.canaries.scores.numpy(), uninterrupted.canaries.scores.numpy())
    np.testing.assert_array_equal(resumed.canaries.squares.numpy(), uninterrupted.canaries.squares.numpy())
