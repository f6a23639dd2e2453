"""The shipped checkpoints: each loads offline, reproduces its card's accuracy and epsilon, carries
its audit, and is refused when a file is altered or cannot be verified."""

import dataclasses
import os
import shutil

import numpy as np
import pytest

from dpzoo import accounting, zoo
from dpzoo.artifacts import model_card
from dpzoo.common.errors import UsageError
from dpzoo.zoo import registry
from tests.cli.test_cli import run

ENTRIES = zoo.list()
NAMES = [e.name for e in ENTRIES]


def test_the_zoo_lists_at_least_ten_checkpoints_with_their_privacy_facts():
    assert len(ENTRIES) >= 10 and len(set(NAMES)) == len(NAMES)
    for e in ENTRIES:
        arch, tag = e.name.split(".", 1)  # arch.dataset_epsE_method
        assert arch.startswith(e.model) or e.model.startswith(arch.split("_")[0])
        assert e.epsilon <= float(tag.split("_")[1].removeprefix("eps")) + 1e-3
        assert e.guarantee == ("nominal" if e.method == "sidp" else "formal")
        assert e.accountant in ("pld", "rdp", "modelmix") and e.sampling == "poisson" and e.delta == 1e-5
        assert "checkpoint/weights.index" in e.files and "model_card.json" in e.files
        assert e.command.startswith("dpzoo-train")
    assert {e.method for e in ENTRIES} >= {"dpsgd", "de22", "modelmix", "sidp_dp", "sidp"}


@pytest.fixture(scope="module")
def test_images(fashion):
    return fashion.x_test.astype(np.float32) / 255.0, fashion.y_test


@pytest.mark.parametrize("name", NAMES)
def test_every_checkpoint_loads_offline_and_reproduces_its_card(name, test_images):
    """On the 10,000 Fashion-MNIST test images, within 0.2 points of the card's accuracy."""
    model, card = zoo.load(name)
    _, accuracy = model.evaluate(*test_images, batch_size=1000, verbose=0)
    entry = zoo.entry(name)
    assert card["results"]["test_accuracy"] == entry.test_accuracy
    assert abs(accuracy - entry.test_accuracy) <= 0.002, (accuracy, entry.test_accuracy)


@pytest.mark.parametrize("name", NAMES)
def test_every_checkpoint_recomputes_its_epsilon_and_carries_its_audit(name):
    """The stated epsilon from the card's run (sigma, batch, steps, sampling, accountant, a release
    before training) by the accountant, and the audit's implied lower bounds below it for a formal
    checkpoint."""
    entry = zoo.entry(name)
    privacy = model_card.read(zoo.fetch(entry))["privacy"]
    mixing = privacy.get("modelmix")  # cards written before ModelMix have no such field
    terms = None
    if mixing:
        terms = accounting.ModelMixTerms(
            l2_norm_clip=mixing["l2_norm_clip"],
            linf_p=mixing["linf_p"],
            tau_over_lr=mixing["tau_over_lr"],
            max_order=mixing.get("max_order", 19),  # cards from before the wider orders used the paper's
        )
    release = privacy.get("prior")
    prior = release and accounting.GaussianReleases(
        what=release["what"], noise_multipliers=tuple(release["noise_multipliers"])
    )
    ledger = accounting.PrivacyLedger(
        n=privacy["n"],
        batch_size=privacy["batch_size"],
        noise_multiplier=privacy["noise_multiplier"],
        l2_norm_clip=privacy["l2_norm_clip"],
        delta=privacy["delta"],
        sampling=privacy["sampling"],
        accountant=mixing["dpsgd_accountant"] if mixing else privacy["accountant"],
        step_counter=lambda: privacy["steps"],
        modelmix=terms,
        prior=prior,
    )
    assert ledger.statement().epsilon == pytest.approx(entry.epsilon, rel=1e-6)
    assert set(entry.audit) == {"threshold", "logistic_regression"}
    if entry.guarantee == "formal":
        assert max(entry.audit.values()) <= entry.epsilon


@pytest.mark.parametrize("name", NAMES)
def test_every_checkpoints_recipe_carries_its_canary_audit(name):
    """A rerun of the checkpoint's command with canaries (scripts/zoo_canary_audits.py), white-box
    where they apply: its bound stays within the epsilon that run stated, its noise check finds
    the claimed sigma, and the shipped card holds the section the index summarises. The nominal
    SIDP recipe (no update noise for gradient canaries to test) is audited black-box."""
    entry = zoo.entry(name)
    card = model_card.read(zoo.fetch(entry))
    audit = card["recipe_canary_audit"]
    assert dict(entry.canary_audit) == {key: audit[key] for key in entry.canary_audit}
    assert audit["canaries"] >= 1000 and audit["guesses"] > 0
    with open(os.path.join(zoo.fetch(entry), model_card.CARD_MARKDOWN)) as f:
        assert model_card.RECIPE_AUDIT_HEADING.format(mode=audit["mode"].replace("_", "-")) in f.read()
    if entry.method == "sidp":  # nominal: its claim is no guarantee, the bound is recorded, not judged
        assert audit["mode"] == "black_box" and "no Gaussian noise" in audit["note"]
        assert "--audit_mode=black_box" in audit["command"] and audit["included"] > 0
        return
    assert audit["mode"] == "white_box"
    assert 0 <= audit["epsilon_lower_bound"] <= audit["claimed_epsilon"] and not audit["exceeds_claim"]
    assert audit["noise_as_claimed"]
    assert audit["command"].startswith("dpzoo-train") and f"--audit_canaries={audit['canaries']}" in audit["command"]
    if entry.method == "modelmix":  # the checkpoint's sigma, mixing fixed: DP-SGD's epsilon is the claim
        assert "--modelmix_mixing=fixed" in audit["command"] and "--target_epsilon" not in audit["command"]
        assert audit["claimed_epsilon"] == pytest.approx(card["privacy"]["modelmix"]["dpsgd_epsilon"], rel=1e-3)
    else:
        assert audit["claimed_epsilon"] == pytest.approx(entry.epsilon, rel=1e-6)


def _copy_of(entry: zoo.ZooEntry, folder) -> str:
    shutil.copytree(os.path.join(zoo.CHECKPOINT_DIR, entry.name), folder)
    return str(folder)


def test_an_altered_checkpoint_file_is_refused(tmp_path, monkeypatch):
    entry = ENTRIES[0]
    _copy_of(entry, tmp_path / entry.name)
    weights = tmp_path / entry.name / "checkpoint" / "weights.data-00000-of-00001"
    data = bytearray(weights.read_bytes())
    data[len(data) // 2] ^= 0xFF
    weights.write_bytes(bytes(data))
    monkeypatch.setattr(registry, "CHECKPOINT_DIR", str(tmp_path))
    monkeypatch.setattr(registry, "read_index", lambda directory=None: [entry])
    with pytest.raises(zoo.ZooIntegrityError, match="altered or corrupt and will not be loaded"):
        zoo.load(entry.name)


def test_a_url_checkpoint_is_fetched_into_the_cache_verified_and_loaded(tmp_path, monkeypatch, test_images):
    entry = ENTRIES[0]
    served = _copy_of(entry, tmp_path / "server" / entry.name)
    online = dataclasses.replace(entry, url=f"file://{served}")
    monkeypatch.setenv("DPZOO_CACHE", str(tmp_path / "cache"))
    monkeypatch.setattr(registry, "read_index", lambda directory=None: [online])
    model, _ = zoo.load(entry.name)
    assert os.path.isfile(tmp_path / "cache" / entry.name / "checkpoint" / "weights.index")
    _, accuracy = model.evaluate(*test_images, batch_size=1000, verbose=0)
    assert abs(accuracy - entry.test_accuracy) <= 0.002


def test_a_url_checkpoint_with_a_wrong_hash_or_no_server_is_refused(tmp_path, monkeypatch):
    entry = ENTRIES[0]
    served = _copy_of(entry, tmp_path / "server" / entry.name)
    files = dict(entry.files) | {"model_card.json": "0" * 64}
    monkeypatch.setenv("DPZOO_CACHE", str(tmp_path / "cache"))
    wrong = dataclasses.replace(entry, url=f"file://{served}", files=files)
    monkeypatch.setattr(registry, "read_index", lambda directory=None: [wrong])
    with pytest.raises(zoo.ZooIntegrityError, match="not saved, not loaded"):
        zoo.load(entry.name)
    assert not os.path.exists(tmp_path / "cache" / entry.name / "model_card.json")
    offline = dataclasses.replace(entry, url=f"file://{tmp_path}/nowhere")
    monkeypatch.setattr(registry, "read_index", lambda directory=None: [offline])
    with pytest.raises(UsageError, match="cannot download.*offline"):
        zoo.load(entry.name)


def test_an_unknown_name_lists_the_known_ones():
    with pytest.raises(UsageError, match=f"known: {NAMES[0]}"):
        zoo.entry("resnet9000.fmnist_eps1")


def test_the_zoo_command_lists_and_shows():
    listed = run("dpzoo-zoo", "list")
    assert listed.returncode == 0, listed.stderr[-2000:]
    private = listed.stdout.split("Public backbones")[0]  # the backbones' table follows (test_backbones.py)
    rows = [line for line in private.splitlines() if line.startswith("| ") and "." in line.split("|")[1]]
    assert len(rows) == len(NAMES) >= 10
    audited = [row for row in rows if "_sidp_nominal" not in row]
    assert "canaries: epsilon >=" in listed.stdout and all(row.split("|")[-2].strip() != "-" for row in audited)
    assert all("from the noise" in row.split("|")[-2] for row in audited)  # white-box: the noise check's bound too
    shown = run("dpzoo-zoo", "show", NAMES[0])
    assert shown.returncode == 0 and "Training curves" in shown.stdout and "accountant" in shown.stdout
    for args, message in ((["show", "nothing"], "No zoo checkpoint"), (["fetch"], "Expected a command")):
        bad = run("dpzoo-zoo", *args)
        assert bad.returncode == 2 and message in bad.stderr, bad.stderr[-1000:]


def test_the_audit_command_reruns_a_checkpoints_audit_without_touching_it():
    """Same members and seed as the recorded audit: the threshold attack's bound is reproduced, and
    the shipped files still verify afterwards."""
    entry = next(e for e in ENTRIES if e.guarantee == "formal")
    result = run("dpzoo-audit", f"--checkpoint={entry.name}")
    assert result.returncode == 0, result.stderr[-2000:]
    threshold = next(line for line in result.stdout.splitlines() if line.strip().startswith("threshold:"))
    assert f"implied epsilon >= {entry.audit['threshold']:.3f}" in threshold
    assert "Recorded in its card" in result.stdout
    zoo.verify(os.path.join(zoo.CHECKPOINT_DIR, entry.name), entry)
    both = run("dpzoo-audit", f"--checkpoint={entry.name}", "--run_dir=/tmp")
    assert both.returncode == 2 and "exactly one of --run_dir" in both.stderr
