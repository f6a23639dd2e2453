"""Samplers: Poisson inclusion rate, padding without truncation, shuffle coverage."""

import numpy as np
import pytest

from dpzoo.data import sampling


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


def test_bucketed_poisson_pads_each_step_to_the_next_multiple():
    assert [sampling.bucket_rows(b) for b in (2, 64, 100, 256, 4096)] == [1, 2, 3, 8, 8]
    sampler = sampling.PoissonSampler(10_000, 100, seed=3, pad_multiple=8)
    assert sampler.pad_to is None
    rows, sizes = [], set()
    for _ in range(2000):
        indices, mask = sampler.sample()
        real = int(mask.sum())
        assert len(indices) % 8 == 0 and real <= len(indices) < max(real, 1) + 8
        assert np.all(mask[:real] == 1) and np.all(mask[real:] == 0)
        rows.append(len(indices))
        sizes.add(len(indices))
    assert len(sizes) > 3  # the batch size varies, no fixed pad
    # E[rows] = E[8 ceil(X / 8)] ~ 100 + 3.5; the mean of 2000 draws has sd 0.22
    assert abs(np.mean(rows) - sampler.expected_rows()) < 1.2
    assert 100 < sampler.expected_rows() < 100 + 8
    fixed = sampling.PoissonSampler(10_000, 100)
    assert fixed.expected_rows() >= fixed.pad_to > sampler.expected_rows()


def test_each_example_is_sampled_with_probability_q():
    sampler = sampling.PoissonSampler(500, 50, seed=2)
    counts = np.zeros(500)
    for _ in range(2000):
        indices, mask = sampler.sample()
        counts[indices[mask == 1]] += 1
    # Each count ~ Binomial(2000, 0.1): mean 200, sd 13.4; pooled mean has sd 0.6.
    assert abs(counts.mean() - 200) < 3


def test_padded_batch_size_is_a_little_above_b():
    m = sampling.padded_batch_size(60_000, 256)
    assert 256 < m <= 256 + 4 * 16


def test_shuffle_visits_every_example_once_per_epoch():
    sampler = sampling.ShuffleSampler(1000, 64, seed=0)
    seen = np.concatenate([sampler.sample()[0] for _ in range(sampler.steps_per_epoch)])
    assert len(seen) == 15 * 64 and len(set(seen.tolist())) == len(seen)


def test_samplers_and_accountant_agree_on_steps_per_epoch():
    from dpzoo import accounting

    for name in ("poisson", "shuffle"):
        assert sampling.make_sampler(name, 60_000, 300).steps_per_epoch == accounting.steps_per_epoch(60_000, 300, name)


@pytest.mark.parametrize("kind", ["poisson", "shuffle"])
def test_a_step_s_batch_depends_on_the_seed_and_step_alone(kind):
    """What resuming needs: a sampler moved to step t draws what the uninterrupted one drew there."""
    straight = sampling.make_sampler(kind, 1000, 64, seed=4)
    drawn = [straight.sample() for _ in range(40)]  # 15 steps an epoch: into a third epoch
    resumed = sampling.make_sampler(kind, 1000, 64, seed=4)
    resumed.seek(23)
    for step in range(23, 40):
        indices, mask = resumed.sample()
        np.testing.assert_array_equal(indices, drawn[step][0])
        np.testing.assert_array_equal(mask, drawn[step][1])
    other = sampling.make_sampler(kind, 1000, 64, seed=5)
    assert not np.array_equal(other.batch(3)[0], drawn[3][0])
