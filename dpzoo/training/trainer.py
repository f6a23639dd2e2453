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

A run is its plan (dpzoo.training.run_plan: data, resume point, sigma, batches, steps), then
named steps: build, ledger, resume checkpoints, fit, evaluate and write, publish.
"""

import dataclasses
import os
import shutil
import tempfile
import time

import tensorflow as tf
from absl import logging

from dpzoo import accounting, data, methods
from dpzoo.artifacts import model_card, weights
from dpzoo.artifacts.export import saved_model
from dpzoo.artifacts.run_folder import CHECKPOINT, SAVED_MODEL, writing
from dpzoo.common.determinism import op_determinism
from dpzoo.common.errors import UsageError
from dpzoo.common.stack import keras
from dpzoo.data import pipeline, records
from dpzoo.training import canary_audit, distribution, engines, pretrained, privacy_plan, resume, run_card, run_plan
from dpzoo.training.averaging import EVAL_WEIGHTS, ParameterAveraging
from dpzoo.training.callbacks import PrivacyLedgerCallback, StopAtStep
from dpzoo.training.precomputed import RunFeatures
from dpzoo.training.train_config import TrainConfig


@dataclasses.dataclass(frozen=True)
class RunResult:
    card: dict
    output_dir: str
    wrote: bool = True  # False on a multi-worker run's non-chief workers


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


@dataclasses.dataclass
class _Built:
    """The run's models: the whole model (checkpointed and exported), what it computes once before
    training (its fixed front, if any), the compiled model the engine trains, and what the method attached."""

    model: keras.Model
    features: RunFeatures
    trainable: keras.Model
    step_counter: engines.StepCounter
    attachment: methods.Attachment
    averaging: ParameterAveraging
    public_source: str | None
    pretraining: dict | None  # a fine-tuning run's start, for the card (dpzoo.training.pretrained)


def _build(plan: run_plan.RunPlan) -> _Built:
    """The model, built, split at its fixed front, compiled by the engine and given the method's
    attachments and parameter averaging, in the strategy's scope."""
    config = plan.config
    keras.utils.set_random_seed(config.seed)
    with plan.strategy.scope():
        model, pretraining = run_plan.build_model(config, plan.dataset)
        plan.method.check_model(config, model)
        features = RunFeatures.for_run(config, model, plan.dataset)
        public_images, public_source = run_plan.public_batch(config, plan.engine, model, plan.dataset, plan.preprocess)
        compile_plan = engines.CompilePlan(
            noise_multiplier=plan.noise_multiplier,
            jit=plan.jit,
            steps=plan.steps,
            public_images=public_images,
            physical_batch_size=plan.chunk_rows,
            canaries=canary_audit.canary_plan(config, plan.n),
        )
        trainable, step_counter = plan.engine.compile(config, features.trainable, compile_plan)
        attachment = plan.method.attach(config, trainable)
        averaging = ParameterAveraging(config.ema_decay, config.eval_weights)
        averaging.set_model(trainable)  # creates the averages a resume checkpoint holds
        if plan.engine.resumable:
            trainable.optimizer.build(trainable.trainable_variables)  # its slots, to restore into
            trainable.make_train_function()  # fit keeps it; a resume restores its graph choices
    return _Built(model, features, trainable, step_counter, attachment, averaging, public_source, pretraining)


def _ledger(plan: run_plan.RunPlan, built: _Built) -> accounting.PrivacyLedger:
    """The run's privacy ledger: it counts the engine's steps and states their epsilon."""
    config = plan.config
    return accounting.PrivacyLedger(
        n=plan.n,
        batch_size=config.batch_size,
        noise_multiplier=plan.noise_multiplier,
        l2_norm_clip=config.l2_norm_clip if plan.engine.private else None,
        delta=config.delta,
        sampling=plan.sampling_name,
        accountant=config.accountant,
        step_counter=built.step_counter,
        prior=privacy_plan.prior_release(config),
        **built.attachment.privacy.ledger_arguments(),
    )


def _resume_checkpoints(
    plan: run_plan.RunPlan, built: _Built, staging: str, write_to: str
) -> tuple[resume.RunCheckpoints | None, resume.Progress]:
    """(the run's resume checkpoints, None for an engine that cannot resume; its progress),
    restored from the checkpoint the plan found, if any."""
    checkpoints = None
    if plan.engine.resumable:
        trainable = built.trainable
        trackables = {"model": trainable, "optimizer": trainable.optimizer, "averaging": built.averaging.state()}
        checkpoints = resume.RunCheckpoints(
            {**trackables, **built.attachment.checkpoint}, read_from=staging, write_to=write_to
        )
    progress = plan.progress
    if not progress:
        return checkpoints, resume.Progress(step=0, config=resume.config_record(plan.config), n_train=plan.n)
    checkpoints.restore(progress, built.trainable.train_function)
    logging.info(
        "Resuming from step %d of %d (a checkpoint in %s); steps from here redraw what the interrupted run drew.",
        progress.step,
        plan.steps,
        staging,
    )
    progress.resumed_from.append(progress.step)
    return checkpoints, progress


def _fit(
    plan: run_plan.RunPlan,
    built: _Built,
    x_train,
    inputs,
    test_ds,
    callbacks: list,
    verbose: int,
):
    """Fits epoch by epoch from the step the run stands at (a resume starts inside an epoch)."""
    config = plan.config
    epochs = -(-plan.steps // plan.sampler.steps_per_epoch)
    for first_step, initial_epoch, end_epoch, steps_per_epoch in resume.epoch_segments(
        built.step_counter(), plan.sampler.steps_per_epoch, epochs
    ):
        if built.step_counter() >= plan.steps:
            break
        train_ds = pipeline.train_dataset(
            x_train,
            plan.dataset.y_train,
            plan.sampler,
            inputs,
            steps=steps_per_epoch * (end_epoch - initial_epoch),
            start_step=first_step,
            augment=config.augment,
            augmult=config.augmult,
            crop_padding=config.crop_padding,
            views=None if built.features.views_in_features else config.fixed_views,
            physical_batch_size=plan.chunk_rows,
            seed=config.seed,
        )
        with records.read_failures_as_usage_errors():
            built.trainable.fit(
                train_ds,
                initial_epoch=initial_epoch,
                epochs=end_epoch,
                steps_per_epoch=steps_per_epoch,
                validation_data=test_ds,
                callbacks=callbacks,
                verbose=verbose,
                shuffle=False,  # the sampler draws each batch; Keras 3 warns that it cannot shuffle a dataset
            )


def _evaluate_and_write(plan: run_plan.RunPlan, built: _Built, test_ds, write_to: str) -> dict[str, list[float]]:
    """Test loss and accuracy by weights (raw, EMA, Polyak); then the configured weights are
    swapped in and written as the checkpoint and the SavedModel."""
    by_weights = {}
    for which in EVAL_WEIGHTS:
        with built.averaging.swapped_in(which), records.read_failures_as_usage_errors():
            by_weights[which] = built.trainable.evaluate(test_ds, verbose=0)
    built.averaging.use(plan.config.eval_weights)  # the checkpoint and the export hold these weights
    with writing(write_to):
        weights.checkpoint(built.model, **built.attachment.checkpoint).write(os.path.join(write_to, CHECKPOINT))
        pretrained.keep_start_file(plan.config, plan.dataset, write_to)
        saved_model(
            built.model,
            os.path.join(write_to, SAVED_MODEL),
            input_shape=plan.dataset.input_shape,
            preprocess=plan.preprocess.from_unit_range,
            input_dtype=plan.preprocess.dtype,
        )
    return by_weights


def _canary_audit(plan: run_plan.RunPlan, built: _Built, privacy: dict) -> dict | None:
    """The card's canary audit, if the run planted canaries: white-box ones in its noisy sums, or
    black-box ones in its data, scored on the final model (the configured weights)."""
    planted = plan.input_canaries
    if planted is None:
        return canary_audit.card_section(built.trainable, privacy, plan.config.delta)
    scores = canary_audit.input_scores(built.trainable, planted, built.features, plan.preprocess)
    return canary_audit.black_box_section(scores, planted, privacy, plan.config.delta)


def _publish(config: TrainConfig, card: dict, staging: str, checkpoints: resume.RunCheckpoints | None) -> None:
    """The chief's last step: the card into the staging folder, which then replaces output_dir."""
    with writing(staging):
        model_card.write(card, staging)
    if checkpoints:
        checkpoints.clear()
    if os.path.exists(config.output_dir):
        shutil.rmtree(config.output_dir)
    os.replace(staging, config.output_dir)


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
    _check_output_dir(config.output_dir, config.overwrite)
    staging = resume.staging_dir(config.output_dir)
    plan = run_plan.plan_run(config, dataset, strategy)
    built = _build(plan)
    ledger = _ledger(plan, built)
    chief = distribution.is_chief(strategy)
    if chief:
        _prepare_staging(staging, resuming=plan.progress is not None)
    write_to = staging if chief else tempfile.mkdtemp(prefix="dpzoo-worker-")
    checkpoints, progress = _resume_checkpoints(plan, built, staging, write_to)
    x_train, x_test, inputs = built.features.inputs(plan.dataset, plan.preprocess)
    test_ds = pipeline.eval_dataset(x_test, plan.dataset.y_test, inputs)
    try:
        checkpointer = resume.CheckpointEvery(
            checkpoints,
            progress,
            built.step_counter,
            resume.auto_every_steps(config.checkpoint_every_steps, config.distribution),
            steps_per_epoch=plan.sampler.steps_per_epoch,
            started=started,
        )
        callbacks = [
            *built.attachment.callbacks,  # first: later callbacks read the weights a step leaves
            built.averaging,
            StopAtStep(plan.steps, built.step_counter),
            PrivacyLedgerCallback(ledger),
            keras.callbacks.TensorBoard(os.path.join(write_to, "tensorboard"), profile_batch=0),
            checkpointer,  # last: its history holds what the others logged
        ]
        _fit(plan, built, x_train, inputs, test_ds, callbacks, verbose)
        if checkpoints and config.checkpoint_every_steps != 0 and progress.step != built.step_counter():
            checkpointer.save_now()  # a kill while evaluating and exporting resumes here
        by_weights = _evaluate_and_write(plan, built, test_ds, write_to)
        card = run_card.build(
            config,
            plan.dataset,
            built.model,
            plan.sampler,
            ledger,
            progress.history,
            by_weights,
            plan.jit,
            command,
            checkpointer.elapsed(),
            built.public_source,
            physical_batch_size=plan.chunk_rows,
            replicas=strategy.num_replicas_in_sync,
            resumed_from=progress.resumed_from,
            features=built.features,
            engine_fields=plan.engine.card_fields(config, built.trainable, plan.noise_multiplier),
            pretraining=built.pretraining,
        )
        audit = _canary_audit(plan, built, card["privacy"])
        if audit:
            card["canary_audit"] = audit
        if not chief:
            shutil.rmtree(write_to, ignore_errors=True)
            return RunResult(card=card, output_dir=config.output_dir, wrote=False)
        _publish(config, card, staging, checkpoints)
    except BaseException:
        if not chief or not resume.has_checkpoint(staging):
            shutil.rmtree(write_to, ignore_errors=True)
        else:
            logging.error("The run stopped; run the same command again to resume it from %s.", staging)
        raise
    return RunResult(card=card, output_dir=config.output_dir)
