"""The non-private baseline: plain Keras training on shuffled batches, no clipping, no noise and
no epsilon; it resumes, as its state is the model's and the optimizer's."""

from dpzoo.common.errors import UsageError
from dpzoo.common.stack import keras
from dpzoo.training.engines import keras_setup
from dpzoo.training.engines.engine import CompilePlan, Engine, StepCounter


class NonPrivateEngine(Engine):
    name = "nonprivate"
    summary = "plain Keras training, the non-private baseline"
    private = False
    sampling_note = "shuffled batches"

    def sampling(self, config) -> str:
        return "shuffle"

    def check_config(self, config) -> None:
        super().check_config(config)
        for name in ("data_norm_noise_multiplier", "feature_centering_noise_multiplier"):
            if getattr(config, name) is not None:
                raise UsageError(f"{name} is for private runs; the nonprivate engine adds no noise.")

    def compile(self, config, model: keras.Model, plan: CompilePlan) -> tuple[keras.Model, StepCounter]:
        keras_setup.compile_keras(
            model, keras_setup.make_optimizer(config, plan.steps), plan.jit, model.output_shape[-1]
        )
        return model, lambda: int(model.optimizer.iterations.numpy())
