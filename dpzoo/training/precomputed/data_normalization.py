"""Tramer & Boneh 2021's data normalisation inside a run: the per-channel statistics a model's
ChannelNormalization needs, released privately from the training features before training.

The model's fixed front (dpzoo.training.precomputed.fixed_front) computes the scattering features once; the
ChannelNormalization that follows them is the head's first layer. Before the first step this
module releases the features' per-channel mean and variance with two Gaussian mechanisms
(dpzoo.privacy.channel_statistics) and sets them in that layer. The release is composed into
the run's epsilon (dpzoo.accounting.data_normalization, given to the ledger and the noise
calibration by dpzoo.training.privacy_plan). Its noise is seeded by the run's seed, so a resumed
run sets the same statistics again (the same release, counted once).
"""

import numpy as np
from absl import logging

from dpzoo.common.errors import UsageError
from dpzoo.common.stack import keras
from dpzoo.layers.channel_normalization import ChannelNormalization
from dpzoo.privacy.channel_statistics import private_channel_statistics
from dpzoo.training.precomputed.fixed_front import FrontSplit
from dpzoo.training.train_config import TrainConfig

SEED_OFFSET = 7919  # the release's noise generator is seeded apart from the sampler's and DP-SGD's


def normalization_layers(model: keras.Model) -> list[ChannelNormalization]:
    return [layer for layer in model.layers if isinstance(layer, ChannelNormalization)]


def check(config: TrainConfig, model: keras.Model, front: FrontSplit | None) -> None:
    """Refuses a run whose model and config disagree on data normalisation, or whose statistics
    cannot be released from precomputed features (augmented or streamed runs)."""
    layers = normalization_layers(model)
    noise = config.data_norm_noise_multiplier
    if not layers:
        if noise is not None:
            raise UsageError(
                f"data_norm_noise_multiplier={noise} is set, but model {config.model!r} has no ChannelNormalization "
                "to normalise; drop the flag or pick normalization='data' in --model_kwargs."
            )
        return
    if noise is None:
        raise UsageError(
            f"Model {config.model!r} normalises its features with statistics of the training data "
            "(ChannelNormalization): give --data_norm_noise_multiplier to release them privately (Tramer & Boneh "
            "use 8), or pick another normalization in --model_kwargs."
        )
    if len(layers) > 1 or front is None or front.head.layers[1] is not layers[0]:
        raise UsageError(
            "Data normalisation needs the ChannelNormalization right after the model's fixed front, with the "
            "front's features precomputed: an in-memory dataset without --augment."
        )


def release(config: TrainConfig, model: keras.Model, train_features: np.ndarray) -> None:
    """Releases the statistics of ``train_features`` (the front's, before normalisation) and sets
    them in the model's ChannelNormalization; nothing when the model has none."""
    layers = normalization_layers(model)
    if not layers:
        return
    statistics = private_channel_statistics(
        train_features,
        noise_multiplier=config.data_norm_noise_multiplier,
        mean_clip=config.data_norm_mean_clip,
        square_clip=config.data_norm_square_clip,
        seed=config.seed + SEED_OFFSET,
    )
    layers[0].set_statistics(statistics.mean, statistics.variance)
    logging.info(
        "Data normalisation: per-channel mean and variance of %d channels released (noise multiplier %g, clips %g "
        "and %g); their privacy cost is composed into the run's epsilon.",
        len(statistics.mean),
        config.data_norm_noise_multiplier,
        config.data_norm_mean_clip,
        config.data_norm_square_clip,
    )


def card_fields(config: TrainConfig, model: keras.Model) -> dict:
    """The card's record of the release (training section); empty without one."""
    if not normalization_layers(model):
        return {}
    return {
        "data_normalization": {
            "noise_multiplier": config.data_norm_noise_multiplier,
            "mean_clip": config.data_norm_mean_clip,
            "square_clip": config.data_norm_square_clip,
        }
    }
