"""Rebuilding a trained model from a run folder (model card + checkpoint), checked on load."""

import contextlib
import os

import tensorflow as tf

from dpzoo import finetuning
from dpzoo import models as model_registry
from dpzoo.artifacts import export, model_card, weights
from dpzoo.common.errors import PEER_FAILURES, UsageError
from dpzoo.common.stack import keras
from dpzoo.data.pipeline import Preprocessor, TokenInputs
from dpzoo.models import hub
from dpzoo.privacy.batch_norm_fix import fix_batch_normalization

CHECKPOINT = "checkpoint/weights"
SAVED_MODEL = "saved_model"
CARD_FIELDS = (  # what rebuilding and serving a run's model reads of its card
    ("model", "name"),
    ("model", "kwargs"),
    ("dataset", "input_shape"),
    ("dataset", "num_classes"),
    ("dataset", "channel_mean"),
    ("dataset", "channel_std"),
    ("dataset", "standardize"),
)


@contextlib.contextmanager
def writing(path: str, what: str = "the run's output", then: str = ""):
    """Turns a failed write under ``path`` (no space, no permission, not a folder) into a
    UsageError naming it: Python raises OSError, TensorFlow's writers their own errors. A peer
    worker's failure that interrupts the write (``PEER_FAILURES``) is not a failed write and
    passes through, for the caller to report as what it is."""
    try:
        yield
    except PEER_FAILURES:
        raise
    except (OSError, tf.errors.OpError) as e:
        reason = getattr(e, "strerror", None) or str(getattr(e, "message", e)).strip().splitlines()[0][:200]
        raise UsageError(
            f"Cannot write {what} under {path}: {reason}. Free space or pick another --output_dir{then}."
        ) from e


def load_run(run_dir: str, *, as_start: bool = False) -> tuple[keras.Model, dict]:
    """The Keras model of a dpzoo-train run with its weights restored, and its card. ``as_start``:
    as the start of another run, nothing frozen by this run's fine-tuning mode (the next run's
    mode chooses what trains)."""
    try:
        card = model_card.read(run_dir)
    except (OSError, ValueError) as e:
        raise UsageError(f"{run_dir} has no readable {model_card.CARD_JSON}: {e}") from e
    missing = [f"{a}.{b}" for a, b in CARD_FIELDS if not isinstance(card.get(a), dict) or b not in card[a]]
    if missing:
        raise UsageError(
            f"{run_dir}/{model_card.CARD_JSON} lacks the fields {', '.join(missing)}; it is not a complete dpzoo "
            "model card (train the run again)."
        )
    model = model_from_card(card, run_dir, as_start=as_start)  # CARD_FIELDS are there: checked above
    path = os.path.join(run_dir, CHECKPOINT)
    if not tf.io.gfile.exists(path + ".index"):
        raise UsageError(f"{run_dir} has no checkpoint at {CHECKPOINT}.")
    try:
        weights.read(model, path)
    except (AssertionError, ValueError, tf.errors.OpError) as e:
        text = str(getattr(e, "message", e)).strip()
        if isinstance(e, tf.errors.DataLossError) or "Checksum does not match" in text:
            raise UsageError(
                f"The checkpoint in {run_dir} is damaged ({text.splitlines()[-1][:160]}); "
                "train the run again or restore the folder from a copy."
            ) from e
        raise UsageError(f"The checkpoint in {run_dir} does not match its model card's model: {e}") from e
    return model, card


def prepared_start(
    model: keras.Model,
    *,
    input_shape: tuple[int, ...],
    num_classes: int,
    finetune: str,
    lora_rank: int | None,
    batch_norm: str | None,
    new_head: bool = True,
    freeze: bool = True,
) -> keras.Model:
    """A pretrained ``model`` made ready for a fine-tuning run, in the order the run and its card
    both follow: adapted to ``input_shape`` (dpzoo.finetuning.inputs: an explicit, weightless step),
    its BatchNormalization frozen or replaced (``batch_norm``), then a new head of ``num_classes``
    (or, not ``new_head``, its own: a start composed into the run was trained on the same task)
    and the weights ``finetune`` trains (dpzoo.finetuning; ``freeze=False``: none frozen)."""
    model = finetuning.adapt_inputs(model, input_shape)
    if batch_norm:
        model = fix_batch_normalization(model, mode=batch_norm)
    return finetuning.prepare(
        model,
        finetune,
        num_classes=num_classes,
        lora_rank=lora_rank or finetuning.DEFAULT_LORA_RANK,
        new_head=new_head,
        freeze=freeze,
    )


def load_keras_file(path: str) -> keras.Model:
    """A Keras model file (``.keras``), uncompiled; UsageError naming the file if it cannot be read."""
    if not os.path.isfile(path):
        raise UsageError(f"{path}: no such Keras model file.")
    try:
        return keras.saving.load_model(path, compile=False)
    except Exception as e:  # noqa: BLE001  (Keras raises many kinds for a bad or foreign file)
        first = str(e).strip().splitlines()[0][:200] if str(e).strip() else type(e).__name__
        raise UsageError(
            f"{path} cannot be read as a Keras model ({first}); save it with model.save(PATH.keras)."
        ) from e


def model_from_card(card: dict, run_dir: str | None = None, *, as_start: bool = False) -> keras.Model:
    """The run's model as its card describes it, freshly initialised; a fine-tuning run's is its
    pretrained model's architecture (from the copy of a Keras-file start kept in ``run_dir``),
    prepared as the run prepared it (``prepared_start``), frozen as it trained unless ``as_start``."""
    pretraining = card.get("pretraining")
    dataset_shape = tuple(card["dataset"]["input_shape"])
    if pretraining and pretraining.get("model_file"):
        if run_dir is None:
            raise UsageError("This run started from a Keras file: rebuild its model from its run folder (load_run).")
        if hub.is_hub_preset(pretraining.get("init_from")):
            hub.register_classes()  # the kept copy may use keras-hub's own layers
        model = load_keras_file(os.path.join(run_dir, pretraining["model_file"]))
        return _prepared_from_card(model, card, freeze=not as_start)
    model = model_registry.get(
        card["model"]["name"],
        input_shape=tuple(pretraining.get("input_shape", dataset_shape)) if pretraining else dataset_shape,
        num_classes=pretraining["num_classes"] if pretraining else card["dataset"]["num_classes"],
        **card["model"]["kwargs"],
    )
    if not pretraining:
        return model
    return _prepared_from_card(model, card, freeze=not as_start)


def _prepared_from_card(model: keras.Model, card: dict, *, freeze: bool) -> keras.Model:
    pretraining = card["pretraining"]
    return prepared_start(
        model,
        input_shape=tuple(card["dataset"]["input_shape"]),
        num_classes=card["dataset"]["num_classes"],
        finetune=pretraining["finetune"],
        lora_rank=pretraining["lora_rank"],
        batch_norm=pretraining.get("batch_norm"),
        new_head=not pretraining.get("composed"),
        freeze=freeze,
    )


def preprocessor_from_card(card: dict) -> Preprocessor | TokenInputs:
    """The preprocessing the run trained with; its from_unit_range maps [0, 1] pixels (or token
    ids, for text) to model inputs."""
    dataset = card["dataset"]
    if dataset.get("channel_mean") is None:
        return TokenInputs()
    return Preprocessor(dataset["channel_mean"], dataset["channel_std"], standardize_channels=dataset["standardize"])


def export_run(run_dir: str, export_dir: str) -> str:
    """Writes the run's model as a SavedModel with the serving signature."""
    model, card = load_run(run_dir)
    preprocess = preprocessor_from_card(card)
    return export.saved_model(
        model,
        export_dir,
        input_shape=tuple(card["dataset"]["input_shape"]),
        preprocess=preprocess.from_unit_range,
        input_dtype=preprocess.dtype,
    )


__all__ = ["load_run", "export_run"]
