"""DPSGD-F's feature centering in a run (FeatureCentering, dpzoo.privacy.channel_statistics
``private_feature_mean``): the mean is the clipped mean plus one draw of the stated noise, the
layer subtracts it and keeps it through a save, the card's epsilon composes the release (one
Gaussian mechanism) with the DP-SGD steps as dp_accounting does, a resumed run sets the same mean,
and a model and config that disagree are refused."""

import dataclasses

import numpy as np
import pytest
from dp_accounting import pld

from dpzoo import accounting, models
from dpzoo.common.errors import UsageError
from dpzoo.common.stack import keras
from dpzoo.layers import FeatureCentering
from dpzoo.privacy.channel_statistics import private_feature_mean
from dpzoo.training import TrainConfig
from dpzoo.training.precomputed import data_normalization, fixed_front
from tests.conftest import scatternet_subset_run

CENTERING_SIGMA = 8.0
CENTERED = {"normalization": "group_centered"}


@pytest.fixture(scope="module")
def centered_run(fashion, tmp_path_factory):
    return scatternet_subset_run(
        fashion,
        tmp_path_factory.mktemp("centering"),
        model_kwargs=CENTERED,
        noise_multiplier=None,
        target_epsilon=3.0,
        accountant="pld",
        feature_centering_noise_multiplier=CENTERING_SIGMA,
        feature_centering_clip=63.0,
    )


@pytest.fixture(scope="module")
def features(fashion):
    """The scattering + GroupNorm features of 300 training images, and the centred model's split."""
    model = models.get("scatternet_linear", **CENTERED)
    split = fixed_front.split(model)
    return model, split, split.front(fashion.x_train[:300].astype(np.float32) / 255.0).numpy()


def test_the_card_composes_one_gaussian_release_with_the_steps_and_the_model_learns(centered_run):
    result, _ = centered_run
    privacy = result.card["privacy"]
    dpsgd_steps = accounting.dp_event(
        n=2000, batch_size=500, noise_multiplier=privacy["noise_multiplier"], steps=privacy["steps"], sampling="poisson"
    )
    release = accounting.GaussianReleases(what="", noise_multipliers=(CENTERING_SIGMA,)).dp_event()
    want = pld.PLDAccountant().compose(release).compose(dpsgd_steps).get_epsilon(1e-5)
    assert privacy["epsilon"] == pytest.approx(want, rel=1e-3) and 2.99 < privacy["epsilon"] <= 3.0
    assert privacy["prior"]["noise_multipliers"] == [CENTERING_SIGMA] and privacy["guarantee"] == "formal"
    assert result.card["training"]["feature_centering"] == {"noise_multiplier": CENTERING_SIGMA, "clip": 63.0}
    assert result.card["results"]["test_accuracy"] > 0.65  # chance is 0.10


def test_the_mean_is_the_clipped_mean_plus_one_noise_draw(features):
    _, _, x = features
    rows = x.reshape(len(x), -1).astype(np.float64)
    norms = np.linalg.norm(rows, axis=1)
    assert norms.max() < 63.0  # GroupNorm over 27 groups of 147 values bounds every norm by sqrt(3969)
    clip = float(np.median(norms))  # half the examples clipped: the clipping is exercised
    clipped = np.mean([r * min(1.0, clip / np.linalg.norm(r)) for r in rows], axis=0)  # one example at a time
    almost_noiseless = private_feature_mean(x, noise_multiplier=1e-9, clip=clip, seed=3).reshape(-1)
    np.testing.assert_allclose(almost_noiseless, clipped, atol=1e-6)
    assert np.abs(rows.mean(0) - clipped).max() > 1e-3  # without the clipping it would fail
    released = private_feature_mean(x, noise_multiplier=CENTERING_SIGMA, clip=clip, seed=3).reshape(-1)
    stated_std = CENTERING_SIGMA * clip / len(x)  # one draw of N(0, sigma^2 C^2) on the sum, over N
    z = (released - clipped) / stated_std
    assert abs(z.mean()) < 5 / np.sqrt(z.size) and abs(z.std() - 1.0) < 0.05  # 3969 draws of N(0, 1)
    per_example_noise = np.random.default_rng(3).normal(0, CENTERING_SIGMA * clip, (len(x), z.size)).sum(0) / len(x)
    assert abs((per_example_noise / stated_std).std() - 1.0) > 0.05  # noise drawn per example would fail


def test_the_release_sets_the_mean_and_a_second_release_sets_the_same(features, centered_run):
    model, split, x = features
    _, config = centered_run
    (layer,) = data_normalization.normalization_layers(model)
    assert isinstance(layer, FeatureCentering) and split.head.layers[1] is layer  # the head starts with it
    data_normalization.release(config, model, x)
    first = layer.mean.numpy().copy()
    assert bool(layer.statistics_set.numpy()) and first.shape == x.shape[1:]
    np.testing.assert_allclose(split.head.layers[1](x).numpy(), x - first, atol=1e-6)
    layer.set_mean(np.zeros_like(first))
    data_normalization.release(config, model, x)  # what a resumed run does
    np.testing.assert_array_equal(layer.mean.numpy(), first)


def test_the_mean_is_saved_with_the_model(features, tmp_path):
    model, _, _ = features
    (layer,) = data_normalization.normalization_layers(model)
    layer.set_mean(np.full(layer.mean.shape, 0.25, np.float32))
    model.save(tmp_path / "centered.keras")
    loaded = keras.models.load_model(tmp_path / "centered.keras")
    (again,) = [x for x in loaded.layers if isinstance(x, FeatureCentering)]
    np.testing.assert_array_equal(again.mean.numpy(), layer.mean.numpy())
    assert bool(again.statistics_set.numpy()) and not again.trainable_weights


def test_model_and_config_must_agree_on_feature_centering():
    centered = models.get("scatternet_linear", **CENTERED)
    plain = TrainConfig(model="scatternet_linear", target_epsilon=3.0)
    with pytest.raises(UsageError, match="feature_centering_noise_multiplier"):
        data_normalization.check(plain, centered, fixed_front.split(centered))
    noisy = dataclasses.replace(plain, feature_centering_noise_multiplier=CENTERING_SIGMA)
    grouped = models.get("scatternet_linear")
    with pytest.raises(UsageError, match="has no FeatureCentering"):
        data_normalization.check(noisy, grouped, fixed_front.split(grouped))
    with pytest.raises(UsageError, match="without --augment"):
        data_normalization.check(noisy, centered, None)
    with pytest.raises(UsageError, match="nonprivate"):
        TrainConfig(engine="nonprivate", feature_centering_noise_multiplier=CENTERING_SIGMA)
    with pytest.raises(UsageError, match="feature_centering_clip"):
        TrainConfig(feature_centering_clip=0.0)


def test_the_releases_of_a_run_come_in_order_and_only_when_asked():
    assert accounting.statistics_releases(TrainConfig(target_epsilon=3.0)) == (None, None)
    both = TrainConfig(target_epsilon=3.0, data_norm_noise_multiplier=8.0, feature_centering_noise_multiplier=20.0)
    normalisation, centering = accounting.statistics_releases(both)
    assert normalisation.noise_multipliers == (8.0, 8.0) and centering.noise_multipliers == (20.0,)


def test_the_first_orders_scale_multiplies_the_centred_channels_and_is_saved(features, tmp_path):
    _, _, x = features
    model = models.get("scatternet_linear", normalization="group_centered", first_order_scale=0.7)
    split = fixed_front.split(model)
    (layer,) = data_normalization.normalization_layers(model)
    assert split.head.layers[1] is layer  # the release still sees the unscaled features
    mean = x.mean(axis=0)
    layer.set_mean(mean)
    got = layer(x).numpy()
    np.testing.assert_allclose(got[..., :17], 0.7 * (x - mean)[..., :17], atol=1e-6)  # orders 0 and 1
    np.testing.assert_array_equal(got[..., 17:], (x - mean)[..., 17:])  # order 2 as it was
    model.save(tmp_path / "scaled.keras")
    (again,) = [y for y in keras.models.load_model(tmp_path / "scaled.keras").layers if isinstance(y, FeatureCentering)]
    np.testing.assert_array_equal(again(x).numpy(), got)
    with pytest.raises(ValueError, match="3 factors for 81 channels"):
        FeatureCentering(channel_scale=[1.0, 2.0, 3.0])(x)
    with pytest.raises(ValueError, match="needs normalization='group_centered'"):
        models.get("scatternet_linear", first_order_scale=0.7)
