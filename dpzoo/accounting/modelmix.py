"""The ModelMix accountant (Xiao, Wan, Devadas; METHODS.md section 3).

Per coordinate, a ModelMix step releases the averaged clipped gradient plus N(0, sigma_avg^2)
convolved with the uniform noise U[-w/2, w/2] that the secret mixing weight adds (w = tau / eta
in gradient units), with per-coordinate sensitivity (C / sqrt(p)) / B under refined clipping. With
P0 that density and P1 it shifted by the sensitivity, A_k = (E_P0[(P1 / P0)^k])^p, and

  eps = min over integer alpha >= 2 of
        [T log(sum_k binom(alpha, k) (1 - q)^(alpha - k) q^k A_k) + log(1 / delta)] / (alpha - 1).

The paper minimises over the integer orders 2..19. Every order gives a valid bound, and that range
alone caps how small an epsilon the accountant can state: at least log(1 / delta) / 18, 0.64 at
delta = 1e-5, so at the epsilons 0.2 to 0.6 of ModelMix's own Fashion-MNIST table it could never
beat DP-SGD. dpzoo minimises over 2..127 (``ORDERS``; floor 0.09 at delta = 1e-5); the paper's
reference value is unchanged (its best order is below 19).

A release of the training set before training (``prior``, dpzoo.accounting.releases) adds
its Renyi divergence at each order alpha to the T steps' before the conversion to epsilon.

Everything is computed in log space on a fine grid: the ratio P1 / P0 is astronomically large
where P0's Gaussian edge decays, and that edge decides the result.
"""

import dataclasses
import functools

import numpy as np
from scipy import special

from dpzoo.accounting.releases import GaussianReleases
from dpzoo.common import validation

PAPER_ORDERS = range(2, 20)  # the integer orders of the paper's reference computation
ORDERS = range(2, 128)  # dpzoo's: the same bound at low orders, and low epsilons within reach


def _log_density(x: np.ndarray, sigma: float, width: float) -> np.ndarray:
    """log of N(0, sigma^2) convolved with U[-width/2, width/2] at x (stable in both tails)."""
    upper, lower = (x + width / 2) / sigma, (x - width / 2) / sigma
    # Phi(upper) - Phi(lower) = Phi(-lower) - Phi(-upper): take the form whose terms are not both near 1
    flip = x > 0
    a = np.where(flip, -lower, upper)
    b = np.where(flip, -upper, lower)
    log_a, log_b = special.log_ndtr(a), special.log_ndtr(b)
    return log_a + np.log1p(-np.exp(np.minimum(log_b - log_a, 0.0))) - np.log(width)


def _logsumexp(values: np.ndarray, axis: int = -1) -> np.ndarray:
    """log(sum(exp(values))) along ``axis``, shifted by the maximum. Terms below e^-60 of the
    largest add nothing a double can hold (fewer than 10^9 of them: under 1e-17 in all), so
    their exp is not taken: on the grid's far tails it would be subnormal, which some CPUs
    compute many times slower. scipy's ``logsumexp`` (the lock's 1.17) ran some 50 times slower
    still and made a ModelMix calibration take a minute and a half."""
    shift = np.max(values, axis=axis, keepdims=True)
    shifted = values - shift
    terms = np.exp(shifted, out=np.zeros_like(shifted), where=shifted > -60.0)
    return np.squeeze(shift, axis) + np.log(np.sum(terms, axis=axis))


def log_moments(
    sigma: float, width: float, sensitivity: float, max_order: int, points_per_sigma: int = 400
) -> np.ndarray:
    """log E_P0[(P1 / P0)^k] for k = 0..max_order, P1 = P0 shifted by ``sensitivity``."""
    reach = 40 * sigma + max_order * sensitivity
    step = sigma / points_per_sigma
    x = np.arange(-width / 2 - reach, width / 2 + reach + sensitivity, step)
    log_p0, log_p1 = _log_density(x, sigma, width), _log_density(x - sensitivity, sigma, width)
    log_ratio = log_p1 - log_p0
    # Deep inside the uniform's support both densities are 1 / width to the last bit, so there
    # every order's integrand is log_p0: summed once, not once per order (most of the grid when
    # sigma is small beside the width; the sum is the same).
    flat = log_ratio == 0.0
    orders = np.arange(max_order + 1)[:, None]
    integrand = orders * log_ratio[~flat] + log_p0[~flat]  # log(P1^k P0^(1-k))
    moments = _logsumexp(integrand, axis=1)
    if flat.any():
        moments = np.logaddexp(moments, _logsumexp(log_p0[flat]))
    return moments + np.log(step)


def modelmix_epsilon(
    *,
    n: int,
    batch_size: int,
    l2_norm_clip: float,
    linf_p: float,
    steps: int,
    noise_multiplier: float,
    tau_over_lr: float,
    delta: float,
    orders: range = ORDERS,
    prior: GaussianReleases | None = None,
) -> float:
    """ModelMix's epsilon (Poisson sampling, plain SGD, every parameter mixed: METHODS.md
    section 3), composed with ``prior``; the smaller of it and DP-SGD's is what a run may report."""
    q = batch_size / n
    sigma = noise_multiplier * l2_norm_clip / batch_size
    sensitivity = l2_norm_clip / np.sqrt(linf_p) / batch_size
    log_a = linf_p * log_moments(sigma, tau_over_lr, sensitivity, max(orders))
    best = np.inf
    for alpha in orders:
        k = np.arange(alpha + 1)
        terms = (
            special.gammaln(alpha + 1)
            - special.gammaln(k + 1)
            - special.gammaln(alpha - k + 1)
            + (alpha - k) * np.log1p(-q)
            + k * np.log(q)
            + log_a[: alpha + 1]
        )
        release = prior.rdp(alpha) * (alpha - 1) if prior else 0.0  # the bracket holds (alpha - 1) * RDP
        best = min(best, (steps * _logsumexp(terms) + release + np.log(1 / delta)) / (alpha - 1))
    return float(best)


@dataclasses.dataclass(frozen=True, kw_only=True)
class ModelMixTerms:
    """What ModelMix adds to a DP-SGD run's accounting: the clip norm C, refined clipping's p and
    the uniform width tau / eta. Give a ``PrivacyLedger`` these only when the run meets the
    guarantee's assumptions (plain SGD, every parameter mixed, Poisson sampling, refined clipping).
    ``max_order``: the largest integer order minimised over (cards record it; those written before
    it was 127 were computed with the paper's 19)."""

    l2_norm_clip: float
    linf_p: float
    tau_over_lr: float
    max_order: int = ORDERS[-1]

    def __post_init__(self) -> None:
        validation.positive("l2_norm_clip", self.l2_norm_clip)
        validation.positive("linf_p", self.linf_p)
        validation.positive("tau_over_lr", self.tau_over_lr)
        if self.max_order < 2:
            raise ValueError(f"Expected max_order={self.max_order} >= 2.")

    def epsilon(
        self,
        *,
        n: int,
        batch_size: int,
        noise_multiplier: float,
        steps: int,
        delta: float,
        prior: GaussianReleases | None = None,
    ) -> float:
        """ModelMix's epsilon after ``steps`` composed with ``prior`` (0 before any step and release)."""
        if steps <= 0 and prior is None:
            return 0.0
        return modelmix_epsilon(
            n=n,
            batch_size=batch_size,
            l2_norm_clip=self.l2_norm_clip,
            linf_p=self.linf_p,
            steps=steps,
            noise_multiplier=noise_multiplier,
            tau_over_lr=self.tau_over_lr,
            delta=delta,
            orders=range(2, self.max_order + 1),
            prior=prior,
        )

    def describe(self) -> str:
        return f"ModelMix, tau/eta {self.tau_over_lr:g}, p {self.linf_p:g}"


def calibrate_modelmix_noise(
    terms: ModelMixTerms,
    *,
    target_epsilon: float,
    delta: float,
    n: int,
    batch_size: int,
    steps: int,
    dpsgd_noise_multiplier: float,
    relative_tolerance: float = 1e-3,
    prior: GaussianReleases | None = None,
) -> float:
    """The smallest sigma whose released epsilon, min(ModelMix's, DP-SGD's), meets the target.

    Both epsilons fall as sigma grows, so the answer is the smaller of DP-SGD's calibrated sigma
    (``dpsgd_noise_multiplier``) and ModelMix's, found by bisection in log sigma below it. The
    search stops at 1% of DP-SGD's sigma, where the grid of the moments would grow too fine.
    """

    @functools.cache  # the first middle is evaluated twice
    def meets(sigma: float) -> bool:
        eps = terms.epsilon(n=n, batch_size=batch_size, noise_multiplier=sigma, steps=steps, delta=delta, prior=prior)
        return eps <= target_epsilon

    high = dpsgd_noise_multiplier
    if not meets(high):
        return high
    low = high / 100
    # The floor's moments need the finest grid of the search (31 s of a 33 s calibration for
    # SVHN's config), so it is tried only when the bisection's first middle meets the target too.
    if meets(float(np.sqrt(low * high))) and meets(low):
        return low
    while high / low > 1 + relative_tolerance:  # invariant: meets(high), not meets(low)
        middle = float(np.sqrt(low * high))
        low, high = (low, middle) if meets(middle) else (middle, high)
    return high
