"""Samplers: Poisson inclusion rate, padding without truncation, shuffle coverage."""

import numpy as np

from dpzoo import sampling


def test_poisson_batches_have_binomial_sizes_and_fixed_padding():
    sampler = sampling.PoissonSampler(10_000, 100, seed=0)
    sizes = []
    for _ in range(2000):
        indices, mask = sampler.sample()
        assert len(indices) % sampler.pad_to == 0 and len(indices) == len(mask)
        real = int(mask.sum())
        assert np.all(mask[:real] == 1) and np.all(mask[real:] == 0)
        assert len(set(indices[:real].tolist())) == real  # no example twice in a batch
        sizes.append(real)
    # Binomial(10000, 0.01): mean 100, sd 9.95; the mean of 2000 draws has sd 0.22 (5-sigma bound).
    assert abs(np.mean(sizes) - 100) < 1.2
    assert abs(np.std(sizes) - 9.95) < 0.8


def test_poisson_overflow_is_padded_to_a_multiple_not_truncated():
    sampler = sampling.PoissonSampler(1000, 100, seed=1, pad_to=90)
    shapes = set()
    for _ in range(200):
        indices, mask = sampler.sample()
        shapes.add(len(indices))
        assert int(mask.sum()) <= len(indices)
    assert shapes <= {90, 180, 270} and 180 in shapes


def test_each_example_is_sampled_with_probability_q():
    sampler = sampling.PoissonSampler(500, 50, seed=2)
    counts = np.zeros(500)
    for _ in range(2000):
        indices, mask = sampler.sample()
        counts[indices[mask == 1]] += 1
    # Each count ~ Binomial(2000, 0.1): mean 200, sd 13.4; pooled mean has sd 0.6.
    assert abs(counts.mean() - 200) < 3


def test_physical_batch_size_is_a_little_above_b():
    m = sampling.physical_batch_size(60_000, 256)
    assert 256 < m <= 256 + 4 * 16


def test_shuffle_visits_every_example_once_per_epoch():
    sampler = sampling.ShuffleSampler(1000, 64, seed=0)
    seen = np.concatenate([sampler.sample()[0] for _ in range(sampler.steps_per_epoch)])
    assert len(seen) == 15 * 64 and len(set(seen.tolist())) == len(seen)


def test_samplers_and_accountant_agree_on_steps_per_epoch():
    from dpzoo import accounting

    for name in ("poisson", "shuffle"):
        assert sampling.make_sampler(name, 60_000, 300).steps_per_epoch == accounting.steps_per_epoch(60_000, 300, name)
