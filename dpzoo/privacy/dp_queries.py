"""TF Privacy's DP queries as the mechanism of a private step (``--engine=tf_privacy``).

TF Privacy's DP queries are plain TensorFlow and run beside Keras 2 and Keras 3 alike, where its
Keras optimizers need Keras 2. A ``QueryPrivateModel`` computes each example's gradient with
dpzoo (ghost norms where the model allows, else vectorised), takes the clip from the query's ``derive_sample_params``, forms the sum
over the real rows of what the query's ``preprocess_record`` makes of each example (accumulation
is a sum for TF Privacy's sum queries), lets the query's ``get_noised_result`` add the noise and
update its state, and divides by the expected batch size B as in dpzoo's own step.

The records are preprocessed here, for the whole batch at once, and a test holds the result equal
to the query's own ``preprocess_record`` and ``accumulate_record`` example by example: TF
Privacy clips with ``tf.clip_by_global_norm``, whose L2Loss op has no vectorised form, so its
code under ``tf.vectorized_map`` is a loop over the examples, and it needs each gradient
materialised, which ghost clipping avoids.

- ``GaussianSumQuery(C, sigma C)`` is DP-SGD's Gaussian mechanism.
- ``QuantileAdaptiveClipSumQuery`` (Andrew et al. 2021) also releases a noisy count of the
  examples whose norm was within the clip, and moves the clip towards a target quantile of the
  norms. Each step then releases two Gaussian mechanisms on the same sampled batch; their
  composition is one Gaussian mechanism of multiplier ``accounting.adaptive_clipping
  .effective_noise_multiplier`` (the run's accounted sigma), and the query's state (the clip)
  is kept in the model between steps.

The noise is drawn from the model's seeded generator with the stds the query's state names, and
the query runs with those stds set to 0: its own draws come from TensorFlow's global generator,
whose op seeds repeat in each graph traced per batch size (measured: two graphs of one structure
draw the same first noise), which would release correlated noise. A step is one pass on one
device; the query's state is not in the run's checkpoint, so these runs do not resume.
"""

import dataclasses

import tensorflow as tf

from dpzoo.common.errors import UsageError
from dpzoo.common.stack import keras
from dpzoo.common.tf_privacy import tf_privacy_module
from dpzoo.privacy.clipping import vectorized
from dpzoo.privacy.dp_config import DPConfig
from dpzoo.privacy.private_model import PrivateModel, make_private


@dataclasses.dataclass(frozen=True)
class AdaptiveClipping:
    """Andrew et al.'s adaptive clipping: the clip moves (geometrically, by ``learning_rate``)
    towards the ``target_quantile`` of the examples' gradient norms, estimated from a count
    released with noise of std ``count_stddev`` (Andrew et al. suggest B / 20)."""

    target_quantile: float
    learning_rate: float
    count_stddev: float


def gaussian_sum_query(l2_norm_clip: float, noise_multiplier: float):
    """TF Privacy's GaussianSumQuery: clips each record to C, sums, adds N(0, (sigma C)^2)."""
    gaussian_query = tf_privacy_module("privacy.dp_query.gaussian_query")
    return gaussian_query.GaussianSumQuery(l2_norm_clip=l2_norm_clip, stddev=noise_multiplier * l2_norm_clip)


def adaptive_clip_sum_query(
    initial_l2_norm_clip: float, noise_multiplier: float, adaptive: AdaptiveClipping, expected_batch_size: int
):
    """TF Privacy's QuantileAdaptiveClipSumQuery (geometric updates, as Andrew et al. recommend);
    ``noise_multiplier`` is the gradient sum's own sigma, not the step's effective one."""
    module = tf_privacy_module("privacy.dp_query.quantile_adaptive_clip_sum_query")
    return module.QuantileAdaptiveClipSumQuery(
        initial_l2_norm_clip=initial_l2_norm_clip,
        noise_multiplier=noise_multiplier,
        target_unclipped_quantile=adaptive.target_quantile,
        learning_rate=adaptive.learning_rate,
        clipped_count_stddev=adaptive.count_stddev,
        expected_num_records=expected_batch_size,
        geometric_update=True,
    )


def make_query_private(
    model: keras.Model,
    query,
    *,
    l2_norm_clip: float,
    expected_batch_size: int,
    seed: int | None = None,
    clipping: str = "auto",
) -> "QueryPrivateModel":
    """Wraps ``model`` for DP-SGD whose clipping, sum and noise are ``query``'s (a TF Privacy
    sum query); ``l2_norm_clip`` is the query's (initial) clip, B the divisor of its result,
    ``seed`` that of the model's own generator (unused by the query, which draws its own noise),
    ``clipping`` how the per-example norms are computed (DPConfig.clipping)."""
    # noise_multiplier 0: dpzoo's own noise stays off, the query adds the mechanism's
    config = DPConfig(
        l2_norm_clip=l2_norm_clip,
        noise_multiplier=0.0,
        expected_batch_size=expected_batch_size,
        seed=seed,
        clipping=clipping,
    )
    return make_private(model, config, model_class=QueryPrivateModel, query=query)


class QueryPrivateModel(PrivateModel):
    """A PrivateModel whose step aggregates per-example gradients with a TF Privacy DP query."""

    def __init__(self, model: keras.Model, dp_config: DPConfig, *, query, **kwargs) -> None:
        super().__init__(model, dp_config, **kwargs)
        self.query = query
        initial = query.initial_global_state()
        self._state_structure = initial
        self.query_state = [
            tf.Variable(value, trainable=False, name=f"query_state_{i}")
            for i, value in enumerate(tf.nest.flatten(initial))
        ]

    def global_state(self):
        """The query's global state now (its clip, for adaptive clipping)."""
        return tf.nest.pack_sequence_as(self._state_structure, [v.read_value() for v in self.query_state])

    def l2_norm_clip(self) -> float:
        """The query's current clip."""
        state = self.global_state()
        sum_state = getattr(state, "sum_state", state)
        return float(sum_state.l2_norm_clip)

    def _check_chunked_steps(self, replicas: int) -> None:
        raise UsageError(
            "A TF Privacy query aggregates one batch in one pass on one device: drop physical_batch_size and "
            "tf.distribute, or use engine='dpzoo'."
        )

    def clipped_sum_and_norms(self, x, y, mask, l2_norm_clip):
        """(sum over the real rows of the gradients clipped to ``l2_norm_clip``, every row's
        gradient norm, the outputs): by ghost norms where the model allows, else vectorised."""
        variables = self.inner.trainable_variables
        if self._ghost is not None:
            return self._ghost.clipped_sum(self._per_example_loss, x, y, mask, l2_norm_clip, variables)
        grads, _, outputs = vectorized.per_example_gradients(self.inner, self._per_example_loss, x, y, variables)
        norms = vectorized.global_norms(grads)
        return vectorized.weighted_sum(grads, vectorized.clip_factors(norms, l2_norm_clip) * mask), norms, outputs

    def summed_records(self, params, x, y, mask):
        """(the sum over the real rows of ``query.preprocess_record(params, g_i)``, the outputs):
        each gradient clipped to the query's clip and, for adaptive clipping, the count record
        1[||g_i|| <= clip] - 1/2, which TF Privacy centres at zero (so padded rows add nothing)."""
        adaptive = hasattr(params, "sum_params")
        clipped, norms, outputs = self.clipped_sum_and_norms(x, y, mask, params.sum_params if adaptive else params)
        if not adaptive:
            return clipped, outputs
        within = tf.cast(norms <= params.quantile_estimator_params.current_estimate, tf.float32) - 0.5
        template = self.query.initial_sample_state(self.inner.trainable_variables)
        return tf.nest.pack_sequence_as(template, [*clipped, tf.tensordot(mask, within, axes=1)]), outputs

    def noised(self, summed, state):
        """(``summed`` with the noise the query's state names, drawn from the model's generator,
        the state the query's ``get_noised_result`` moves to on it). The query runs with its noise
        stds set to 0 and gets them back after: its own draws would come from TensorFlow's global
        generator, whose op seeds repeat in each graph traced per batch size."""
        draw = self.noise_generator.normal
        if not _is_adaptive(state):
            noisy = [g + draw(tf.shape(g), stddev=state.stddev) for g in summed]
            result, new_state, _ = self.query.get_noised_result(noisy, state._replace(stddev=0.0))
            return result, new_state._replace(stddev=state.stddev)
        count_stddev = _count_state(state).stddev
        noisy = summed._replace(
            sum_state=[g + draw(tf.shape(g), stddev=state.sum_state.stddev) for g in summed.sum_state],
            quantile_estimator_state=summed.quantile_estimator_state + draw([], stddev=count_stddev),
        )
        silent = _with_count_stddev(state._replace(sum_state=state.sum_state._replace(stddev=0.0)), 0.0)
        result, new_state, _ = self.query.get_noised_result(noisy, silent)
        return result, _with_count_stddev(new_state, count_stddev)  # the sum's std the query set from the new clip

    def private_gradients(self, x, y, mask):
        """The query's noised sum of the real rows' clipped gradients, divided by B; the query's
        state (an adaptive clip) moves on."""
        state = self.global_state()
        summed, outputs = self.summed_records(self.query.derive_sample_params(state), x, y, mask)
        result, new_state = self.noised(summed, state)
        for variable, value in zip(self.query_state, tf.nest.flatten(new_state), strict=True):
            variable.assign(value)
        scale = 1.0 / self.dp_config.expected_batch_size
        return [g * scale for g in result], outputs


def _is_adaptive(state) -> bool:
    return hasattr(state, "quantile_estimator_state")


def _count_state(state):
    """The GaussianSumQuery state of adaptive clipping's count (inside its NormalizedQuery)."""
    return state.quantile_estimator_state.below_estimate_state.numerator_state


def _with_count_stddev(state, stddev):
    estimator = state.quantile_estimator_state
    below = estimator.below_estimate_state
    below = below._replace(numerator_state=below.numerator_state._replace(stddev=stddev))
    return state._replace(quantile_estimator_state=estimator._replace(below_estimate_state=below))
