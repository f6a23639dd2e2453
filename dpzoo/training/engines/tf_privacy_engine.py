"""TF Privacy's engine: each step's clipping, sum and noise are a TF Privacy DP query's, over the
per-example gradients dpzoo computes (dpzoo.privacy.dp_queries): GaussianSumQuery, or with
``adaptive_clip_quantile`` Andrew et al.'s QuantileAdaptiveClipSumQuery. The queries are plain
TensorFlow, so this engine runs on Keras 2 and Keras 3 alike (TF Privacy's Keras optimizers need
Keras 2; dpzoo-bench still measures them, as peers). The query's state (an adaptive clip) is
not in the run's checkpoint, so these runs do not resume."""

from dpzoo.accounting import adaptive_clipping
from dpzoo.common.stack import keras
from dpzoo.privacy import dp_queries
from dpzoo.training.engines import keras_setup
from dpzoo.training.engines.engine import CompilePlan, Engine, StepCounter


def query_for(config, noise_multiplier: float):
    """The run's DP query: sigma is the step's noise multiplier; with adaptive clipping the
    gradient sum gets the larger one that leaves the count its share."""
    if config.adaptive_clip_quantile is None:
        return dp_queries.gaussian_sum_query(config.l2_norm_clip, noise_multiplier)
    adaptive = dp_queries.AdaptiveClipping(
        target_quantile=config.adaptive_clip_quantile,
        learning_rate=config.adaptive_clip_learning_rate,
        count_stddev=config.count_stddev,
    )
    gradient_sigma = adaptive_clipping.gradient_noise_multiplier(noise_multiplier, adaptive.count_stddev)
    return dp_queries.adaptive_clip_sum_query(config.l2_norm_clip, gradient_sigma, adaptive, config.batch_size)


class TFPrivacyEngine(Engine):
    name = "tf_privacy"
    summary = (
        "TF Privacy's DP queries (GaussianSumQuery; QuantileAdaptiveClipSumQuery with --adaptive_clip_quantile) "
        "over dpzoo's per-example gradients"
    )
    resumable = False
    not_resumable_because = (
        "the DP query's state (an adaptive clip) is not in the run's checkpoint, so a resumed run would restart it"
    )
    bucketed_batches = True
    adaptive_clipping = True

    def card_fields(self, config, trainable: keras.Model, noise_multiplier: float) -> dict:
        """The query, and for adaptive clipping its settings, the gradient sum's own sigma (the
        card's noise multiplier is the step's effective one) and the clip the run ended at."""
        if config.adaptive_clip_quantile is None:
            return {"dp_query": "GaussianSumQuery"}
        return {
            "dp_query": "QuantileAdaptiveClipSumQuery",
            "adaptive_clip_quantile": config.adaptive_clip_quantile,
            "adaptive_clip_learning_rate": config.adaptive_clip_learning_rate,
            "clipped_count_stddev": config.count_stddev,
            "gradient_noise_multiplier": adaptive_clipping.gradient_noise_multiplier(
                noise_multiplier, config.count_stddev
            ),
            "final_l2_norm_clip": trainable.l2_norm_clip(),
        }

    def compile(self, config, model: keras.Model, plan: CompilePlan) -> tuple[keras.Model, StepCounter]:
        private = dp_queries.make_query_private(
            model,
            query_for(config, plan.noise_multiplier),
            l2_norm_clip=config.l2_norm_clip,
            expected_batch_size=config.batch_size,
            seed=config.seed,
            clipping=config.clipping,
        )
        keras_setup.compile_keras(
            private, keras_setup.make_optimizer(config, plan.steps), plan.jit, model.output_shape[-1]
        )
        return private, lambda: int(private.dp_steps.numpy())
