"""Which Conv2D / Dense classes a small CNN is built from: plain, weight-standardised (De et al.
2022) or Gaussian weight layers (Davody et al. 2020)."""

import itertools
from collections.abc import Callable

from dpzoo.common.stack import keras
from dpzoo.layers import GaussianConv2D, GaussianDense, WSConv2D


def conv_and_dense(
    *, weight_standardization: bool = False, gaussian_weights: bool = False, noise_seed: int = 0
) -> tuple[Callable[..., keras.layers.Layer], Callable[..., keras.layers.Layer]]:
    """(conv, dense) layer constructors. Gaussian layers are seeded noise_seed, noise_seed + 1, ...
    in construction order, so a model's weight-noise draws are reproducible."""
    if gaussian_weights and weight_standardization:
        raise ValueError("Expected at most one of weight_standardization and gaussian_weights.")
    if not gaussian_weights:
        return (WSConv2D if weight_standardization else keras.layers.Conv2D), keras.layers.Dense
    seeds = itertools.count(noise_seed)
    return (
        lambda *args, **kwargs: GaussianConv2D(*args, seed=next(seeds), **kwargs),
        lambda *args, **kwargs: GaussianDense(*args, seed=next(seeds), **kwargs),
    )
