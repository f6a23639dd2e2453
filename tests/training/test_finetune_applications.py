"""Fine-tuning a keras.applications model end to end (``init_from="keras.applications.NAME"``,
``weights=None`` here: nothing downloads): each of the four modes trains on scikit-learn's 8x8
digits through an explicit input adapter (resized to 32x32, the grey channel repeated), writes a
card that says so, and reloads from its folder to the accuracy its card states; shapes that do not
fit without the adapter, and starting points that do not match, are refused."""

import os

import numpy as np
import pytest

from dpzoo import data, finetuning, training
from dpzoo.artifacts import model_card, run_folder
from dpzoo.common.errors import UsageError
from dpzoo.common.keras_api import KERAS_3
from dpzoo.training import TrainConfig, run_plan

pytestmark = pytest.mark.skipif(not KERAS_3, reason="adapting a model's inputs is Keras 3's (clone call hook)")

APPLICATION = "keras.applications.MobileNetV3Small"
HEAD_PARAMETERS = 1024 * 10 + 10  # MobileNetV3Small's 1024 pooled features to 10 digits
# what each mode needs of MobileNetV3Small's BatchNormalization: frozen for full, GroupNorm to train norms
BATCH_NORM = {"full": "freeze", "head": None, "norms": "group_norm", "lora": None}


def _config(tmp_path, mode: str, **changes) -> TrainConfig:
    fields = dict(
        model=APPLICATION,
        init_from=APPLICATION,
        init_weights="none",
        adapt_inputs="32x32x3",
        batch_norm=BATCH_NORM[mode],
        finetune=mode,
        dataset="digits",
        max_train_examples=128,
        batch_size=32,
        epochs=1,
        max_steps=2,
        learning_rate=0.5,
        noise_multiplier=1.0,
        output_dir=str(tmp_path / mode),
    )
    return TrainConfig(**(fields | changes))


def _test_accuracy(model, card: dict, digits: data.Dataset) -> float:
    x = run_folder.preprocessor_from_card(card).from_unit_range(digits.x_test.astype(np.float32) / 255.0)
    return float(np.mean(np.argmax(model.predict(x, verbose=0), axis=-1) == digits.y_test))


@pytest.mark.parametrize("mode", finetuning.MODES)
def test_each_mode_runs_end_to_end_and_reloads_from_its_card(mode, tmp_path):
    digits = data.load("digits")
    config = _config(tmp_path, mode)
    card = training.run(config, verbose=0).card
    pretraining = card["pretraining"]
    assert pretraining["init_from"] == APPLICATION and pretraining["dataset"] == "none"
    assert pretraining["input_shape"] == [32, 32, 3] and pretraining["adapt_inputs"] == "32x32x3"
    assert pretraining["batch_norm"] == BATCH_NORM[mode] and len(pretraining["sha256"]) == 64
    assert card["dataset"]["input_shape"] == [8, 8, 1] and card["privacy"]["steps"] == 2
    trainable, total = card["model"]["trainable_parameters"], card["model"]["parameters"]
    if mode == "head":
        assert trainable == HEAD_PARAMETERS
    else:
        assert HEAD_PARAMETERS < trainable < total
    model, reloaded_card = run_folder.load_run(config.output_dir)
    assert reloaded_card == card
    assert sum(int(np.prod(v.shape)) for v in model.trainable_variables) == trainable
    assert _test_accuracy(model, card, digits) == pytest.approx(card["results"]["test_accuracy"], abs=1e-6)
    markdown = open(os.path.join(config.output_dir, model_card.CARD_MARKDOWN)).read()
    assert "resized and channel-repeated to 32x32x3" in markdown


def test_a_start_of_another_shape_needs_the_adapter_and_the_adapter_changes_nothing_else(tmp_path):
    with pytest.raises(UsageError, match="--adapt_inputs=HEIGHTxWIDTHx3"):
        run_plan.build_model(_config(tmp_path, "head", adapt_inputs=None), data.load("digits"))
    with pytest.raises(UsageError, match="--model=keras.applications.MobileNetV3Small"):
        run_plan.build_model(_config(tmp_path, "head", model="tutorial_cnn"), data.load("digits"))
    with pytest.raises(UsageError, match="need init_from"):
        TrainConfig(adapt_inputs="32x32x3")
    with pytest.raises(UsageError, match="HEIGHTxWIDTHxCHANNELS"):
        _config(tmp_path, "head", adapt_inputs="32x32")


def test_the_adapter_feeds_the_model_the_resized_grey_image_in_every_channel():
    """The adapted model computes, layer for layer, the pretrained model on the image resized
    bilinearly and repeated to three channels (its own weights, copied, each layer called once)."""
    from dpzoo.common import keras_api
    from dpzoo.common.stack import keras

    backbone = keras.applications.MobileNetV3Small(weights=None, input_shape=(32, 32, 3), classes=10)
    adapted = finetuning.adapt_inputs(backbone, (8, 8, 1))
    assert max(keras_api.call_count(layer) for layer in adapted.layers) == 1  # in no other model either
    x = np.random.default_rng(0).random((3, 8, 8, 1), dtype=np.float32)
    by_hand = np.repeat(keras.layers.Resizing(32, 32)(x).numpy(), 3, axis=-1)
    np.testing.assert_allclose(adapted(x, training=False), backbone(by_hand, training=False), atol=1e-6)
    assert finetuning.adapt_inputs(backbone, (32, 32, 3)) is backbone
    with pytest.raises(UsageError, match="channel"):
        finetuning.adapt_inputs(backbone, (8, 8, 2))
