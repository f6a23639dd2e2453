"""DP-SGD's epsilon against dp_accounting computed directly; calibration; step budgets."""

import math

import dp_accounting
import pytest
from dp_accounting import pld, rdp

from dpzoo import accounting
from dpzoo.accounting import dpsgd
from dpzoo.common.errors import UsageError

RUN = dict(n=60_000, batch_size=256, noise_multiplier=1.1, steps=2340, delta=1e-5)


def direct_poisson_epsilon(accountant):
    event = dp_accounting.SelfComposedDpEvent(
        dp_accounting.PoissonSampledDpEvent(256 / 60_000, dp_accounting.GaussianDpEvent(1.1)), 2340
    )
    return accountant.compose(event).get_epsilon(1e-5)


def test_pld_epsilon_equals_dp_accounting_directly():
    assert accounting.epsilon(**RUN) == pytest.approx(direct_poisson_epsilon(pld.PLDAccountant()), rel=1e-9)


def test_rdp_epsilon_equals_dp_accounting_directly():
    got = accounting.epsilon(**RUN, accountant="rdp")
    assert got == pytest.approx(direct_poisson_epsilon(rdp.RdpAccountant(list(accounting.RDP_ORDERS))), rel=1e-9)
    assert got > accounting.epsilon(**RUN)  # RDP is the looser accountant


def test_shuffle_is_accounted_without_amplification():
    """10 epochs of shuffled batches: each example in 10 Gaussian mechanisms, no subsampling."""
    got = accounting.epsilon(**RUN | {"steps": 2340}, sampling="shuffle")
    epochs = math.ceil(2340 / (60_000 // 256))
    composed = dp_accounting.SelfComposedDpEvent(dp_accounting.GaussianDpEvent(1.1), epochs)
    want = rdp.RdpAccountant(list(accounting.RDP_ORDERS)).compose(composed).get_epsilon(1e-5)
    assert got <= want  # PLD of the exact composition is tighter than RDP of it ...
    assert got > 5 * accounting.epsilon(**RUN)  # ... and far above the amplified Poisson number


def test_epsilon_edge_cases():
    assert accounting.epsilon(**RUN | {"steps": 0}) == 0.0
    assert math.isinf(accounting.epsilon(**RUN | {"noise_multiplier": 0.0}))
    with pytest.raises(UsageError, match="delta"):
        accounting.epsilon(**RUN | {"delta": 1.5})
    with pytest.raises(UsageError, match="batch_size"):
        accounting.epsilon(**RUN | {"batch_size": 70_000})


def test_calibration_meets_the_target_with_the_smallest_sigma():
    kwargs = dict(delta=1e-5, n=60_000, batch_size=256, epochs=10)
    sigma = accounting.calibrate_noise(target_epsilon=2.0, **kwargs)
    steps = 10 * accounting.steps_per_epoch(60_000, 256, "poisson")
    eps = lambda s: accounting.epsilon(n=60_000, batch_size=256, noise_multiplier=s, steps=steps, delta=1e-5)
    assert eps(sigma) <= 2.0 + 1e-3
    assert eps(sigma * 0.99) > 2.0


def test_unreachable_target_is_refused():
    with pytest.raises(UsageError, match="cannot be met"):
        accounting.calibrate_noise(
            target_epsilon=1e-4, delta=1e-5, n=100, batch_size=100, epochs=500, sampling="shuffle"
        )


@pytest.mark.parametrize("accountant,sampling", [("pld", "poisson"), ("rdp", "poisson"), ("pld", "shuffle")])
def test_max_steps_never_overshoots_the_target(accountant, sampling):
    """T = max_steps: epsilon(T) <= target < epsilon(T + 1), both from dp_accounting directly."""
    run = dict(n=60_000, batch_size=2048, noise_multiplier=2.0, delta=1e-5, sampling=sampling)
    steps = accounting.max_steps(target_epsilon=2.0, accountant=accountant, **run)

    def direct(t):
        event = accounting.dp_event(n=60_000, batch_size=2048, noise_multiplier=2.0, steps=t, sampling=sampling)
        return dpsgd._composed_epsilon(event, 1e-5, accountant)

    assert direct(steps) <= 2.0
    if sampling == "poisson":
        assert direct(steps + 1) > 2.0
        if accountant == "pld":  # against a PLD accountant built here, with dpzoo's grid
            event = dp_accounting.SelfComposedDpEvent(
                dp_accounting.PoissonSampledDpEvent(2048 / 60_000, dp_accounting.GaussianDpEvent(2.0)), steps + 1
            )
            assert pld.PLDAccountant(value_discretization_interval=1e-4).compose(event).get_epsilon(1e-5) > 2.0
    else:  # shuffled: epsilon only grows when a new epoch starts
        next_epoch = steps + 1
        assert next_epoch % 29 == 1 and direct(next_epoch) > 2.0


def test_max_steps_refuses_a_budget_below_one_step():
    with pytest.raises(UsageError, match="single step"):
        accounting.max_steps(target_epsilon=0.01, delta=1e-5, n=1000, batch_size=500, noise_multiplier=0.5)
