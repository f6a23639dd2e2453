"""A run with audit canaries (TrainConfig.audit_canaries, dpzoo-audit --config): its card records
the one-run bound, within the run's epsilon, and (white-box) the noise check; settings whose claim
white-box canaries cannot test are refused, and black-box input canaries audit them instead. A
black-box audit of a private run stays below its claim, and the same run with its noise taken out
is caught."""

import json
import os
import re

import pytest

from dpzoo import training
from dpzoo.artifacts import model_card
from dpzoo.common.errors import UsageError
from dpzoo.privacy import PrivateModel
from dpzoo.training import TrainConfig
from tests.cli.test_cli import run as run_tool
from tests.conftest import SMALL_FASHION_RUN

SMALL_RUN = {**SMALL_FASHION_RUN, "target_epsilon": 2.0, "audit_canaries": 1000}
# Long enough on 2,048 examples that a run without noise memorises its mislabelled canaries
# (99 of 100 guesses right, bound 3.0); Adam keeps the private run's 1,600 noisy steps from
# wandering off (SGD at a learning rate that memorises diverges in some seeds).
BLACK_BOX_RUN = {
    **SMALL_FASHION_RUN,
    "audit_canaries": 1000,
    "audit_mode": "black_box",
    "epochs": 100,
    "batch_size": 128,
    "optimizer": "adam",
    "learning_rate": 0.002,
    "target_epsilon": 1.0,
}


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
    assert f"epsilon >= {audit['noise_epsilon_lower_bound']:.3f} from the noise check" in text
    assert audit["noise_epsilon_lower_bound"] <= epsilon


def _black_box_run(tmp_path, name: str) -> dict:
    result = training.run(TrainConfig(**BLACK_BOX_RUN, output_dir=str(tmp_path / name)), command="pytest", verbose=0)
    return result.card


def test_a_black_box_audit_stays_below_the_claim_and_catches_the_run_without_noise(tmp_path, monkeypatch):
    card = _black_box_run(tmp_path, "private")
    audit = card["canary_audit"]
    assert audit["mode"] == "black_box" and audit["canaries"] == 1000 and audit["guesses"] == 100
    assert 400 < audit["included"] < 600 and "noise_ratio" not in audit
    assert card["privacy"]["n"] == 2048 - 1000 + audit["included"]  # the accountant's N is the planted set's
    assert audit["epsilon_lower_bound"] <= audit["claimed_epsilon"] and not audit["exceeds_claim"]
    assert card["results"]["test_accuracy"] > 0.5  # it learns (58%); the test split holds no canaries
    with open(tmp_path / "private" / model_card.CARD_MARKDOWN) as f:
        text = f.read()
    assert "## Canary audit (black-box, one run)" in text and "log-probability of the canary's wrong label" in text

    # The same recipe with no noise: its claim of epsilon 1 is false, and the canaries show it.
    monkeypatch.setattr(PrivateModel, "replica_noise_stddev", lambda self: 0.0 * self.dp_config.noise_stddev)
    broken = _black_box_run(tmp_path, "no_noise")["canary_audit"]
    assert broken["epsilon_lower_bound"] > 2 * broken["claimed_epsilon"] and broken["claimed_epsilon"] == pytest.approx(
        1
    )
    assert broken["exceeds_claim"] and broken["mean_score_in"] > broken["mean_score_out"]


@pytest.mark.parametrize(
    "changes",
    [
        dict(method="sidp", model="lenet5_sidp"),
        dict(method="modelmix", clipping_norm="l2+linf", linf_p=100.0),
        dict(engine="tf_privacy"),
    ],
)
def test_what_white_box_canaries_refuse_black_box_ones_audit(changes):
    with pytest.raises(UsageError):
        TrainConfig(**{**SMALL_RUN, **changes})
    assert TrainConfig(**{**SMALL_RUN, **changes, "audit_mode": "black_box"}).audit_mode == "black_box"


def test_an_unknown_audit_mode_is_refused():
    with pytest.raises(UsageError, match="to be one of"):
        TrainConfig(**{**SMALL_RUN, "audit_mode": "grey_box"})


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
    black_box = tmp_path / "black_box"
    result = run_tool(
        "dpzoo-audit", f"--config={config_file}", "--canaries=500", "--mode=black_box", f"--output_dir={black_box}"
    )
    assert result.returncode == 0, result.stderr[-2000:]
    assert "- black-box: epsilon >= " in result.stdout
    assert re.search(r"500 canaries, 50 guesses, \d+ correct; \d+ of them in the training set", result.stdout)
    with open(black_box / model_card.CARD_JSON) as f:
        assert json.load(f)["canary_audit"]["mode"] == "black_box"
    too_many = tmp_path / "too_many"
    result = run_tool(
        "dpzoo-audit", f"--config={config_file}", "--canaries=1500", "--mode=black_box", f"--output_dir={too_many}"
    )
    assert result.returncode == 2 and "at most half the training set" in result.stderr
    assert "Traceback" not in result.stderr and not too_many.exists()
    result = run_tool("dpzoo-audit", f"--config={config_file}", f"--run_dir={tmp_path}")
    assert result.returncode == 2 and "exactly one of" in result.stderr and "Traceback" not in result.stderr
    result = run_tool("dpzoo-audit", f"--config={config_file}", "--canaries=1")
    assert result.returncode == 2 and "canaries" in result.stderr and "Traceback" not in result.stderr
