"""A fine-tuning run that starts from a private run on its own data (``compose_start``): the two
are one sequence of mechanisms on one set, so the card's epsilon is their composition, checked
against dp_accounting composing both runs' events by hand, and a target epsilon is the total. A run
that dropped the start's steps would state the smaller epsilon of its own steps alone, which the
test tells apart. Starts that cannot be composed are refused."""

import os

import dp_accounting
import numpy as np
import pytest

from dpzoo import accounting, data, finetuning, training
from dpzoo.artifacts import model_card, run_folder
from dpzoo.common.errors import UsageError
from dpzoo.training import TrainConfig
from tests.conftest import data_subset

N = 64


def _config(tmp_path, name: str, **changes) -> TrainConfig:
    base = dict(model="tutorial_cnn", epochs=1, batch_size=16, noise_multiplier=1.0, max_steps=3, accountant="rdp")
    return TrainConfig(output_dir=str(tmp_path / name), **(base | changes))


def _fashion(fashion: data.Dataset, n: int = N) -> data.Dataset:
    return data_subset(fashion, n)


@pytest.fixture(scope="module")
def probe_run(fashion, tmp_path_factory):
    """Phase II in small: a private run on the Fashion-MNIST subset itself (sigma 1, 3 steps)."""
    config = _config(tmp_path_factory.mktemp("probe"), "probe", noise_multiplier=2.0)
    card = training.run(config, verbose=0, dataset=_fashion(fashion)).card
    return config.output_dir, card


def _rdp_epsilon(*runs: dict) -> float:
    """dp_accounting's RDP epsilon of the runs' Poisson-subsampled Gaussian steps, one after another."""
    accountant = accounting.make_accountant("rdp")
    for privacy in runs:
        step = dp_accounting.PoissonSampledDpEvent(
            privacy["batch_size"] / privacy["n"], dp_accounting.GaussianDpEvent(privacy["noise_multiplier"])
        )
        accountant.compose(dp_accounting.SelfComposedDpEvent(step, privacy["steps"]))
    return accountant.get_epsilon(runs[0]["delta"])


def test_the_card_states_both_runs_composed(fashion, probe_run, tmp_path):
    probe_dir, probe_card = probe_run
    config = _config(tmp_path, "full", init_from=probe_dir, compose_start=True)
    card = training.run(config, verbose=0, dataset=_fashion(fashion)).card
    privacy, probe = card["privacy"], probe_card["privacy"]
    assert privacy["steps"] == 3 and privacy["prior"]["steps"] == probe["steps"]
    assert privacy["epsilon"] == pytest.approx(_rdp_epsilon(probe, privacy), rel=1e-9)
    alone = accounting.epsilon(
        n=N, batch_size=16, noise_multiplier=1.0, steps=3, delta=privacy["delta"], accountant="rdp"
    )  # what a run that forgot its start would state
    assert privacy["epsilon"] > alone * 1.01 and privacy["epsilon"] > probe["epsilon"]
    assert "composed with the private run it starts from" in privacy["statement"]
    assert card["pretraining"]["composed"] is True
    markdown = open(os.path.join(config.output_dir, model_card.CARD_MARKDOWN)).read()
    assert "## Pretraining (composed into the epsilon above)" in markdown

    # a third run from the second composes all three: the second's record carries the first
    third = _config(tmp_path, "third", init_from=config.output_dir, compose_start=True, finetune="head")
    third_privacy = training.run(third, verbose=0, dataset=_fashion(fashion)).card["privacy"]
    assert third_privacy["epsilon"] == pytest.approx(_rdp_epsilon(probe, privacy, third_privacy), rel=1e-9)


def test_a_target_epsilon_is_the_total_of_both(fashion, probe_run, tmp_path):
    probe_dir, probe_card = probe_run
    changes = dict(noise_multiplier=None, target_epsilon=probe_card["privacy"]["epsilon"] + 2.0, max_steps=None)
    composed = training.run(
        _config(tmp_path, "composed", init_from=probe_dir, compose_start=True, **changes),
        verbose=0,
        dataset=_fashion(fashion),
    ).card["privacy"]
    assert composed["epsilon"] <= changes["target_epsilon"] + 1e-3
    assert composed["epsilon"] == pytest.approx(_rdp_epsilon(probe_card["privacy"], composed), rel=1e-9)
    alone = accounting.calibrate_noise(
        target_epsilon=changes["target_epsilon"], delta=1e-5, n=N, batch_size=16, epochs=1, accountant="rdp"
    )
    assert composed["noise_multiplier"] > alone  # part of the budget went to the start


def test_starts_that_cannot_be_composed_are_refused(fashion, probe_run, tmp_path):
    probe_dir, _ = probe_run
    with pytest.raises(UsageError, match="Pass --compose_start"):
        training.run(_config(tmp_path, "a", init_from=probe_dir), verbose=0, dataset=_fashion(fashion))
    with pytest.raises(UsageError, match="the same examples"):
        training.run(
            _config(tmp_path, "b", init_from=probe_dir, compose_start=True), verbose=0, dataset=_fashion(fashion, 48)
        )
    public = _config(tmp_path, "public", dataset="mnist")
    training.run(public, verbose=0, dataset=data.synthetic("mnist", n_train=32, n_test=8))
    with pytest.raises(UsageError, match="nothing to compose"):
        training.run(
            _config(tmp_path, "c", init_from=public.output_dir, compose_start=True),
            verbose=0,
            dataset=_fashion(fashion),
        )
    with pytest.raises(UsageError, match="ModelMix"):
        _config(tmp_path, "d", init_from=probe_dir, compose_start=True, method="modelmix")
    with pytest.raises(UsageError, match="need init_from"):
        TrainConfig(compose_start=True)


def test_a_start_without_a_formal_guarantee_composes_into_nothing(fashion, tmp_path):
    """A start trained on this data without noise has no epsilon: the run would be private in name only."""
    plain = _config(tmp_path, "plain", engine="nonprivate", noise_multiplier=None)
    training.run(plain, verbose=0, dataset=_fashion(fashion))
    with pytest.raises(UsageError, match="none guarantee, not a formal one"):
        training.run(
            _config(tmp_path, "e", init_from=plain.output_dir, compose_start=True), verbose=0, dataset=_fashion(fashion)
        )


def test_dp_randp_phases_a_probe_then_every_layer_from_it(fashion, tmp_path):
    """Phase II (a private head on a public start) then phase III composed from it: phase III
    trains every weight, not only the head the probe's own run left trainable, and starts from the
    probe's head, not a new zero one (checked at a learning rate too small to move a weight); its
    folder reloads to the same weights. Each half of that failed before: only the head trained
    (330 of 26,010 weights here), and it started from zeros."""
    public = _config(tmp_path, "public", dataset="mnist")
    training.run(public, verbose=0, dataset=data.synthetic("mnist", n_train=32, n_test=8))
    probe = _config(tmp_path, "probe", init_from=public.output_dir, init_data="mnist", finetune="head")
    probe_card = training.run(probe, verbose=0, dataset=_fashion(fashion)).card
    assert probe_card["model"]["trainable_parameters"] == 32 * 10 + 10  # the head on the 32 features
    probe_model, _ = run_folder.load_run(probe.output_dir)
    every_layer = _config(tmp_path, "every_layer", init_from=probe.output_dir, compose_start=True, learning_rate=1e-12)
    card = training.run(every_layer, verbose=0, dataset=_fashion(fashion)).card
    assert card["model"]["trainable_parameters"] == card["model"]["parameters"] == probe_card["model"]["parameters"]
    tuned, _ = run_folder.load_run(every_layer.output_dir)
    for kept, start in zip(tuned.weights, probe_model.weights, strict=True):
        np.testing.assert_allclose(kept.numpy(), start.numpy(), atol=1e-6)
    head = probe_model.get_layer(finetuning.HEAD_NAME).kernel.numpy()
    assert np.abs(head).max() > 1e-3  # the probe's trained head, not zeros
    assert "Its classification layer carries on" in open(os.path.join(every_layer.output_dir, "model_card.md")).read()
