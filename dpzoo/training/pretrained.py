"""The starting point of a fine-tuning run (``TrainConfig.init_from``), prepared for this run's
task, and what its card must say about it.

A starting point is a dpzoo run folder (or a zoo checkpoint's), a keras.applications model with
ImageNet weights (or none: random, for tests), a keras-hub preset's image backbone, a Keras model
file, or a bare weights file of a registered model; the last three with the data they saw declared. Public pretraining costs no privacy only
because its data is public; a model that saw the private set carries a guarantee that must be
composed with the fine-tuning run's (both as one sequence of mechanisms on that set): such a start
is refused unless ``compose_start`` composes them (dpzoo.accounting.earlier_runs; METHODS.md
section 6).
"""

import atexit
import hashlib
import os
import shutil
import tempfile
from collections.abc import Callable

import numpy as np

from dpzoo import accounting, data, finetuning
from dpzoo import models as model_registry
from dpzoo.artifacts import run_folder
from dpzoo.common.digests import sha256_of, update_with_file
from dpzoo.common.errors import UsageError
from dpzoo.common.stack import keras
from dpzoo.models import applications, hub
from dpzoo.training.train_config import TrainConfig

IMAGENET_CLASSES = 1000
NOT_PRIVATE = "not trained privately: no privacy statement"
KERAS_FILE_SUFFIX = ".keras"
KEPT_FILE = "pretrained.keras"  # a Keras-file or keras-hub start's copy in the run folder, to rebuild the model from
WEIGHTS_FILE_SUFFIX = ".weights.h5"


_NAMED_STARTS: list[Callable[[str], str | None]] = []  # resolvers of start names (dpzoo.zoo registers one)
_HUB_STARTS_SAVED: dict[tuple, str] = {}  # a keras-hub start built in this process -> its copy as a Keras file


def register_named_starts(resolver: Callable[[str], str | None]) -> None:
    """Lets a layer above training name starting points (dpzoo.zoo: its checkpoints and public
    backbones): ``resolver`` maps a name to its verified run folder, or to None if the name is not
    one of its own. A run started by name keeps the name on its card, not this machine's folder."""
    _NAMED_STARTS.append(resolver)


def start_folder(init_from: str) -> str:
    """The run folder of ``init_from``: the folder a registered resolver gives for a name, else the path itself."""
    for resolver in _NAMED_STARTS:
        folder = resolver(init_from)
        if folder is not None:
            return folder
    return init_from


def is_keras_file(init_from: str | None) -> bool:
    return bool(init_from) and init_from.endswith(KERAS_FILE_SUFFIX)


def is_weights_file(init_from: str | None) -> bool:
    return bool(init_from) and init_from.endswith(WEIGHTS_FILE_SUFFIX)


def _require_declaration(config: TrainConfig, what: str) -> None:
    """A file (``what``: a Keras file, a weights file) records no data: ``init_data`` must declare it."""
    if not config.init_data:
        raise UsageError(
            f"--init_from={config.init_from}: {what} does not record what data its model saw; pass "
            "--init_data=NAME (the public data it was trained on). The card records your declaration."
        )


def _declared_card(config: TrainConfig, model: keras.Model, name: str, model_kwargs: dict, what: str) -> dict:
    """The card that stands for a file's own: the data its model saw is what ``init_data`` declares."""
    return {
        "model": {"name": name, "kwargs": model_kwargs},
        "dataset": {
            "name": config.init_data,
            "source": f"declared with --init_data ({what} records no data)",
            "input_shape": list(model.inputs[0].shape[1:]),
            "num_classes": int(model.outputs[0].shape[-1]),
        },
        "privacy": {"statement": "none recorded in the file"},
    }


def _keras_file(config: TrainConfig, dataset: data.Dataset) -> tuple[keras.Model, dict]:
    """A Keras model file as the start, and the card that stands for its own."""
    _require_declaration(config, "a Keras file")
    model = run_folder.load_keras_file(config.init_from)
    return model, _declared_card(config, model, model.name, {}, "a Keras file")


def _weights_file(config: TrainConfig, dataset: data.Dataset) -> tuple[keras.Model, dict]:
    """A bare weights file as the start: ``config.model`` built for the start's input shape and
    ``init_classes``, its weights read from the file; refused, with the likely fix, if they do not fit."""
    path = config.init_from
    _require_declaration(config, "a weights file")
    if not os.path.isfile(path):
        raise UsageError(f"{path}: no such weights file.")
    classes = config.init_classes or dataset.num_classes
    model = model_registry.get(
        config.model, input_shape=_start_shape(config, dataset), num_classes=classes, **config.model_kwargs
    )
    try:
        model.load_weights(path)
    except Exception as e:  # noqa: BLE001  (Keras and h5py raise many kinds for a file that does not fit)
        first = str(e).strip().splitlines()[0][:200] if str(e).strip() else type(e).__name__
        raise UsageError(
            f"{path} does not fit --model={config.model} with model_kwargs {dict(config.model_kwargs)} built for "
            f"{classes} classes ({first}). Pass the --model and --model_kwargs it was saved from, --init_classes=N "
            "for the head it was saved with, and --adapt_inputs for its input shape."
        ) from e
    return model, _declared_card(config, model, config.model, dict(config.model_kwargs), "a weights file")


def _hub_preset(config: TrainConfig, dataset: data.Dataset) -> tuple[keras.Model, dict]:
    """A keras-hub preset's image backbone with a pooled head as the start (dpzoo.models.hub), built
    for the start's input shape, and the card that stands for its own."""
    _require_declaration(config, "a keras-hub preset")
    if config.model != config.init_from:
        raise UsageError(f"--init_from={config.init_from}: pass --model={config.init_from} too, so the card names it.")
    shape = _start_shape(config, dataset)
    model = hub.classifier(config.init_from, input_shape=shape, num_classes=dataset.num_classes)
    _HUB_STARTS_SAVED[(config.init_from, shape, dataset.num_classes)] = _saved_aside(model)
    return model, _declared_card(config, model, config.init_from, {}, "a keras-hub preset")


def _saved_aside(model: keras.Model) -> str:
    """The start saved as a Keras file in a temporary folder (removed at exit), before fine-tuning
    changes it: the run folder copies it at the end instead of loading the preset a second time."""
    folder = tempfile.mkdtemp(prefix="dpzoo-start-")
    atexit.register(shutil.rmtree, folder, ignore_errors=True)
    path = os.path.join(folder, KEPT_FILE)
    model.save(path)
    return path


def _start_shape(config: TrainConfig, dataset: data.Dataset) -> tuple[int, ...]:
    return finetuning.parse_shape(config.adapt_inputs) if config.adapt_inputs else tuple(dataset.input_shape)


def _application(config: TrainConfig, dataset: data.Dataset) -> tuple[keras.Model, dict]:
    """A keras.applications starting point and the card that stands for its own."""
    if config.model != config.init_from:
        raise UsageError(f"--init_from={config.init_from}: pass --model={config.init_from} too, so the card names it.")
    shape = _start_shape(config, dataset)
    weights = None if config.init_weights == "none" else config.init_weights
    try:
        model = model_registry.get(config.init_from, input_shape=shape, num_classes=IMAGENET_CLASSES, weights=weights)
    except UsageError as e:
        raise UsageError(
            f"{e}. To feed it {dataset.name}'s images, pass --adapt_inputs=HEIGHTxWIDTHx3 (e.g. 32x32x3)."
        ) from e
    seen = {"name": "imagenet2012", "source": "ILSVRC-2012 training images (keras.applications weights)"}
    if weights is None:
        seen = {"name": "none", "source": "no data: random initialisation (init_weights=none)"}
    card = {
        "model": {"name": config.init_from, "kwargs": {}},
        "dataset": seen | {"input_shape": list(shape), "num_classes": IMAGENET_CLASSES},
        "privacy": {"statement": NOT_PRIVATE},
    }
    return model, card


def _checked_card(config: TrainConfig, dataset: data.Dataset, card: dict) -> None:
    """Refuses a starting point that saw this run's data, or is another model or input shape."""
    source = config.init_from
    seen = card["dataset"]["name"]
    if seen == dataset.name and not config.compose_start:
        raise UsageError(
            f"--init_from={source} was trained on {seen}, this run's dataset: its privacy guarantee must be composed "
            "with this run's. Pass --compose_start (the target epsilon is then the total of both), or start from a "
            "model pretrained on public data."
        )
    if config.compose_start:
        _check_composable(source, card, dataset)
    model = card["model"]
    if model["name"] != config.model or dict(model["kwargs"]) != dict(config.model_kwargs):
        raise UsageError(
            f"--init_from={source} holds {model['name']} with model_kwargs {model['kwargs']}; pass "
            f"--model={model['name']} and those --model_kwargs, so the card names the model that trains."
        )
    shape, wanted = tuple(card["dataset"]["input_shape"]), _start_shape(config, dataset)
    if shape != wanted:
        adapt = "x".join(str(d) for d in shape)
        raise UsageError(
            f"--init_from={source} takes inputs of shape {shape}, not {wanted}; to feed it {dataset.name}'s "
            f"{tuple(dataset.input_shape)} images resized and channel-repeated, pass --adapt_inputs={adapt}."
        )


def _check_composable(source: str, card: dict, dataset: data.Dataset) -> None:
    """A start whose guarantee can be composed with this run's: trained privately on these very
    examples (the same dataset and count: one sequence of mechanisms on one set)."""
    seen, privacy = card["dataset"]["name"], card.get("privacy", {})
    if seen != dataset.name:
        raise UsageError(
            f"--compose_start: --init_from={source} was trained on {seen}, not on this run's {dataset.name}; "
            "there is nothing to compose. Drop --compose_start."
        )
    accounting.earlier_run(privacy, what=f"--init_from={source}")  # refuses a guarantee that is not formal
    if privacy["n"] != len(dataset.x_train):
        raise UsageError(
            f"--compose_start: --init_from={source} trained on {privacy['n']} examples of {seen}, this run on "
            f"{len(dataset.x_train)}: composition needs the same examples (the same --max_train_examples)."
        )


def _start(config: TrainConfig, dataset: data.Dataset) -> tuple[keras.Model, dict]:
    if applications.is_application(config.init_from):
        model, card = _application(config, dataset)
    elif is_keras_file(config.init_from):
        model, card = _keras_file(config, dataset)
    elif is_weights_file(config.init_from):
        model, card = _weights_file(config, dataset)
    elif hub.is_hub_preset(config.init_from):
        model, card = _hub_preset(config, dataset)
    else:
        model, card = run_folder.load_run(start_folder(config.init_from), as_start=True)
    _checked_card(config, dataset, card)
    return model, card


def build(config: TrainConfig, dataset: data.Dataset) -> tuple[keras.Model, dict]:
    """The pretrained model of ``config.init_from``, adapted to ``dataset``'s images if asked, with
    a new zero head for its classes and the weights ``config.finetune`` trains; and the card's
    "pretraining" section about it (``_card_fields``), read off the start as it was built."""
    model, card = _start(config, dataset)
    fields = _card_fields(config, card, _start_sha256(config, model))
    prepared = run_folder.prepared_start(
        model,
        input_shape=tuple(dataset.input_shape),
        num_classes=dataset.num_classes,
        finetune=config.finetune,
        lora_rank=config.lora_rank,
        batch_norm=config.batch_norm,
        new_head=not config.compose_start,  # a composed start was trained on this task: its head carries on
    )
    return prepared, fields


def _folder_sha256(folder: str) -> str:
    """One digest of a run folder's checkpoint files, in name order."""
    digest = hashlib.sha256()
    prefix = os.path.basename(run_folder.CHECKPOINT)
    names = sorted(n for n in os.listdir(folder) if n.startswith(prefix))
    for name in names:
        digest.update(name.encode())
        update_with_file(digest, os.path.join(folder, name))
    return digest.hexdigest()


def keep_start_file(config: TrainConfig, dataset: data.Dataset, folder: str) -> None:
    """A Keras-file start's copy in the run folder (``KEPT_FILE``), or the keras-hub start that
    ``build`` saved aside in this process, moved there (the preset is loaded once per run): the
    folder rebuilds its model from it, without the file or the preset."""
    if is_keras_file(config.init_from):
        shutil.copyfile(config.init_from, os.path.join(folder, KEPT_FILE))
    elif hub.is_hub_preset(config.init_from):
        saved = _HUB_STARTS_SAVED.pop((config.init_from, _start_shape(config, dataset), dataset.num_classes))
        shutil.move(saved, os.path.join(folder, KEPT_FILE))  # saved by build; no copy left behind


def _weights_sha256(model: keras.Model) -> str:
    """One digest of a model's weights, in the model's order (a keras.applications start)."""
    digest = hashlib.sha256()
    for variable in model.weights:
        digest.update(np.ascontiguousarray(keras.ops.convert_to_numpy(variable)).tobytes())
    return digest.hexdigest()


def _start_sha256(config: TrainConfig, model: keras.Model) -> str:
    """The digest of the start's weights: its checkpoint files, its Keras or weights file, or
    (keras.applications, keras-hub) the weights themselves."""
    if applications.is_application(config.init_from) or hub.is_hub_preset(config.init_from):
        return _weights_sha256(model)
    if is_keras_file(config.init_from) or is_weights_file(config.init_from):
        return sha256_of(config.init_from)
    return _folder_sha256(os.path.dirname(os.path.join(start_folder(config.init_from), run_folder.CHECKPOINT)))


def _card_fields(config: TrainConfig, card: dict, sha256: str) -> dict:
    """The card's "pretraining" section: where the model came from (as the command named it: no
    machine's folders), the sha256 of its weights, the data it saw and its own privacy statement,
    and how this run prepared and trained it."""
    return {
        "init_from": config.init_from,
        "sha256": sha256,
        "model": card["model"]["name"],
        "num_classes": card["dataset"]["num_classes"],
        "input_shape": list(card["dataset"]["input_shape"]),
        "dataset": card["dataset"]["name"],
        "dataset_source": card["dataset"].get("source", ""),
        "statement": card.get("privacy", {}).get("statement", NOT_PRIVATE),
        "composed": config.compose_start,
        "model_file": KEPT_FILE if is_keras_file(config.init_from) or hub.is_hub_preset(config.init_from) else None,
        "adapt_inputs": config.adapt_inputs,
        "batch_norm": config.batch_norm,
        "finetune": config.finetune,
        "lora_rank": config.lora_rank if config.finetune == "lora" else None,
    }
