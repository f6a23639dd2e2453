"""ModelMix end to end on real Fashion-MNIST: the run mixes, learns, states the smaller epsilon,
and reports DP-SGD's epsilon, with the reason, when an assumption of ModelMix's guarantee fails."""

import dataclasses

import pytest
import tensorflow as tf

from dpzoo import accounting, training
from dpzoo.artifacts import run_folder
from dpzoo.common.errors import UsageError
from dpzoo.training import TrainConfig

RECIPE = TrainConfig(
    model="tutorial_cnn",
    model_kwargs={"activation": "tanh", "normalization": "group"},
    dataset="fashion_mnist",
    max_train_examples=6000,
    epochs=3,
    batch_size=128,
    learning_rate=2.0,
    optimizer="sgd",
    l2_norm_clip=1.0,
    target_epsilon=3.0,
    method="modelmix",
    clipping_norm="l2+linf",
    linf_p=100.0,
    modelmix_tau_ratio=0.03,
)


@pytest.fixture(scope="module")
def modelmix_run(tmp_path_factory):
    config = dataclasses.replace(RECIPE, output_dir=str(tmp_path_factory.mktemp("runs") / "modelmix"))
    return training.run(config, command="pytest", verbose=0)


def test_a_modelmix_run_learns_and_states_the_smaller_epsilon(modelmix_run):
    card = modelmix_run.card
    privacy = card["privacy"]
    assert card["results"]["test_accuracy"] > 0.6  # chance 0.10, on 10,000 real test images
    assert privacy["guarantee"] == "formal" and privacy["accountant"] == "modelmix"
    assert privacy["epsilon"] <= 3.0 + 1e-3
    assert privacy["modelmix"]["dpsgd_epsilon"] > privacy["epsilon"]
    dpsgd_sigma = accounting.calibrate_noise(
        target_epsilon=3.0, delta=RECIPE.delta, n=6000, batch_size=128, epochs=3, accountant="pld"
    )
    assert privacy["noise_multiplier"] < dpsgd_sigma  # less noise for the same stated epsilon
    assert "ModelMix RDP accountant" in privacy["statement"] and "DP-SGD's" in privacy["statement"]
    assert card["training"]["clipping_norm"] == "l2+linf" and card["training"]["linf_p"] == 100.0


def test_a_modelmix_checkpoint_holds_the_mixing_state_and_restores(modelmix_run):
    path = f"{modelmix_run.output_dir}/{run_folder.CHECKPOINT}"
    names = [name for name, _ in tf.train.list_variables(path)]
    assert any(name.startswith("modelmix/older") for name in names)
    model, _ = run_folder.load_run(modelmix_run.output_dir)
    assert model.count_params() == modelmix_run.card["model"]["parameters"]


@pytest.mark.parametrize(
    "change, reason",
    [
        (dict(optimizer="momentum", momentum=0.9), "not plain SGD"),
        (dict(clipping_norm="l2", linf_p=None), "no per-coordinate bound"),
        (dict(modelmix_mixing="fixed"), "is an ablation"),
    ],
)
def test_a_run_breaking_an_assumption_reports_dp_sgds_epsilon_and_why(tmp_path, change, reason):
    config = dataclasses.replace(RECIPE, max_train_examples=1000, epochs=1, output_dir=str(tmp_path / "run"), **change)
    card = training.run(config, command="pytest", verbose=0).card
    privacy = card["privacy"]
    assert privacy["accountant"] == "pld" and privacy["modelmix"] is None
    assert reason in privacy["reason"] and "DP-SGD's for the same run" in privacy["reason"]
    want = accounting.epsilon(
        n=1000, batch_size=128, noise_multiplier=privacy["noise_multiplier"], steps=privacy["steps"], delta=1e-5
    )
    assert privacy["epsilon"] == pytest.approx(want)
    assert privacy["epsilon"] <= 3.0 + 1e-3


def test_modelmix_refuses_stop_at_epsilon():
    with pytest.raises(UsageError, match="stop_at_epsilon is not supported with method='modelmix'"):
        dataclasses.replace(RECIPE, stop_at_epsilon=True)
