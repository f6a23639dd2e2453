"""Methods are plug-ins: the registry, a new method run end to end with no edit of the trainer, and
a trainer that names no method."""

import dataclasses
import os
import re

import pytest
import tensorflow as tf

from dpzoo import methods, training, zoo
from dpzoo.artifacts.run_folder import CHECKPOINT
from dpzoo.common.errors import UsageError
from dpzoo.common.registry import Registry
from dpzoo.methods import Attachment, Method, PrivacyTerms

# The trainer's own modules: none may name a method; what a method adds, the trainer asks for.
TRAINER_MODULES = (
    "trainer",
    "run_plan",
    "engines/engine",
    "engines/dpzoo_engine",
    "engines/tf_privacy_engine",
    "engines/nonprivate",
    "engines/keras_setup",
    "privacy_plan",
    "run_card",
    "callbacks",
    "averaging",
)


def test_the_registered_methods_and_their_papers():
    assert methods.names() == ["dpsgd", "de22", "sidp", "sidp_dp", "modelmix"]
    assert methods.DEFAULT == training.TrainConfig(noise_multiplier=1.0).method == "dpsgd"
    for name in methods.names():
        method = methods.get(name)
        assert method.name == name and method.paper and method.summary
    assert zoo.PAPERS == {name: methods.get(name).paper for name in methods.names()}


def test_every_zoo_checkpoint_names_a_registered_method_and_its_paper():
    for entry in zoo.list():
        assert entry.paper == methods.get(entry.method).paper, entry.name


def test_an_unknown_method_names_the_known_ones_and_a_name_registers_once():
    with pytest.raises(UsageError, match="known methods: dpsgd, de22"):
        methods.get("dp-adam")
    with pytest.raises(UsageError, match="method='dp-adam'"):
        training.TrainConfig(method="dp-adam", noise_multiplier=1.0)
    with pytest.raises(ValueError, match="registered twice"):
        Registry("method", [("dpsgd", methods.get("dpsgd"))] * 2)


def _names_a_method(source: str) -> list[str]:
    return [name for name in methods.names() if re.search(rf"\b{name}\b", source, re.IGNORECASE)]


def test_the_trainer_names_no_method():
    for module in TRAINER_MODULES:
        with open(os.path.join(os.path.dirname(training.__file__), f"{module}.py")) as f:
            assert _names_a_method(f.read()) == [], module
    # the check sees a special case of the kind the trainer once had
    assert _names_a_method('if config.method == "modelmix":\n    mixing = ModelMix(...)') == ["modelmix"]


class CountSteps(tf.keras.callbacks.Callback):
    """Counts the training steps in a checkpointed variable."""

    def __init__(self) -> None:
        super().__init__()
        self.state = tf.Module()
        self.state.steps = tf.Variable(0, dtype=tf.int64, name="steps")

    def on_train_batch_end(self, batch, logs=None) -> None:
        self.state.steps.assign_add(1)


class HalfNoise(Method):
    """A new method, written as a user would: half DP-SGD's update noise, a step-counting callback
    with state in the checkpoint, a refusal, a nominal statement and a card field of its own."""

    name = "half_noise"
    paper = "a test of the plug-in"
    summary = "DP-SGD with half the update noise (nominal)"

    def __init__(self) -> None:
        self.counters: list[CountSteps] = []

    def check_config(self, config) -> None:
        super().check_config(config)
        if config.optimizer == "adam":
            raise UsageError("half_noise refuses Adam.")

    def dp_config_fields(self, config, noise_multiplier: float) -> dict:
        return {"noise_multiplier": noise_multiplier / 2}

    def attach(self, config, trainable: tf.keras.Model) -> Attachment:
        self.counters.append(CountSteps())
        terms = PrivacyTerms(guarantee="nominal", reason="Half the noise the epsilon is computed for.")
        return Attachment(
            callbacks=(self.counters[-1],), checkpoint={"half_noise": self.counters[-1].state}, privacy=terms
        )

    def card_fields(self, config) -> dict:
        return {"noise_fraction": 0.5}


def test_a_new_method_runs_end_to_end_without_an_edit_of_the_trainer(monkeypatch, tmp_path, digits):
    method = HalfNoise()
    monkeypatch.setitem(methods.REGISTRY._items, method.name, method)
    config = training.TrainConfig(
        model="lenet5",
        dataset="digits",
        epochs=1,
        batch_size=128,
        learning_rate=0.5,
        noise_multiplier=1.0,
        method=method.name,
        output_dir=str(tmp_path / "run"),
    )
    with pytest.raises(UsageError, match="refuses Adam"):
        dataclasses.replace(config, optimizer="adam")
    assert training.engines.dp_config(config, 1.0).noise_multiplier == 0.5
    card = training.run(config, verbose=0, dataset=_padded(digits)).card
    steps = card["privacy"]["steps"]
    assert steps == round(len(digits.x_train) / 128) and int(method.counters[-1].state.steps.numpy()) == steps
    assert card["training"]["method"] == "half_noise" and card["training"]["noise_fraction"] == 0.5
    assert card["privacy"]["guarantee"] == "nominal" and "Half the noise" in card["privacy"]["statement"]
    saved = dict(tf.train.list_variables(os.path.join(config.output_dir, CHECKPOINT)))
    assert any(name.startswith("half_noise/steps") for name in saved)


def _padded(digits):
    """Digits padded to 28x28 (LeNet-5's smallest input), real images and labels."""
    pad = lambda x: tf.pad(x, [[0, 0], [10, 10], [10, 10], [0, 0]]).numpy()
    return dataclasses.replace(digits, x_train=pad(digits.x_train), x_test=pad(digits.x_test))
