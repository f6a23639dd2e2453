"""What a run settles before it builds a model: its data (cut and checked), the checkpoint it
resumes from, its engine and method, sigma, the sampler, the chunk rows and the steps; and the
model the config names, built for the data (dpzoo.training.trainer runs the plan)."""

import dataclasses

import numpy as np
import tensorflow as tf

from dpzoo import data, methods
from dpzoo import models as model_registry
from dpzoo.common.errors import UsageError
from dpzoo.common.stack import keras
from dpzoo.data import input_canaries, pipeline, sampling
from dpzoo.layers import aux_batchnorm_layers
from dpzoo.training import canary_audit, engines, pretrained, privacy_plan, resume
from dpzoo.training.train_config import TrainConfig


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


def build_model(config: TrainConfig, dataset: data.Dataset) -> tuple[keras.Model, dict | None]:
    """The registered model for the dataset's input shape and classes, or the pretrained one of
    ``init_from`` prepared for them (dpzoo.training.pretrained); and, for the latter, the card's
    "pretraining" section (None otherwise). UsageError if it cannot take them."""
    if config.init_from:
        return pretrained.build(config, dataset)
    try:
        model = model_registry.get(
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
    return model, None


@dataclasses.dataclass
class RunPlan:
    """What a run settles before it builds anything: its data, engine, noise, batches and steps."""

    config: TrainConfig
    dataset: data.Dataset
    engine: engines.Engine
    method: methods.Method
    strategy: tf.distribute.Strategy
    noise_multiplier: float
    sampling_name: str
    jit: bool
    sampler: sampling.PoissonSampler | sampling.ShuffleSampler
    chunk_rows: int | None
    steps: int
    preprocess: pipeline.Preprocessor
    progress: resume.Progress | None  # the checkpoint a resumed run starts from
    input_canaries: input_canaries.InputCanaries | None  # black-box audit canaries, if planted

    @property
    def n(self) -> int:
        return len(self.dataset.x_train)


def plan_run(config: TrainConfig, dataset: data.Dataset | None, strategy: tf.distribute.Strategy) -> RunPlan:
    """Loads the data, finds a checkpoint to resume from, resolves sigma, the sampler and the steps."""
    engine = engines.get(config.engine)
    dataset, planted = canary_audit.plant_inputs(config, load_training_data(config, dataset))
    n = len(dataset.x_train)
    staging = resume.staging_dir(config.output_dir)
    progress = resume.latest_progress(staging) if engine.resumable and not config.overwrite else None
    if progress:
        resume.check_resumable(progress, config, n, staging)
    noise_multiplier = privacy_plan.resolve_noise(config, n)
    sampling_name = engine.sampling(config)
    jit = engines.jit_enabled(config.jit_compile)
    # an engine that takes any batch size wastes almost no compute on bucketed padding without XLA
    bucketed = engine.bucketed_batches and not jit and strategy.num_replicas_in_sync == 1
    sampler = sampling.make_sampler(sampling_name, n, config.batch_size, seed=config.seed, bucketed=bucketed)
    return RunPlan(
        config=config,
        dataset=dataset,
        engine=engine,
        method=methods.get(config.method),
        strategy=strategy,
        noise_multiplier=noise_multiplier,
        sampling_name=sampling_name,
        jit=jit,
        sampler=sampler,
        chunk_rows=engine.physical_batch_size(config, sampler, strategy.num_replicas_in_sync),
        steps=privacy_plan.planned_steps(config, n, noise_multiplier, sampler.steps_per_epoch),
        preprocess=pipeline.Preprocessor.for_dataset(dataset, standardize_channels=config.standardize),
        progress=progress,
        input_canaries=planted,
    )


def public_batch(
    config: TrainConfig, engine: engines.Engine, model: keras.Model, dataset: data.Dataset, preprocess
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
