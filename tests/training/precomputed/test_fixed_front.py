"""Training on a fixed front's features (dpzoo.training.fixed_front): the split model computes
what the whole model computes, features come from the cache when it holds them, and a
ScatterNet trained on its features learns, exports a SavedModel that takes raw images, and says
on its card that the transform costs nothing."""

import os

import numpy as np
import pytest
import tensorflow as tf

from dpzoo import data, models
from dpzoo.artifacts import run_folder
from dpzoo.data import pipeline
from dpzoo.training.precomputed import fixed_front
from tests.conftest import scatternet_subset_run


def test_front_then_head_computes_the_whole_model_with_its_weights(fashion):
    tf.keras.utils.set_random_seed(0)
    model = models.get("scatternet_cnn")
    split = fixed_front.split(model)
    assert split.layers == ("Scattering2D", "GroupNormalization")
    assert split.front.weights == [] and {id(v) for v in split.head.weights} == {id(v) for v in model.weights}
    x = fashion.x_test[:8].astype(np.float32) / 255.0
    np.testing.assert_allclose(split.head(split.front(x)).numpy(), model(x).numpy(), rtol=1e-5, atol=1e-6)
    assert fixed_front.split(models.get("tutorial_cnn")) is None  # nothing fixed in front
    assert fixed_front.split(models.get("scatternet_linear", normalization="none")).layers == ("Scattering2D",)


def test_features_come_from_the_cache_and_a_damaged_cache_is_recomputed(fashion, tmp_path):
    front = fixed_front.split(models.get("scatternet_linear")).front
    images = fashion.x_test[:20]
    preprocess = pipeline.Preprocessor.for_dataset(fashion)
    first = fixed_front.features(front, images, preprocess, what="test", cache=str(tmp_path))
    (path,) = (tmp_path / "features").iterdir()
    np.save(path, np.zeros_like(first))  # what the cache holds is what is returned
    assert not np.any(fixed_front.features(front, images, preprocess, what="test", cache=str(tmp_path)))
    path.write_bytes(b"not an npy file")
    again = fixed_front.features(front, images, preprocess, what="test", cache=str(tmp_path))
    np.testing.assert_allclose(again, first, rtol=1e-6)
    assert [p.name for p in (tmp_path / "features").iterdir()] == [path.name]  # replaced, nothing half-written
    other = fixed_front.features(front, fashion.x_test[20:40], preprocess, what="test", cache=str(tmp_path))
    assert len(list((tmp_path / "features").iterdir())) == 2 and np.abs(other - first).max() > 1e-3


@pytest.fixture(scope="module")
def scatternet_run(fashion, tmp_path_factory):
    return scatternet_subset_run(fashion, tmp_path_factory.mktemp("scatternet"))


def test_a_scatternet_trained_on_its_features_learns_and_serves_raw_images(scatternet_run, fashion):
    result, config = scatternet_run
    card = result.card
    assert card["results"]["test_accuracy"] > 0.65  # chance is 0.10; 2,000 examples, 3 epochs
    assert card["privacy"]["guarantee"] == "formal" and card["privacy"]["steps"] == 12
    assert "no privacy cost" in card["dataset"]["fixed_features"]
    model, _ = run_folder.load_run(result.output_dir)  # the whole model: scattering and head
    images = fashion.x_test[:32].astype(np.float32) / 255.0
    served = tf.saved_model.load(os.path.join(result.output_dir, run_folder.SAVED_MODEL))
    probabilities = served.signatures["serving_default"](images=tf.constant(images))["probabilities"].numpy()
    preprocess = run_folder.preprocessor_from_card(card).from_unit_range
    want = tf.nn.softmax(model(preprocess(images), training=False)).numpy()
    np.testing.assert_allclose(probabilities, want, rtol=1e-4, atol=1e-5)
    dataset = data.load("fashion_mnist", config.data_dir)
    accuracy = np.mean(np.argmax(model.predict(preprocess(dataset.x_test / 255.0), verbose=0), -1) == dataset.y_test)
    assert abs(accuracy - card["results"]["test_accuracy"]) < 1e-3  # the card's number, from raw images


def test_runs_that_augment_or_stream_train_the_whole_model():
    model = models.get("scatternet_linear")
    assert fixed_front.split_for_run(model, augment=False, in_memory=True) is not None
    assert fixed_front.split_for_run(model, augment=True, in_memory=True) is None
    assert fixed_front.split_for_run(model, augment=False, in_memory=False) is None


def test_a_model_splits_again_after_its_layers_joined_another_model():
    """A split's head calls the whole model's layers a second time, in a model of its own; a second
    split of the same model (another run in the process, an audit after training) still finds the
    chain. Counting every call of a layer, the second split found none (None)."""
    from dpzoo.common import keras_api

    model = models.get("scatternet_cnn")
    first = fixed_front.split(model)
    assert {keras_api.call_count(layer) for layer in first.head.layers[1:]} == {2}  # what the old count saw
    again = fixed_front.split(model)
    assert again is not None and again.layers == first.layers
    assert [layer.name for layer in again.head.layers] == [layer.name for layer in first.head.layers]
