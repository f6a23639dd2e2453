"""The ModelMix accountant: the paper's reference value, its moments against direct numerical
integration, its monotonicity, and that it improves on DP-SGD's epsilon where the paper says so."""

import dp_accounting
import numpy as np
import pytest
from dp_accounting import rdp
from scipy import integrate, stats

from dpzoo import accounting
from dpzoo.accounting import modelmix
from dpzoo.accounting.modelmix import calibrate_modelmix_noise, log_moments

REFERENCE = dict(
    n=50_000,
    batch_size=1500,
    l2_norm_clip=20.0,
    linf_p=100,
    steps=3400,
    noise_multiplier=0.335,
    tau_over_lr=0.15,
    delta=1 / 100_000,
)


def test_reproduces_the_papers_reference_epsilon():
    assert round(accounting.modelmix_epsilon(**REFERENCE, orders=modelmix.PAPER_ORDERS), 2) == 8.00
    assert round(accounting.modelmix_epsilon(**REFERENCE), 2) == 8.00  # dpzoo's wider orders: the same


def test_without_a_gap_it_is_the_subsampled_gaussians_rdp_at_every_order():
    """A negligible uniform width leaves the Gaussian: then A_k^p is the L2 Gaussian mechanism's
    moment and the bound must equal dp_accounting's RDP of the Poisson-subsampled Gaussian at the
    same integer orders (converted the same way), up to order 127."""
    run = dict(n=60_000, batch_size=2048, l2_norm_clip=1.0, linf_p=100, steps=290, noise_multiplier=3.6, delta=1e-5)
    orders = list(modelmix.ORDERS)
    event = dp_accounting.SelfComposedDpEvent(
        dp_accounting.PoissonSampledDpEvent(2048 / 60_000, dp_accounting.GaussianDpEvent(3.6)), 290
    )
    rdp_values = rdp.RdpAccountant(orders).compose(event)._rdp
    want = min(r + np.log(1e5) / (a - 1) for r, a in zip(rdp_values, orders, strict=True))
    assert accounting.modelmix_epsilon(**run, tau_over_lr=1e-9) == pytest.approx(want, rel=1e-4)


def test_the_papers_orders_cannot_state_epsilons_below_log_one_over_delta_over_18():
    """With orders 2..19 no noise brings epsilon below log(1e5) / 18 = 0.64, so ModelMix could
    never beat DP-SGD at epsilon 0.2 to 0.6 (its own Fashion-MNIST table); orders to 127 can."""
    run = dict(n=60_000, batch_size=2048, l2_norm_clip=1.0, linf_p=100, steps=290, delta=1e-5, tau_over_lr=0.03)
    floor = np.log(1e5) / 18
    assert accounting.modelmix_epsilon(**run, noise_multiplier=3.6, orders=modelmix.PAPER_ORDERS) > floor
    assert accounting.modelmix_epsilon(**run, noise_multiplier=3.6) < 0.3


def test_moments_match_direct_integration():
    """sigma 1, uniform width 2, shift 0.5: E_P0[(P1/P0)^k] by quadrature of the closed-form density."""

    def density(x):  # the symmetric form, so neither tail cancels to 0
        return (stats.norm.sf(abs(x) - 1) - stats.norm.sf(abs(x) + 1)) / 2

    got = np.exp(log_moments(1.0, 2.0, 0.5, 4))
    for k in range(5):
        want, _ = integrate.quad(lambda x, k=k: density(x - 0.5) ** k * density(x) ** (1 - k), -15, 15, limit=200)
        assert got[k] == pytest.approx(want, rel=1e-6), k
    assert got[0] == pytest.approx(1.0, abs=1e-9) and got[1] == pytest.approx(1.0, abs=1e-9)


def test_epsilon_grows_with_steps_and_falls_with_noise_and_gap():
    base = accounting.modelmix_epsilon(**REFERENCE)
    assert accounting.modelmix_epsilon(**{**REFERENCE, "steps": 6800}) > base
    assert accounting.modelmix_epsilon(**{**REFERENCE, "noise_multiplier": 0.4}) < base
    assert accounting.modelmix_epsilon(**{**REFERENCE, "tau_over_lr": 0.3}) < base


def test_below_dp_sgds_epsilon_on_the_reference_run():
    dp_sgd = accounting.epsilon(
        n=REFERENCE["n"],
        batch_size=REFERENCE["batch_size"],
        noise_multiplier=REFERENCE["noise_multiplier"],
        steps=REFERENCE["steps"],
        delta=REFERENCE["delta"],
        accountant="rdp",
    )
    assert accounting.modelmix_epsilon(**REFERENCE) < dp_sgd


TERMS = accounting.ModelMixTerms(  # the paper's orders: the reference's best is among them, and they are fast
    l2_norm_clip=REFERENCE["l2_norm_clip"],
    linf_p=REFERENCE["linf_p"],
    tau_over_lr=REFERENCE["tau_over_lr"],
    max_order=modelmix.PAPER_ORDERS[-1],
)
RUN = dict(n=REFERENCE["n"], batch_size=REFERENCE["batch_size"], delta=REFERENCE["delta"])


def _ledger(terms, noise_multiplier=REFERENCE["noise_multiplier"]):
    return accounting.PrivacyLedger(
        noise_multiplier=noise_multiplier,
        l2_norm_clip=REFERENCE["l2_norm_clip"],
        sampling="poisson",
        accountant="rdp",
        step_counter=lambda: REFERENCE["steps"],
        modelmix=terms,
        **RUN,
    )


def test_a_modelmix_ledger_states_the_smaller_epsilon_and_names_both():
    statement = _ledger(TERMS).statement()
    dpsgd = accounting.epsilon(
        noise_multiplier=REFERENCE["noise_multiplier"], steps=REFERENCE["steps"], accountant="rdp", **RUN
    )
    assert statement.epsilon == pytest.approx(accounting.modelmix_epsilon(**REFERENCE))
    assert statement.accountant == "modelmix"
    assert statement.modelmix["dpsgd_epsilon"] == pytest.approx(dpsgd)
    text = statement.text()
    assert "ModelMix RDP accountant" in text and "tau/eta 0.15" in text and f"DP-SGD's {dpsgd:.3g} (RDP)" in text


def test_a_modelmix_ledger_falls_back_to_dp_sgd_where_that_is_smaller():
    """A negligible gap adds almost no uniform noise; then DP-SGD's epsilon is the one stated."""
    tiny_gap = accounting.ModelMixTerms(l2_norm_clip=20.0, linf_p=100, tau_over_lr=1e-9)
    statement = _ledger(tiny_gap, noise_multiplier=2.0).statement()
    assert statement.accountant == "rdp"
    assert statement.epsilon == pytest.approx(statement.modelmix["dpsgd_epsilon"])
    assert statement.modelmix["modelmix_epsilon"] >= statement.epsilon


def test_calibration_recovers_the_reference_noise_multiplier():
    """Target 8.00 on the reference run: sigma 0.335 (the paper's), to the search's tolerance."""
    sigma = calibrate_modelmix_noise(
        TERMS, target_epsilon=8.0, steps=REFERENCE["steps"], dpsgd_noise_multiplier=1.5, **RUN
    )
    assert sigma == pytest.approx(0.335, rel=2e-3)
    at = lambda s: TERMS.epsilon(noise_multiplier=s, steps=REFERENCE["steps"], **RUN)
    assert at(sigma) <= 8.0 < at(sigma * 0.995)
