"""Rebuilding a trained model from a run folder (model card + checkpoint), checked on load."""

import os

import tensorflow as tf

from dpzoo import export, model_card
from dpzoo import models as model_registry
from dpzoo.errors import UsageError

CHECKPOINT = "checkpoint/weights"
SAVED_MODEL = "saved_model"


def load_run(run_dir: str) -> tuple[tf.keras.Model, dict]:
    """The Keras model of a dpzoo-train run with its weights restored, and its card."""
    try:
        card = model_card.read(run_dir)
    except (OSError, ValueError) as e:
        raise UsageError(f"{run_dir} has no readable {model_card.CARD_JSON}: {e}") from e
    try:
        model = model_registry.get(
            card["model"]["name"],
            input_shape=tuple(card["dataset"]["input_shape"]),
            num_classes=card["dataset"]["num_classes"],
            **card["model"]["kwargs"],
        )
    except KeyError as e:
        raise UsageError(f"{run_dir}/{model_card.CARD_JSON} lacks field {e}.") from e
    path = os.path.join(run_dir, CHECKPOINT)
    if not tf.io.gfile.exists(path + ".index"):
        raise UsageError(f"{run_dir} has no checkpoint at {CHECKPOINT}.")
    try:
        tf.train.Checkpoint(model=model).read(path).assert_existing_objects_matched()
    except (AssertionError, ValueError, tf.errors.OpError) as e:
        raise UsageError(f"The checkpoint in {run_dir} does not match its model card's model: {e}") from e
    return model, card


def preprocessor_from_card(card: dict):
    """The [0, 1]-pixels -> model-input function the run trained with."""
    dataset = card["dataset"]
    mean, std = tuple(dataset["channel_mean"]), tuple(dataset["channel_std"])
    standardize = dataset["standardize"]

    def preprocess(images: tf.Tensor) -> tf.Tensor:
        images = tf.cast(images, tf.float32)
        return (images - tf.constant(mean)) / tf.constant(std) if standardize else images

    return preprocess


def export_run(run_dir: str, export_dir: str) -> str:
    """Writes the run's model as a SavedModel with the serving signature."""
    model, card = load_run(run_dir)
    return export.saved_model(
        model,
        export_dir,
        input_shape=tuple(card["dataset"]["input_shape"]),
        preprocess=preprocessor_from_card(card),
    )


__all__ = ["load_run", "export_run"]
