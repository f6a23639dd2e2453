"""A release of the training set before DP-SGD (Tramer & Boneh's data normalisation) composed
into the run's epsilon: against dp_accounting composing both events itself, in calibration,
step budgets, ModelMix's RDP accountant and the ledger's statement."""

import dp_accounting
import numpy as np
import pytest
from dp_accounting import pld, rdp

from dpzoo import accounting
from dpzoo.accounting import modelmix

RUN = dict(n=60_000, batch_size=2048, noise_multiplier=2.0, steps=1170, delta=1e-5)
NORM_SIGMA = 8.0  # Tramer & Boneh's noise multiplier of the two statistics


def both_events_by_hand(noise_multiplier: float = RUN["noise_multiplier"], steps: int = RUN["steps"]):
    """The data normalisation's two Gaussian mechanisms, then the Poisson-sampled DP-SGD steps,
    written out with dp_accounting alone."""
    release = [dp_accounting.GaussianDpEvent(NORM_SIGMA), dp_accounting.GaussianDpEvent(NORM_SIGMA)]
    step = dp_accounting.PoissonSampledDpEvent(2048 / 60_000, dp_accounting.GaussianDpEvent(noise_multiplier))
    return dp_accounting.ComposedDpEvent([*release, dp_accounting.SelfComposedDpEvent(step, steps)])


@pytest.mark.parametrize(
    "name, make", [("pld", pld.PLDAccountant), ("rdp", lambda: rdp.RdpAccountant(list(accounting.RDP_ORDERS)))]
)
def test_composed_epsilon_equals_dp_accounting_composing_both_events(name, make):
    prior = accounting.data_normalization(NORM_SIGMA)
    got = accounting.epsilon(**RUN, accountant=name, prior=prior)
    want = make().compose(both_events_by_hand()).get_epsilon(1e-5)
    assert got == pytest.approx(want, rel=1e-6)
    # the bug this guards against: stating DP-SGD's epsilon alone, as if the statistics were free
    assert accounting.epsilon(**RUN, accountant=name) < 0.97 * want


def test_the_release_alone_and_nothing_at_all():
    prior = accounting.data_normalization(NORM_SIGMA)
    alone = accounting.epsilon(**RUN | {"steps": 0}, prior=prior)
    want = pld.PLDAccountant().compose(dp_accounting.GaussianDpEvent(NORM_SIGMA / np.sqrt(2))).get_epsilon(1e-5)
    assert alone == pytest.approx(want, rel=1e-3)  # two Gaussians of sigma: one of sigma / sqrt(2)
    assert accounting.epsilon(**RUN | {"steps": 0}) == 0.0
    assert accounting.data_normalization(None) is None


def test_calibration_and_step_budget_leave_dp_sgd_what_the_release_did_not_spend():
    """With RDP (PLD's calibration runs the same code, and takes half a minute here)."""
    prior = accounting.data_normalization(NORM_SIGMA)
    common = dict(target_epsilon=3.0, delta=1e-5, n=60_000, batch_size=2048, epochs=40, accountant="rdp")
    plain = accounting.calibrate_noise(**common)
    sigma = accounting.calibrate_noise(**common, prior=prior)
    assert sigma > plain  # the statistics spent part of the budget
    steps = 40 * accounting.steps_per_epoch(60_000, 2048, "poisson")
    by_hand = rdp.RdpAccountant(list(accounting.RDP_ORDERS)).compose(both_events_by_hand(sigma, steps))
    assert 2.99 <= by_hand.get_epsilon(1e-5) <= 3.0
    budget = accounting.max_steps(
        target_epsilon=3.0, delta=1e-5, n=60_000, batch_size=2048, noise_multiplier=2.0, prior=prior, accountant="rdp"
    )
    assert accounting.epsilon(**RUN | {"steps": budget}, prior=prior, accountant="rdp") <= 3.0
    assert accounting.epsilon(**RUN | {"steps": budget + 1}, prior=prior, accountant="rdp") > 3.0


def test_modelmix_accountant_adds_the_release_renyi_divergence():
    """With no steps, ModelMix's bound is the release's RDP at its integer orders (2..127),
    converted as dp_accounting converts it (RDP of a Gaussian of sigma: alpha / (2 sigma^2))."""
    prior = accounting.data_normalization(NORM_SIGMA)
    terms = accounting.ModelMixTerms(l2_norm_clip=1.0, linf_p=100.0, tau_over_lr=0.0075)
    kwargs = dict(n=60_000, batch_size=2048, noise_multiplier=1.0, delta=1e-5)
    orders = list(modelmix.ORDERS)
    release_only = rdp.RdpAccountant(orders).compose(prior.dp_event())
    want = min(  # the plain conversion eps = RDP + log(1/delta) / (alpha - 1), as modelmix_epsilon uses
        release_only._rdp[i] + np.log(1 / 1e-5) / (alpha - 1) for i, alpha in enumerate(orders)
    )
    assert terms.epsilon(steps=0, prior=prior, **kwargs) == pytest.approx(want, rel=1e-9)
    with_steps = terms.epsilon(steps=300, prior=prior, **kwargs)
    assert with_steps > terms.epsilon(steps=300, **kwargs)
    assert terms.epsilon(steps=0, **kwargs) == 0.0


def test_ledger_states_the_total_and_the_release_alone():
    prior = accounting.data_normalization(NORM_SIGMA)
    steps = [0]
    ledger = accounting.PrivacyLedger(
        n=60_000,
        batch_size=2048,
        noise_multiplier=2.0,
        l2_norm_clip=0.1,
        delta=1e-5,
        sampling="poisson",
        accountant="pld",
        step_counter=lambda: steps[0],
        prior=prior,
    )
    before = ledger.statement()
    assert before.epsilon == pytest.approx(before.prior["epsilon"]) and before.epsilon > 0  # spent before step 1
    steps[0] = RUN["steps"]
    statement = ledger.statement()
    assert statement.epsilon == pytest.approx(pld.PLDAccountant().compose(both_events_by_hand()).get_epsilon(1e-5))
    assert statement.prior["noise_multipliers"] == [NORM_SIGMA, NORM_SIGMA]
    assert "composed with data normalisation" in statement.text()
