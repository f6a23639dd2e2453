"""End to end on real Fashion-MNIST: a short private run learns, writes its card, and exports."""

import json
import os

import numpy as np
import pytest
import tensorflow as tf

from dpzoo import accounting, training
from dpzoo.artifacts import model_card, run_folder
from dpzoo.common import stack
from dpzoo.common.determinism import op_determinism
from dpzoo.common.errors import UsageError
from dpzoo.training import TrainConfig, resume, trainer


@pytest.fixture(scope="module")
def private_run(tmp_path_factory):
    out = tmp_path_factory.mktemp("runs") / "fmnist"
    config = TrainConfig(
        model="tutorial_cnn",
        model_kwargs={"activation": "tanh"},
        dataset="fashion_mnist",
        max_train_examples=6000,
        epochs=3,
        batch_size=128,
        learning_rate=2.0,
        optimizer="momentum",
        momentum=0.5,
        l2_norm_clip=1.0,
        target_epsilon=8.0,
        output_dir=str(out),
    )
    return training.run(config, command="pytest", verbose=0)


def test_short_private_run_learns_well_above_chance(private_run):
    card = private_run.card
    assert card["results"]["test_accuracy"] > 0.6  # chance is 0.10; on 10,000 real test images
    assert card["privacy"]["guarantee"] == "formal"
    assert card["privacy"]["epsilon"] <= 8.0 + 1e-3
    assert card["privacy"]["steps"] == 3 * round(6000 / 128)
    assert [row["epoch"] for row in card["history"]] == [1, 2, 3]
    assert card["history"][0]["epsilon"] < card["history"][-1]["epsilon"]


def test_a_run_is_deterministic_and_then_restores_the_setting(private_run):
    assert private_run.card["training"]["deterministic_ops"] is True
    with op_determinism(True):  # TensorFlow refuses an unseeded generator under determinism
        with pytest.raises(RuntimeError, match="determinism"):
            tf.random.Generator.from_non_deterministic_state()
    tf.random.Generator.from_non_deterministic_state()  # off again after the block, as after the run


def test_card_files_are_complete(private_run):
    with open(os.path.join(private_run.output_dir, model_card.CARD_JSON)) as f:
        card = json.load(f)
    for key in ("epsilon", "delta", "accountant", "sampling", "guarantee", "statement"):
        assert key in card["privacy"]
    assert card["dpzoo_version"] and card["command"] == "pytest"
    markdown = open(os.path.join(private_run.output_dir, model_card.CARD_MARKDOWN)).read()
    assert "PLD accountant" in markdown and "Poisson sampling" in markdown and "formal" in markdown
    assert card["keras_version"] == stack.KERAS_VERSION and f", {stack.KERAS_VERSION}, trained in" in markdown
    assert not os.path.exists(resume.staging_dir(private_run.output_dir))  # moved into place


def test_saved_model_predicts_what_the_keras_model_predicts(private_run, fashion):
    model, card = run_folder.load_run(private_run.output_dir)
    images = fashion.x_test[:64].astype(np.float32) / 255.0
    keras_probs = tf.nn.softmax(
        model(run_folder.preprocessor_from_card(card).from_unit_range(images), training=False)
    ).numpy()
    loaded = tf.saved_model.load(os.path.join(private_run.output_dir, run_folder.SAVED_MODEL))
    served = loaded.signatures["serving_default"](images=tf.constant(images))
    np.testing.assert_allclose(served["probabilities"].numpy(), keras_probs, rtol=1e-4, atol=1e-6)
    np.testing.assert_array_equal(served["classes"].numpy(), keras_probs.argmax(-1))
    accuracy = np.mean(served["classes"].numpy() == fashion.y_test[:64])
    assert accuracy > 0.5


def test_export_from_checkpoint_matches(private_run, fashion, tmp_path):
    path = run_folder.export_run(private_run.output_dir, str(tmp_path / "export" / "1"))
    images = tf.constant(fashion.x_test[:16].astype(np.float32) / 255.0)
    original = tf.saved_model.load(os.path.join(private_run.output_dir, run_folder.SAVED_MODEL))
    exported = tf.saved_model.load(path)
    np.testing.assert_allclose(
        exported.signatures["serving_default"](images=images)["probabilities"].numpy(),
        original.signatures["serving_default"](images=images)["probabilities"].numpy(),
        rtol=1e-5,
        atol=1e-7,
    )


def test_checkpoint_of_another_model_is_refused(private_run, tmp_path):
    card = model_card.read(private_run.output_dir)
    card["model"]["name"] = "lenet5"
    fake = tmp_path / "fake"
    os.makedirs(fake / "checkpoint")
    for name in os.listdir(os.path.join(private_run.output_dir, "checkpoint")):
        src = os.path.join(private_run.output_dir, "checkpoint", name)
        (fake / "checkpoint" / name).write_bytes(open(src, "rb").read())
    model_card.write(card, str(fake))
    with pytest.raises(UsageError, match="does not match"):
        run_folder.load_run(str(fake))


def test_a_run_failing_after_training_leaves_only_its_resume_point(tmp_path, monkeypatch):
    """Nothing half-written in output_dir; the staging folder keeps the checkpoint of the last
    step, so the rerun trains no step again and counts each once."""

    def broken_export(*args, **kwargs):
        raise RuntimeError("disk full")  # fails after the checkpoint was written

    config = TrainConfig(
        model="lenet5",
        dataset="fashion_mnist",
        max_train_examples=300,
        epochs=1,
        batch_size=100,
        noise_multiplier=1.0,
        output_dir=str(tmp_path / "run"),
    )
    with monkeypatch.context() as patched:
        patched.setattr(trainer, "saved_model", broken_export)
        with pytest.raises(RuntimeError, match="disk full"):
            training.run(config, verbose=0)
    assert os.listdir(tmp_path) == [".run.partial"]
    assert resume.latest_progress(resume.staging_dir(config.output_dir)).step == 3
    card = training.run(config, verbose=0).card
    assert card["training"]["resumed_from_steps"] == [3] and card["privacy"]["steps"] == 3
    assert os.listdir(tmp_path) == ["run"]


def test_model_that_cannot_take_the_input_shape_is_a_usage_error(tmp_path):
    config = TrainConfig(
        dataset="digits", epochs=1, batch_size=64, noise_multiplier=1.0, output_dir=str(tmp_path / "run")
    )  # tutorial_cnn cannot take 8x8 images
    with pytest.raises(UsageError, match="cannot be built for digits"):
        training.run(config, verbose=0)
    assert os.listdir(tmp_path) == []


def test_existing_output_dir_is_not_overwritten_silently(private_run):
    config = TrainConfig(
        dataset="digits", epochs=1, batch_size=64, noise_multiplier=1.0, output_dir=private_run.output_dir
    )
    with pytest.raises(UsageError, match="--overwrite"):
        training.run(config, verbose=0)


def test_results_table_row_names_privacy_and_command(private_run):
    table = model_card.results_table([private_run.card])
    row = table.splitlines()[2]
    assert "formal" in row and "pld" in row and "poisson" in row and "`pytest`" in row and "| dpsgd |" in row
    assert f"{100 * private_run.card['results']['test_accuracy']:.2f}%" in row


@pytest.fixture(scope="module")
def de22_run(tmp_path_factory):
    """The De et al. recipe in small: GN+WS CNN, K = 2 views, EMA evaluation, train until epsilon."""
    config = TrainConfig(
        model="tutorial_cnn_gnws",
        dataset="fashion_mnist",
        max_train_examples=4096,
        epochs=5,
        batch_size=256,
        learning_rate=20.0,
        optimizer="sgd",
        l2_norm_clip=0.1,
        noise_multiplier=1.0,
        target_epsilon=3.0,
        stop_at_epsilon=True,
        augment=True,
        augmult=2,
        ema_decay=0.99,
        eval_weights="ema",
        output_dir=str(tmp_path_factory.mktemp("runs") / "de22"),
    )
    return training.run(config, command="pytest", verbose=0)


def test_stop_at_epsilon_takes_exactly_the_budgeted_steps(de22_run):
    card = de22_run.card
    budget = accounting.max_steps(
        target_epsilon=3.0, delta=1e-5, n=4096, batch_size=256, noise_multiplier=1.0, accountant="pld"
    )
    assert budget < 5 * 16  # the budget, not the epochs, ends this run
    assert card["privacy"]["steps"] == budget
    assert card["privacy"]["epsilon"] <= 3.0
    assert len(card["history"]) == -(-budget // 16)  # a partial last epoch


def test_augmult_ema_run_learns_and_saves_the_weights_its_card_names(de22_run, fashion):
    card = de22_run.card
    assert card["dataset"]["augmult"] == 2 and card["results"]["eval_weights"] == "ema"
    by_weights = card["results"]["test_accuracy_by_weights"]
    assert set(by_weights) == {"raw", "ema", "polyak"}
    assert card["results"]["test_accuracy"] == by_weights["ema"] > 0.5  # chance is 0.10
    assert by_weights["raw"] != by_weights["ema"]
    model, _ = run_folder.load_run(de22_run.output_dir)  # the checkpoint holds the EMA weights
    inputs = run_folder.preprocessor_from_card(card)(fashion.x_test)
    predictions = np.argmax(model.predict(inputs, batch_size=1000, verbose=0), axis=1)
    assert np.mean(predictions == fashion.y_test) == pytest.approx(by_weights["ema"], abs=1e-4)
