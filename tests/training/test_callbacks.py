"""The ledger callback puts a private run's epsilon into each epoch's logs, and no epsilon at all
into a noise-free run's (the old code put NaN there, which Keras printed as ``epsilon: nan``)."""

import math

import pytest

from dpzoo import accounting
from dpzoo.training.callbacks import PrivacyLedgerCallback


def _epoch_logs(noise_multiplier: float) -> dict:
    ledger = accounting.PrivacyLedger(
        n=60_000,
        batch_size=256,
        noise_multiplier=noise_multiplier,
        l2_norm_clip=1.0,
        delta=1e-5,
        sampling="poisson",
        accountant="pld",
        step_counter=lambda: 234,
    )
    logs = {"loss": 0.5}
    PrivacyLedgerCallback(ledger).on_epoch_end(0, logs)
    return logs


def test_private_run_logs_its_epsilon_so_far():
    want = accounting.epsilon(n=60_000, batch_size=256, noise_multiplier=1.1, steps=234, delta=1e-5)
    assert _epoch_logs(1.1)["epsilon"] == pytest.approx(want)
    assert math.isfinite(want) and want > 0


def test_noise_free_run_logs_no_epsilon():
    logs = _epoch_logs(0.0)
    assert "epsilon" not in logs, logs  # NaN here is what Keras's progress line printed
    assert logs == {"loss": 0.5}
