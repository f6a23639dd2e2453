"""dpzoo.accounting: what a DP-SGD run costs in privacy, on dp_accounting.

``epsilon``, ``calibrate_noise`` and ``max_steps`` account DP-SGD (``dpsgd``: Poisson sampling
with amplification, shuffled batches without); ``modelmix_epsilon`` is ModelMix's own accountant
(``modelmix``); ``PrivacyLedger`` counts a run's steps and states its epsilon with the accountant,
sampling, delta and guarantee type (``ledger``); ``GaussianReleases`` are releases of the
training set before training that every epsilon composes (``releases``), and an ``EarlierRun`` on
the same set is composed the same way (``earlier_runs``: a fine-tuning run's private start); ``adaptive_clipping``
turns adaptive clipping's two releases per step into the one sigma the run is accounted with.
No TensorFlow is imported here.
"""

from dpzoo.accounting.dpsgd import (
    ACCOUNTANTS,
    MAX_NOISE_MULTIPLIER,
    MAX_STEPS,
    RDP_ORDERS,
    SAMPLINGS,
    calibrate_noise,
    dp_event,
    epsilon,
    make_accountant,
    max_steps,
    steps_per_epoch,
)
from dpzoo.accounting.earlier_runs import ComposedPriors, EarlierRun, composed, earlier_run, prior_from_dict
from dpzoo.accounting.ledger import ACCOUNTANT_NAMES, SAMPLING_NAMES, PrivacyLedger, PrivacyStatement
from dpzoo.accounting.modelmix import ModelMixTerms, calibrate_modelmix_noise, modelmix_epsilon
from dpzoo.accounting.releases import GaussianReleases, data_normalization, feature_centering, statistics_releases

__all__ = [
    "ACCOUNTANTS",
    "ACCOUNTANT_NAMES",
    "ComposedPriors",
    "EarlierRun",
    "composed",
    "earlier_run",
    "prior_from_dict",
    "GaussianReleases",
    "MAX_NOISE_MULTIPLIER",
    "MAX_STEPS",
    "RDP_ORDERS",
    "SAMPLINGS",
    "SAMPLING_NAMES",
    "ModelMixTerms",
    "PrivacyLedger",
    "PrivacyStatement",
    "calibrate_modelmix_noise",
    "calibrate_noise",
    "data_normalization",
    "feature_centering",
    "statistics_releases",
    "dp_event",
    "epsilon",
    "make_accountant",
    "max_steps",
    "modelmix_epsilon",
    "steps_per_epoch",
]
