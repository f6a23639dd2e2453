"""The public auxiliary batch of AuxBatchNorm (Davody et al. 2020, METHODS.md section 2)."""

import numpy as np

from dpzoo.common.errors import UsageError

PUBLIC_BATCH_SIZE = 30  # Davody et al. 2020: 30 images of a related public dataset


def public_auxiliary_batch(
    input_shape: tuple[int, ...], *, training_dataset: str, size: int = PUBLIC_BATCH_SIZE, seed: int = 0
) -> tuple[np.ndarray, str]:
    """(``size`` public images of ``input_shape``, uint8, and a line saying where they come from)
    for AuxBatchNorm's statistics: scikit-learn's bundled handwritten digits, resized
    bilinearly and repeated over the channels. Public data, never part of the training set;
    refused for ``digits`` itself, whose images they are."""
    if training_dataset == "digits":
        raise UsageError("No public auxiliary batch for digits: its images are the public batch of other datasets.")
    from scipy import ndimage
    from sklearn.datasets import load_digits

    images = load_digits().images  # [1797, 8, 8] in 0..16
    chosen = images[np.random.default_rng(seed).choice(len(images), size=size, replace=False)]
    height, width, channels = input_shape
    resized = np.stack([ndimage.zoom(image, (height / 8, width / 8), order=1) for image in chosen])
    pixels = np.clip(np.round(resized * (255.0 / 16.0)), 0, 255).astype(np.uint8)
    source = f"{size} scikit-learn digits (public), resized to {height}x{width}, seed {seed}"
    return np.repeat(pixels[..., None], channels, axis=-1), source
