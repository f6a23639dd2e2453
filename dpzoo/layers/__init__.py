"""dpzoo.layers: the Keras layers the zoo adds, and the helpers that find them in a model.

* ``WSConv2D`` (weight standardisation) and ``SkipGain`` (SkipInit): De et al. 2022 and the
  normaliser-free ResNets;
* ``GaussianDense``, ``GaussianConv2D``, ``GaussianLSTM`` (weights sampled at every training
  forward pass) and ``AuxBatchNorm`` (statistics of a public auxiliary batch): Davody et al. 2020;
* ``Scattering2D``: the fixed wavelet scattering transform of Tramer & Boneh 2021's ScatterNets,
  and ``ChannelNormalization`` (per-channel statistics set before training: their data
  normalisation); ``FeatureCentering`` (a released mean subtracted from every feature).

Layers know nothing of privacy: the private step (dpzoo.privacy) refuses what breaks a guarantee
and holds each layer's per-example norm function.
"""

from dpzoo.layers.aux_batchnorm import AuxBatchNorm, aux_batchnorm_layers, private_statistics_layers
from dpzoo.layers.channel_normalization import ChannelNormalization
from dpzoo.layers.feature_centering import FeatureCentering
from dpzoo.layers.gaussian_lstm import GaussianLSTM, GaussianLSTMCell
from dpzoo.layers.gaussian_weights import (
    GAUSSIAN_LAYERS,
    GaussianConv2D,
    GaussianDense,
    gaussian_layers,
    set_weight_noise_stddev,
)
from dpzoo.layers.scattering import Scattering2D
from dpzoo.layers.skip_gain import SkipGain
from dpzoo.layers.weight_standardization import WSConv2D, standardize_kernel

__all__ = [
    "GAUSSIAN_LAYERS",
    "AuxBatchNorm",
    "ChannelNormalization",
    "FeatureCentering",
    "GaussianConv2D",
    "GaussianDense",
    "GaussianLSTM",
    "GaussianLSTMCell",
    "Scattering2D",
    "SkipGain",
    "WSConv2D",
    "aux_batchnorm_layers",
    "gaussian_layers",
    "private_statistics_layers",
    "set_weight_noise_stddev",
    "standardize_kernel",
]
