"""Mirror views (``mirror_views``): each example enters its step as itself and its mirror image,
whose gradients the engine averages before clipping. The pipeline builds the views from images,
a fixed front computes both views' features once, the engine is told K = 2, the accounting is
that of the same run without them, and combinations that would break this are refused."""

import dataclasses

import numpy as np
import pytest

from dpzoo import accounting, models
from dpzoo.common.errors import UsageError
from dpzoo.data import pipeline, sampling
from dpzoo.training import TrainConfig, engines, fixed_front
from tests.conftest import scatternet_subset_run


def test_the_pipeline_gives_each_image_then_its_mirror_image(fashion):
    pre = pipeline.Preprocessor.for_dataset(fashion)
    sampler = sampling.PoissonSampler(len(fashion.x_train), 64, seed=0)
    plain, _, plain_mask = next(iter(pipeline.train_dataset(fashion.x_train, fashion.y_train, sampler, pre, steps=1)))
    views, _, mask = next(
        iter(pipeline.train_dataset(fashion.x_train, fashion.y_train, sampler, pre, steps=1, mirror=True))
    )
    assert views.shape == (plain.shape[0], 2, 28, 28, 1)
    np.testing.assert_array_equal(mask, plain_mask)  # the same examples drawn
    np.testing.assert_array_equal(views[:, 0], plain)
    np.testing.assert_array_equal(views[:, 1], plain.numpy()[:, :, ::-1])  # left to right
    assert np.abs(views[:, 1] - views[:, 0]).max() > 0.5  # Fashion-MNIST images are not symmetric


class _Images:
    """The fields of a dataset that model_inputs reads."""

    def __init__(self, fashion, n: int):
        self.x_train, self.x_test = fashion.x_train[:n], fashion.x_test[:n]


def test_a_fixed_front_computes_both_views_features_once(fashion, tmp_path, monkeypatch):
    monkeypatch.setenv("DPZOO_CACHE_DIR", str(tmp_path))
    split = fixed_front.split(models.get("scatternet_linear"))
    pre = pipeline.Preprocessor.for_dataset(fashion)
    images = _Images(fashion, 24)
    train, test, _ = fixed_front.model_inputs(split, images, pre, mirror=True)
    assert train.shape == (24, 2, 7, 7, 81) and test.shape == (24, 7, 7, 81)
    flipped = np.ascontiguousarray(images.x_train[:, :, ::-1])
    np.testing.assert_allclose(train[:, 1], split.front(pre(flipped)).numpy(), rtol=1e-4, atol=1e-5)
    plain, _, _ = fixed_front.model_inputs(split, images, pre)
    np.testing.assert_array_equal(train[:, 0], plain)
    assert len(list((tmp_path / "features").iterdir())) == 3  # training, mirrored training, test
    again, _, _ = fixed_front.model_inputs(split, images, pre, mirror=True)
    np.testing.assert_array_equal(again, train)


def test_the_engine_averages_two_views_per_example():
    config = TrainConfig(noise_multiplier=1.0, mirror_views=True)
    assert config.views_per_example == 2 and engines.dp_config(config, 1.0).augmult == 2
    assert engines.dp_config(dataclasses.replace(config, mirror_views=False), 1.0).augmult == 1


@pytest.mark.parametrize(
    "fields, says",
    [
        (dict(augment=True), "--augment draws random views"),
        (dict(engine="tf_privacy"), "needs engine='dpzoo'"),
        (dict(engine="nonprivate", noise_multiplier=None), "needs engine='dpzoo'"),
    ],
)
def test_mirror_views_refuses_what_it_cannot_average(fields, says):
    with pytest.raises(UsageError, match=says):
        TrainConfig(**({"noise_multiplier": 1.0, "mirror_views": True} | fields))


def test_a_scatternet_trained_on_mirror_views_learns_at_the_same_epsilon(fashion, tmp_path):
    result, config = scatternet_subset_run(fashion, tmp_path, mirror_views=True)
    card = result.card
    assert card["dataset"]["mirror_views"] is True
    assert card["results"]["test_accuracy"] > 0.65  # chance is 0.10; 2,000 examples, 3 epochs
    privacy = card["privacy"]
    assert privacy["guarantee"] == "formal" and privacy["steps"] == 12
    plain = accounting.epsilon(
        n=2000, batch_size=config.batch_size, noise_multiplier=1.0, steps=12, delta=config.delta, accountant="rdp"
    )
    assert privacy["epsilon"] == pytest.approx(plain, rel=1e-3)  # two views are one example
