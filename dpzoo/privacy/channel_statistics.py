"""Private statistics of features: Tramer & Boneh 2021's "data normalisation", and the feature
mean that centres them (DPSGD-F, Sun, Suresh & Menon 2024; ``private_feature_mean``).

ScatterNet + CNN normalises the 81 (or 243) scattering channels with their mean and variance
over the training set (METHODS.md section 5). Those statistics are computed from private data,
so they are released with two Gaussian mechanisms on the whole training set:

1. m_i = the spatial mean of example i's features, a vector of C channels, clipped to L2 norm
   ``mean_clip``; mean = (sum_i m_i + N(0, sigma^2 mean_clip^2 I)) / N.
2. s_i = the spatial mean of its squared features, clipped to ``square_clip``;
   mean square = (sum_i s_i + N(0, sigma^2 square_clip^2 I)) / N.
3. variance = max(mean square - mean^2, 0) (post-processing).

One example added or removed moves each sum by at most its clip norm, so each release is a
Gaussian mechanism of multiplier sigma (``GaussianDpEvent(sigma)``), and the two compose with the
DP-SGD run that follows (dpzoo.accounting.data_normalization; the ledger states the total). N is
treated as public, as DP-SGD's sampling rate q = B / N does. The clip norms are fixed settings:
Tramer & Boneh set them to the median of the private norms, a leak that dpzoo does not copy.
The noise is drawn from a generator seeded by the run's seed, so a resumed run redraws the same
statistics: one release, not two.
"""

import dataclasses

import numpy as np

from dpzoo.common import validation

ROWS_PER_PASS = 4096  # examples per pass over the features (bounded memory)


@dataclasses.dataclass(frozen=True)
class ChannelStatistics:
    """Per-channel mean and variance, float32 arrays of C values."""

    mean: np.ndarray
    variance: np.ndarray


def clip_rows(rows: np.ndarray, clip: float) -> np.ndarray:
    """Each row scaled to L2 norm at most ``clip``."""
    norms = np.linalg.norm(rows, axis=1, keepdims=True)
    return rows * np.minimum(1.0, clip / np.maximum(norms, 1e-12))


def _passes(features: np.ndarray):
    """``features`` in float64 slices of ``ROWS_PER_PASS`` examples (bounded memory)."""
    for begin in range(0, len(features), ROWS_PER_PASS):
        yield features[begin : begin + ROWS_PER_PASS].astype(np.float64)


def _noisy_mean(total: np.ndarray, n: int, noise_std: float, rng: np.random.Generator) -> np.ndarray:
    """(total + N(0, noise_std^2 I)) / n: a Gaussian mechanism's release of a clipped sum."""
    return (total + rng.normal(0.0, noise_std, total.shape)) / n


def clipped_sums(features: np.ndarray, mean_clip: float, square_clip: float) -> tuple[np.ndarray, np.ndarray]:
    """(sum of clipped m_i, sum of clipped s_i) over the examples of [N, ..., C] ``features``."""
    channels = features.shape[-1]
    mean_sum = np.zeros(channels, np.float64)
    square_sum = np.zeros(channels, np.float64)
    for part in _passes(features):
        part = part.reshape(len(part), -1, channels)
        mean_sum += clip_rows(part.mean(axis=1), mean_clip).sum(axis=0)
        square_sum += clip_rows((part**2).mean(axis=1), square_clip).sum(axis=0)
    return mean_sum, square_sum


def private_channel_statistics(
    features: np.ndarray, *, noise_multiplier: float, mean_clip: float, square_clip: float, seed: int
) -> ChannelStatistics:
    """The per-channel mean and variance of [N, H, W, C] ``features``, released with the two
    Gaussian mechanisms of the module docstring (noise multiplier ``noise_multiplier`` each)."""
    validation.positive("noise_multiplier", noise_multiplier)
    validation.positive("mean_clip", mean_clip)
    validation.positive("square_clip", square_clip)
    n = len(features)
    mean_sum, square_sum = clipped_sums(features, mean_clip, square_clip)
    rng = np.random.default_rng(seed)
    mean = _noisy_mean(mean_sum, n, noise_multiplier * mean_clip, rng)
    square = _noisy_mean(square_sum, n, noise_multiplier * square_clip, rng)
    variance = np.maximum(square - mean**2, 0.0)
    return ChannelStatistics(mean=mean.astype(np.float32), variance=variance.astype(np.float32))


def private_feature_mean(features: np.ndarray, *, noise_multiplier: float, clip: float, seed: int) -> np.ndarray:
    """The mean of [N, ...] ``features`` over the examples, each example's features clipped to L2
    norm ``clip``: (sum_i clip(x_i) + N(0, sigma^2 clip^2 I)) / N, one Gaussian mechanism of
    multiplier ``noise_multiplier`` (``GaussianDpEvent(sigma)``), float32 of the features' shape."""
    validation.positive("noise_multiplier", noise_multiplier)
    validation.positive("clip", clip)
    total = sum(clip_rows(part.reshape(len(part), -1), clip).sum(axis=0) for part in _passes(features))
    mean = _noisy_mean(total, len(features), noise_multiplier * clip, np.random.default_rng(seed))
    return mean.astype(np.float32).reshape(features.shape[1:])
