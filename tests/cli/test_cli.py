"""The command-line tools as a user runs them: bad input exits 2 with a clear message."""

import json
import os
import subprocess
import sys

import pytest

ENV = os.environ | {"TF_CPP_MIN_LOG_LEVEL": "3"}


def run(tool, *args, cwd=None):
    module = {
        "dpzoo-train": "dpzoo.cli.train",
        "dpzoo-privacy": "dpzoo.cli.privacy",
        "dpzoo-export": "dpzoo.cli.export",
        "dpzoo-bench": "dpzoo.cli.bench",
        "dpzoo-audit": "dpzoo.cli.audit",
        "dpzoo-zoo": "dpzoo.cli.zoo",
    }[tool]
    return subprocess.run(
        [sys.executable, "-m", module, *args], capture_output=True, text=True, env=ENV, cwd=cwd, timeout=300
    )


@pytest.mark.parametrize(
    "args, message",
    [
        (["--epochs=abc"], "epochs"),
        (["--sampling=sometimes"], "sampling"),
        (["--epochs=1"], "exactly one of noise_multiplier or target_epsilon"),
        (["--noise_multiplier=1", "--target_epsilon=3"], "exactly one of noise_multiplier or target_epsilon"),
        (["--noise_multiplier=1", "--model=resnet9000"], "known models"),
        (["--noise_multiplier=1", "--config=/nonexistent/config.py"], "file not found"),
        (["--noise_multiplier=1", "--model_kwargs={oops"], "not JSON"),
        (["--noise_multiplier=1", "--delta=2"], "delta=2.0 < 1"),
        (["--noise_multiplier=1", "--augmult=4"], "augmult=4 needs augment=True"),
        (
            ["--noise_multiplier=1", "--mirror_views", "--augment"],
            "mirror_views and shift_views give each example fixed views",
        ),
        (["--noise_multiplier=1", "--shift_views=28"], "Expected shift_views=28 < 28"),
        (["--noise_multiplier=1", "--shift_views=-1"], "shift_views"),
        (["--noise_multiplier=1", "--stop_at_epsilon"], "stop_at_epsilon needs"),
        (["--noise_multiplier=1", "--eval_weights=median"], "eval_weights"),
        (["--noise_multiplier=1", "--clipping=sometimes"], "clipping"),
        (["--noise_multiplier=1", "--clipping_norm=l2+linf"], "linf_p=None >= 1"),
        (["--target_epsilon=1", "--method=modelmix", "--stop_at_epsilon"], "not supported with method='modelmix'"),
        (["stray"], "unexpected arguments"),
    ],
)
def test_train_bad_input_exits_2(args, message, tmp_path):
    result = run("dpzoo-train", *args, f"--output_dir={tmp_path}/run")
    assert result.returncode == 2, result.stderr[-2000:]
    assert message in result.stderr
    assert "Traceback" not in result.stderr
    assert not os.path.exists(tmp_path / "run")


def test_privacy_json_names_accountant_sampling_and_delta():
    result = run(
        "dpzoo-privacy", "--N=60000", "--batch_size=256", "--noise_multiplier=1.1", "--epochs=60", "--format=json"
    )
    assert result.returncode == 0, result.stderr
    statement = json.loads(result.stdout.strip().splitlines()[-1])
    assert {"epsilon", "delta", "accountant", "sampling"} <= statement.keys()
    assert statement["accountant"] == "pld" and statement["sampling"] == "poisson" and statement["delta"] == 1e-5
    assert 2.0 < statement["epsilon"] < 3.0


def test_privacy_composes_a_data_normalisation_released_before_training():
    args = ["dpzoo-privacy", "--N=60000", "--batch_size=2048", "--noise_multiplier=1.8", "--epochs=40", "--format=json"]
    plain = json.loads(run(*args).stdout.strip().splitlines()[-1])
    result = run(*args, "--data_norm_noise_multiplier=8")
    assert result.returncode == 0, result.stderr
    statement = json.loads(result.stdout.strip().splitlines()[-1])
    assert statement["epsilon"] > plain["epsilon"] and statement["prior"]["noise_multipliers"] == [8.0, 8.0]
    assert "composed with data normalisation" in statement["statement"]
    bad = run(*args, "--data_norm_noise_multiplier=0")
    assert bad.returncode == 2 and "Expected --data_norm_noise_multiplier=0.0 > 0." in bad.stderr


def test_privacy_text_and_bad_input():
    text = run(
        "dpzoo-privacy",
        "--N=60000",
        "--batch_size=256",
        "--noise_multiplier=1.1",
        "--epochs=60",
        "--sampling=shuffle",
        "--accountant=rdp",
    )
    assert text.returncode == 0 and "RDP accountant" in text.stdout and "no amplification" in text.stdout
    missing = run("dpzoo-privacy", "--batch_size=256", "--noise_multiplier=1", "--epochs=1")
    assert missing.returncode == 2 and "--N" in missing.stderr
    no_epochs = run("dpzoo-privacy", "--N=60000", "--batch_size=256", "--noise_multiplier=1")
    assert no_epochs.returncode == 2 and "--epochs is required" in no_epochs.stderr


def test_privacy_steps_within_a_budget():
    """De et al.'s CIFAR-10 epsilon-1 setting: sigma 10, batch 4096 of 50,000, RDP."""
    args = ["--N=50000", "--batch_size=4096", "--noise_multiplier=10", "--target_epsilon=1", "--format=json"]
    result = run("dpzoo-privacy", *args, "--accountant=rdp")
    assert result.returncode == 0, result.stderr
    statement = json.loads(result.stdout.strip().splitlines()[-1])
    assert 850 < statement["steps"] < 950 and statement["epsilon"] <= 1.0  # the paper trains 875 steps


MODELMIX_REFERENCE = [
    "--method=modelmix",
    "--N=50000",
    "--batch_size=1500",
    "--epochs=103.0303",  # 3400 steps of 33 per epoch
    "--l2_norm_clip=20",
    "--linf_p=100",
    "--tau_over_lr=0.15",
    "--accountant=rdp",
    "--format=json",
]


def test_privacy_modelmix_states_its_epsilon_beside_dp_sgds():
    """The paper's reference run: ModelMix 8.00 is stated, DP-SGD's far larger one beside it."""
    result = run("dpzoo-privacy", *MODELMIX_REFERENCE, "--noise_multiplier=0.335")
    assert result.returncode == 0, result.stderr
    statement = json.loads(result.stdout.strip().splitlines()[-1])
    assert statement["steps"] == 3400 and statement["accountant"] == "modelmix"
    assert round(statement["epsilon"], 2) == 8.00
    assert statement["modelmix"]["dpsgd_epsilon"] > 100
    assert "ModelMix" in statement["statement"] and "DP-SGD's" in statement["statement"]
    calibrated = run("dpzoo-privacy", *MODELMIX_REFERENCE, "--target_epsilon=8")
    assert calibrated.returncode == 0, calibrated.stderr
    assert json.loads(calibrated.stdout.strip().splitlines()[-1])["noise_multiplier"] == pytest.approx(0.335, rel=2e-3)


@pytest.mark.parametrize(
    "args, message",
    [
        (["--method=modelmix", "--l2_norm_clip=1"], "needs --linf_p, --tau_over_lr"),
        ([*MODELMIX_REFERENCE[:-1], "--sampling=shuffle"], "assumes Poisson sampling"),
    ],
)
def test_privacy_modelmix_bad_input_exits_2(args, message):
    result = run("dpzoo-privacy", "--N=50000", "--batch_size=1500", "--epochs=1", "--noise_multiplier=1", *args)
    assert result.returncode == 2 and message in result.stderr, result.stderr[-1000:]


def test_export_of_a_missing_run_exits_2(tmp_path):
    result = run("dpzoo-export", f"--run_dir={tmp_path}/none", f"--export_dir={tmp_path}/out")
    assert result.returncode == 2 and "model_card.json" in result.stderr
    assert not os.path.exists(tmp_path / "out")
