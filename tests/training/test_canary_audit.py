"""A run with white-box audit canaries (TrainConfig.audit_canaries, dpzoo-audit --config): its card
records the one-run bound, within the run's epsilon, and the noise check; settings whose claim
the canaries cannot test are refused."""

import json
import os

import pytest

from dpzoo import training
from dpzoo.artifacts import model_card
from dpzoo.common.errors import UsageError
from dpzoo.training import TrainConfig
from tests.cli.test_cli import run as run_tool
from tests.conftest import SMALL_FASHION_RUN

SMALL_RUN = {**SMALL_FASHION_RUN, "target_epsilon": 2.0, "audit_canaries": 1000}


def test_a_run_with_canaries_records_its_audit(tmp_path):
    result = training.run(TrainConfig(**SMALL_RUN, output_dir=str(tmp_path / "run")), command="pytest", verbose=0)
    audit = result.card["canary_audit"]
    epsilon = result.card["privacy"]["epsilon"]
    assert audit["mode"] == "white_box" and audit["canaries"] == 1000 and audit["guesses"] == 100
    assert 50 <= audit["correct"] <= 100
    assert audit["claimed_epsilon"] == epsilon and audit["steps"] == result.card["training"]["steps"]
    assert 0 <= audit["epsilon_lower_bound"] <= epsilon and not audit["exceeds_claim"]
    assert audit["share_of_claim"] == pytest.approx(audit["epsilon_lower_bound"] / epsilon)
    assert audit["sampling_rate"] == pytest.approx(256 / 2048)
    low, high = audit["noise_ratio_interval"]
    assert low <= 1.0 <= high and audit["noise_as_claimed"]
    with open(os.path.join(result.output_dir, model_card.CARD_JSON)) as f:
        assert json.load(f)["canary_audit"] == audit
    with open(os.path.join(result.output_dir, model_card.CARD_MARKDOWN)) as f:
        text = f.read()
    assert "## Canary audit (white-box, one run)" in text and f"{audit['correct']} correct" in text


@pytest.mark.parametrize(
    "changes, message",
    [
        (dict(engine="tf_privacy"), "audit_canaries needs engine='dpzoo'"),
        (dict(engine="nonprivate", target_epsilon=None), "audit_canaries needs engine='dpzoo'"),
        (dict(method="modelmix", clipping_norm="l2+linf", linf_p=100.0), "modelmix_mixing=fixed"),
        (dict(audit_canaries=-1), "audit_canaries"),
        (dict(method="sidp", model="lenet5_sidp"), "adds no Gaussian noise to its update"),
    ],
)
def test_settings_the_canaries_cannot_audit_are_refused(changes, message):
    with pytest.raises(UsageError, match=message):
        TrainConfig(**{**SMALL_RUN, **changes})


def test_more_canaries_than_coordinates_are_refused(tmp_path):
    config = TrainConfig(**{**SMALL_RUN, "audit_canaries": 10**7}, output_dir=str(tmp_path / "run"))
    with pytest.raises(UsageError, match="Dirac canaries"):
        training.run(config, command="pytest", verbose=0)
    assert not os.path.exists(tmp_path / "run")


def test_the_audit_tool_runs_a_config_with_canaries(tmp_path):
    config_file = tmp_path / "small_audit.py"
    config_file.write_text(
        "from dpzoo.training import TrainConfig\n\n\ndef get_config():\n"
        f"    return TrainConfig(**{ {**SMALL_RUN, 'audit_canaries': 0, 'epochs': 1}!r}, output_dir={str(tmp_path / 'run')!r})\n"
    )
    result = run_tool("dpzoo-audit", f"--config={config_file}", "--canaries=500")
    assert result.returncode == 0, result.stderr[-2000:]
    assert "## Canary audit" in result.stdout and "500 canaries, 50 guesses" in result.stdout
    with open(tmp_path / "run_canary_audit" / model_card.CARD_JSON) as f:
        assert json.load(f)["canary_audit"]["canaries"] == 500
    result = run_tool("dpzoo-audit", f"--config={config_file}", f"--run_dir={tmp_path}")
    assert result.returncode == 2 and "exactly one of" in result.stderr and "Traceback" not in result.stderr
    result = run_tool("dpzoo-audit", f"--config={config_file}", "--canaries=1")
    assert result.returncode == 2 and "canaries" in result.stderr and "Traceback" not in result.stderr
