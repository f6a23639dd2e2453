"""The generic trainer knows no ScatterNet: what a run computes once from a model's fixed front
reaches it through one object, dpzoo.training.precomputed.RunFeatures."""

import pathlib
import re

import numpy as np
import pytest

from dpzoo import models
from dpzoo.data import pipeline
from dpzoo.layers.channel_normalization import ChannelNormalization
from dpzoo.training import TrainConfig
from dpzoo.training.precomputed import RunFeatures
from tests.conftest import data_subset

ROOT = pathlib.Path(__file__).resolve().parents[3]
FRONT_NAMES = re.compile(r"fixed_front|data_normalization|Scattering2D|ChannelNormalization|\.split\.head")


@pytest.mark.parametrize("module", ["trainer.py", "run_plan.py", "run_card.py"])
def test_the_generic_trainer_names_no_fixed_front(module):
    assert FRONT_NAMES.findall((ROOT / "dpzoo" / "training" / module).read_text()) == []
    # the lines RunFeatures replaced are caught
    assert FRONT_NAMES.search("front = fixed_front.split_for_run(model, augment=config.augment, in_memory=in_memory)")
    assert FRONT_NAMES.search("**data_normalization.card_fields(config, model),")


def _first(fashion, n: int):
    """The first ``n`` training and test examples: the features of 40 images take a second."""
    return data_subset(fashion, n, n)


def test_a_model_without_a_front_passes_through_unchanged(fashion):
    fashion = _first(fashion, 40)
    model = models.get("tutorial_cnn")
    features = RunFeatures.for_run(TrainConfig(noise_multiplier=1.0), model, fashion)
    preprocess = pipeline.Preprocessor.for_dataset(fashion)
    x_train, x_test, inputs = features.inputs(fashion, preprocess)
    assert features.trainable is model and not features.views_in_features
    assert x_train is fashion.x_train and x_test is fashion.x_test and inputs is preprocess
    assert features.dataset_card_fields() == features.training_card_fields() == {}


def test_a_scatternet_trains_its_head_on_features_computed_once(fashion, tmp_path, monkeypatch):
    """The head trains on the front's features (with the mirror view beside each) and the channel
    statistics are released into the model before the first step; the card names both."""
    monkeypatch.setenv("DPZOO_CACHE_DIR", str(tmp_path))
    fashion = _first(fashion, 40)
    model = models.get("scatternet_linear", normalization="data")
    config = TrainConfig(
        model="scatternet_linear", noise_multiplier=1.0, data_norm_noise_multiplier=8.0, mirror_views=True
    )
    features = RunFeatures.for_run(config, model, fashion)
    (normalization,) = [layer for layer in model.layers if isinstance(layer, ChannelNormalization)]
    before = [w.copy() for w in normalization.get_weights()]
    preprocess = pipeline.Preprocessor.for_dataset(fashion)
    x_train, x_test, inputs = features.inputs(fashion, preprocess)
    assert features.trainable is features.split.head and features.views_in_features
    assert x_train.shape == (40, 2, *features.split.head.input_shape[1:]) and len(x_test) == 40
    front = features.split.front(preprocess(fashion.x_train)).numpy()
    np.testing.assert_allclose(x_train[:, 0], front, rtol=1e-5, atol=1e-6)
    assert inputs is not preprocess  # the pipelines read features, not images
    assert any(np.any(a != b) for a, b in zip(before, normalization.get_weights(), strict=True))  # released
    assert "no privacy cost" in features.dataset_card_fields()["fixed_features"]
    assert features.training_card_fields()["data_normalization"]["noise_multiplier"] == 8.0
