"""Images drawn from random processes: public by construction, as they come from a seed and no
data at all, so a model pretrained on them costs no privacy (Baradad et al. 2021, "Learning to see
by looking at noise"; Tang et al. 2023, DP-RandP; METHODS.md section 6).

Two families (``FAMILIES``): ``dead_leaves`` (discs and rotated squares with scale-invariant
sizes) and ``spectral`` (random 1/f^alpha spectra with correlated colour). Image ``index`` of a
family and seed is a function of (seed, family, index) alone: any image can be drawn on its own,
in any order or in parallel, and a stream resumes at an index without replaying the ones before.
Nothing is written to disk: ``stream`` draws the images as tf.data asks for them.
"""

import zlib

import numpy as np
import tensorflow as tf

from dpzoo.common.errors import UsageError
from dpzoo.data.random_processes import dead_leaves, spectral

FAMILIES = {"dead_leaves": dead_leaves.draw, "spectral": spectral.draw}


def _family_key(family: str) -> int:
    if family not in FAMILIES:
        raise UsageError(f"Unknown random-process family {family!r}: expected one of {', '.join(FAMILIES)}.")
    return zlib.crc32(family.encode())  # stable across processes, unlike hash()


def _check_shape(height: int, width: int, channels: int) -> None:
    if min(height, width) < 2 or channels < 1:
        raise UsageError(f"Expected images of at least 2x2 pixels and 1 channel; got {height}x{width}x{channels}.")


def image(family: str, index: int, *, seed: int, height: int, width: int, channels: int) -> np.ndarray:
    """Image ``index`` of ``family`` for ``seed``: float32 in [0, 1], [height, width, channels]."""
    key = _family_key(family)
    _check_shape(height, width, channels)
    rng = np.random.default_rng([seed, key, index])
    return FAMILIES[family](rng, height, width, channels)


def images(family: str, start: int, count: int, **kwargs) -> np.ndarray:
    """Images ``start`` to ``start + count - 1`` of ``family`` (keywords as ``image``), stacked."""
    return np.stack([image(family, i, **kwargs) for i in range(start, start + count)])


def stream(
    families: tuple[str, ...],
    *,
    seed: int,
    height: int,
    width: int,
    channels: int,
    start: int = 0,
    parallel_calls: int = tf.data.AUTOTUNE,
) -> tf.data.Dataset:
    """An endless tf.data stream of (image, family id) from ``start`` on: element i is image i // F
    of family ``families[i % F]`` (F families, interleaved), the family id its position in
    ``families``: the label of a supervised proxy task. Deterministic in order at any parallelism."""
    for family in families:
        _family_key(family)
    _check_shape(height, width, channels)
    if not families:
        raise UsageError("Expected at least one random-process family.")

    def draw(position):
        family = families[int(position) % len(families)]
        return image(family, int(position) // len(families), seed=seed, height=height, width=width, channels=channels)

    def element(position):
        pixels = tf.numpy_function(draw, [position], tf.float32, stateful=False)
        pixels.set_shape([height, width, channels])
        return pixels, tf.cast(position % len(families), tf.int32)

    positions = tf.data.Dataset.range(start, np.iinfo(np.int64).max)
    return positions.map(element, num_parallel_calls=parallel_calls, deterministic=True)
