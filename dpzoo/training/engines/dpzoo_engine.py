"""dpzoo's engine: DP-SGD by ``make_private`` (ghost or vectorised per-example clipping, noise once
per logical step), with the method's DPConfig. The one engine that chunks a step into physical
batches, runs under tf.distribute, averages an example's views, clips refined, appends
AuxBatchNorm's public batch, plants audit canaries, and resumes bitwise (its noise generator is in
the checkpoint)."""

import numpy as np

from dpzoo import data, methods
from dpzoo.common.stack import keras
from dpzoo.data.sampling import PoissonSampler, ShuffleSampler
from dpzoo.privacy import DPConfig, make_private
from dpzoo.training.engines import keras_setup
from dpzoo.training.engines.engine import CompilePlan, Engine, StepCounter


def dp_config(config, noise_multiplier: float, physical_batch_size: int | None = None) -> DPConfig:
    """The engine's DPConfig: the run's clipping, views, seed and chunk rows, and the fields its
    method sets (the update noise sigma, weight noise, ...)."""
    return DPConfig(
        physical_batch_size=physical_batch_size,
        l2_norm_clip=config.l2_norm_clip,
        expected_batch_size=config.batch_size,
        augmult=config.views_per_example,
        clipping=config.clipping,
        clipping_norm=config.clipping_norm,
        linf_p=config.linf_p,
        seed=config.seed,
        **methods.get(config.method).dp_config_fields(config, noise_multiplier),
    )


class DpzooEngine(Engine):
    name = "dpzoo"
    summary = "fast DP-SGD: ghost or vectorised per-example clipping, noise once per logical step"
    chunks_and_distributes = True
    averages_views = True
    refined_clipping = True
    public_batch = True
    bucketed_batches = True
    plants_canaries = True

    def physical_batch_size(self, config, sampler: PoissonSampler | ShuffleSampler, replicas: int) -> int | None:
        """P, the rows of one chunk: the config's; under tf.distribute without one, the sampler's
        padded step size rounded up to a multiple of the replicas (one chunk per step, split evenly)."""
        rows = config.physical_batch_size
        if rows is None and replicas > 1:
            rows = sampler.pad_to or config.batch_size
        if rows is None or replicas == 1:
            return rows
        return replicas * -(-rows // replicas)

    def compile(self, config, model: keras.Model, plan: CompilePlan) -> tuple[keras.Model, StepCounter]:
        private = make_private(
            model,
            dp_config(config, plan.noise_multiplier, plan.physical_batch_size),
            public_batch=plan.public_images,
            canaries=plan.canaries,
        )
        keras_setup.compile_keras(
            private, keras_setup.make_optimizer(config, plan.steps), plan.jit, model.output_shape[-1]
        )
        return private, lambda: int(private.dp_steps.numpy())


def public_images(dataset: data.Dataset, preprocess) -> tuple[np.ndarray, str]:
    """(preprocessed public auxiliary images, their source) for AuxBatchNorm's statistics."""
    images, source = data.public_auxiliary_batch(dataset.input_shape, training_dataset=dataset.name)
    return preprocess(images).numpy(), source
