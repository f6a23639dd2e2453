"""Fixed views (``mirror_views``, ``shift_views``): each example enters its step as itself, its
mirror image and its shifts, whose gradients the engine averages before clipping. The views are
those of a brute-force numpy construction, the pipeline builds them from images, a fixed front
computes each view's features once, the engine is told K, the accounting is that of the same run
without them, and combinations that would break this are refused."""

import dataclasses

import numpy as np
import pytest
import tensorflow as tf

from dpzoo import accounting, models
from dpzoo.common.errors import UsageError
from dpzoo.data import pipeline, sampling
from dpzoo.data.fixed_views import FixedViews
from dpzoo.training import TrainConfig, engines
from dpzoo.training.precomputed import fixed_front
from tests.conftest import scatternet_subset_run


def _first_batch(fashion, preprocess, **views) -> tuple:
    """(inputs, labels, mask) of step 0 of a pipeline over Fashion-MNIST, B = 64, seed 0."""
    sampler = sampling.PoissonSampler(len(fashion.x_train), 64, seed=0)
    steps = pipeline.train_dataset(fashion.x_train, fashion.y_train, sampler, preprocess, steps=1, **views)
    return next(iter(steps))


def test_the_pipeline_gives_each_image_then_its_mirror_image(fashion):
    pre = pipeline.Preprocessor.for_dataset(fashion)
    plain, _, plain_mask = _first_batch(fashion, pre)
    views, _, mask = _first_batch(fashion, pre, views=FixedViews(mirror=True))
    assert views.shape == (plain.shape[0], 2, 28, 28, 1)
    np.testing.assert_array_equal(mask, plain_mask)  # the same examples drawn
    np.testing.assert_array_equal(views[:, 0], plain)
    np.testing.assert_array_equal(views[:, 1], plain.numpy()[:, :, ::-1])  # left to right
    assert np.abs(views[:, 1] - views[:, 0]).max() > 0.5  # Fashion-MNIST images are not symmetric


def _shifted_by_numpy(images: np.ndarray, down: int, right: int) -> np.ndarray:
    """Brute force: reflect-pad each image by the shift, then cut the window that moves it."""
    pad = max(abs(down), abs(right))
    padded = np.pad(images, [(0, 0), (pad, pad), (pad, pad), (0, 0)], mode="reflect")
    height, width = images.shape[1:3]
    return padded[:, pad - down : pad - down + height, pad - right : pad - right + width]


@pytest.mark.parametrize("shift", [1, 2, 3])
def test_shifted_views_move_each_image_by_the_shift_with_reflected_borders(fashion, shift):
    images = fashion.x_train[:8]
    views = FixedViews(shift=shift).stacked(tf.constant(images)).numpy()
    assert views.shape == (8, 5, 28, 28, 1)
    np.testing.assert_array_equal(views[:, 0], images)
    moves = [(shift, 0), (-shift, 0), (0, shift), (0, -shift)]  # down, up, right, left
    for index, (down, right) in enumerate(moves, start=1):
        np.testing.assert_array_equal(views[:, index], _shifted_by_numpy(images, down, right))
    np.testing.assert_array_equal(views[:, 1, shift:], images[:, :-shift])  # down: row r is row r - s
    np.testing.assert_array_equal(views[:, 4, :, :-shift], images[:, :, shift:])  # left
    np.testing.assert_array_equal(views[:, 1, 0], images[:, shift])  # the uncovered row, reflected


def test_views_count_the_image_its_mirror_image_and_four_shifts():
    assert FixedViews().count == 1 and FixedViews(mirror=True).count == 2
    assert FixedViews(shift=2).count == 5 and FixedViews(mirror=True, shift=1).count == 6


def test_the_pipeline_gives_each_image_then_its_shifts(fashion):
    pre = pipeline.Preprocessor.for_dataset(fashion)
    raw_images, _, raw_mask = _first_batch(fashion, lambda images: images)
    views, _, mask = _first_batch(fashion, pre, views=FixedViews(shift=2))
    np.testing.assert_array_equal(mask, raw_mask)  # the same examples drawn
    assert views.shape == (raw_images.shape[0], 5, 28, 28, 1)
    # views of preprocessed images are the preprocessed views of the raw images (what a fixed front sees)
    expected = pre(_shifted_by_numpy(raw_images.numpy(), -2, 0)).numpy()
    np.testing.assert_allclose(views[:, 2], expected, rtol=1e-6, atol=1e-6)


class _Images:
    """The fields of a dataset that model_inputs reads."""

    def __init__(self, fashion, n: int):
        self.x_train, self.x_test = fashion.x_train[:n], fashion.x_test[:n]


def test_a_fixed_front_computes_both_views_features_once(fashion, tmp_path, monkeypatch):
    monkeypatch.setenv("DPZOO_CACHE_DIR", str(tmp_path))
    split = fixed_front.split(models.get("scatternet_linear"))
    pre = pipeline.Preprocessor.for_dataset(fashion)
    images = _Images(fashion, 24)
    train, test, _ = fixed_front.model_inputs(split, images, pre, views=FixedViews(mirror=True))
    assert train.shape == (24, 2, 7, 7, 81) and test.shape == (24, 7, 7, 81)
    flipped = np.ascontiguousarray(images.x_train[:, :, ::-1])
    np.testing.assert_allclose(train[:, 1], split.front(pre(flipped)).numpy(), rtol=1e-4, atol=1e-5)
    plain, _, _ = fixed_front.model_inputs(split, images, pre)
    np.testing.assert_array_equal(train[:, 0], plain)
    assert len(list((tmp_path / "features").iterdir())) == 3  # training, mirrored training, test
    again, _, _ = fixed_front.model_inputs(split, images, pre, views=FixedViews(mirror=True))
    np.testing.assert_array_equal(again, train)


def test_a_fixed_front_computes_each_shifted_views_features(fashion, tmp_path, monkeypatch):
    monkeypatch.setenv("DPZOO_CACHE_DIR", str(tmp_path))
    split = fixed_front.split(models.get("scatternet_linear"))
    pre = pipeline.Preprocessor.for_dataset(fashion)
    images = _Images(fashion, 16)
    train, _, _ = fixed_front.model_inputs(split, images, pre, views=FixedViews(shift=1))
    assert train.shape == (16, 5, 7, 7, 81)
    right = _shifted_by_numpy(images.x_train, 0, 1)
    np.testing.assert_allclose(train[:, 3], split.front(pre(right)).numpy(), rtol=1e-4, atol=1e-5)
    assert np.abs(train[:, 3] - train[:, 0]).max() > 0.01  # a one-pixel shift changes the features


@pytest.mark.parametrize(
    "fields, views",
    [(dict(mirror_views=True), 2), (dict(shift_views=2), 5), (dict(mirror_views=True, shift_views=1), 6)],
)
def test_the_engine_averages_the_views_of_each_example(fields, views):
    config = TrainConfig(noise_multiplier=1.0, **fields)
    assert config.views_per_example == views and engines.dp_config(config, 1.0).augmult == views
    plain = dataclasses.replace(config, mirror_views=False, shift_views=0)
    assert engines.dp_config(plain, 1.0).augmult == 1


@pytest.mark.parametrize(
    "fields, says",
    [
        (dict(mirror_views=True, augment=True), "--augment draws random views"),
        (dict(shift_views=2, augment=True), "--augment draws random views"),
        (dict(mirror_views=True, engine="tf_privacy"), "need engine='dpzoo'"),
        (dict(shift_views=1, engine="nonprivate", noise_multiplier=None), "need engine='dpzoo'"),
        (dict(shift_views=-1), r"shift_views=-1 >= 0"),
    ],
)
def test_fixed_views_refuse_what_the_engine_cannot_average(fields, says):
    with pytest.raises(UsageError, match=says):
        TrainConfig(**({"noise_multiplier": 1.0} | fields))


def test_a_scatternet_trained_on_fixed_views_learns_at_the_same_epsilon(fashion, tmp_path):
    fields = dict(mirror_views=True, shift_views=1)  # both kinds in one run: K = 6
    result, config = scatternet_subset_run(fashion, tmp_path, **fields)
    card = result.card
    assert all(card["dataset"][name] == value for name, value in fields.items())
    assert card["results"]["test_accuracy"] > 0.65  # chance is 0.10; 2,000 examples, 3 epochs
    privacy = card["privacy"]
    assert privacy["guarantee"] == "formal" and privacy["steps"] == 12
    plain = accounting.epsilon(
        n=2000, batch_size=config.batch_size, noise_multiplier=1.0, steps=12, delta=config.delta, accountant="rdp"
    )
    assert privacy["epsilon"] == pytest.approx(plain, rel=1e-3)  # the views are one example
