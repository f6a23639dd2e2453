"""A fine-tuning run (TrainConfig.init_from, finetune): it starts from a pretrained run's model with
a new zero head, trains what its mode names, and its card names the starting point, the data it
saw and its statement; starting points that saw this run's data, or another model, are refused."""

import dataclasses
import hashlib
import os
import shutil

import numpy as np
import pytest

from dpzoo import data, training
from dpzoo.artifacts import run_folder
from dpzoo.common.errors import UsageError
from dpzoo.common.keras_api import KERAS_3
from dpzoo.common.stack import keras
from dpzoo.models import hub
from dpzoo.training import TrainConfig
from tests.conftest import data_subset


def _config(tmp_path, name: str, **changes) -> TrainConfig:
    base = dict(model="tutorial_cnn", epochs=1, batch_size=8, noise_multiplier=1.0, max_steps=2)
    return TrainConfig(output_dir=str(tmp_path / name), **{**base, **changes})


def _fashion(fashion: data.Dataset, n: int = 64) -> data.Dataset:
    return data_subset(fashion, n)


@pytest.fixture(scope="module")
def pretrained_run(tmp_path_factory):
    """A private run on MNIST-shaped stand-in data (public for this test): the starting point."""
    folder = tmp_path_factory.mktemp("pretraining")
    config = _config(folder, "pre", dataset="mnist")
    card = training.run(config, verbose=0, dataset=data.synthetic("mnist", n_train=32, n_test=8)).card
    return config.output_dir, card


def _sha256(run_dir: str) -> str:
    folder = os.path.join(run_dir, os.path.dirname(run_folder.CHECKPOINT))
    digest = hashlib.sha256()
    for name in sorted(os.listdir(folder)):
        if name.startswith(os.path.basename(run_folder.CHECKPOINT)):
            digest.update(name.encode())
            digest.update(open(os.path.join(folder, name), "rb").read())
    return digest.hexdigest()


def test_head_fine_tuning_keeps_the_backbone_and_its_card_names_the_start(fashion, pretrained_run, tmp_path):
    pre_dir, pre_card = pretrained_run
    config = _config(tmp_path, "head", init_from=pre_dir, finetune="head")
    card = training.run(config, verbose=0, dataset=_fashion(fashion)).card
    pretraining = card["pretraining"]
    assert pretraining["dataset"] == "mnist" and pretraining["model"] == "tutorial_cnn"
    assert pretraining["statement"] == pre_card["privacy"]["statement"]
    assert pretraining["sha256"] == _sha256(pre_dir) and pretraining["finetune"] == "head"
    assert card["model"]["trainable_parameters"] == 32 * 10 + 10  # the new head on the 32 hidden units
    assert card["privacy"]["steps"] == 2  # the accountant covers this run's private steps only
    markdown = open(os.path.join(config.output_dir, "model_card.md")).read()
    assert "## Pretraining (not covered by the epsilon above)" in markdown and pretraining["sha256"] in markdown
    pre_model, _ = run_folder.load_run(pre_dir)
    tuned, _ = run_folder.load_run(config.output_dir)  # rebuilt from the card: backbone, then the new head
    for layer in pre_model.layers[:-1]:
        for before, after in zip(layer.get_weights(), tuned.get_layer(layer.name).get_weights(), strict=True):
            np.testing.assert_array_equal(before, after)
    head = tuned.get_layer("finetune_logits").get_weights()[0]
    assert head.shape == (32, 10) and np.abs(head).max() > 0  # started at zero, trained


def test_full_fine_tuning_moves_the_backbone(fashion, pretrained_run, tmp_path):
    pre_dir, _ = pretrained_run
    config = _config(tmp_path, "full", init_from=pre_dir)
    card = training.run(config, verbose=0, dataset=_fashion(fashion)).card
    assert card["pretraining"]["finetune"] == "full"
    pre_model, _ = run_folder.load_run(pre_dir)
    tuned, _ = run_folder.load_run(config.output_dir)
    conv = "tutorial_cnn_conv1"
    assert not np.array_equal(pre_model.get_layer(conv).get_weights()[0], tuned.get_layer(conv).get_weights()[0])


def test_a_start_that_saw_this_runs_data_is_refused(fashion, tmp_path):
    seen = _config(tmp_path, "seen", dataset="fashion_mnist")
    training.run(seen, verbose=0, dataset=_fashion(fashion))
    with pytest.raises(UsageError, match="trained on fashion_mnist, this run's dataset: its privacy guarantee"):
        training.run(_config(tmp_path, "again", init_from=seen.output_dir), verbose=0, dataset=_fashion(fashion))


def test_another_model_or_a_mode_without_a_start_is_refused(fashion, pretrained_run, tmp_path):
    pre_dir, _ = pretrained_run
    with pytest.raises(UsageError, match="pass --model=tutorial_cnn"):
        training.run(
            _config(tmp_path, "lenet", model="lenet5", init_from=pre_dir), verbose=0, dataset=_fashion(fashion)
        )
    with pytest.raises(UsageError, match="finetune='head' needs init_from"):
        _config(tmp_path, "nostart", finetune="head")
    with pytest.raises(UsageError, match="finetune"):
        dataclasses.replace(_config(tmp_path, "x"), finetune="adapters")


@pytest.mark.skipif(not KERAS_3, reason="LoRA (enable_lora) is Keras 3's")
def test_lora_fine_tunes_a_text_model_pretrained_on_other_debian_packages(tmp_path):
    """LoRA for text: a BiLSTM pretrained on Debian descriptions by section, fine-tuned privately on
    the section task of other packages (debian_tools): only the adapters of its token embedding
    and the new head train (its LSTMs have no LoRA in Keras), the LSTMs stay, and the run reloads."""
    public, tools = data.load("debian_descriptions"), data.load("debian_tools")
    start = _config(tmp_path, "public", model="bilstm", dataset="debian_descriptions", engine="nonprivate")
    training.run(start, verbose=0, dataset=data_subset(public, 64))
    config = _config(tmp_path, "lora", model="bilstm", dataset="debian_tools", init_from=start.output_dir)
    config = dataclasses.replace(config, finetune="lora", lora_rank=4)
    card = training.run(config, verbose=0, dataset=data_subset(tools, 64)).card
    assert card["pretraining"]["dataset"] == "debian_descriptions" and card["dataset"]["name"] == "debian_tools"
    tuned, _ = run_folder.load_run(config.output_dir)
    names = sorted(v.path.split("/")[-1] for v in tuned.trainable_variables)
    assert names == sorted(["lora_embeddings_a", "lora_embeddings_b", "kernel", "bias"])
    pre_model, _ = run_folder.load_run(start.output_dir)
    for name in ("bilstm_forward", "bilstm_backward"):
        before, after = pre_model.get_layer(name).get_weights(), tuned.get_layer(name).get_weights()
        assert len(before) >= 2
        for was, now in zip(before, after, strict=True):
            np.testing.assert_array_equal(was, now)


@pytest.mark.skipif(not KERAS_3, reason="a .keras file is Keras 3's format")
def test_a_keras_file_start_needs_its_data_declared_and_its_folder_rebuilds_from_a_copy(fashion, tmp_path):
    """The user's own pretrained model as a .keras file: the card names the data they declare and
    the file's sha256, the run folder keeps a copy that rebuilds the model (the original may go),
    and a file without a declaration, one that declares this run's data, or no model at all is refused."""
    from dpzoo.common.stack import keras

    inputs = keras.Input((28, 28, 1))
    x = keras.layers.Conv2D(4, 3, activation="relu", name="conv")(inputs)
    x = keras.layers.GlobalAveragePooling2D()(x)
    own = keras.Model(inputs, keras.layers.Dense(3, name="logits")(x), name="my_cnn")
    path = str(tmp_path / "my_cnn.keras")
    own.save(path)
    subset = data_subset(fashion, 64)
    config = _config(tmp_path, "own", model="my_cnn", init_from=path, init_data="mnist", finetune="head")
    card = training.run(config, verbose=0, dataset=subset).card
    pretraining = card["pretraining"]
    assert pretraining["dataset"] == "mnist" and "declared with --init_data" in pretraining["dataset_source"]
    assert pretraining["sha256"] == hashlib.sha256(open(path, "rb").read()).hexdigest()
    os.remove(path)
    tuned, _ = run_folder.load_run(config.output_dir)
    np.testing.assert_array_equal(tuned.get_layer("conv").get_weights()[0], own.get_layer("conv").get_weights()[0])
    assert tuned.get_layer("finetune_logits").get_weights()[0].shape == (4, 10)
    own.save(path)
    for changes, message in (
        (dict(init_data=None), "does not record what data"),
        (dict(init_data="fashion_mnist"), "this run's dataset"),
        (dict(model="tutorial_cnn"), "--model=my_cnn"),
        (dict(init_from=str(tmp_path / "nothing.keras")), "no such Keras model file"),
    ):
        with pytest.raises(UsageError, match=message):
            training.run(
                dataclasses.replace(config, output_dir=str(tmp_path / "refused"), **changes), verbose=0, dataset=subset
            )


@pytest.mark.skipif(not KERAS_3, reason="a .weights.h5 file is Keras 3's format")
def test_a_weights_file_start_loads_into_the_named_model_and_names_its_declared_data(fashion, tmp_path):
    """A bare weights file (model.save_weights) of a registered model: its weights load into
    --model built for --init_classes, the card names the declared data and the file's sha256,
    the folder rebuilds without the file, and a file that does not fit is refused with the fix."""
    from dpzoo import models

    own = models.get("tutorial_cnn", input_shape=(28, 28, 1), num_classes=3)
    path = str(tmp_path / "cnn.weights.h5")
    own.save_weights(path)
    subset = data_subset(fashion, 64)
    config = _config(tmp_path, "own", init_from=path, init_data="mnist", init_classes=3, finetune="head")
    card = training.run(config, verbose=0, dataset=subset).card
    pretraining = card["pretraining"]
    assert pretraining["dataset"] == "mnist" and "a weights file records no data" in pretraining["dataset_source"]
    assert pretraining["sha256"] == hashlib.sha256(open(path, "rb").read()).hexdigest()
    assert pretraining["model"] == "tutorial_cnn" and pretraining["num_classes"] == 3
    os.remove(path)
    tuned, _ = run_folder.load_run(config.output_dir)
    for layer in ("tutorial_cnn_conv1", "tutorial_cnn_fc1"):  # frozen by --finetune=head: the file's weights
        for was, now in zip(own.get_layer(layer).get_weights(), tuned.get_layer(layer).get_weights(), strict=True):
            np.testing.assert_array_equal(was, now)
    own.save_weights(path)
    for changes, message in (
        (dict(init_data=None), "a weights file does not record what data"),
        (dict(init_classes=None), "--init_classes=N"),
        (dict(model="lenet5"), "does not fit --model=lenet5"),
        (dict(init_from=str(tmp_path / "nothing.weights.h5")), "no such weights file"),
    ):
        with pytest.raises(UsageError, match=message):
            training.run(
                dataclasses.replace(config, output_dir=str(tmp_path / "refused"), **changes), verbose=0, dataset=subset
            )
    assert not os.path.exists(tmp_path / "refused")
    with pytest.raises(UsageError, match="init_classes are about a starting point"):
        TrainConfig(init_classes=3)


@pytest.mark.skipif(not KERAS_3, reason="keras-hub is built on Keras 3")
def test_a_keras_hub_preset_starts_a_run_and_its_folder_rebuilds_without_the_preset(fashion, tmp_path, monkeypatch):
    """A saved keras-hub preset (a small ResNet of any input size) as the start: its backbone at the
    adapted input size with a pooled head, BatchNorm frozen, the head trained; the card names the
    declared data, the run folder keeps the model and rebuilds without the preset; and a start
    without a declaration, under another --model, or a folder that holds no preset is refused."""
    import keras_hub

    classifier = hub.classifier
    backbone = keras_hub.models.ResNetBackbone(
        input_conv_filters=[64],
        input_conv_kernel_sizes=[3],
        stackwise_num_filters=[64],
        stackwise_num_blocks=[1],
        stackwise_num_strides=[1],
        block_type="basic_block",
        use_pre_activation=False,
        image_shape=(None, None, 3),
    )
    preset = tmp_path / "preset"
    backbone.save_to_preset(str(preset))
    start = f"keras_hub:{preset}"
    subset = data_subset(fashion, 64)
    changes = dict(init_data="imagenet2012", adapt_inputs="16x16x3", finetune="head", batch_norm="freeze")
    config = _config(tmp_path, "hub", model=start, init_from=start, **changes)
    built = []
    monkeypatch.setattr(hub, "classifier", lambda *args, **kwargs: built.append(args) or classifier(*args, **kwargs))
    card = training.run(config, verbose=0, dataset=subset).card
    assert len(built) == 1  # the run folder keeps the start saved when it was built, not a second load
    pretraining = card["pretraining"]
    assert pretraining["dataset"] == "imagenet2012" and "declared with --init_data" in pretraining["dataset_source"]
    assert pretraining["model_file"] == "pretrained.keras" and pretraining["input_shape"] == [16, 16, 3]
    assert card["model"]["trainable_parameters"] == 64 * 10 + 10  # the new head on the 64 pooled channels
    shutil.rmtree(preset)
    tuned, _ = run_folder.load_run(config.output_dir)
    convs = [layer for layer in backbone.layers if isinstance(layer, keras.layers.Conv2D)]
    for layer in convs:
        np.testing.assert_array_equal(tuned.get_layer(layer.name).get_weights()[0], layer.get_weights()[0])
    backbone.save_to_preset(str(preset))
    for changes, message in (
        (dict(init_data=None), "does not record what data"),
        (dict(model="tutorial_cnn"), f"pass --model={start}"),
        (dict(init_from=f"keras_hub:{tmp_path}", model=f"keras_hub:{tmp_path}"), "keras-hub cannot load this preset"),
    ):
        with pytest.raises(UsageError, match=message):
            training.run(
                dataclasses.replace(config, output_dir=str(tmp_path / "refused"), **changes), verbose=0, dataset=subset
            )
