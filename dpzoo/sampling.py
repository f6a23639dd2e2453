"""Batch samplers: which examples each DP-SGD step sees (METHODS.md section 0, step 1).

``PoissonSampler`` draws every step's batch by including each example independently with
probability q = B / N, the sampling the Poisson accountant assumes. The realised size varies,
so batches are padded to a fixed physical size M with a 0/1 mask: one compiled shape serves
every step. A step that draws more than M examples (rare by construction) is not truncated,
which would break the accountant's assumption; it is padded to the next multiple of M and run
whole, so no example is ever dropped and at most a handful of extra shapes get compiled.

``ShuffleSampler`` cuts a fresh permutation per epoch into batches of exactly B (the last
partial batch is dropped). It is accounted without amplification (see dpzoo.accounting).
"""

import math

import numpy as np
from scipy import stats

from dpzoo import _validate
from dpzoo.accounting import steps_per_epoch


def physical_batch_size(n: int, batch_size: int) -> int:
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


class PoissonSampler:
    """Poisson-sampled steps, each as (indices padded to a multiple of M, 0/1 mask)."""

    sampling = "poisson"

    def __init__(self, n: int, batch_size: int, *, seed: int | None = None, pad_to: int | None = None) -> None:
        _validate.positive("n", n)
        _validate.positive("batch_size", batch_size)
        self.n = n
        self.batch_size = batch_size
        self.pad_to = pad_to or physical_batch_size(n, batch_size)
        self.steps_per_epoch = steps_per_epoch(n, batch_size, self.sampling)
        self._rng = np.random.default_rng(seed)

    def sample(self) -> tuple[np.ndarray, np.ndarray]:
        """One step: indices of the sampled examples padded with 0s, and the mask."""
        chosen = np.flatnonzero(self._rng.random(self.n) < self.batch_size / self.n)
        size = self.pad_to * max(1, math.ceil(len(chosen) / self.pad_to))
        indices = np.zeros(size, dtype=np.int64)
        indices[: len(chosen)] = chosen
        mask = np.zeros(size, dtype=np.float32)
        mask[: len(chosen)] = 1.0
        return indices, mask


class ShuffleSampler:
    """Fixed-size batches from a fresh permutation each epoch (no Poisson amplification)."""

    sampling = "shuffle"

    def __init__(self, n: int, batch_size: int, *, seed: int | None = None) -> None:
        _validate.positive("n", n)
        _validate.positive("batch_size", batch_size)
        self.n = n
        self.batch_size = batch_size
        self.pad_to = batch_size
        self.steps_per_epoch = steps_per_epoch(n, batch_size, self.sampling)
        self._rng = np.random.default_rng(seed)
        self._queue: list[np.ndarray] = []

    def sample(self) -> tuple[np.ndarray, np.ndarray]:
        if not self._queue:
            order = self._rng.permutation(self.n)
            self._queue = [order[i * self.batch_size : (i + 1) * self.batch_size] for i in range(self.steps_per_epoch)][
                ::-1
            ]
        return self._queue.pop(), np.ones(self.batch_size, dtype=np.float32)


SAMPLERS = {"poisson": PoissonSampler, "shuffle": ShuffleSampler}


def make_sampler(sampling: str, n: int, batch_size: int, *, seed: int | None = None):
    """A sampler by name ("poisson" or "shuffle")."""
    _validate.one_of("sampling", sampling, SAMPLERS)
    return SAMPLERS[sampling](n, batch_size, seed=seed)
