"""Tramer & Boneh's data normalisation in a run (dpzoo.training.data_normalization): the
statistics are released before the first step and set in the model, the card's epsilon composes
their release with the DP-SGD steps, a resumed run sets the same statistics again, and a model
and config that disagree are refused."""

import numpy as np
import pytest
from dp_accounting import pld

from dpzoo import accounting, models
from dpzoo.common.errors import UsageError
from dpzoo.privacy.channel_statistics import clipped_sums
from dpzoo.training import TrainConfig
from dpzoo.training.precomputed import data_normalization, fixed_front
from tests.accounting.test_releases import NORM_SIGMA
from tests.conftest import scatternet_subset_run


@pytest.fixture(scope="module")
def normalised_run(fashion, tmp_path_factory):
    return scatternet_subset_run(
        fashion,
        tmp_path_factory.mktemp("data_norm"),
        model_kwargs={"normalization": "data"},
        noise_multiplier=None,
        target_epsilon=3.0,
        accountant="pld",
        data_norm_noise_multiplier=NORM_SIGMA,
    )


def test_the_card_composes_the_release_with_the_steps_and_the_model_learns(normalised_run):
    result, config = normalised_run
    privacy = result.card["privacy"]
    steps = privacy["steps"]
    assert steps == 12 and privacy["guarantee"] == "formal"
    dpsgd_steps = accounting.dp_event(
        n=2000, batch_size=500, noise_multiplier=privacy["noise_multiplier"], steps=steps, sampling="poisson"
    )
    both = accounting.GaussianReleases(what="", noise_multipliers=(NORM_SIGMA, NORM_SIGMA)).dp_event()
    want = pld.PLDAccountant().compose(both).compose(dpsgd_steps).get_epsilon(1e-5)
    assert privacy["epsilon"] == pytest.approx(want, rel=1e-3) and 2.99 < privacy["epsilon"] <= 3.0
    assert privacy["prior"]["noise_multipliers"] == [NORM_SIGMA, NORM_SIGMA] and 0 < privacy["prior"]["epsilon"] < 3
    assert result.card["training"]["data_normalization"]["noise_multiplier"] == NORM_SIGMA
    assert result.card["results"]["test_accuracy"] > 0.65  # chance is 0.10


def test_the_release_sets_the_statistics_and_a_second_release_sets_the_same(fashion, normalised_run):
    _, config = normalised_run
    model = models.get("scatternet_linear", normalization="data")
    split = fixed_front.split(model)
    (layer,) = data_normalization.normalization_layers(model)
    assert split.head.layers[1] is layer  # the head starts with it; the front is the scattering alone
    features = split.front(fashion.x_train[:300, ..., :].astype(np.float32) / 255.0).numpy()
    data_normalization.release(config, model, features)
    first = layer.mean.numpy().copy()
    assert bool(layer.statistics_set.numpy())
    clipped_mean = clipped_sums(features, config.data_norm_mean_clip, config.data_norm_square_clip)[0] / 300
    noise_std = NORM_SIGMA * config.data_norm_mean_clip / 300
    assert np.abs(first - clipped_mean).max() < 5 * noise_std  # the clipped mean plus one noise draw
    assert np.abs(first - clipped_mean).max() > 0.5 * noise_std
    layer.set_statistics(np.zeros_like(first), np.ones_like(first))
    data_normalization.release(config, model, features)  # what a resumed run does
    np.testing.assert_array_equal(layer.mean.numpy(), first)


def test_model_and_config_must_agree_on_data_normalisation():
    plain = TrainConfig(model="scatternet_linear", target_epsilon=3.0)
    normalised = models.get("scatternet_linear", normalization="data")
    with pytest.raises(UsageError, match="data_norm_noise_multiplier"):
        data_normalization.check(plain, normalised, fixed_front.split(normalised))
    grouped = models.get("scatternet_linear")
    noisy = TrainConfig(model="scatternet_linear", target_epsilon=3.0, data_norm_noise_multiplier=8.0)
    with pytest.raises(UsageError, match="has no ChannelNormalization"):
        data_normalization.check(noisy, grouped, fixed_front.split(grouped))
    with pytest.raises(UsageError, match="without --augment"):  # augmented runs have no precomputed features
        data_normalization.check(noisy, normalised, None)
    with pytest.raises(UsageError, match="nonprivate"):
        TrainConfig(engine="nonprivate", data_norm_noise_multiplier=8.0)
