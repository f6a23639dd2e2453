"""Batch samplers: which examples each DP-SGD step sees (METHODS.md section 0, step 1).

``PoissonSampler`` draws every step's batch by including each example independently with
probability q = B / N, the sampling the Poisson accountant assumes. The realised size varies,
so batches are padded with a 0/1 mask, in one of two ways:

* fixed (``pad_to``, the default M from ``padded_batch_size``): one compiled shape serves every
  step, what XLA wants. A step that draws more than M examples (rare by construction) is not
  truncated, which would break the accountant's assumption; it is padded to the next multiple
  of M and run whole, so no example is ever dropped and at most a handful of extra shapes exist.
* bucketed (``pad_multiple``, e.g. 8): each step is padded only to the next multiple, so almost
  no compute goes to padding. Without XLA one relaxed graph serves every size (Keras retraces
  once with a dynamic batch axis), so this is the fast choice there.

Padding never changes the update or the privacy cost: padded rows carry mask 0.

``ShuffleSampler`` cuts a fresh permutation per epoch into batches of exactly B (the last
partial batch is dropped). It is accounted without amplification (see dpzoo.accounting.dpsgd).

Every draw is a function of (seed, step) alone (``batch(step)``; ``sample()`` takes the next
step): a run resumed at step t redraws exactly the batches the interrupted run would have drawn
(METHODS.md section 4: a repeated step is the same mechanism output, not a second release), and
the streaming loader draws the same indices as the in-memory one.
"""

import math

import numpy as np
from scipy import stats

from dpzoo.accounting import steps_per_epoch
from dpzoo.common import validation


def padded_batch_size(n: int, batch_size: int) -> int:
    """The pad size M that minimises the expected examples computed per Poisson step.

    A step of realised size X costs M * ceil(X / M); X ~ Binomial(N, B / N). The optimum
    is found by direct search over M in [B, B + 8 sd], rounded up to a multiple of 8.
    """
    q = batch_size / n
    sd = math.sqrt(n * q * (1 - q))
    sizes = np.arange(0, n + 1)
    pmf = stats.binom.pmf(sizes, n, q)
    best, best_cost = batch_size, math.inf
    for m in range(batch_size, batch_size + int(8 * sd) + 9, 8):
        cost = m * float(np.sum(pmf * np.maximum(1, np.ceil(sizes / m))))
        if cost < best_cost:
            best, best_cost = m, cost
    return best


BUCKET_ROWS = 8  # the pad multiple of bucketed Poisson batches (smaller for small batches)


def bucket_rows(batch_size: int) -> int:
    """Pad multiple for bucketed batches: 8 rows, or fewer when B is small (B // 32, at least 1),
    so padding stays a few percent of the batch."""
    return max(1, min(BUCKET_ROWS, batch_size // 32))


class _StepIndexed:
    """Draws as a function of (seed, step): ``batch(step)``; ``sample()`` is the next step's,
    ``seek(step)`` moves that cursor (a resumed run seeks to its checkpoint's step)."""

    def _init_draws(self, seed: int | None) -> None:
        # seed None: fresh entropy, fixed for this sampler's lifetime
        self.seed = int(np.random.SeedSequence().entropy) if seed is None else int(seed)
        self.next_step = 0

    def _rng(self, *key: int) -> np.random.Generator:
        return np.random.default_rng([self.seed, *key])

    def seek(self, step: int) -> None:
        validation.non_negative("step", step)
        self.next_step = int(step)

    def sample(self) -> tuple[np.ndarray, np.ndarray]:
        """The next step's (indices, mask)."""
        drawn = self.batch(self.next_step)
        self.next_step += 1
        return drawn


class PoissonSampler(_StepIndexed):
    """Poisson-sampled steps, each as (indices padded to a multiple of ``pad_multiple``, or of
    the fixed size M = ``pad_to``, and the 0/1 mask)."""

    sampling = "poisson"

    def __init__(
        self,
        n: int,
        batch_size: int,
        *,
        seed: int | None = None,
        pad_to: int | None = None,
        pad_multiple: int | None = None,
    ) -> None:
        validation.positive("n", n)
        validation.positive("batch_size", batch_size)
        if pad_to is not None and pad_multiple is not None:
            raise ValueError("Give pad_to (fixed batches) or pad_multiple (bucketed), not both.")
        for name, value in (("pad_to", pad_to), ("pad_multiple", pad_multiple)):
            if value is not None:
                validation.positive(name, value)
        self.n = n
        self.batch_size = batch_size
        self.pad_multiple = pad_multiple
        self.pad_to = None if pad_multiple else (pad_to or padded_batch_size(n, batch_size))
        self.steps_per_epoch = steps_per_epoch(n, batch_size, self.sampling)
        self._init_draws(seed)

    def _padded_size(self, size: np.ndarray | int) -> np.ndarray | int:
        multiple = self.pad_multiple or self.pad_to
        return multiple * np.maximum(1, np.ceil(np.asarray(size) / multiple)).astype(np.int64)

    def expected_rows(self) -> float:
        """Mean physical rows per step (real plus padding), exactly, from the binomial law."""
        sizes = np.arange(0, self.n + 1)
        return float(np.sum(stats.binom.pmf(sizes, self.n, self.batch_size / self.n) * self._padded_size(sizes)))

    def describe_padding(self) -> str:
        if self.pad_multiple:
            return f"each step padded to the next multiple of {self.pad_multiple} rows"
        return f"fixed {self.pad_to} rows per step (a larger draw: the next multiple of {self.pad_to})"

    def included(self, step: int) -> np.ndarray:
        """The indices step ``step`` includes: each example independently with probability q."""
        return np.flatnonzero(self._rng(step).random(self.n) < self.batch_size / self.n)

    def batch(self, step: int) -> tuple[np.ndarray, np.ndarray]:
        """Step ``step``: indices of the sampled examples padded with 0s, and the mask."""
        chosen = self.included(step)
        size = int(self._padded_size(len(chosen)))
        indices = np.zeros(size, dtype=np.int64)
        indices[: len(chosen)] = chosen
        mask = np.zeros(size, dtype=np.float32)
        mask[: len(chosen)] = 1.0
        return indices, mask


class ShuffleSampler(_StepIndexed):
    """Fixed-size batches from a fresh permutation each epoch (no Poisson amplification)."""

    sampling = "shuffle"

    def __init__(self, n: int, batch_size: int, *, seed: int | None = None) -> None:
        validation.positive("n", n)
        validation.positive("batch_size", batch_size)
        self.n = n
        self.batch_size = batch_size
        self.pad_to = batch_size
        self.pad_multiple = None
        self.steps_per_epoch = steps_per_epoch(n, batch_size, self.sampling)
        self._init_draws(seed)
        self._order = (-1, np.arange(0))  # (epoch, its permutation), the latest used

    def batch(self, step: int) -> tuple[np.ndarray, np.ndarray]:
        """Step ``step``: the next B examples of its epoch's permutation."""
        epoch, i = divmod(step, self.steps_per_epoch)
        if self._order[0] != epoch:
            self._order = (epoch, self._rng(epoch).permutation(self.n))
        indices = self._order[1][i * self.batch_size : (i + 1) * self.batch_size]
        return indices, np.ones(self.batch_size, dtype=np.float32)

    def expected_rows(self) -> float:
        return float(self.batch_size)

    def describe_padding(self) -> str:
        return f"fixed {self.batch_size} rows per step, no padding"


def expected_chunked_rows(sampler: "PoissonSampler | ShuffleSampler", rows: int) -> float:
    """Mean rows computed per step when each step runs in chunks of ``rows`` (virtual batches):
    rows * max(1, ceil(X / rows)), X the realised batch size."""
    if sampler.sampling == "shuffle":
        return float(rows * max(1, math.ceil(sampler.batch_size / rows)))
    sizes = np.arange(0, sampler.n + 1)
    pmf = stats.binom.pmf(sizes, sampler.n, sampler.batch_size / sampler.n)
    return float(np.sum(pmf * rows * np.maximum(1, np.ceil(sizes / rows))))


SAMPLERS = {"poisson": PoissonSampler, "shuffle": ShuffleSampler}


def make_sampler(sampling: str, n: int, batch_size: int, *, seed: int | None = None, bucketed: bool = False):
    """A sampler by name ("poisson" or "shuffle"); ``bucketed`` pads Poisson steps to multiples of
    ``bucket_rows(batch_size)`` instead of a fixed size (for engines that take any batch size)."""
    validation.one_of("sampling", sampling, SAMPLERS)
    if sampling == "poisson" and bucketed:
        return PoissonSampler(n, batch_size, seed=seed, pad_multiple=bucket_rows(batch_size))
    return SAMPLERS[sampling](n, batch_size, seed=seed)
