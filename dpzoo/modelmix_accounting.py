"""The ModelMix accountant (Xiao, Wan, Devadas; METHODS.md section 3).

Per coordinate, a ModelMix step releases the averaged clipped gradient plus N(0, sigma_avg^2)
convolved with the uniform noise U[-w/2, w/2] that the secret mixing weight adds (w = tau / eta
in gradient units), with per-coordinate sensitivity (C / sqrt(p)) / B under refined clipping. With
P0 that density and P1 it shifted by the sensitivity, A_k = (E_P0[(P1 / P0)^k])^p, and

  eps = min over integer alpha >= 2 of
        [T log(sum_k binom(alpha, k) (1 - q)^(alpha - k) q^k A_k) + log(1 / delta)] / (alpha - 1).

Everything is computed in log space on a fine grid: the ratio P1 / P0 is astronomically large
where P0's Gaussian edge decays, and that edge decides the result.
"""

import numpy as np
from scipy import special


def _log_density(x: np.ndarray, sigma: float, width: float) -> np.ndarray:
    """log of N(0, sigma^2) convolved with U[-width/2, width/2] at x (stable in both tails)."""
    upper, lower = (x + width / 2) / sigma, (x - width / 2) / sigma
    # Phi(upper) - Phi(lower) = Phi(-lower) - Phi(-upper): take the form whose terms are not both near 1
    flip = x > 0
    a = np.where(flip, -lower, upper)
    b = np.where(flip, -upper, lower)
    log_a, log_b = special.log_ndtr(a), special.log_ndtr(b)
    return log_a + np.log1p(-np.exp(np.minimum(log_b - log_a, 0.0))) - np.log(width)


def log_moments(
    sigma: float, width: float, sensitivity: float, max_order: int, points_per_sigma: int = 400
) -> np.ndarray:
    """log E_P0[(P1 / P0)^k] for k = 0..max_order, P1 = P0 shifted by ``sensitivity``."""
    reach = 40 * sigma + max_order * sensitivity
    step = sigma / points_per_sigma
    x = np.arange(-width / 2 - reach, width / 2 + reach + sensitivity, step)
    log_p0, log_p1 = _log_density(x, sigma, width), _log_density(x - sensitivity, sigma, width)
    orders = np.arange(max_order + 1)[:, None]
    integrand = orders * log_p1 + (1 - orders) * log_p0  # log(P1^k P0^(1-k))
    return special.logsumexp(integrand, axis=1) + np.log(step)


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
    orders: range = range(2, 20),
) -> float:
    """ModelMix's epsilon (Poisson sampling, plain SGD, every parameter mixed: METHODS.md
    section 3); the smaller of it and DP-SGD's is what a run may report."""
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
        best = min(best, (steps * special.logsumexp(terms) + np.log(1 / delta)) / (alpha - 1))
    return float(best)
