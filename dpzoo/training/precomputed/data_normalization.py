"""Statistics of the training features a model needs before training, released privately inside
a run: Tramer & Boneh 2021's data normalisation (per-channel mean and variance for a
ChannelNormalization) and DPSGD-F's feature mean (for a FeatureCentering; Sun, Suresh & Menon 2024).

The model's fixed front (dpzoo.training.precomputed.fixed_front) computes the scattering features
once; the layer that needs the statistics is the head's first layer. Before the first step this
module releases them with Gaussian mechanisms (dpzoo.privacy.channel_statistics) and sets them in
that layer. Each release is composed into the run's epsilon (dpzoo.accounting.statistics_releases,
given to the ledger and the noise calibration by dpzoo.training.privacy_plan). Its noise is seeded
by the run's seed, so a resumed run sets the same statistics again (the same release, counted once).
"""

import dataclasses
from collections.abc import Callable

import numpy as np
from absl import logging

from dpzoo.common.errors import UsageError
from dpzoo.common.stack import keras
from dpzoo.layers.channel_normalization import ChannelNormalization
from dpzoo.layers.feature_centering import FeatureCentering
from dpzoo.privacy.channel_statistics import private_channel_statistics, private_feature_mean
from dpzoo.training.precomputed.fixed_front import FrontSplit
from dpzoo.training.train_config import TrainConfig

SEED_OFFSET = 7919  # the release's noise generator is seeded apart from the sampler's and DP-SGD's


def _release_data_normalization(config: TrainConfig, features: np.ndarray, seed: int, layer) -> str:
    """Tramer & Boneh's per-channel mean and variance, set in a ChannelNormalization."""
    statistics = private_channel_statistics(
        features,
        noise_multiplier=config.data_norm_noise_multiplier,
        mean_clip=config.data_norm_mean_clip,
        square_clip=config.data_norm_square_clip,
        seed=seed,
    )
    layer.set_statistics(statistics.mean, statistics.variance)
    return (
        f"Data normalisation: per-channel mean and variance of {len(statistics.mean)} channels released (noise "
        f"multiplier {config.data_norm_noise_multiplier:g}, clips {config.data_norm_mean_clip:g} and "
        f"{config.data_norm_square_clip:g})"
    )


def _release_feature_centering(config: TrainConfig, features: np.ndarray, seed: int, layer) -> str:
    """DPSGD-F's feature mean, set in a FeatureCentering."""
    mean = private_feature_mean(
        features,
        noise_multiplier=config.feature_centering_noise_multiplier,
        clip=config.feature_centering_clip,
        seed=seed + 1,  # its own noise: two releases drawn alike would not compose as independent
    )
    layer.set_mean(mean)
    return (
        f"Feature centering: the mean of {mean.size} features released (noise multiplier "
        f"{config.feature_centering_noise_multiplier:g}, clip {config.feature_centering_clip:g})"
    )


@dataclasses.dataclass(frozen=True)
class _Statistics:
    """One kind of released statistics: the layer that takes them, the config's noise flag, the
    model setting that adds the layer, the noise the configs use, the card's record (its key,
    and each clip's name there with the config field it comes from), and the release itself
    (config, features, seed, layer) -> what it released, for the log."""

    layer: type
    noise_flag: str
    model_setting: str
    usual_noise: str
    card_key: str
    card_clips: dict[str, str]
    release: Callable[[TrainConfig, np.ndarray, int, keras.layers.Layer], str]


_DATA_NORMALIZATION = _Statistics(
    ChannelNormalization,
    "data_norm_noise_multiplier",
    "normalization='data'",
    "Tramer & Boneh use 8",
    "data_normalization",
    {"mean_clip": "data_norm_mean_clip", "square_clip": "data_norm_square_clip"},
    _release_data_normalization,
)
_FEATURE_CENTERING = _Statistics(
    FeatureCentering,
    "feature_centering_noise_multiplier",
    "normalization='group_centered'",
    "the ScatterNet configs use 32",
    "feature_centering",
    {"clip": "feature_centering_clip"},
    _release_feature_centering,
)
_KINDS = (_DATA_NORMALIZATION, _FEATURE_CENTERING)


def _layers(model: keras.Model, kind: _Statistics) -> list:
    return [layer for layer in model.layers if isinstance(layer, kind.layer)]


def normalization_layers(model: keras.Model) -> list[ChannelNormalization | FeatureCentering]:
    """The model's layers whose statistics a run releases."""
    return [layer for kind in _KINDS for layer in _layers(model, kind)]


def check(config: TrainConfig, model: keras.Model, front: FrontSplit | None) -> None:
    """Refuses a run whose model and config disagree on released statistics, or whose statistics
    cannot be released from precomputed features (augmented or streamed runs)."""
    for kind in _KINDS:
        layers, noise, name = _layers(model, kind), getattr(config, kind.noise_flag), kind.layer.__name__
        if not layers:
            if noise is not None:
                raise UsageError(
                    f"{kind.noise_flag}={noise} is set, but model {config.model!r} has no {name} to set; drop the "
                    f"flag or pick {kind.model_setting} in --model_kwargs."
                )
            continue
        if noise is None:
            raise UsageError(
                f"Model {config.model!r} uses statistics of the training data ({name}): give --{kind.noise_flag} "
                f"to release them privately ({kind.usual_noise}), or pick another normalization in --model_kwargs."
            )
        if len(layers) > 1 or front is None or front.head.layers[1] is not layers[0]:
            raise UsageError(
                f"Released statistics need the {name} right after the model's fixed front, with the front's "
                "features precomputed: an in-memory dataset without --augment."
            )


def release(config: TrainConfig, model: keras.Model, train_features: np.ndarray) -> None:
    """Releases the statistics of ``train_features`` (the front's) and sets them in the model's
    layer that needs them; nothing when the model has none."""
    seed = config.seed + SEED_OFFSET
    for kind in _KINDS:
        for layer in _layers(model, kind):
            released = kind.release(config, train_features, seed, layer)
            logging.info("%s; its privacy cost is composed into the run's epsilon.", released)


def card_fields(config: TrainConfig, model: keras.Model) -> dict:
    """The card's record of the releases (training section); empty without one."""
    return {
        kind.card_key: {"noise_multiplier": getattr(config, kind.noise_flag)}
        | {name: getattr(config, field) for name, field in kind.card_clips.items()}
        for kind in _KINDS
        if _layers(model, kind)
    }
