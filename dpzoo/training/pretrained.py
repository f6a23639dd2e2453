"""The starting point of a fine-tuning run (``TrainConfig.init_from``): a dpzoo run folder's model,
prepared for this run's task (dpzoo.finetuning), and what its card must say about it.

Public pretraining costs no privacy only because its data is public; a model that saw the
private set carries a guarantee that would have to be composed with the fine-tuning run's (both
as one sequence of mechanisms on that set). dpzoo does not compose them yet, so such a starting
point is refused (METHODS.md section 6).
"""

import hashlib
import os

from dpzoo import data, finetuning
from dpzoo.artifacts import model_card, run_folder
from dpzoo.common.errors import UsageError
from dpzoo.common.stack import keras
from dpzoo.training.train_config import TrainConfig


def _checked_card(config: TrainConfig, dataset: data.Dataset, card: dict) -> None:
    """Refuses a starting point that saw this run's data, or is another model or input shape."""
    source = config.init_from
    seen = card["dataset"]["name"]
    if seen == dataset.name:
        raise UsageError(
            f"--init_from={source} was trained on {seen}, this run's dataset: its privacy guarantee would have to be "
            "composed with this run's, which dpzoo does not do yet. Start from a model pretrained on public data."
        )
    model = card["model"]
    if model["name"] != config.model or dict(model["kwargs"]) != dict(config.model_kwargs):
        raise UsageError(
            f"--init_from={source} holds {model['name']} with model_kwargs {model['kwargs']}; pass "
            f"--model={model['name']} and those --model_kwargs, so the card names the model that trains."
        )
    shape = tuple(card["dataset"]["input_shape"])
    if shape != tuple(dataset.input_shape):
        raise UsageError(
            f"--init_from={source} takes inputs of shape {shape}, {dataset.name} has {tuple(dataset.input_shape)}; "
            "changing channels or input size is not supported yet: pretrain on inputs of this shape."
        )


def build(config: TrainConfig, dataset: data.Dataset) -> keras.Model:
    """The pretrained model of ``config.init_from`` with a new zero head for ``dataset`` and the
    weights ``config.finetune`` trains."""
    model, card = run_folder.load_run(config.init_from)
    _checked_card(config, dataset, card)
    return finetuning.prepare(model, config.finetune, num_classes=dataset.num_classes, lora_rank=config.lora_rank)


def _sha256(folder: str) -> str:
    """One digest of the starting point's checkpoint files, in name order."""
    digest = hashlib.sha256()
    prefix = os.path.basename(run_folder.CHECKPOINT)
    names = sorted(n for n in os.listdir(folder) if n.startswith(prefix))
    for name in names:
        digest.update(name.encode())
        with open(os.path.join(folder, name), "rb") as f:
            for block in iter(lambda: f.read(1 << 20), b""):
                digest.update(block)
    return digest.hexdigest()


def card_fields(config: TrainConfig) -> dict:
    """The card's "pretraining" section: where the model came from (folder, checkpoint sha256),
    the data it saw and its own privacy statement, and what this run trained of it."""
    card = model_card.read(config.init_from)  # load_run has checked it when the model was built
    privacy = card.get("privacy", {})
    return {
        "init_from": os.path.abspath(config.init_from),
        "sha256": _sha256(os.path.dirname(os.path.join(config.init_from, run_folder.CHECKPOINT))),
        "model": card["model"]["name"],
        "num_classes": card["dataset"]["num_classes"],
        "dataset": card["dataset"]["name"],
        "dataset_source": card["dataset"].get("source", ""),
        "statement": privacy.get("statement", "no privacy statement"),
        "finetune": config.finetune,
        "lora_rank": config.lora_rank if config.finetune == "lora" else None,
    }
