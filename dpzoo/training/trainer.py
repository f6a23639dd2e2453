"""One training run from a TrainConfig: data, model, engine, accounting, card, export.

The trainer is generic: what a published method adds (its DPConfig fields, callbacks, refusals
and privacy statement) it asks of the run's method (dpzoo.methods), never naming one.

Everything is written into a staging folder next to ``output_dir`` (``.<name>.partial``) and
moved into place only when the run succeeds. The staging folder holds the run's resume
checkpoints: a run killed or failed after one is resumed from it by the same command (its
config checked field by field); without one it is removed. Under
tf.distribute the model is built, made private and compiled in the strategy's scope; every
worker draws the same global Poisson batches and trains, and only the chief writes ``output_dir``
(the other workers write into a temporary folder they delete, as saving needs them all).
"""

import dataclasses
import os
import shutil
import tempfile
import time

import numpy as np
import tensorflow as tf
from absl import logging

from dpzoo import accounting, data, methods
from dpzoo import models as model_registry
from dpzoo.artifacts import model_card, weights
from dpzoo.artifacts.export import saved_model
from dpzoo.artifacts.run_folder import CHECKPOINT, SAVED_MODEL, writing
from dpzoo.common.determinism import op_determinism
from dpzoo.common.errors import UsageError
from dpzoo.data import pipeline, records, sampling
from dpzoo.layers import aux_batchnorm_layers
from dpzoo.training import data_normalization, distribution, engines, fixed_front, privacy_plan, resume, run_card
from dpzoo.training.averaging import EVAL_WEIGHTS, ParameterAveraging
from dpzoo.training.callbacks import PrivacyLedgerCallback, StopAtStep
from dpzoo.training.train_config import TrainConfig


@dataclasses.dataclass(frozen=True)
class RunResult:
    card: dict
    output_dir: str
    wrote: bool = True  # False on a multi-worker run's non-chief workers


def load_training_data(config: TrainConfig, dataset: data.Dataset | None = None) -> data.Dataset:
    """The configured dataset (or the given one), cut to max_train_examples; checks the batch fits."""
    dataset = dataset or data.load(config.dataset, config.data_dir)
    if config.max_train_examples and config.max_train_examples < len(dataset.x_train):
        k = config.max_train_examples
        dataset = dataclasses.replace(dataset, x_train=dataset.x_train[:k], y_train=dataset.y_train[:k])
    if dataset.is_text and (config.augment or config.fixed_views.count > 1):
        raise UsageError(f"augment, mirror_views and shift_views are for images; {dataset.name} is text. Drop them.")
    if config.shift_views and config.shift_views >= min(dataset.input_shape[:2]):
        raise UsageError(
            f"Expected shift_views={config.shift_views} < {min(dataset.input_shape[:2])}, the images' side "
            f"in {dataset.name}; a shift of a few pixels is the view (Fashion-MNIST: 1 to 3)."
        )
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


def _check_output_dir(output_dir: str, overwrite: bool) -> None:
    if os.path.exists(output_dir) and not os.path.isdir(output_dir):
        raise UsageError(f"output_dir {output_dir} exists and is not a folder; pick another --output_dir.")
    if os.path.isdir(output_dir) and os.listdir(output_dir) and not overwrite:
        raise UsageError(f"output_dir {output_dir} exists and is not empty; pass --overwrite or pick another.")


def _prepare_staging(staging: str, resuming: bool) -> None:
    """The chief's staging folder: kept when resuming from it, else emptied."""
    if not resuming:
        shutil.rmtree(staging, ignore_errors=True)
    with writing(staging):
        os.makedirs(staging, exist_ok=True)


def run(
    config: TrainConfig,
    *,
    command: str = "",
    verbose: int = 1,
    dataset: data.Dataset | None = None,
    strategy: tf.distribute.Strategy | None = None,
) -> RunResult:
    """Trains as configured and writes checkpoint, SavedModel and model card to output_dir.

    A run interrupted after a resume checkpoint (dpzoo.training.resume) resumes from it when run
    again with the same config; ``overwrite`` starts afresh. ``dataset`` replaces loading
    ``config.dataset`` (your own arrays, or synthetic ones in tests); ``strategy`` one made
    already (else ``config.distribution``'s is made here, before any op). With
    ``config.deterministic`` TensorFlow's op determinism is on for the run
    (dpzoo.common.determinism).
    """
    with op_determinism(config.deterministic):
        return _run(config, command=command, verbose=verbose, dataset=dataset, strategy=strategy)


def _public_batch(
    config: TrainConfig, engine: engines.Engine, model: tf.keras.Model, dataset: data.Dataset, preprocess
) -> tuple[np.ndarray | None, str | None]:
    """(preprocessed public auxiliary images, their source) for a model with AuxBatchNorm
    layers, on an engine that appends them; (None, None) for other models."""
    if not aux_batchnorm_layers(model):
        return None, None
    if not engine.public_batch:
        raise UsageError(
            f"{config.model} has AuxBatchNorm layers, which need the public auxiliary batch only engine='dpzoo' "
            "appends. Use --engine=dpzoo, or another normalization."
        )
    return engines.public_images(dataset, preprocess)


def _run(
    config: TrainConfig,
    *,
    command: str,
    verbose: int,
    dataset: data.Dataset | None,
    strategy: tf.distribute.Strategy | None,
) -> RunResult:
    started = time.time()
    strategy = strategy or distribution.make_strategy(config.distribution)
    replicas = strategy.num_replicas_in_sync
    _check_output_dir(config.output_dir, config.overwrite)
    staging = resume.staging_dir(config.output_dir)
    method = methods.get(config.method)
    engine = engines.get(config.engine)
    dataset = load_training_data(config, dataset)
    n = len(dataset.x_train)
    resumable = engine.resumable
    progress = resume.latest_progress(staging) if resumable and not config.overwrite else None
    if progress:
        resume.check_resumable(progress, config, n, staging)
    noise_multiplier = privacy_plan.resolve_noise(config, n)
    sampling_name = engine.sampling(config)
    jit = engines.jit_enabled(config.jit_compile)
    # an engine that takes any batch size wastes almost no compute on bucketed padding without XLA
    bucketed = engine.bucketed_batches and not jit and replicas == 1
    sampler = sampling.make_sampler(sampling_name, n, config.batch_size, seed=config.seed, bucketed=bucketed)
    chunk_rows = engine.physical_batch_size(config, sampler, replicas)
    steps = privacy_plan.planned_steps(config, n, noise_multiplier, sampler.steps_per_epoch)
    tf.keras.utils.set_random_seed(config.seed)
    preprocess = pipeline.Preprocessor.for_dataset(dataset, standardize_channels=config.standardize)
    with strategy.scope():
        model = build_model(config, dataset)
        method.check_model(config, model)
        in_memory = isinstance(dataset.x_train, np.ndarray)
        front = fixed_front.split_for_run(model, augment=config.augment, in_memory=in_memory)
        data_normalization.check(config, model, front)
        public_images, public_source = _public_batch(config, engine, model, dataset, preprocess)
        plan = engines.CompilePlan(
            noise_multiplier=noise_multiplier,
            jit=jit,
            steps=steps,
            public_images=public_images,
            physical_batch_size=chunk_rows,
        )
        trainable, step_counter = engine.compile(config, front.head if front else model, plan)
        attachment = method.attach(config, trainable)
        averaging = ParameterAveraging(config.ema_decay, config.eval_weights)
        averaging.set_model(trainable)  # creates the averages a resume checkpoint holds
        if resumable:
            trainable.optimizer.build(trainable.trainable_variables)  # its slots, to restore into
            trainable.make_train_function()  # fit keeps it; a resume restores its graph choices
    ledger = accounting.PrivacyLedger(
        n=n,
        batch_size=config.batch_size,
        noise_multiplier=noise_multiplier,
        l2_norm_clip=config.l2_norm_clip if engine.private else None,
        delta=config.delta,
        sampling=sampling_name,
        accountant=config.accountant,
        step_counter=step_counter,
        prior=privacy_plan.prior_release(config),
        **attachment.privacy.ledger_arguments(),
    )
    epochs = -(-steps // sampler.steps_per_epoch)
    chief = distribution.is_chief(strategy)
    if chief:
        _prepare_staging(staging, resuming=progress is not None)
    write_to = staging if chief else tempfile.mkdtemp(prefix="dpzoo-worker-")
    checkpoints = None
    if resumable:
        trackables = {"model": trainable, "optimizer": trainable.optimizer, "averaging": averaging.state()}
        checkpoints = resume.RunCheckpoints(
            {**trackables, **attachment.checkpoint}, read_from=staging, write_to=write_to
        )
    if progress:
        checkpoints.restore(progress, trainable.train_function)
        logging.info(
            "Resuming from step %d of %d (a checkpoint in %s); steps from here redraw what the interrupted run drew.",
            progress.step,
            steps,
            staging,
        )
        progress.resumed_from.append(progress.step)
    else:
        progress = resume.Progress(step=0, config=resume.config_record(config), n_train=n)
    views_in_features = config.fixed_views.count > 1 and front is not None  # else the pipeline makes them
    x_train, x_test, inputs = fixed_front.model_inputs(
        front, dataset, preprocess, views=config.fixed_views if views_in_features else None
    )
    # the same statistics again on a resume; of the images themselves, not their views
    data_normalization.release(config, model, x_train[:, 0] if views_in_features else x_train)
    test_ds = pipeline.eval_dataset(x_test, dataset.y_test, inputs)
    try:
        checkpointer = resume.CheckpointEvery(
            checkpoints,
            progress,
            step_counter,
            resume.auto_every_steps(config.checkpoint_every_steps, config.distribution),
            steps_per_epoch=sampler.steps_per_epoch,
            started=started,
        )
        callbacks = [
            *attachment.callbacks,  # first: later callbacks read the weights a step leaves
            averaging,
            StopAtStep(steps, step_counter),
            PrivacyLedgerCallback(ledger),
            tf.keras.callbacks.TensorBoard(os.path.join(write_to, "tensorboard"), profile_batch=0),
            checkpointer,  # last: its history holds what the others logged
        ]
        for first_step, initial_epoch, end_epoch, steps_per_epoch in resume.epoch_segments(
            step_counter(), sampler.steps_per_epoch, epochs
        ):
            if step_counter() >= steps:
                break
            train_ds = pipeline.train_dataset(
                x_train,
                dataset.y_train,
                sampler,
                inputs,
                steps=steps_per_epoch * (end_epoch - initial_epoch),
                start_step=first_step,
                augment=config.augment,
                augmult=config.augmult,
                crop_padding=config.crop_padding,
                views=None if views_in_features else config.fixed_views,
                physical_batch_size=chunk_rows,
                seed=config.seed,
            )
            with records.read_failures_as_usage_errors():
                trainable.fit(
                    train_ds,
                    initial_epoch=initial_epoch,
                    epochs=end_epoch,
                    steps_per_epoch=steps_per_epoch,
                    validation_data=test_ds,
                    callbacks=callbacks,
                    verbose=verbose,
                    shuffle=False,  # the sampler draws each batch; Keras 3 warns that it cannot shuffle a dataset
                )
        if checkpoints and config.checkpoint_every_steps != 0 and progress.step != step_counter():
            checkpointer.save_now()  # a kill while evaluating and exporting resumes here
        by_weights = {}
        for which in EVAL_WEIGHTS:
            with averaging.swapped_in(which), records.read_failures_as_usage_errors():
                by_weights[which] = trainable.evaluate(test_ds, verbose=0)
        averaging.use(config.eval_weights)  # the checkpoint and the export hold these weights
        with writing(write_to):
            weights.checkpoint(model, **attachment.checkpoint).write(os.path.join(write_to, CHECKPOINT))
            saved_model(
                model,
                os.path.join(write_to, SAVED_MODEL),
                input_shape=dataset.input_shape,
                preprocess=preprocess.from_unit_range,
                input_dtype=preprocess.dtype,
            )
        card = run_card.build(
            config,
            dataset,
            model,
            sampler,
            ledger,
            progress.history,
            by_weights,
            jit,
            command,
            checkpointer.elapsed(),
            public_source,
            physical_batch_size=chunk_rows,
            replicas=replicas,
            resumed_from=progress.resumed_from,
            fixed_front=front.describe() if front else None,
            engine_fields=engine.card_fields(config, trainable, noise_multiplier),
        )
        if not chief:
            shutil.rmtree(write_to, ignore_errors=True)
            return RunResult(card=card, output_dir=config.output_dir, wrote=False)
        with writing(staging):
            model_card.write(card, staging)
        if checkpoints:
            checkpoints.clear()
        if os.path.exists(config.output_dir):
            shutil.rmtree(config.output_dir)
        os.replace(staging, config.output_dir)
    except BaseException:
        if not chief or not resume.has_checkpoint(staging):
            shutil.rmtree(write_to, ignore_errors=True)
        else:
            logging.error("The run stopped; run the same command again to resume it from %s.", staging)
        raise
    return RunResult(card=card, output_dir=config.output_dir)
