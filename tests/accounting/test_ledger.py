"""The privacy ledger: it counts the steps it is given and states their epsilon with the accountant,
sampling, delta and guarantee, or claims nothing without noise."""

import math

import pytest

from dpzoo import accounting

RUN = dict(n=60_000, batch_size=256, noise_multiplier=1.1, steps=2340, delta=1e-5)


def test_ledger_counts_the_steps_it_is_given():
    steps = {"n": 0}
    ledger = accounting.PrivacyLedger(
        n=60_000,
        batch_size=256,
        noise_multiplier=1.1,
        l2_norm_clip=1.0,
        delta=1e-5,
        sampling="poisson",
        accountant="pld",
        step_counter=lambda: steps["n"],
    )
    assert ledger.statement().epsilon == 0.0
    steps["n"] = 2340
    statement = ledger.statement()
    assert statement.steps == 2340
    assert statement.epsilon == pytest.approx(accounting.epsilon(**RUN))
    text = statement.text()
    for part in ("PLD accountant", "Poisson sampling", "1e-05", "formal"):
        assert part in text


def test_statement_without_noise_claims_nothing():
    statement = accounting.PrivacyLedger(
        n=1000,
        batch_size=10,
        noise_multiplier=0.0,
        l2_norm_clip=None,
        delta=1e-5,
        sampling="shuffle",
        accountant="pld",
        step_counter=lambda: 100,
    ).statement()
    assert statement.guarantee == "none" and math.isinf(statement.epsilon) and "No noise" in statement.reason
    assert statement.text().startswith("Not differentially private")
