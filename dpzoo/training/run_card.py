"""The model card of a training run, as a dict (dpzoo.artifacts.model_card writes it)."""

import math

import tensorflow as tf

from dpzoo import accounting, data, methods
from dpzoo.common import stack
from dpzoo.common.stack import keras
from dpzoo.data import sampling
from dpzoo.training.precomputed import RunFeatures
from dpzoo.training.train_config import TrainConfig
from dpzoo.version import __version__


def build(
    config: TrainConfig,
    dataset: data.Dataset,
    model: keras.Model,
    sampler,
    ledger: accounting.PrivacyLedger,
    history: dict[str, list[float]],
    by_weights: dict[str, list[float]],
    jit: bool,
    command: str,
    wall: float,
    public_source: str | None,
    *,
    physical_batch_size: int | None = None,
    replicas: int = 1,
    resumed_from: list[int] = (),
    features: RunFeatures | None = None,
    engine_fields: dict | None = None,
    pretraining: dict | None = None,
) -> dict:
    """The card of a finished run: versions, model, data, training settings, the privacy statement,
    test results by weights, the per-epoch history (``history``: per metric, a value per epoch),
    the command, the wall time, the steps a resumed run resumed from and what it computed once
    before training (``features``: a fixed front's, dpzoo.training.precomputed); ``engine_fields``: what the
    engine reports of its mechanism (Engine.card_fields); ``pretraining``: a fine-tuning run's
    start (dpzoo.training.pretrained.build)."""
    statement = ledger.statement()
    privacy = statement.to_dict()
    privacy["statement"] = statement.text()
    epochs = len(history.get("loss", []))
    rows = [{"epoch": i + 1, **{k: float(v[i]) for k, v in history.items() if i < len(v)}} for i in range(epochs)]
    mean, std = dataset.channel_stats or (None, None)
    return {
        "dpzoo_version": __version__,
        "tensorflow_version": tf.__version__,
        "keras_version": stack.KERAS_VERSION,
        "model": {
            "name": config.model,
            "kwargs": dict(config.model_kwargs),
            "parameters": model.count_params(),
            "trainable_parameters": sum(math.prod(v.shape) for v in model.trainable_variables),
        },
        **({"pretraining": pretraining} if pretraining else {}),
        "dataset": {
            "name": dataset.name,
            "source": dataset.source,
            "n_train": len(dataset.x_train),
            "n_test": len(dataset.x_test),
            "input_shape": list(dataset.input_shape),
            "num_classes": dataset.num_classes,
            "standardize": config.standardize,
            "channel_mean": None if mean is None else list(mean),
            "channel_std": None if std is None else list(std),
            "augment": config.augment,
            "crop_padding": config.crop_padding,
            "augmult": config.augmult,
            "mirror_views": config.mirror_views,
            "shift_views": config.shift_views,
            **({"public_auxiliary_batch": public_source} if public_source else {}),
            **(features.dataset_card_fields() if features else {}),
        },
        "training": _training(
            config,
            sampler,
            ledger,
            statement,
            jit,
            physical_batch_size,
            replicas,
            resumed_from,
            engine_fields,
            features,
        ),
        "privacy": privacy,
        "results": {
            "eval_weights": config.eval_weights,
            "test_accuracy": float(by_weights[config.eval_weights][1]),
            "test_loss": float(by_weights[config.eval_weights][0]),
            "test_accuracy_by_weights": {which: float(acc) for which, (_, acc) in by_weights.items()},
        },
        "history": rows,
        "command": command,
        "wall_time_s": wall,
    }


def _training(
    config: TrainConfig,
    sampler,
    ledger: accounting.PrivacyLedger,
    statement,
    jit: bool,
    physical_batch_size: int | None,
    replicas: int,
    resumed_from,
    engine_fields: dict | None,
    features: RunFeatures | None,
) -> dict:
    """The card's training section: every setting the run trained with, and its steps."""
    return {
        "engine": config.engine,
        **(engine_fields or {}),
        "method": config.method,
        "clipping": config.clipping,
        "clipping_norm": config.clipping_norm,
        **({"linf_p": config.linf_p} if config.linf_p is not None else {}),
        **methods.get(config.method).card_fields(config),
        "epochs": config.epochs,
        "batch_size": config.batch_size,
        **({"padded_rows": sampler.pad_to} if sampler.pad_to else {}),
        "physical_batch_size": physical_batch_size,
        "distribution": config.distribution,
        "replicas": replicas,
        "padding": _padding(sampler, physical_batch_size, replicas),
        "mean_physical_rows": round(_mean_rows(sampler, physical_batch_size), 1),
        "learning_rate": config.learning_rate,
        "lr_schedule": config.lr_schedule,
        "optimizer": config.optimizer,
        "momentum": config.momentum if config.optimizer == "momentum" else 0.0,
        "l2_norm_clip": config.l2_norm_clip,
        "noise_multiplier": statement.noise_multiplier,
        "target_epsilon": config.target_epsilon,
        "stop_at_epsilon": config.stop_at_epsilon,
        "max_steps": config.max_steps,
        "steps": ledger.steps,
        "resumed_from_steps": list(resumed_from),
        "ema_decay": config.ema_decay,
        **(features.training_card_fields() if features else {}),
        "sampling": statement.sampling,
        "accountant": config.accountant,
        "seed": config.seed,
        "jit_compile": jit,
        "deterministic_ops": config.deterministic,
    }


def _padding(sampler, physical_batch_size: int | None, replicas: int) -> str:
    if not physical_batch_size:
        return sampler.describe_padding()
    split = f", split over {replicas} replicas" if replicas > 1 else ""
    return f"each step in chunks of {physical_batch_size} rows{split}, the last padded"


def _mean_rows(sampler, physical_batch_size: int | None) -> float:
    if not physical_batch_size:
        return sampler.expected_rows()
    return sampling.expected_chunked_rows(sampler, physical_batch_size)
