"""Parameter averaging: EMA with warm-up and Polyak against hand computations."""

import numpy as np
import pytest
import tensorflow as tf

from dpzoo.common.errors import UsageError
from dpzoo.training.averaging import ParameterAveraging, ema_decay


def test_ema_decay_warms_up_then_caps_at_mu():
    assert float(ema_decay(0, 0.999)) == pytest.approx(1 / 10)
    assert float(ema_decay(5, 0.999)) == pytest.approx(6 / 15)
    assert float(ema_decay(10**6, 0.999)) == pytest.approx(0.999)
    assert float(ema_decay(10**6, 0.9)) == pytest.approx(0.9)


def averaging_over(trajectory, mu):
    """Runs the callback over a given parameter trajectory; returns it."""
    model = tf.keras.Sequential([tf.keras.Input((3,)), tf.keras.layers.Dense(2)])
    model.set_weights([trajectory[0][0], trajectory[0][1]])
    averaging = ParameterAveraging(mu)
    averaging.set_model(model)
    for kernel, bias in trajectory[1:]:
        model.set_weights([kernel, bias])
        averaging.on_train_batch_end(0)
    return model, averaging


def test_ema_and_polyak_match_hand_computation():
    rng = np.random.default_rng(0)
    trajectory = [(rng.normal(size=(3, 2)), rng.normal(size=2)) for _ in range(6)]
    trajectory = [(k.astype(np.float32), b.astype(np.float32)) for k, b in trajectory]
    mu = 0.3  # small enough that the cap is reached inside five updates (warm-up: 0.1, 0.18, 0.25, 0.3)
    _, averaging = averaging_over(trajectory, mu)
    for index in range(2):
        ema = trajectory[0][index].astype(np.float64)
        for t, params in enumerate(trajectory[1:]):
            decay = min(mu, (1 + t) / (10 + t))
            ema = decay * ema + (1 - decay) * params[index]
        polyak = np.mean([params[index] for params in trajectory[1:]], axis=0)
        np.testing.assert_allclose(averaging.ema[index].numpy(), ema, rtol=1e-5)
        np.testing.assert_allclose(averaging.polyak[index].numpy(), polyak, rtol=1e-5)
    assert int(averaging.updates.numpy()) == 5


def test_swapped_in_restores_raw_weights_and_use_keeps_average():
    rng = np.random.default_rng(1)
    trajectory = [(rng.normal(size=(3, 2)).astype(np.float32), rng.normal(size=2).astype(np.float32)) for _ in range(4)]
    model, averaging = averaging_over(trajectory, 0.999)
    raw = [w.copy() for w in model.get_weights()]
    with averaging.swapped_in("polyak"):
        np.testing.assert_allclose(model.get_weights()[0], averaging.polyak[0].numpy())
    np.testing.assert_array_equal(model.get_weights()[0], raw[0])
    averaging.use("ema")
    np.testing.assert_allclose(model.get_weights()[1], averaging.ema[1].numpy())


def test_bad_averaging_settings_are_refused():
    with pytest.raises(UsageError, match="eval_weights"):
        ParameterAveraging(0.99, "median")
    with pytest.raises(UsageError, match="ema_decay"):
        ParameterAveraging(1.5)
