"""The learning-rate schedule (``lr_schedule``): cosine decays the learning rate from its value
to 0 over the run's steps, counted by the optimizer (one per logical step, restored on a resume:
the virtual-batch case of test_resume runs with it), and the engine that cannot take it refuses."""

import math

import numpy as np
import pytest

from dpzoo.common.learning_rate import upcoming_learning_rate
from dpzoo.training import TrainConfig, engines


def test_cosine_decays_from_the_learning_rate_to_zero_over_the_run():
    config = TrainConfig(noise_multiplier=1.0, learning_rate=2.0, optimizer="momentum", lr_schedule="cosine")
    optimizer = engines.make_optimizer(config, steps=10)
    seen = []
    for step in range(11):
        optimizer.iterations.assign(step)
        seen.append(float(upcoming_learning_rate(optimizer)))
    want = [2.0 * 0.5 * (1 + math.cos(math.pi * t / 10)) for t in range(11)]
    np.testing.assert_allclose(seen, want, rtol=1e-5, atol=1e-6)
    assert seen[0] == pytest.approx(2.0) and seen[-1] == pytest.approx(0.0, abs=1e-6)


def test_the_constant_schedule_is_the_learning_rate():
    optimizer = engines.make_optimizer(TrainConfig(noise_multiplier=1.0, learning_rate=0.3), steps=10)
    optimizer.iterations.assign(9)
    assert float(upcoming_learning_rate(optimizer)) == pytest.approx(0.3)


def test_every_engine_takes_a_schedule():
    """TF Privacy's engine applies its query's result with any Keras optimizer, schedules included."""
    for name in engines.names():
        sigma = 1.0 if engines.get(name).private else None
        config = TrainConfig(noise_multiplier=sigma, engine=name, lr_schedule="cosine", learning_rate=0.3)
        optimizer = engines.make_optimizer(config, steps=10)
        optimizer.iterations.assign(5)
        assert float(upcoming_learning_rate(optimizer)) < 0.3
