"""TF Privacy's engine: the model compiled with TF Privacy's DP Keras optimizers (its own per-
example gradients over the padded batch, clipped and noised), the stock path dpzoo is measured
against. It draws its noise from TensorFlow's global generator, which no checkpoint restores,
so its runs do not resume; it takes a constant learning rate and a batch in one pass."""

import tensorflow as tf

from dpzoo.privacy import tf_privacy_optimizers
from dpzoo.training.engines import keras_setup
from dpzoo.training.engines.engine import CompilePlan, Engine, StepCounter


class TFPrivacyEngine(Engine):
    name = "tf_privacy"
    summary = "TF Privacy's DP Keras optimizers"
    resumable = False
    not_resumable_because = (
        "TF Privacy's optimizers draw their noise from TensorFlow's global generator, which no checkpoint "
        "restores, so a resumed step would be a second release"
    )
    learning_rate_schedules = False

    def compile(self, config, model: tf.keras.Model, plan: CompilePlan) -> tuple[tf.keras.Model, StepCounter]:
        tf_privacy_optimizers.compile_model(
            model,
            optimizer=config.optimizer,
            learning_rate=config.learning_rate,
            momentum=config.momentum,
            l2_norm_clip=config.l2_norm_clip,
            noise_multiplier=plan.noise_multiplier,
            rows_per_batch=plan.rows_per_batch,
            expected_batch_size=config.batch_size,
            jit_compile=plan.jit,
        )
        keras_setup.build_loss_and_metrics(model, model.output_shape[-1])
        return model, lambda: int(model.optimizer.iterations.numpy())
