"""The PLD accountant that builds each DP-SGD step's distribution once gives dp_accounting's
PLDAccountant's numbers to the last bit, however often a step is reused, and epsilons and
calibrations are computed once per process."""

import dp_accounting
import pytest
from dp_accounting import pld

from dpzoo.accounting import dpsgd, pld_steps


def _step(sampling_rate: float, noise_multiplier: float, steps: int) -> dp_accounting.DpEvent:
    return dp_accounting.SelfComposedDpEvent(
        dp_accounting.PoissonSampledDpEvent(sampling_rate, dp_accounting.GaussianDpEvent(noise_multiplier)), steps
    )


EVENTS = [
    _step(0.125, 1.0, 32),
    _step(0.2731, 13.09, 160),
    _step(0.01, 0.8, 1000),
    dp_accounting.ComposedDpEvent([dp_accounting.GaussianDpEvent(32.0), _step(0.2731, 8.4, 480)]),
    dp_accounting.GaussianDpEvent(2.0),  # not a step: dp_accounting's own path
]


@pytest.mark.parametrize("event", EVENTS, ids=range(len(EVENTS)))
@pytest.mark.parametrize("grid", [1e-4, 1e-3])
def test_every_epsilon_and_delta_is_dp_accountings_to_the_last_bit(event, grid):
    want = pld.PLDAccountant(value_discretization_interval=grid).compose(event)
    for _ in range(2):  # built, then taken from the cache
        got = pld_steps.StepCachingPLDAccountant(value_discretization_interval=grid).compose(event)
        assert got.get_epsilon(1e-5) == want.get_epsilon(1e-5)
        assert got.get_delta(1.0) == want.get_delta(1.0)


def test_a_step_is_built_once_and_composing_it_leaves_it_unchanged():
    step = _step(0.125, 0.9, 1)
    pld_steps.subsampled_gaussian_pld.cache_clear()
    accountant = pld_steps.StepCachingPLDAccountant()
    for _ in range(3):  # three compositions of the same step in one accountant, then in others
        accountant.compose(step)
    for steps in (1, 10, 50):
        pld_steps.StepCachingPLDAccountant().compose(_step(0.125, 0.9, steps))
    info = pld_steps.subsampled_gaussian_pld.cache_info()
    assert info.misses == 1 and info.hits == 5
    assert accountant.get_epsilon(1e-5) == pld.PLDAccountant().compose(step).compose(step).compose(step).get_epsilon(
        1e-5
    )
    fresh = pld_steps.StepCachingPLDAccountant().compose(_step(0.125, 0.9, 50))
    assert fresh.get_epsilon(1e-5) == pld.PLDAccountant().compose(_step(0.125, 0.9, 50)).get_epsilon(1e-5)


def test_the_grid_is_part_of_a_steps_key():
    """A cache keyed by the step alone would answer the coarse grid with the fine grid's PLD."""
    event = _step(0.125, 1.0, 32)
    fine = pld_steps.StepCachingPLDAccountant(value_discretization_interval=1e-4).compose(event).get_epsilon(1e-5)
    coarse = pld_steps.StepCachingPLDAccountant(value_discretization_interval=1e-2).compose(event).get_epsilon(1e-5)
    assert coarse == pld.PLDAccountant(value_discretization_interval=1e-2).compose(event).get_epsilon(1e-5)
    assert coarse != fine


def test_an_epsilon_is_computed_once_per_process(monkeypatch):
    calls = []
    computed = dpsgd._computed_epsilon
    monkeypatch.setattr(dpsgd, "_computed_epsilon", lambda *args: calls.append(args) or computed(*args))
    run = dict(n=60000, batch_size=16384, noise_multiplier=13.0123, delta=1e-5)  # a sigma no other test uses
    first = [dpsgd.epsilon(**run, steps=steps) for steps in (4, 8)]
    again = [dpsgd.epsilon(**run, steps=steps) for steps in (4, 8)]
    assert first == again and len(calls) == 2 and first[0] < first[1]
    event = dpsgd.dp_event(n=60000, batch_size=16384, noise_multiplier=13.0123, steps=8, sampling="poisson")
    want = pld.PLDAccountant().compose(event).get_epsilon(1e-5)
    assert first[1] == pytest.approx(want, rel=1e-9)  # the RDP-set grid is 1e-4 below epsilon 10


def test_a_calibration_is_computed_once_per_process():
    settings = dict(target_epsilon=1.5, delta=1e-5, n=1000, batch_size=50, epochs=3.0)
    before = dpsgd.calibrate_noise.cache_info()
    sigma = dpsgd.calibrate_noise(**settings)
    assert dpsgd.calibrate_noise(**settings) == sigma
    after = dpsgd.calibrate_noise.cache_info()
    assert after.misses == before.misses + 1 and after.hits == before.hits + 1
    steps = 3 * dpsgd.steps_per_epoch(1000, 50, "poisson")
    assert dpsgd.epsilon(n=1000, batch_size=50, noise_multiplier=sigma, steps=steps, delta=1e-5) <= 1.5
