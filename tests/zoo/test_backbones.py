"""The zoo's public backbones: trained without noise on images drawn from random processes, they
state no epsilon, name their data, load and reproduce their own task's accuracy, and a private run
starts from one by its zoo name, its card naming the backbone and the public data it saw."""

import hashlib
import json
import os

import numpy as np
import pytest

from dpzoo import data, zoo
from dpzoo.artifacts import model_card
from dpzoo.common.errors import UsageError
from dpzoo.data.loader import N_TEST_RANDOM_PROCESSES, RANDOM_PROCESS_SEEDS
from dpzoo.data.random_processes import proxy
from tests.cli.test_cli import run

BACKBONES = zoo.backbones()
NAMES = [b.name for b in BACKBONES]


def test_the_zoo_has_a_public_backbone_with_no_privacy_statement_and_its_data_named():
    assert NAMES and not set(NAMES) & {e.name for e in zoo.list()}
    for backbone in BACKBONES:
        assert backbone.dataset in data.RANDOM_PROCESS_DATASETS  # public by construction
        card = model_card.read(zoo.fetch(backbone))
        assert card["privacy"]["guarantee"] == "none" and card["privacy"]["noise_multiplier"] == 0
        assert card["training"]["engine"] == "nonprivate" and card["dataset"]["name"] == backbone.dataset
        assert (
            card["dataset"]["source"] == backbone.data_source and "public, drawn from no data" in backbone.data_source
        )
        assert backbone.command.startswith("dpzoo-train") and f"--dataset={backbone.dataset}" in backbone.command
        assert {"checkpoint/weights.index", "model_card.json", "curves.png"} <= set(backbone.files)
        assert not hasattr(backbone, "epsilon")


@pytest.mark.parametrize("name", NAMES)
def test_every_backbone_loads_offline_and_reproduces_its_tasks_accuracy(name):
    """On its task's 10,000 held-out images (drawn again from the test seed), within 0.2 points."""
    backbone = zoo.lookup(name)
    height, width, channels = data.RANDOM_PROCESS_DATASETS[backbone.dataset]
    images, labels = proxy.arrays(
        N_TEST_RANDOM_PROCESSES, seed=RANDOM_PROCESS_SEEDS["test"], height=height, width=width, channels=channels
    )
    model, card = zoo.load(name)
    _, accuracy = model.evaluate(images.astype(np.float32) / 255.0, labels, batch_size=1000, verbose=0)
    assert card["results"]["test_accuracy"] == backbone.test_accuracy
    assert abs(accuracy - backbone.test_accuracy) <= 0.002, (accuracy, backbone.test_accuracy)


def test_a_backbone_is_not_a_private_checkpoint():
    with pytest.raises(UsageError, match="is a public backbone .* states no epsilon"):
        zoo.entry(NAMES[0])


def test_a_backbones_membership_audit_is_recorded_and_dpzoo_audit_repeats_it_against_no_claim():
    """Its card's audit (5,000 of its public training images against 5,000 held-out ones) is the
    index's; dpzoo-audit attacks it again (fewer examples here) and, with no epsilon claimed, never
    fails it."""
    backbone = zoo.lookup(NAMES[0])
    card = model_card.read(zoo.fetch(backbone))
    assert card["audit"]["members"] == card["audit"]["non_members"] == 5000
    assert backbone.audit == {a["attack"]: a["epsilon_lower_bound"] for a in card["audit"]["attacks"]}
    assert set(backbone.audit) == {"threshold", "logistic_regression"}
    audited = run("dpzoo-audit", f"--checkpoint={NAMES[0]}", "--max_examples=500")
    assert audited.returncode == 0, audited.stderr[-2000:]
    assert "Not differentially private (no noise)" in audited.stdout and "AUDIT FAILED" not in audited.stdout
    assert audited.stdout.count("implied epsilon >=") == 2 and "Recorded in its card: threshold" in audited.stdout


def test_the_zoo_command_lists_the_backbones_apart():
    listed = run("dpzoo-zoo", "list")
    assert listed.returncode == 0, listed.stderr[-2000:]
    private, backbones = listed.stdout.split("Public backbones")
    assert all(name not in private and name in backbones for name in NAMES)
    as_json = json.loads(run("dpzoo-zoo", "list", "--format=json").stdout)
    assert [b["name"] for b in as_json["backbones"]] == NAMES
    assert all(set(b["audit"]) == {"threshold", "logistic_regression"} for b in as_json["backbones"])
    assert "| audit: epsilon >= |" in backbones
    assert len(as_json["checkpoints"]) == len(zoo.list())
    shown = run("dpzoo-zoo", "show", NAMES[0])
    assert (
        shown.returncode == 0 and "Guarantee: **none**" in shown.stdout and "public, drawn from no data" in shown.stdout
    )


def test_a_private_run_starts_from_a_backbone_by_its_zoo_name(tmp_path):
    """Head fine-tuning on 64 Fashion-MNIST images for 2 steps: the card names the backbone, its
    files' sha256 and its public data, outside the epsilon, which covers the 2 private steps."""
    backbone = zoo.lookup(NAMES[0])
    out = tmp_path / "tuned"
    args = [
        f"--init_from={backbone.name}",
        "--finetune=head",
        f"--model={backbone.model}",
        "--dataset=fashion_mnist",
        "--max_train_examples=64",
        "--batch_size=16",
        "--epochs=1",
        "--max_steps=2",
        "--noise_multiplier=1.0",
        f"--output_dir={out}",
    ]
    result = run("dpzoo-train", *args)
    assert result.returncode == 0, result.stderr[-3000:]
    card = model_card.read(str(out))
    pretraining = card["pretraining"]
    assert pretraining["dataset"] == backbone.dataset and pretraining["model"] == backbone.model
    assert pretraining["finetune"] == "head" and card["privacy"]["steps"] == 2
    assert pretraining["init_from"] == backbone.name  # the zoo name, not this machine's folder
    assert (
        pretraining["sha256"]
        == hashlib.sha256(
            b"".join(
                name.encode() + open(os.path.join(zoo.fetch(backbone), "checkpoint", name), "rb").read()
                for name in sorted(os.listdir(os.path.join(zoo.fetch(backbone), "checkpoint")))
            )
        ).hexdigest()
    )
    assert card["privacy"]["guarantee"] == "formal" and f"--init_from={backbone.name}" in card["command"]
    markdown = open(os.path.join(out, "model_card.md")).read()
    assert "## Pretraining (not covered by the epsilon above)" in markdown and backbone.dataset in markdown
