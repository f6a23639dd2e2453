"""The private training engine: ``make_private(model, DPConfig(...))``.

``PrivateModel`` is a Keras model whose ``train_step`` is one DP-SGD step (METHODS.md
section 0): per-example gradients, each clipped to C over all trainable variables, summed over
the real (unmasked) examples, Gaussian noise N(0, sigma^2 C^2) added once, the result divided
by the expected batch size B, and any Keras optimizer applied (post-processing).
Weight regularisation losses are data-independent, so their gradient is added after the noise.
With ``DPConfig(augmult=K)`` each example comes as K augmented views and its gradient is that of
its mean loss over the views (De et al. 2022), still clipped once.

The step counter ``dp_steps`` and the noise generator live in the model and are saved with
it, so a privacy ledger can count every step and a resumed run never repeats noise.

With ``DPConfig(physical_batch_size=P)`` a logical step runs in chunks of P rows
(dpzoo.privacy.virtual_batches: ``accumulate_chunk`` per chunk, ``apply_accumulated`` once).
Under tf.distribute (built in ``strategy.scope()``) each replica clips and sums its own rows and
only replica 0 adds the noise (``replica_noise_stddev``), so the optimizer's summing all-reduce
adds it exactly once and every replica applies the same update.
"""

import contextlib
from collections.abc import Mapping

import tensorflow as tf
from absl import logging

from dpzoo.common import keras_api
from dpzoo.common.errors import UsageError
from dpzoo.common.learning_rate import upcoming_learning_rate
from dpzoo.common.stack import keras
from dpzoo.layers import aux_batchnorm, gaussian_layers, set_weight_noise_stddev
from dpzoo.privacy import sized_steps, virtual_batches
from dpzoo.privacy.canaries import CanaryPlan, GradientCanaries
from dpzoo.privacy.clipping import ghost, vectorized
from dpzoo.privacy.clipping.norms import NORM_FUNCTIONS, NormFunction
from dpzoo.privacy.dp_config import DPConfig
from dpzoo.privacy.guards import refuse_activity_regularizers, refuse_batch_statistics


def make_private(
    model: keras.Model,
    dp_config: DPConfig,
    *,
    public_batch=None,
    norm_functions: Mapping[type, NormFunction] = NORM_FUNCTIONS,
    canaries: CanaryPlan | None = None,
    model_class: type["PrivateModel"] | None = None,
    **model_kwargs,
) -> "PrivateModel":
    """Wraps ``model`` for DP-SGD training; compile and fit the result like any Keras model.

    ``public_batch``: preprocessed public images appended to every batch for the model's
    AuxBatchNorm layers (dpzoo.layers.aux_batchnorm); required by such models, refused by others.
    ``norm_functions``: ghost clipping's layer registry (dpzoo.privacy.clipping.norms).
    ``canaries``: white-box gradient canaries for a one-run audit (dpzoo.privacy.canaries).
    ``model_class``: a subclass of PrivateModel with another mechanism or source of settings
    (dpzoo.privacy.dp_queries, tf_privacy_compat), given ``model_kwargs``.
    Refuses models with layers that mix examples (see dpzoo.privacy.guards).
    """
    refuse_batch_statistics(model)
    refuse_activity_regularizers(model)
    _check_public_batch(model, dp_config, public_batch)
    private = (model_class or PrivateModel)(
        model, dp_config, public_batch=public_batch, norm_functions=norm_functions, **model_kwargs
    )
    if canaries is not None:
        private.plant_canaries(canaries)
    return private


def _check_public_batch(model: keras.Model, dp_config: DPConfig, public_batch) -> None:
    """AuxBatchNorm needs a public batch, refuses augmult, and private statistics need a nominal run."""
    layers = aux_batchnorm.aux_batchnorm_layers(model)
    if not layers:
        if public_batch is not None:
            raise UsageError(f"A public_batch was given but {model.name} has no AuxBatchNorm layer to use it.")
        return
    names = ", ".join(layer.name for layer in layers)
    if public_batch is None:
        raise UsageError(
            f"{model.name} has AuxBatchNorm layers ({names}): pass make_private(..., public_batch=images), "
            "public images (dpzoo.data.public_auxiliary_batch) preprocessed like the training data."
        )
    if dp_config.augmult > 1:
        raise UsageError(f"augmult={dp_config.augmult} is not supported with AuxBatchNorm layers ({names}).")
    private = aux_batchnorm.private_statistics_layers(model)
    if private and not dp_config.private_batch_statistics:
        raise UsageError(
            f"Layers {', '.join(layer.name for layer in private)} are AuxBatchNorm(statistics='batch'): they "
            "normalise each example with statistics of the private batch, which breaks DP-SGD's per-example "
            "sensitivity and so any formal guarantee. Use statistics='public' (model_kwargs "
            '\'{"normalization": "public_batch"}\'), or --method=sidp, whose guarantee is nominal.'
        )


REFINED_CLIPPING_REASON = (
    "refined clipping (clipping_norm='l2+linf') clamps the coordinates of each example's clipped gradient, "
    "so it needs the per-example gradients materialised"
)


def _ghost_clipper(
    model: keras.Model, dp_config: DPConfig, norm_functions: Mapping[type, NormFunction]
) -> "ghost.GhostClipper | None":
    """The ghost clipper the strategy asks for, or None for the vectorised path."""
    strategy = dp_config.clipping
    reasons = ghost.unsupported_layers(model, norm_functions)
    if dp_config.clipping_norm == "l2+linf":
        reasons = [REFINED_CLIPPING_REASON, *reasons]
    if strategy != "vectorized" and not reasons:
        return ghost.GhostClipper(model, norm_functions)
    if gaussian_layers(model) or aux_batchnorm.aux_batchnorm_layers(model):
        why = f" ({'; '.join(reasons)})" if reasons else ""
        raise UsageError(
            f"{model.name} has Gaussian weight layers or AuxBatchNorm layers, which act on the whole batch (one "
            "draw of noisy weights, one set of statistics per forward pass); vectorised clipping would run them "
            f"once per example. Use clipping='ghost'{why}."
        )
    if strategy == "vectorized":
        return None
    if strategy == "ghost":
        raise UsageError(
            f"clipping='ghost' cannot run {model.name}: {'; '.join(reasons)}. "
            "Use clipping='auto' (falls back to 'vectorized') or 'vectorized'."
        )
    logging.info("clipping='auto': vectorised clipping for %s (%s).", model.name, "; ".join(reasons))
    return None


def per_example_loss_fn(loss) -> vectorized.PerExampleLoss:
    """The unreduced (one value per example) form of a Keras loss given to ``compile``."""
    loss = keras.losses.get(loss)
    if isinstance(loss, keras.losses.Loss):
        return loss.call  # Loss.call returns per-example values, before any reduction
    if callable(loss):
        return loss
    raise UsageError(f"compile() needs a loss for private training; got {loss!r}.")


class PrivateModel(keras_api.FitsUnderMultiWorker, keras.Model):
    """A Keras model trained with DP-SGD. Build it with ``make_private``."""

    def __init__(
        self,
        model: keras.Model,
        dp_config: DPConfig,
        *,
        public_batch=None,
        norm_functions: Mapping[type, NormFunction] = NORM_FUNCTIONS,
        **kwargs,
    ) -> None:
        super().__init__(name=f"private_{model.name}", **kwargs)
        self.inner = model
        self.dp_config = dp_config
        self.public_batch = None if public_batch is None else tf.constant(public_batch, tf.float32)
        self.dp_steps = tf.Variable(0, dtype=tf.int64, trainable=False, name="dp_steps")
        if dp_config.seed is None:
            self.noise_generator = tf.random.Generator.from_non_deterministic_state()
        else:
            self.noise_generator = tf.random.Generator.from_seed(dp_config.seed)
        self._per_example_loss = None
        self._accumulation = None  # built with a chunked train function
        self._ghost = _ghost_clipper(model, dp_config, norm_functions)
        self.canaries: GradientCanaries | None = None
        if dp_config.weight_noise_multiplier > 0 and not gaussian_layers(model):
            raise UsageError(
                f"weight_noise_multiplier={dp_config.weight_noise_multiplier} but {model.name} has no Gaussian "
                "weight layers (dpzoo.layers.gaussian_weights) to apply it to. Set it to 0 or use GaussianDense / "
                "GaussianConv2D."
            )

    @property
    def clipping_strategy(self) -> str:
        """The clipping this model runs: "ghost" (norm functions) or "vectorized" (per-example gradients)."""
        return "vectorized" if self._ghost is None else "ghost"

    def call(self, inputs, training=None):
        return self.inner(inputs, training=training)

    def compile(self, optimizer="rmsprop", loss=None, **kwargs):
        if loss is None:
            raise UsageError("A PrivateModel needs compile(loss=...): DP-SGD clips per-example losses' gradients.")
        self._per_example_loss = per_example_loss_fn(loss)
        super().compile(optimizer=optimizer, loss=loss, **kwargs)

    def fit(self, x=None, y=None, **kwargs):
        if isinstance(x, tf.data.Dataset):
            keras_api.build_for_batches(self, x.element_spec, self.inner.output_shape)
        return super().fit(x, y, **kwargs)

    def make_train_function(self, force: bool = False):
        """Keras' train function, but with a graph traced per padded batch size where Keras
        would build its plain one-step function (dpzoo.privacy.sized_steps: faster, less memory),
        and chunked logical steps with a physical batch size or several replicas
        (dpzoo.privacy.virtual_batches)."""
        if self.train_function is not None and not force:
            return self.train_function
        replicas = self.distribute_strategy.num_replicas_in_sync
        if self.dp_config.physical_batch_size or replicas > 1:
            self._check_chunked_steps(replicas)
            if self._accumulation is None:
                generators = [layer.noise_generator for layer in gaussian_layers(self.inner)]
                self._accumulation = virtual_batches.Accumulation(self.inner.trainable_variables, generators)
            self.train_function = virtual_batches.ChunkedTrainFunction(self, self.dp_config.physical_batch_size)
        elif not sized_steps.runs_one_step_per_call(self):
            return super().make_train_function(force=force)
        else:
            self.train_function = sized_steps.SizedTrainFunction(self)
        return self.train_function

    def _check_chunked_steps(self, replicas: int) -> None:
        """Refuses what chunks or replicas cannot compute exactly as one pass on one device."""
        if keras_api.steps_per_execution(self) != 1 or keras_api.has_parameter_server(self):
            raise UsageError(
                "Virtual batches and tf.distribute need one logical step per train-function call: "
                "compile with steps_per_execution=1 and no ParameterServerStrategy."
            )
        private = aux_batchnorm.private_statistics_layers(self.inner)
        if private:
            raise UsageError(
                f"AuxBatchNorm(statistics='batch') layers ({', '.join(layer.name for layer in private)}) normalise "
                "with the statistics of the rows in one pass: with chunks or replicas these are not the logical "
                "batch's. Drop physical_batch_size and run on one device, or use statistics='public'."
            )
        if replicas > 1 and gaussian_layers(self.inner):
            raise UsageError(
                f"{self.inner.name} has Gaussian weight layers: under tf.distribute each replica's generator would "
                "draw different noisy weights, so the step would not be one draw as on one device. Train it on one "
                "device (physical_batch_size is supported there)."
            )

    def plant_canaries(self, plan: CanaryPlan) -> None:
        """Adds white-box gradient canaries to every step from now on (dpzoo.privacy.canaries)."""
        if type(self).noisy_mean is not PrivateModel.noisy_mean:
            raise UsageError(f"{type(self).__name__} releases its own noisy sum: audit canaries need dpzoo's engine.")
        with self.distribute_strategy.scope():
            self.canaries = GradientCanaries(
                self.inner.trainable_variables,
                count=plan.count,
                sampling_rate=plan.sampling_rate,
                noise_multiplier=self.dp_config.noise_multiplier,
                l2_norm_clip=self.dp_config.l2_norm_clip,
                seed=plan.seed,
                raw_norm_multiple=plan.raw_norm_multiple,
            )

    @staticmethod
    def _first_replica() -> bool | tf.Tensor:
        """True on replica 0 (or without replicas), False on the others."""
        context = tf.distribute.get_replica_context()
        if context is None or context.num_replicas_in_sync == 1:
            return True
        return tf.equal(context.replica_id_in_sync_group, 0)

    def replica_noise_stddev(self):
        """Std of the noise this replica adds to its partial sum: sigma * C on replica 0 and 0 on
        the others, so the summing all-reduce of the optimizer adds the noise exactly once."""
        stddev = self.dp_config.noise_stddev
        first = self._first_replica()
        return stddev if first is True else tf.where(first, stddev, 0.0)

    def noisy_mean(self, summed: list) -> list:
        """(this replica's clipped sum + its share of the noise) / B; summed over the replicas by
        the optimizer, it is DP-SGD's (sum + N(0, sigma^2 C^2)) / B. Audit canaries, if planted,
        join the sum before the noise (on replica 0) and are scored on what the release adds."""
        data_sum = summed
        if self.canaries is not None:
            share = tf.cast(self._first_replica(), tf.float32)
            summed = [g + c for g, c in zip(summed, self.canaries.clipped_gradients(share), strict=True)]
        if self.dp_config.noise_multiplier > 0:
            stddev = self.replica_noise_stddev()
            summed = [g + self.noise_generator.normal(tf.shape(g), stddev=stddev) for g in summed]
        if self.canaries is not None:
            recorded = self.canaries.record([r - d for r, d in zip(summed, data_sum, strict=True)])
            with tf.control_dependencies([recorded]):
                summed = [tf.identity(g) for g in summed]
        scale = 1.0 / self.dp_config.expected_batch_size
        return [g * scale for g in summed]

    def clipped_sum(self, x, y, mask):
        """Sum over the real rows of the per-example gradients clipped to C, and the outputs."""
        config = self.dp_config
        variables = self.inner.trainable_variables
        views = config.augmult > 1
        if self._ghost is not None:
            summed, _, outputs = self._ghost.clipped_sum(
                self._per_example_loss, x, y, mask, config.l2_norm_clip, variables, views=views
            )
            return summed, outputs
        grads, _, outputs = vectorized.per_example_gradients(
            self.inner, self._per_example_loss, x, y, variables, views=views
        )
        return vectorized.clipped_sum(grads, mask, config.l2_norm_clip, config.linf_clip), outputs

    def private_gradients(self, x, y, mask):
        """The DP-SGD gradient of one batch: (noisy clipped sum) / B, plus per-example outputs."""
        summed, outputs = self.clipped_sum(x, y, mask)
        return self.noisy_mean(summed), outputs

    def _set_weight_noise(self) -> None:
        """s = lr_t * C * sigma_w / B in every Gaussian weight layer, before this step's forward pass."""
        config = self.dp_config
        stddev = (
            upcoming_learning_rate(self.optimizer)
            * config.l2_norm_clip
            * config.weight_noise_multiplier
            / config.expected_batch_size
        )
        set_weight_noise_stddev(self.inner, stddev)

    def _with_public_rows(self, x, y, mask):
        """(x, y, mask) with the public batch appended, and the context that marks its rows for
        AuxBatchNorm; unchanged and a null context without a public batch."""
        if self.public_batch is None:
            return x, y, mask, contextlib.nullcontext()
        x, y, private, public = aux_batchnorm.append_public(x, y, mask, self.public_batch)
        return x, y, private, aux_batchnorm.marked_rows(self.inner, private, public)

    def _private_rows(self, data, reduce_rows):
        """(x, y, mask, reduce_rows(x, y, mask) with the public rows appended and marked, outputs of
        the private rows): the forward and backward pass of one batch or chunk."""
        x, y, mask = keras.utils.unpack_x_y_sample_weight(data)
        if mask is None:
            mask = tf.ones(tf.shape(y)[:1], tf.float32)
        mask = tf.cast(mask, tf.float32)
        if self.dp_config.weight_noise_multiplier > 0:
            self._set_weight_noise()
        with_public_x, with_public_y, with_public_mask, marked = self._with_public_rows(x, y, mask)
        with marked:
            reduced, outputs = reduce_rows(with_public_x, with_public_y, with_public_mask)
        if self.public_batch is not None:
            outputs = outputs[: tf.shape(y)[0]]  # the private rows
        return x, y, mask, reduced, outputs

    def _apply(self, grads: list) -> None:
        """Adds the regularisers' gradients (data-independent: post-processing; each replica's share,
        as the optimizer sums over replicas), applies the update and counts the step."""
        variables = self.inner.trainable_variables
        if self.inner.losses:
            with tf.GradientTape() as tape:
                regularization = tf.add_n(self.inner.losses)
            reg_grads = tape.gradient(regularization, variables, unconnected_gradients="zero")
            share = 1.0 / self.distribute_strategy.num_replicas_in_sync
            grads = [g + r * share for g, r in zip(grads, reg_grads, strict=True)]
        self.optimizer.apply_gradients(zip(grads, variables, strict=True))
        self.dp_steps.assign_add(1)

    def train_step(self, data):
        x, y, mask, grads, outputs = self._private_rows(data, self.private_gradients)
        self._apply(grads)
        keras_api.track_loss(self, x, y, outputs, mask)
        return self.compute_metrics(x, y, outputs, mask)

    def accumulate_chunk(self, data):
        """One chunk of a logical step (on each replica): its clipped sum joins the accumulators;
        the metrics see its rows. Nothing is released until ``apply_accumulated``."""
        if self._accumulation.generators:
            self._accumulation.same_weight_draw()
        x, y, mask, summed, outputs = self._private_rows(data, self.clipped_sum)
        self._accumulation.add(summed)
        keras_api.track_loss(self, x, y, outputs, mask)
        self.compute_metrics(x, y, outputs, mask)

    def apply_accumulated(self):
        """The end of a logical step: noise once, divide by B, one update, one ``dp_steps``."""
        self._apply(self.noisy_mean(self._accumulation.take()))
        return self.get_metrics_result()

    def test_step(self, data):
        """Keras' test step; with a public batch, it is appended for AuxBatchNorm's statistics
        (Davody et al. 2020 append it at evaluation too) and its rows dropped from the outputs."""
        if self.public_batch is None:
            return super().test_step(data)
        x, y, sample_weight = keras.utils.unpack_x_y_sample_weight(data)
        ones = tf.ones(tf.shape(y)[:1], tf.float32)
        with_public_x, _, _, marked = self._with_public_rows(x, y, ones)
        with marked:
            outputs = self.inner(with_public_x, training=False)[: tf.shape(y)[0]]
        keras_api.track_loss(self, x, y, outputs, sample_weight)
        return self.compute_metrics(x, y, outputs, sample_weight)
