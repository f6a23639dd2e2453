"""Membership-inference audits with TF Privacy's attack library on real data: an overfit model
leaks, a split with no members does not, a formally private run's audit stays within its epsilon,
and the results land in the model card."""

import json
import os

import numpy as np
import pytest
import tensorflow as tf

from dpzoo import training
from dpzoo.artifacts import model_card
from dpzoo.training import TrainConfig
from dpzoo.zoo import audit
from tests.cli.test_cli import run as run_tool
from tests.conftest import SMALL_FASHION_RUN, SPARSE_CE, digits_batch, tiny_cnn


@pytest.fixture(scope="module")
def overfit(digits):
    """A tiny CNN trained non-privately on 150 digits until it memorises them."""
    model = tiny_cnn()
    x, y = digits_batch(digits, 150)
    model.compile(optimizer=tf.keras.optimizers.Adam(0.01), loss=SPARSE_CE)
    model.fit(x, y, epochs=150, batch_size=50, verbose=0)
    return model, x, y


def test_an_overfit_model_leaks_membership(overfit, digits):
    model, x, y = overfit
    x_test, y_test = digits.x_test[:150].astype(np.float32) / 255.0, digits.y_test[:150]
    results = {r.attack: r for r in audit.membership_inference(model(x).numpy(), y, model(x_test).numpy(), y_test)}
    assert set(results) == set(audit.ATTACKS)
    assert results["threshold"].auc > 0.6 and results["threshold"].advantage > 0.2  # chance: 0.5 +- 0.033
    assert results["threshold"].epsilon_lower_bound >= 0  # 75 against 75 held out: often too few to prove much


def test_the_held_out_bound_finds_a_leak_and_keeps_its_confidence():
    """Scores of a clear leak (members shifted by 2 sd) give a bound far above 0; scores with no
    membership signal give 0 in at least 95% of draws (the bound's promise; 20 seeded draws)."""
    rng = np.random.default_rng(0)
    assert audit.held_out_epsilon_bound(rng.normal(2, 1, 2000), rng.normal(0, 1, 2000)) > 1.0
    nulls = [audit.held_out_epsilon_bound(rng.normal(0, 1, 2000), rng.normal(0, 1, 2000), seed=s) for s in range(20)]
    assert sum(b > 0 for b in nulls) <= 2 and max(nulls) < 0.5


def test_no_members_no_leak(overfit, digits):
    """Both sides drawn from the same unseen test images: the attacks are at chance."""
    model, _, _ = overfit
    x_test, y_test = digits.x_test[:300].astype(np.float32) / 255.0, digits.y_test[:300]
    logits = model(x_test).numpy()
    results = audit.membership_inference(logits[::2], y_test[::2], logits[1::2], y_test[1::2])
    threshold = next(r for r in results if r.attack == "threshold")
    assert 0.35 < threshold.auc < 0.65  # 150 against 150: the AUC's sd at chance is about 0.033


def test_unequal_counts_are_refused(overfit):
    model, x, y = overfit
    with pytest.raises(ValueError, match="equal member and non-member counts"):
        audit.membership_inference(model(x).numpy(), y, model(x[:10]).numpy(), y[:10])


@pytest.fixture(scope="module")
def private_run(tmp_path_factory):
    config = TrainConfig(**SMALL_FASHION_RUN, output_dir=str(tmp_path_factory.mktemp("audit") / "run"))
    return training.run(config, command="pytest", verbose=0)


def test_a_formal_run_stays_within_its_epsilon_and_the_card_holds_the_audit(private_run):
    card = audit.audit_run(private_run.output_dir, max_examples=1000)
    assert card["audit"]["members"] == card["audit"]["non_members"] == 1000
    assert {a["attack"] for a in card["audit"]["attacks"]} == set(audit.ATTACKS)
    assert audit.exceeds_guarantee(card) == []
    for attack in card["audit"]["attacks"]:
        assert attack["epsilon_lower_bound"] <= card["privacy"]["epsilon"]
    stored = model_card.read(private_run.output_dir)
    assert stored["audit"] == json.loads(json.dumps(card["audit"]))
    with open(os.path.join(private_run.output_dir, model_card.CARD_MARKDOWN)) as f:
        assert "## Membership-inference audit" in f.read()


def test_a_bound_above_a_formal_epsilon_is_flagged_and_a_nominal_one_is_not():
    attacks = [{"attack": "threshold", "auc": 0.9, "advantage": 0.8, "epsilon_lower_bound": 2.5}]
    card = {"privacy": {"guarantee": "formal", "epsilon": 1.0}, "audit": {"attacks": attacks}}
    assert audit.exceeds_guarantee(card) == ["threshold"]
    card["privacy"]["guarantee"] = "nominal"
    assert audit.exceeds_guarantee(card) == []


def test_audit_tool_reports_and_bad_input_exits_2(private_run, tmp_path):
    result = run_tool("dpzoo-audit", f"--run_dir={private_run.output_dir}", "--max_examples=500")
    assert result.returncode == 0, result.stderr[-2000:]
    assert "threshold: AUC" in result.stdout and "logistic_regression: AUC" in result.stdout
    result = run_tool("dpzoo-audit", f"--run_dir={tmp_path}/none")
    assert result.returncode == 2 and "model_card.json" in result.stderr and "Traceback" not in result.stderr
    result = run_tool("dpzoo-audit", f"--run_dir={private_run.output_dir}", "--max_examples=0")
    assert result.returncode == 2 and "max_examples=0" in result.stderr
