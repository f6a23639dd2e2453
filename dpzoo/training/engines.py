"""The run's model compiled for its engine: dpzoo's DP-SGD (``make_private`` with the method's
DPConfig), TF Privacy's DP optimizers, or non-private Keras training."""

from collections.abc import Callable

import numpy as np
import tensorflow as tf

from dpzoo import data, methods
from dpzoo.common import keras_api
from dpzoo.common.errors import UsageError
from dpzoo.data.sampling import PoissonSampler, ShuffleSampler
from dpzoo.layers import aux_batchnorm_layers
from dpzoo.privacy import DPConfig, make_private, tf_privacy_optimizers
from dpzoo.training.train_config import TrainConfig

StepCounter = Callable[[], int]


def jit_enabled(mode: str) -> bool:
    """ "auto" compiles with XLA when a GPU or TPU is present (on CPU it costs more than it saves)."""
    if mode == "auto":
        return bool(tf.config.list_physical_devices("GPU") or tf.config.list_physical_devices("TPU"))
    return mode == "true"


def learning_rate(config: TrainConfig, steps: int) -> float | tf.keras.optimizers.schedules.LearningRateSchedule:
    """The run's learning rate: constant, or with ``lr_schedule="cosine"`` decayed from it to 0
    over the ``steps`` the run takes (the optimizer's step count, restored on a resume)."""
    if config.lr_schedule == "cosine":
        return tf.keras.optimizers.schedules.CosineDecay(config.learning_rate, decay_steps=steps, alpha=0.0)
    return config.learning_rate


def make_optimizer(config: TrainConfig, steps: int) -> tf.keras.optimizers.Optimizer:
    """The configured Keras optimizer for a run of ``steps`` steps."""
    rate = learning_rate(config, steps)
    if config.optimizer == "adam":
        return tf.keras.optimizers.Adam(rate)
    momentum = config.momentum if config.optimizer == "momentum" else 0.0
    return tf.keras.optimizers.SGD(rate, momentum=momentum)


def physical_batch_size(config: TrainConfig, sampler: PoissonSampler | ShuffleSampler, replicas: int) -> int | None:
    """P, the rows of one chunk: the config's; under tf.distribute without one, the sampler's
    padded step size rounded up to a multiple of the replicas (one chunk per step, split evenly)."""
    rows = config.physical_batch_size
    if rows is None and replicas > 1:
        rows = sampler.pad_to or config.batch_size
    if rows is None or replicas == 1:
        return rows
    return replicas * -(-rows // replicas)


def dp_config(config: TrainConfig, noise_multiplier: float, physical_batch_size: int | None = None) -> DPConfig:
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


def public_batch(
    config: TrainConfig, model: tf.keras.Model, dataset: data.Dataset, preprocess
) -> tuple[np.ndarray | None, str | None]:
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


def build_loss_and_metrics(model: tf.keras.Model, classes: int) -> None:
    """Creates the compiled loss's and metrics' variables now, for sparse class labels. Keras
    would create them inside the first traced step, and tf.function traces a step that creates
    variables twice: measured, the tutorial CNN's first private fit went from 5.8 s to 4.1 s."""
    keras_api.build_loss_and_metrics(model, tf.zeros([1, classes]), tf.zeros([1], tf.int64))


def compile_for_engine(
    config: TrainConfig,
    model: tf.keras.Model,
    sampler: PoissonSampler | ShuffleSampler,
    noise_multiplier: float,
    jit: bool,
    steps: int,
    public_images: np.ndarray | None = None,
    physical_batch_size: int | None = None,
) -> tuple[tf.keras.Model, StepCounter]:
    """(the trainable Keras model, its step counter) for the configured engine and a run of
    ``steps`` steps; under the strategy's scope when the run is distributed."""
    loss = tf.keras.losses.SparseCategoricalCrossentropy(from_logits=True)
    if config.engine == "dpzoo":
        private = make_private(
            model, dp_config(config, noise_multiplier, physical_batch_size), public_batch=public_images
        )
        private.compile(optimizer=make_optimizer(config, steps), loss=loss, metrics=["accuracy"], jit_compile=jit)
        build_loss_and_metrics(private, model.output_shape[-1])
        return private, lambda: int(private.dp_steps.numpy())
    if config.engine == "tf_privacy":
        tf_privacy_optimizers.compile_model(
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
        build_loss_and_metrics(model, model.output_shape[-1])
        return model, lambda: int(model.optimizer.iterations.numpy())
    model.compile(optimizer=make_optimizer(config, steps), loss=loss, metrics=["accuracy"], jit_compile=jit)
    build_loss_and_metrics(model, model.output_shape[-1])
    return model, lambda: int(model.optimizer.iterations.numpy())
