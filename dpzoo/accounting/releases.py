"""Gaussian releases of the training set made before DP-SGD, composed into a run's epsilon.

Tramer & Boneh 2021's "data normalisation" (METHODS.md section 5) estimates the mean and the
mean square of every scattering channel with two Gaussian mechanisms on the whole training set
(no subsampling), then trains with DP-SGD. A release here is such a set of mechanisms: each one
sums a per-example quantity clipped to L2 norm C_j and adds N(0, sigma_j^2 C_j^2), so one example
added or removed moves it by at most C_j and it is ``GaussianDpEvent(sigma_j)``. The run's event
is ``ComposedDpEvent([release..., DP-SGD's event])``; any accountant then states the total.
"""

import dataclasses

import dp_accounting

from dpzoo.common import validation


@dataclasses.dataclass(frozen=True, kw_only=True)
class GaussianReleases:
    """``what``: the card's words for the release; ``noise_multipliers``: sigma_j of each of its
    Gaussian mechanisms (noise std sigma_j times that mechanism's clip norm)."""

    what: str
    noise_multipliers: tuple[float, ...]

    def __post_init__(self) -> None:
        if not self.noise_multipliers:
            raise ValueError("Expected at least one Gaussian mechanism in a release.")
        for sigma in self.noise_multipliers:
            validation.positive("noise_multiplier", sigma)

    def dp_event(self) -> dp_accounting.DpEvent:
        """Each mechanism's ``GaussianDpEvent``, composed."""
        return dp_accounting.ComposedDpEvent([dp_accounting.GaussianDpEvent(s) for s in self.noise_multipliers])

    def rdp(self, order: float) -> float:
        """The release's Renyi divergence at ``order``: sum of order / (2 sigma_j^2) (Mironov 2017),
        for accountants that compose RDP themselves (ModelMix's)."""
        return sum(order / (2 * sigma**2) for sigma in self.noise_multipliers)

    def to_dict(self) -> dict:
        return {"what": self.what, "noise_multipliers": list(self.noise_multipliers)}


def data_normalization(noise_multiplier: float | None) -> GaussianReleases | None:
    """Tramer & Boneh's private channel statistics (dpzoo.privacy.channel_statistics): a mean
    and a mean square, each a Gaussian mechanism of multiplier ``noise_multiplier``; None: no
    statistics are estimated from the data."""
    if noise_multiplier is None:
        return None
    return GaussianReleases(
        what="data normalisation: per-channel mean and mean square of the features (2 Gaussian mechanisms)",
        noise_multipliers=(noise_multiplier, noise_multiplier),
    )


def feature_centering(noise_multiplier: float | None) -> GaussianReleases | None:
    """The private mean of the features that ``FeatureCentering`` subtracts
    (dpzoo.privacy.channel_statistics.private_feature_mean): one Gaussian mechanism of multiplier
    ``noise_multiplier``; None: no mean is estimated from the data."""
    if noise_multiplier is None:
        return None
    return GaussianReleases(
        what="feature centering: the mean of every feature (1 Gaussian mechanism)",
        noise_multipliers=(noise_multiplier,),
    )


def statistics_releases(config) -> tuple[GaussianReleases | None, GaussianReleases | None]:
    """A run's releases of training-set statistics before its first step, in the order they are
    made: data normalisation, then the feature mean (None where the run makes none). ``config``:
    anything with ``data_norm_noise_multiplier`` and ``feature_centering_noise_multiplier``."""
    return (
        data_normalization(config.data_norm_noise_multiplier),
        feature_centering(config.feature_centering_noise_multiplier),
    )
