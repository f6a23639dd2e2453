"""One training run from a TrainConfig: data, model, engine, accounting, card, export.

Everything is written into a staging folder next to ``output_dir`` and moved into place only
when the run succeeds; a failed or interrupted run leaves nothing half-written behind.
"""

import dataclasses
import os
import shutil
import tempfile
import time

import tensorflow as tf

from dpzoo import accounting, data, export, model_card, pipeline, sampling, tf_privacy_engine
from dpzoo import models as model_registry
from dpzoo.aux_batchnorm import aux_batchnorm_layers
from dpzoo.averaging import EVAL_WEIGHTS, ParameterAveraging
from dpzoo.callbacks import PrivacyLedgerCallback, StopAtStep
from dpzoo.config import DPConfig
from dpzoo.engine import make_private
from dpzoo.errors import UsageError
from dpzoo.gaussian_layers import gaussian_layers
from dpzoo.modelmix import ModelMix
from dpzoo.modelmix_accounting import ModelMixTerms, calibrate_modelmix_noise
from dpzoo.restore import CHECKPOINT, SAVED_MODEL
from dpzoo.train_config import SIDP_METHODS, TrainConfig
from dpzoo.version import __version__

NO_NOISE_REASON = "No noise: no differential privacy guarantee."
SIDP_NOMINAL_REASON = (
    "Nominal (the method's own accounting, no formal guarantee): SIDP adds no noise to the released "
    "parameters, so consecutive iterates reveal the clipped mean gradient exactly; the epsilon is DP-SGD's "
    "for the same sigma, batch and steps."
)


@dataclasses.dataclass(frozen=True)
class RunResult:
    card: dict
    output_dir: str


def jit_enabled(mode: str) -> bool:
    """ "auto" compiles with XLA when a GPU or TPU is present (on CPU it costs more than it saves)."""
    if mode == "auto":
        return bool(tf.config.list_physical_devices("GPU") or tf.config.list_physical_devices("TPU"))
    return mode == "true"


def make_optimizer(config: TrainConfig) -> tf.keras.optimizers.Optimizer:
    if config.optimizer == "adam":
        return tf.keras.optimizers.Adam(config.learning_rate)
    momentum = config.momentum if config.optimizer == "momentum" else 0.0
    return tf.keras.optimizers.SGD(config.learning_rate, momentum=momentum)


def modelmix_guarantee(config: TrainConfig) -> tuple[ModelMixTerms | None, list[str]]:
    """(ModelMix's accounting terms, []) for a modelmix run that meets the assumptions of its
    guarantee (METHODS.md section 3), else (None, what breaks them); (None, []) for other methods."""
    if config.method != "modelmix":
        return None, []
    reasons = []
    if config.optimizer != "sgd":
        reasons.append(f"the optimizer is {config.optimizer}, not plain SGD: it re-injects unmixed past gradients")
    if config.sampling != "poisson":
        reasons.append(f"batches are {config.sampling}d, not Poisson samples: the accountant's subsampling fails")
    if config.clipping_norm != "l2+linf":
        reasons.append("plain L2 clipping gives no per-coordinate bound (use clipping_norm='l2+linf', linf_p)")
    if reasons:
        return None, reasons
    return ModelMixTerms(
        l2_norm_clip=config.l2_norm_clip, linf_p=config.linf_p, tau_over_lr=config.modelmix_tau_ratio
    ), []


def _modelmix(config: TrainConfig, trainable: tf.keras.Model) -> tuple[ModelMix | None, ModelMixTerms | None, list]:
    """(the ModelMix callback, its accounting terms or None, what breaks its guarantee) of a
    modelmix run; (None, None, []) otherwise. The callback's own check covers the built model
    (unmixed variables); the config's reasons cover the optimizer, sampling and clipping."""
    if config.method != "modelmix":
        return None, None, []
    mixing = ModelMix(tau_ratio=config.modelmix_tau_ratio, seed=config.seed)
    terms, broken = modelmix_guarantee(config)
    if not broken:
        mixing.set_model(trainable)
        broken = mixing.violations()
    return mixing, None if broken else terms, broken


def modelmix_not_reported(reasons: list[str]) -> str:
    return f"ModelMix's epsilon is not reported: {'; '.join(reasons)}. The epsilon is DP-SGD's for the same run."


def resolve_noise(config: TrainConfig, n: int) -> float:
    """The noise multiplier: given, or calibrated to target_epsilon over the configured epochs
    (for a ModelMix run meeting its assumptions, to the smaller of its and DP-SGD's epsilon)."""
    if config.engine == "nonprivate":
        return 0.0
    if config.noise_multiplier is not None:
        return config.noise_multiplier
    sigma = _calibrate_dpsgd(config, n)
    terms, _ = modelmix_guarantee(config)
    if terms is None:
        return sigma
    return calibrate_modelmix_noise(
        terms,
        target_epsilon=config.target_epsilon,
        delta=config.delta,
        n=n,
        batch_size=config.batch_size,
        steps=config.epochs * accounting.steps_per_epoch(n, config.batch_size, config.sampling),
        dpsgd_noise_multiplier=sigma,
    )


def _calibrate_dpsgd(config: TrainConfig, n: int) -> float:
    return accounting.calibrate_noise(
        target_epsilon=config.target_epsilon,
        delta=config.delta,
        n=n,
        batch_size=config.batch_size,
        epochs=config.epochs,
        sampling=config.sampling,
        accountant=config.accountant,
    )


def planned_steps(config: TrainConfig, n: int, noise_multiplier: float, steps_per_epoch: int) -> int:
    """Steps the run will take: ``epochs`` epochs, cut short where the budget ends if
    ``stop_at_epsilon`` (the largest step count whose epsilon is within the target)."""
    steps = config.epochs * steps_per_epoch
    if config.stop_at_epsilon and noise_multiplier > 0:
        budget = accounting.max_steps(
            target_epsilon=config.target_epsilon,
            delta=config.delta,
            n=n,
            batch_size=config.batch_size,
            noise_multiplier=noise_multiplier,
            sampling=config.sampling,
            accountant=config.accountant,
        )
        steps = min(steps, budget)
    return steps


def load_training_data(config: TrainConfig, dataset: data.Dataset | None = None) -> data.Dataset:
    """The configured dataset (or the given one), cut to max_train_examples; checks the batch fits."""
    dataset = dataset or data.load(config.dataset, config.data_dir)
    if config.max_train_examples and config.max_train_examples < len(dataset.x_train):
        k = config.max_train_examples
        dataset = dataclasses.replace(dataset, x_train=dataset.x_train[:k], y_train=dataset.y_train[:k])
    if dataset.is_text and config.augment:
        raise UsageError(f"augment=True is for images; {dataset.name} is text. Drop --augment.")
    if config.batch_size > len(dataset.x_train):
        raise UsageError(f"Expected batch_size={config.batch_size} <= {len(dataset.x_train)} training examples.")
    return dataset


def build_model(config: TrainConfig, dataset: data.Dataset) -> tf.keras.Model:
    """The registered model for the dataset's input shape and classes; UsageError if it cannot take them."""
    try:
        return model_registry.get(
            config.model,
            input_shape=dataset.input_shape,
            num_classes=dataset.num_classes,
            **dict(config.model_kwargs),
        )
    except UsageError:
        raise
    except ValueError as e:
        raise UsageError(
            f"Model {config.model!r} cannot be built for {dataset.name} inputs of shape "
            f"{dataset.input_shape}: {str(e).splitlines()[0]}"
        ) from e


def dp_config(config: TrainConfig, noise_multiplier: float) -> DPConfig:
    """The engine's DPConfig for the run's method: DP-SGD's update noise sigma; for "sidp" weight
    noise of multiplier sigma and no update noise (Davody et al. 2020 as published); for
    "sidp_dp" both."""
    return DPConfig(
        l2_norm_clip=config.l2_norm_clip,
        noise_multiplier=0.0 if config.method == "sidp" else noise_multiplier,
        expected_batch_size=config.batch_size,
        augmult=config.augmult,
        clipping=config.clipping,
        clipping_norm=config.clipping_norm,
        linf_p=config.linf_p,
        seed=config.seed,
        weight_noise_multiplier=noise_multiplier if config.method in SIDP_METHODS else 0.0,
        private_batch_statistics=config.method == "sidp",  # nominal already: the paper's BatchNorm is allowed
    )


def public_batch(config: TrainConfig, model: tf.keras.Model, dataset: data.Dataset, preprocess) -> tuple:
    """(preprocessed public auxiliary images, their source) for a model with AuxBatchNorm
    layers on the dpzoo engine; (None, None) otherwise."""
    if not aux_batchnorm_layers(model):
        return None, None
    if config.engine != "dpzoo":
        raise UsageError(
            f"{config.model} has AuxBatchNorm layers, which need the public auxiliary batch only engine='dpzoo' "
            "appends. Use --engine=dpzoo, or another normalization."
        )
    images, source = data.public_auxiliary_batch(dataset.input_shape, training_dataset=dataset.name)
    return preprocess(images).numpy(), source


def _compile(config, model, sampler, noise_multiplier, jit, public_images=None):
    """Returns (trainable Keras model, step counter) for the configured engine."""
    loss = tf.keras.losses.SparseCategoricalCrossentropy(from_logits=True)
    if config.engine == "dpzoo":
        _check_method_model(config, model)
        private = make_private(model, dp_config(config, noise_multiplier), public_batch=public_images)
        private.compile(optimizer=make_optimizer(config), loss=loss, metrics=["accuracy"], jit_compile=jit)
        return private, lambda: int(private.dp_steps.numpy())
    if config.engine == "tf_privacy":
        tf_privacy_engine.compile_model(
            model,
            optimizer=config.optimizer,
            learning_rate=config.learning_rate,
            momentum=config.momentum,
            l2_norm_clip=config.l2_norm_clip,
            noise_multiplier=noise_multiplier,
            rows_per_batch=sampler.pad_to,
            expected_batch_size=config.batch_size,
            jit_compile=jit,
        )
        return model, lambda: int(model.optimizer.iterations.numpy())
    model.compile(optimizer=make_optimizer(config), loss=loss, metrics=["accuracy"], jit_compile=jit)
    return model, lambda: int(model.optimizer.iterations.numpy())


def _check_method_model(config: TrainConfig, model: tf.keras.Model) -> None:
    """The sidp methods sample weights in Gaussian weight layers: refuse models without them."""
    if config.method in SIDP_METHODS and not gaussian_layers(model):
        raise UsageError(
            f"--method={config.method} needs a model with Gaussian weight layers; {config.model} has none. "
            "Use a *_sidp model (lenet5_sidp, lenet5_bn_sidp, tutorial_cnn_sidp, resnet18_sidp), bilstm or "
            "ln_bilstm (or --method=dpsgd)."
        )


def _privacy_reason(config: TrainConfig, noise_multiplier: float, modelmix_broken: list[str]) -> str:
    """Why the card's epsilon is no (or not the method's) formal guarantee; empty when it is."""
    if noise_multiplier == 0:
        return NO_NOISE_REASON
    if config.method == "sidp":
        return SIDP_NOMINAL_REASON
    return modelmix_not_reported(modelmix_broken) if modelmix_broken else ""


def _check_output_dir(output_dir: str, overwrite: bool) -> None:
    if os.path.isdir(output_dir) and os.listdir(output_dir) and not overwrite:
        raise UsageError(f"output_dir {output_dir} exists and is not empty; pass --overwrite or pick another.")


def _staging_dir(output_dir: str) -> str:
    parent = os.path.dirname(os.path.abspath(output_dir))
    os.makedirs(parent, exist_ok=True)
    return tempfile.mkdtemp(prefix=f".{os.path.basename(output_dir)}.partial-", dir=parent)


def run(config: TrainConfig, *, command: str = "", verbose: int = 1, dataset: data.Dataset | None = None) -> RunResult:
    """Trains as configured and writes checkpoint, SavedModel and model card to output_dir.

    ``dataset`` replaces loading ``config.dataset`` (your own arrays, or synthetic ones in tests).
    """
    started = time.time()
    _check_output_dir(config.output_dir, config.overwrite)
    dataset = load_training_data(config, dataset)
    n = len(dataset.x_train)
    noise_multiplier = resolve_noise(config, n)
    sampling_name = "shuffle" if config.engine == "nonprivate" else config.sampling
    jit = jit_enabled(config.jit_compile)
    # dpzoo's engine takes any batch size; without XLA, bucketed padding wastes almost no compute
    bucketed = config.engine == "dpzoo" and not jit
    sampler = sampling.make_sampler(sampling_name, n, config.batch_size, seed=config.seed, bucketed=bucketed)
    tf.keras.utils.set_random_seed(config.seed)
    model = build_model(config, dataset)
    preprocess = pipeline.Preprocessor.for_dataset(dataset, standardize_channels=config.standardize)
    public_images, public_source = public_batch(config, model, dataset, preprocess)
    trainable, step_counter = _compile(config, model, sampler, noise_multiplier, jit, public_images)
    mixing, modelmix_terms, broken = _modelmix(config, trainable)
    ledger = accounting.PrivacyLedger(
        n=n,
        batch_size=config.batch_size,
        noise_multiplier=noise_multiplier,
        l2_norm_clip=None if config.engine == "nonprivate" else config.l2_norm_clip,
        delta=config.delta,
        sampling=sampling_name,
        accountant=config.accountant,
        step_counter=step_counter,
        guarantee="nominal" if config.method == "sidp" else "formal",
        reason=_privacy_reason(config, noise_multiplier, broken),
        modelmix=modelmix_terms,
    )
    steps = planned_steps(config, n, noise_multiplier, sampler.steps_per_epoch)
    epochs = -(-steps // sampler.steps_per_epoch)
    train_ds = pipeline.train_dataset(
        dataset.x_train,
        dataset.y_train,
        sampler,
        preprocess,
        steps=sampler.steps_per_epoch * epochs,
        augment=config.augment,
        augmult=config.augmult,
        crop_padding=config.crop_padding,
    )
    test_ds = pipeline.eval_dataset(dataset.x_test, dataset.y_test, preprocess)
    staging = _staging_dir(config.output_dir)
    try:
        averaging = ParameterAveraging(config.ema_decay, config.eval_weights)
        callbacks = [
            *([mixing] if mixing is not None else []),  # first: later callbacks read the mixed weights
            averaging,
            StopAtStep(steps, step_counter),
            PrivacyLedgerCallback(ledger),
            tf.keras.callbacks.TensorBoard(os.path.join(staging, "tensorboard"), profile_batch=0),
        ]
        history = trainable.fit(
            train_ds,
            epochs=epochs,
            steps_per_epoch=sampler.steps_per_epoch,
            validation_data=test_ds,
            callbacks=callbacks,
            verbose=verbose,
        )
        by_weights = {}
        for which in EVAL_WEIGHTS:
            with averaging.swapped_in(which):
                by_weights[which] = trainable.evaluate(test_ds, verbose=0)
        averaging.use(config.eval_weights)  # the checkpoint and the export hold these weights
        mixing_state = {"modelmix": mixing.state} if mixing is not None else {}
        tf.train.Checkpoint(model=model, **mixing_state).write(os.path.join(staging, CHECKPOINT))
        export.saved_model(
            model,
            os.path.join(staging, SAVED_MODEL),
            input_shape=dataset.input_shape,
            preprocess=preprocess.from_unit_range,
            input_dtype=preprocess.dtype,
        )
        card = _card(
            config,
            dataset,
            model,
            sampler,
            ledger,
            history,
            by_weights,
            jit,
            command,
            time.time() - started,
            public_source,
        )
        model_card.write(card, staging)
        if os.path.exists(config.output_dir):
            shutil.rmtree(config.output_dir)
        os.replace(staging, config.output_dir)
    except BaseException:
        shutil.rmtree(staging, ignore_errors=True)
        raise
    return RunResult(card=card, output_dir=config.output_dir)


def _card(config, dataset, model, sampler, ledger, history, by_weights, jit, command, wall, public_source):
    statement = ledger.statement()
    privacy = statement.to_dict()
    privacy["statement"] = statement.text()
    epochs = len(history.history.get("loss", []))
    rows = [
        {"epoch": i + 1, **{k: float(v[i]) for k, v in history.history.items() if i < len(v)}} for i in range(epochs)
    ]
    mean, std = dataset.channel_stats or (None, None)
    return {
        "dpzoo_version": __version__,
        "tensorflow_version": tf.__version__,
        "model": {
            "name": config.model,
            "kwargs": dict(config.model_kwargs),
            "parameters": model.count_params(),
        },
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
            **({"public_auxiliary_batch": public_source} if public_source else {}),
        },
        "training": {
            "engine": config.engine,
            "method": config.method,
            "clipping": config.clipping,
            "clipping_norm": config.clipping_norm,
            **({"linf_p": config.linf_p} if config.linf_p is not None else {}),
            **({"modelmix_tau_ratio": config.modelmix_tau_ratio} if config.method == "modelmix" else {}),
            "epochs": config.epochs,
            "batch_size": config.batch_size,
            **({"physical_batch_size": sampler.pad_to} if sampler.pad_to else {}),
            "padding": sampler.describe_padding(),
            "mean_physical_rows": round(sampler.expected_rows(), 1),
            "learning_rate": config.learning_rate,
            "optimizer": config.optimizer,
            "momentum": config.momentum if config.optimizer == "momentum" else 0.0,
            "l2_norm_clip": config.l2_norm_clip,
            "noise_multiplier": statement.noise_multiplier,
            "target_epsilon": config.target_epsilon,
            "stop_at_epsilon": config.stop_at_epsilon,
            "steps": ledger.steps,
            "ema_decay": config.ema_decay,
            "sampling": statement.sampling,
            "accountant": config.accountant,
            "seed": config.seed,
            "jit_compile": jit,
        },
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
