"""The private per-channel statistics of data normalisation (dpzoo.privacy.channel_statistics)
against brute force: clipped per-example statistics summed by a loop, the released mean and
variance against numpy's at negligible noise, and the noise of the release measured: one draw
of std sigma * C / N per channel, not one per pass over the rows."""

import numpy as np
import pytest

from dpzoo.privacy import channel_statistics
from dpzoo.privacy.channel_statistics import clipped_sums, private_channel_statistics


def features(n: int = 300, seed: int = 0) -> np.ndarray:
    rng = np.random.default_rng(seed)
    scale = rng.uniform(0.1, 2.0, size=6)
    return (rng.normal(0.5, 1.0, size=(n, 3, 3, 6)) * scale).astype(np.float32)


def test_clipped_sums_equal_a_loop_over_single_examples(monkeypatch):
    monkeypatch.setattr(channel_statistics, "ROWS_PER_PASS", 7)  # several passes, a ragged last one
    x = features()
    want_mean, want_square = np.zeros(6), np.zeros(6)
    clipped_norms = []
    for example in x.astype(np.float64):
        m = example.reshape(-1, 6).mean(0)
        s = (example.reshape(-1, 6) ** 2).mean(0)
        m = m * min(1.0, 0.8 / np.linalg.norm(m))
        s = s * min(1.0, 2.0 / np.linalg.norm(s))
        clipped_norms += [np.linalg.norm(m), np.linalg.norm(s)]
        want_mean += m
        want_square += s
    got_mean, got_square = clipped_sums(x, mean_clip=0.8, square_clip=2.0)
    np.testing.assert_allclose(got_mean, want_mean, rtol=1e-10)
    np.testing.assert_allclose(got_square, want_square, rtol=1e-10)
    assert max(clipped_norms) <= 2.0 + 1e-9 and min(clipped_norms) < 0.8  # some were clipped, some not


def test_at_negligible_noise_and_loose_clips_the_release_is_numpys_mean_and_variance():
    x = features()
    got = private_channel_statistics(x, noise_multiplier=1e-12, mean_clip=1e6, square_clip=1e6, seed=0)
    flat = x.reshape(-1, 6).astype(np.float64)
    np.testing.assert_allclose(got.mean, flat.mean(0), rtol=1e-5, atol=1e-6)
    np.testing.assert_allclose(got.variance, flat.var(0), rtol=1e-4, atol=1e-6)


def test_the_same_seed_releases_the_same_statistics():
    x = features()
    a = private_channel_statistics(x, noise_multiplier=2.0, mean_clip=1.0, square_clip=2.0, seed=3)
    b = private_channel_statistics(x, noise_multiplier=2.0, mean_clip=1.0, square_clip=2.0, seed=3)
    c = private_channel_statistics(x, noise_multiplier=2.0, mean_clip=1.0, square_clip=2.0, seed=4)
    np.testing.assert_array_equal(a.mean, b.mean)
    assert np.abs(a.mean - c.mean).max() > 0


def _noise_of_the_mean(release, x: np.ndarray, seeds: int) -> np.ndarray:
    exact, _ = clipped_sums(x, 1.0, 1.0)
    return np.stack([release(x, seed) - exact / len(x) for seed in range(seeds)])


def noise_once(x, seed):
    return private_channel_statistics(x, noise_multiplier=4.0, mean_clip=1.0, square_clip=1.0, seed=seed).mean


def noise_per_pass(x, seed):
    """The bug to catch: noise of the full std added to every pass's partial sum."""
    rng = np.random.default_rng(seed)
    total = np.zeros(x.shape[-1])
    for begin in range(0, len(x), channel_statistics.ROWS_PER_PASS):
        part, _ = clipped_sums(x[begin : begin + channel_statistics.ROWS_PER_PASS], 1.0, 1.0)
        total += part + rng.normal(0.0, 4.0, x.shape[-1])
    return total / len(x)


@pytest.mark.parametrize("release, passes", [(noise_once, True), (noise_per_pass, False)])
def test_the_mean_carries_one_gaussian_draw_of_std_sigma_c_over_n(monkeypatch, release, passes):
    """600 draws x 6 channels of the mean's noise; its std must be sigma * C / N = 4 / 400. The
    sample std of 3,600 normals is within 5% of the truth with probability 1 - 4e-9 (a
    chi-square bound), so a false failure is that rare; noise added per pass (4 passes here)
    doubles it."""
    monkeypatch.setattr(channel_statistics, "ROWS_PER_PASS", 100)
    x = features(400)
    noise = _noise_of_the_mean(release, x, 600)
    ratio = noise.std() / (4.0 / 400)
    assert (abs(ratio - 1) < 0.05) == passes, ratio
    assert abs(noise.mean()) < 5 * 4.0 / 400 / np.sqrt(noise.size)
