"""White-box gradient canaries: the engine's side of a one-run audit (METHODS.md section 7;
Nasr et al. 2023, Steinke, Nasr & Jagielski 2023).

m Dirac canaries, each on a coordinate of its own among the trainable variables (so their
directions are orthogonal and no canary shows in another's score). Each is in the run with
probability 1/2, fixed by the seed (the auditor knows which). At every logical step each included
canary is drawn with the run's Poisson rate q, independently of the data, and its gradient, a
vector of raw norm ``raw_norm_multiple`` * C on its coordinate, is clipped by the engine's own norm
code (``vectorized.combined_norms``, ``vectorized.clip_factors``) and joins the clipped sum before
the noise, as an example's gradient would. A correct engine so adds exactly C on the coordinate;
one that leaves a variable out of the norm adds the raw 10 C there, and the audit sees it.

Score. DP-SGD's accounting assumes every step's noisy sum is released, and a DP guarantee holds
against an auditor who knows everything but the canaries: the data's clipped sum included. What
is left on canary c's coordinate at step t, in units of C, is x_t = noise + (C if drawn, else 0) / C.
The score is the log-likelihood ratio of "included" against "excluded" under the claimed mechanism,
summed over the steps,

    s_c = sum_t log(1 - q + q exp((x_t - 1/2) / sigma^2)),

the Neyman-Pearson test of the Poisson-subsampled Gaussian that the accountant composes. A plain
sum of the x_t is weaker where q is small: simulated at the quickstart's q and steps and epsilon 8,
the one-run bound from it was about 1.3 against 2.3 from the ratio.

Noise check. Excluded canaries' x_t are pure noise, N(0, (sigma_true / sigma)^2 sigma^2): the sum
of their squares estimates sigma_true / sigma with a chi-square interval, a parametric check that
the noise is the one claimed (it catches noise added on every replica but sized as if once, which
no one-run bound can at epsilon about 1).

Canaries are added in ``PrivateModel.noisy_mean``: once per logical step however many chunks, and
on replica 0 only (the differences are summed over the replicas before scoring), as the noise is.
Their scores and step count are variables of this module, saved with the model for resume; their
draws are stateless in (seed, step), so a resumed run draws as an uninterrupted one.
"""

import dataclasses
import math
from collections.abc import Sequence

import numpy as np
import tensorflow as tf

from dpzoo.accounting import audit_bounds
from dpzoo.common.errors import UsageError
from dpzoo.privacy.clipping import vectorized

DEFAULT_RAW_NORM_MULTIPLE = 10.0  # a canary's gradient before clipping, in units of C


@dataclasses.dataclass(frozen=True, kw_only=True)
class CanaryPlan:
    """What ``make_private(..., canaries=...)`` plants: ``count`` canaries drawn at the run's
    ``sampling_rate`` q (the accountant's), placed and included by ``seed``."""

    count: int
    sampling_rate: float
    seed: int = 0
    raw_norm_multiple: float = DEFAULT_RAW_NORM_MULTIPLE


class GradientCanaries(tf.Module):
    """m white-box Dirac canaries of one private model's trainable variables (see module doc)."""

    def __init__(
        self,
        variables: Sequence[tf.Variable],
        *,
        count: int,
        sampling_rate: float,
        noise_multiplier: float,
        l2_norm_clip: float,
        seed: int,
        raw_norm_multiple: float = DEFAULT_RAW_NORM_MULTIPLE,
    ) -> None:
        """Places ``count`` canaries on distinct coordinates of ``variables`` and picks the included
        half, both from ``seed``; sigma and C are the claim the scores test."""
        super().__init__(name="gradient_canaries")
        sizes = [v.shape.num_elements() for v in variables]
        _check(count, sum(sizes), sampling_rate, noise_multiplier, raw_norm_multiple)
        rng = np.random.default_rng(seed)
        coordinates = np.sort(rng.choice(sum(sizes), size=count, replace=False))
        self.included = rng.random(count) < 0.5
        starts = np.cumsum([0, *sizes])
        owners = np.searchsorted(starts, coordinates, side="right") - 1
        self._layout = [(i, coordinates[owners == i] - starts[i]) for i in range(len(sizes))]
        self._owners, self._shapes, self._dtypes = owners, [v.shape for v in variables], [v.dtype for v in variables]
        self.sampling_rate, self.noise_multiplier = float(sampling_rate), float(noise_multiplier)
        self.l2_norm_clip, self.raw_norm_multiple, self.seed = float(l2_norm_clip), float(raw_norm_multiple), seed
        first = tf.VariableAggregation.ONLY_FIRST_REPLICA
        self.scores = tf.Variable(tf.zeros([count], tf.float64), trainable=False, aggregation=first, name="scores")
        self.squares = tf.Variable(tf.zeros([count], tf.float64), trainable=False, aggregation=first, name="squares")
        self.steps = tf.Variable(tf.constant(0, tf.int64), trainable=False, aggregation=first, name="steps")

    @property
    def count(self) -> int:
        return len(self.included)

    def drawn(self) -> tf.Tensor:
        """This step's Poisson draws of the included canaries, [m] float32 (stateless in seed and step)."""
        uniform = tf.random.stateless_uniform([self.count], seed=tf.stack([tf.cast(self.seed, tf.int64), self.steps]))
        return tf.cast((uniform < self.sampling_rate) & tf.constant(self.included), tf.float32)

    def clipped_gradients(self, share: tf.Tensor) -> list[tf.Tensor]:
        """Each variable's sum of this step's drawn canaries, clipped by the engine's norm code and
        times ``share`` (1 on the replica that adds them, 0 on the others)."""
        raw = self.raw_norm_multiple * self.l2_norm_clip
        variable_squares = [
            tf.constant(np.where(self._owners == i, raw * raw, 0.0), tf.float32) for i, _ in self._layout
        ]
        factors = vectorized.clip_factors(vectorized.combined_norms(variable_squares), self.l2_norm_clip)
        values = raw * factors * self.drawn() * share
        added = []
        for (i, local), shape in zip(self._layout, self._shapes, strict=True):
            mine = tf.gather(values, np.flatnonzero(self._owners == i))
            flat = tf.scatter_nd(local[:, None], mine, [shape.num_elements()])
            added.append(tf.reshape(flat, shape))
        return [tf.cast(a, v_dtype) for a, v_dtype in zip(added, self._dtypes, strict=True)]

    def record(self, released_minus_data: Sequence[tf.Tensor]) -> tf.Operation:
        """Scores one step from what the release adds to the data's clipped sum (this replica's
        noise and canaries; summed over the replicas here), in canary order."""
        parts = [
            tf.gather(tf.reshape(d, [-1]), local)
            for (_, local), d in zip(self._layout, released_minus_data, strict=True)
        ]
        view = tf.concat(parts, axis=0)
        context = tf.distribute.get_replica_context()
        if context is not None and context.num_replicas_in_sync > 1:
            view = context.all_reduce(tf.distribute.ReduceOp.SUM, view)
        x = tf.cast(view, tf.float64) / self.l2_norm_clip
        z = (x - 0.5) / self.noise_multiplier**2  # the log-ratio of a drawn canary's density to none's
        q = self.sampling_rate
        log_ratio = (
            z
            if q == 1
            else tf.math.reduce_logsumexp(
                tf.stack([tf.fill(tf.shape(z), tf.constant(math.log1p(-q), tf.float64)), math.log(q) + z]), 0
            )
        )
        return tf.group(
            self.scores.assign_add(log_ratio), self.squares.assign_add(tf.square(x)), self.steps.assign_add(1)
        )


def _check(
    count: int, parameters: int, sampling_rate: float, noise_multiplier: float, raw_norm_multiple: float
) -> None:
    if not 2 <= count <= parameters:
        raise UsageError(
            f"audit canaries: {count} asked for, but a model with {parameters} trainable parameters holds between 2 "
            f"and {parameters} Dirac canaries (one coordinate each)."
        )
    if not 0 < sampling_rate <= 1:
        raise UsageError(f"audit canaries need a sampling rate in (0, 1]; got {sampling_rate}.")
    if noise_multiplier <= 0:
        raise UsageError("audit canaries need noise (noise_multiplier > 0): without it there is no claim to audit.")
    if raw_norm_multiple < 1:
        raise UsageError(f"A canary's raw norm must be at least C (multiple >= 1); got {raw_norm_multiple}.")


def audit(canaries: GradientCanaries, *, delta: float, confidence: float = 0.95) -> audit_bounds.CanaryAudit:
    """The one-run audit of a run's canaries: its lower bound on epsilon and its noise check."""
    return audit_bounds.canary_audit(
        scores=canaries.scores.numpy(),
        included=canaries.included,
        squares=canaries.squares.numpy(),
        steps=int(canaries.steps.numpy()),
        noise_multiplier=canaries.noise_multiplier,
        sampling_rate=canaries.sampling_rate,
        delta=delta,
        confidence=confidence,
    )
