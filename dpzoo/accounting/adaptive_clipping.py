"""What adaptive clipping (Andrew et al. 2021) costs: two Gaussian mechanisms per step as one.

Each step of TF Privacy's QuantileAdaptiveClipSumQuery releases, from the same sampled batch,
the clipped gradient sum with noise z C (sensitivity C: multiplier z) and the count of examples
within the clip, each record shifted to +-1/2, with noise of std s (sensitivity 1/2: multiplier
2 s). Adding or removing one example moves both by at most their sensitivities at once, so the
pair is one Gaussian mechanism of multiplier z_eff = (z^-2 + (2 s)^-2)^(-1/2): its privacy loss
is that of the two together, exactly, under any accountant. Poisson sampling then applies to
the pair, as it samples the batch both see. dpzoo therefore accounts a run with sigma = z_eff
(calibrated to the target like any sigma) and gives the gradient sum the larger
z = (z_eff^-2 - (2 s)^-2)^(-1/2), as Andrew et al. do. dp_accounting's RDP accountant composes
PoissonSampled(Composed(Gaussian(z), Gaussian(2 s))) to the same epsilon (a test holds it).
"""

import math

from dpzoo.common.errors import UsageError


def count_noise_multiplier(count_stddev: float) -> float:
    """The noise multiplier of the clipped count: its std over its sensitivity 1/2."""
    return 2.0 * count_stddev


def effective_noise_multiplier(gradient_noise_multiplier: float, count_stddev: float) -> float:
    """z_eff of a step that releases the gradient sum (multiplier z) and the count (std s)."""
    return (gradient_noise_multiplier**-2 + count_noise_multiplier(count_stddev) ** -2) ** -0.5


def gradient_noise_multiplier(effective: float, count_stddev: float) -> float:
    """The gradient sum's z for a step whose two releases together have multiplier ``effective``.
    The count alone must leave room: 2 s > z_eff, else no z reaches the target."""
    count = count_noise_multiplier(count_stddev)
    if effective <= 0 or count <= effective:
        raise UsageError(
            f"Adaptive clipping's count noise (std {count_stddev}, multiplier {count}) must exceed the step's "
            f"noise multiplier {effective}: raise --clipped_count_stddev (Andrew et al. suggest batch_size / 20)."
        )
    return 1.0 / math.sqrt(effective**-2 - count**-2)
