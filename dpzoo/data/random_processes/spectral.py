"""Random 1/f^alpha images with random colour, the statistical family of Baradad et al. 2021
("spectrum + colour"): natural images' amplitude spectra fall roughly as 1/f^alpha with alpha
near 1 to 2, and their channels are correlated.

Each channel is an independent random-phase field whose amplitude is 1 / f^alpha, f measured
along axes of a random orientation and aspect (anisotropic spectra, as in Baradad et al.), alpha
uniform in [ALPHA_MIN, ALPHA_MAX]. A random mixing matrix correlates the channels; each image is
then scaled to [0, 1]. The power spectrum's slope is -2 alpha, which tests/data check.
"""

import numpy as np

ALPHA_MIN, ALPHA_MAX = 0.5, 3.0
MAX_ASPECT = 2.0  # the spectrum's elongation along its random orientation, at most


def field(rng: np.random.Generator, height: int, width: int, alpha: float, angle: float, aspect: float) -> np.ndarray:
    """One random-phase field with amplitude 1 / f^alpha (zero mean), [height, width]."""
    fy = np.fft.fftfreq(height)[:, None]
    fx = np.fft.fftfreq(width)[None, :]
    u = np.cos(angle) * fx + np.sin(angle) * fy
    v = np.cos(angle) * fy - np.sin(angle) * fx
    f = np.sqrt((u * aspect) ** 2 + (v / aspect) ** 2)
    amplitude = np.where(f > 0, np.maximum(f, 1.0 / max(height, width)) ** -alpha, 0.0)
    phase = np.exp(2j * np.pi * rng.random((height, width)))
    return np.real(np.fft.ifft2(amplitude * phase))


def draw(rng: np.random.Generator, height: int, width: int, channels: int, alpha: float | None = None) -> np.ndarray:
    """One image, float32 in [0, 1], [height, width, channels]; ``alpha`` drawn unless given."""
    alpha = rng.uniform(ALPHA_MIN, ALPHA_MAX) if alpha is None else alpha
    angle, aspect = rng.random() * np.pi, rng.uniform(1.0, MAX_ASPECT)
    fields = np.stack([field(rng, height, width, alpha, angle, aspect) for _ in range(channels)], axis=-1)
    fields /= fields.std() + 1e-12
    mixed = fields @ rng.normal(size=(channels, channels)) if channels > 1 else fields
    low, high = mixed.min(), mixed.max()
    return ((mixed - low) / max(high - low, 1e-12)).astype(np.float32)
