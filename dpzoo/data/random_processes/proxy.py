"""A supervised proxy task on random-process images: name the process that drew an image.

DP-RandP (Tang et al. 2023) pretrains with a contrastive objective on such images; on two CPU
cores a supervised proxy is what fits, so dpzoo pretrains a classifier instead (METHODS.md
section 6). Its ten classes are the two families at five settings of the parameter that sets
their texture's scale: dead leaves with the smallest shape's radius ``DEAD_LEAVES_R_MIN`` (fine
to coarse detail) and spectra with the amplitude's slope ``SPECTRAL_ALPHA`` (rough to smooth).
Telling them apart takes edges, corners, flat regions and texture at several scales: the
features a natural-image classifier starts from, learnt from no data at all.
"""

import zlib

import numpy as np

from dpzoo.data.random_processes import dead_leaves, spectral

DEAD_LEAVES_R_MIN = (0.02, 0.04, 0.08, 0.16, 0.32)
SPECTRAL_ALPHA = (0.75, 1.25, 1.75, 2.25, 2.75)
CLASSES = tuple(("dead_leaves", r) for r in DEAD_LEAVES_R_MIN) + tuple(("spectral", a) for a in SPECTRAL_ALPHA)


def image(label: int, index: int, *, seed: int, height: int, width: int, channels: int) -> np.ndarray:
    """Image ``index`` of proxy class ``label`` for ``seed``: float32 in [0, 1], [height, width, channels]."""
    family, setting = CLASSES[label]
    rng = np.random.default_rng([seed, zlib.crc32(f"proxy/{label}".encode()), index])
    if family == "dead_leaves":
        return dead_leaves.draw(rng, height, width, channels, r_min=setting)
    return spectral.draw(rng, height, width, channels, alpha=setting)


def arrays(count: int, *, seed: int, height: int, width: int, channels: int) -> tuple[np.ndarray, np.ndarray]:
    """``count`` images as uint8 [count, height, width, channels] and their labels (int64): image i
    is image i // 10 of class i % 10, so the classes are balanced and any prefix is too."""
    labels = np.arange(count, dtype=np.int64) % len(CLASSES)
    shape = dict(seed=seed, height=height, width=width, channels=channels)
    x = np.stack([image(int(y), i // len(CLASSES), **shape) for i, y in enumerate(labels)])
    return np.round(x * 255.0).astype(np.uint8), labels
