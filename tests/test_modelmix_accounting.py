"""The ModelMix accountant: the paper's reference value, its moments against direct numerical
integration, its monotonicity, and that it improves on DP-SGD's epsilon where the paper says so."""

import numpy as np
import pytest
from scipy import integrate, stats

from dpzoo import accounting
from dpzoo.modelmix_accounting import log_moments

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
    assert round(accounting.modelmix_epsilon(**REFERENCE), 2) == 8.00


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
