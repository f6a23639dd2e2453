"""Privacy accounting for DP-SGD on dp_accounting (METHODS.md section 0, steps 5 and 6).

Each DP-SGD step is a Gaussian mechanism with noise multiplier sigma on clipped sums.

* ``poisson`` sampling (each example joins a step independently with probability
  q = B / N): the run is ``PoissonSampledDpEvent(q, GaussianDpEvent(sigma))`` self-composed
  over the steps taken. This is the amplified bound of Abadi et al. 2016, valid only when
  batches really are Poisson samples (``dpzoo.data.sampling.PoissonSampler``).
* ``shuffle`` sampling (a fresh permutation each epoch cut into fixed-size batches): no
  amplification is claimed. Each example is in at most one batch per epoch, so under
  zero-out adjacency an epoch is one ``GaussianDpEvent(sigma)`` for that example and the run
  is that event composed once per epoch touched. This is the honest bound for shuffled
  batches; it is much larger than the Poisson number, which must never be reported for them.

PLD (privacy loss distributions) gives tight numbers and is the default; RDP is the
classic, looser accountant. ``prior``: Gaussian releases of the training set made before
training (dpzoo.accounting.releases, Tramer & Boneh's data normalisation), composed with the
DP-SGD steps into one epsilon; calibration then leaves DP-SGD what the release did not spend.
"""

import functools
import logging
import math

import dp_accounting
from absl import logging as absl_logging
from dp_accounting import rdp

from dpzoo.accounting.pld_steps import StepCachingPLDAccountant
from dpzoo.accounting.releases import GaussianReleases
from dpzoo.common import validation
from dpzoo.common.errors import UsageError

ACCOUNTANTS = ("pld", "rdp")
SAMPLINGS = ("poisson", "shuffle")
RDP_ORDERS = tuple([1 + x / 10.0 for x in range(1, 100)] + list(range(11, 64)) + [128, 256, 512])
MAX_NOISE_MULTIPLIER = 1000.0


class _ExcludedOrderWarnings(logging.Filter):
    """Drops dp_accounting's warning that a fractional RDP order's series did not converge.

    dp_accounting 0.6 then gives that order the bound +inf, so the minimum over orders, the RDP
    epsilon, stays a valid upper bound. The warning reached every PLD run too (two lines for
    orders 1.1 and 1.2 in the quickstart), since PLD's grid step reads RDP's epsilon."""

    def filter(self, record: logging.LogRecord) -> bool:
        return "_compute_log_a_frac failed to converge" not in record.getMessage()


absl_logging.get_absl_logger().addFilter(_ExcludedOrderWarnings())


def steps_per_epoch(n: int, batch_size: int, sampling: str) -> int:
    """Steps in one epoch: N / B rounded for Poisson, whole batches only for shuffling."""
    validation.one_of("sampling", sampling, SAMPLINGS)
    if sampling == "poisson":
        return max(1, round(n / batch_size))
    return max(1, n // batch_size)


def dp_event(*, n: int, batch_size: int, noise_multiplier: float, steps: int, sampling: str) -> dp_accounting.DpEvent:
    """The dp_accounting event of ``steps`` DP-SGD steps (see the module docstring)."""
    validation.one_of("sampling", sampling, SAMPLINGS)
    if sampling == "poisson":
        return _poisson_event(batch_size / n, noise_multiplier, steps)
    # k Gaussian mechanisms of multiplier sigma compose to exactly one of multiplier
    # sigma / sqrt(k) (sensitivity adds in quadrature); one event keeps PLD cheap and exact.
    participations = math.ceil(steps / steps_per_epoch(n, batch_size, sampling))
    return dp_accounting.GaussianDpEvent(noise_multiplier / math.sqrt(participations))


def _poisson_event(sampling_rate: float, noise_multiplier: float, steps: int) -> dp_accounting.DpEvent:
    step = dp_accounting.PoissonSampledDpEvent(sampling_rate, dp_accounting.GaussianDpEvent(noise_multiplier))
    return dp_accounting.SelfComposedDpEvent(step, steps)


def poisson_epsilon(*, sampling_rate: float, noise_multiplier: float, steps: int, delta: float) -> float:
    """Epsilon (PLD) of ``steps`` Gaussian mechanisms of multiplier ``noise_multiplier``, each on
    a Poisson sample at ``sampling_rate``: one example's (or one canary's) mechanism in DP-SGD."""
    validation.in_open_unit_interval("delta", delta)
    if not 0 < sampling_rate <= 1:
        raise ValueError(f"Expected a sampling rate in (0, 1]; got {sampling_rate}.")
    if noise_multiplier <= 0:
        return math.inf if steps > 0 else 0.0
    return _composed_epsilon(_poisson_event(sampling_rate, noise_multiplier, steps), delta, "pld") if steps else 0.0


def make_accountant(accountant: str, value_discretization_interval: float = 1e-4):
    """A fresh dp_accounting accountant by name ("pld" or "rdp"); PLD's builds each step's
    distribution once per process (dpzoo.accounting.pld_steps), with the same numbers."""
    validation.one_of("accountant", accountant, ACCOUNTANTS)
    if accountant == "pld":
        return StepCachingPLDAccountant(value_discretization_interval=value_discretization_interval)
    return rdp.RdpAccountant(list(RDP_ORDERS))


_EPSILONS: dict[tuple[str, float, str], float] = {}  # (the event's repr, delta, accountant) -> epsilon


def _composed_epsilon(event: dp_accounting.DpEvent, delta: float, accountant: str) -> float:
    """Epsilon of ``event``, computed once per process (a run states it after every epoch, on its
    card and in its log). The key is the event's repr: dp_accounting's events spell out every
    field, floats to the last digit, and a composed event holds a list, which cannot be hashed."""
    key = (repr(event), delta, accountant)
    if key not in _EPSILONS:
        _EPSILONS[key] = _computed_epsilon(event, delta, accountant)
    return _EPSILONS[key]


def _computed_epsilon(event: dp_accounting.DpEvent, delta: float, accountant: str) -> float:
    """Epsilon of ``event``; PLD's grid is coarsened only where epsilon is large anyway.

    PLD's memory grows with (privacy-loss range / grid step); at very small noise the default
    step of 1e-4 would need tens of GiB. The RDP bound (an upper bound on the PLD value, cheap to
    compute) sets the step to 1e-4 * max(1, eps_rdp / 10): unchanged below epsilon 10, and a
    relative discretisation error of about 1e-5 above it.
    """
    eps_rdp = make_accountant("rdp").compose(event).get_epsilon(delta)
    if accountant == "rdp":
        return float(eps_rdp)
    step = 1e-4 * max(1.0, eps_rdp / 10.0)
    return float(make_accountant("pld", step).compose(event).get_epsilon(delta))


def epsilon(
    *,
    n: int,
    batch_size: int,
    noise_multiplier: float,
    steps: int,
    delta: float,
    sampling: str = "poisson",
    accountant: str = "pld",
    prior: GaussianReleases | None = None,
) -> float:
    """Epsilon at ``delta`` after ``steps`` DP-SGD steps composed with ``prior``; inf without
    noise, 0 before any step and any release."""
    check_run(n, batch_size, delta)
    validation.non_negative("noise_multiplier", noise_multiplier)
    if steps > 0 and noise_multiplier == 0:
        return math.inf
    events = [prior.dp_event()] if prior else []
    if steps > 0:
        events.append(
            dp_event(n=n, batch_size=batch_size, noise_multiplier=noise_multiplier, steps=steps, sampling=sampling)
        )
    if not events:
        return 0.0
    event = events[0] if len(events) == 1 else dp_accounting.ComposedDpEvent(events)
    return _composed_epsilon(event, delta, accountant)


@functools.lru_cache(maxsize=256)  # the same run's settings calibrate to the same sigma
def calibrate_noise(
    *,
    target_epsilon: float,
    delta: float,
    n: int,
    batch_size: int,
    epochs: float,
    sampling: str = "poisson",
    accountant: str = "pld",
    prior: GaussianReleases | None = None,
) -> float:
    """Smallest noise multiplier whose run of ``epochs`` epochs, composed with ``prior``, meets
    (target_epsilon, delta).

    Refuses (UsageError) a target that no sigma up to MAX_NOISE_MULTIPLIER meets.
    """
    validation.positive("target_epsilon", target_epsilon)
    validation.positive("epochs", epochs)
    check_run(n, batch_size, delta)
    steps = max(1, round(epochs * steps_per_epoch(n, batch_size, sampling)))

    def eps_at(sigma: float) -> float:
        return epsilon(
            n=n,
            batch_size=batch_size,
            noise_multiplier=sigma,
            steps=steps,
            delta=delta,
            sampling=sampling,
            accountant=accountant,
            prior=prior,
        )

    if eps_at(MAX_NOISE_MULTIPLIER) > target_epsilon:
        spent = f" after {prior.what}" if prior else ""
        raise UsageError(
            f"target_epsilon={target_epsilon} at delta={delta} cannot be met with {steps} steps "
            f"of batch {batch_size} over {n} examples ({sampling} sampling){spent} even with "
            f"noise_multiplier={MAX_NOISE_MULTIPLIER}. Raise the target, train fewer epochs, "
            "or use Poisson sampling and a smaller batch"
            + (", or add noise to the release before training." if prior else ".")
        )

    def event(sigma: float) -> dp_accounting.DpEvent:
        steps_event = dp_event(n=n, batch_size=batch_size, noise_multiplier=sigma, steps=steps, sampling=sampling)
        return dp_accounting.ComposedDpEvent([prior.dp_event(), steps_event]) if prior else steps_event

    def calibrate(name: str, lower: float, upper: float) -> float:
        grid = 1e-4 * max(1.0, target_epsilon / 10.0)  # as in _composed_epsilon
        return float(
            dp_accounting.calibrate_dp_mechanism(
                lambda: make_accountant(name, grid),
                event,
                target_epsilon,
                delta,
                bracket_interval=dp_accounting.ExplicitBracketInterval(lower, upper),
                tol=1e-4,
            )
        )

    # RDP is looser than PLD, so the RDP-calibrated sigma is an upper end of PLD's bracket; the
    # lower end is halved until it misses the target. This keeps PLD away from tiny sigmas.
    upper = calibrate("rdp", 1e-2, MAX_NOISE_MULTIPLIER)
    if accountant == "rdp":
        return upper
    lower = upper / 2
    while lower > 1e-2 and eps_at(lower) <= target_epsilon:
        lower /= 2
    return calibrate("pld", lower, upper)


MAX_STEPS = 10**7


def max_steps(
    *,
    target_epsilon: float,
    delta: float,
    n: int,
    batch_size: int,
    noise_multiplier: float,
    sampling: str = "poisson",
    accountant: str = "pld",
    prior: GaussianReleases | None = None,
) -> int:
    """The largest number of steps T whose epsilon (same accountant, composed with ``prior``)
    is <= target_epsilon.

    Training for T steps never overshoots the budget, and one more step would: this is how a
    run "trains until the budget" (De et al. 2022 stop when epsilon is reached). Epsilon grows
    with T, so a doubling search brackets T and a bisection finds it. Refuses (UsageError) a
    budget too small for even one step; capped at MAX_STEPS.
    """
    validation.positive("target_epsilon", target_epsilon)
    validation.positive("noise_multiplier", noise_multiplier)

    def fits(steps: int) -> bool:
        eps = epsilon(
            n=n,
            batch_size=batch_size,
            noise_multiplier=noise_multiplier,
            steps=steps,
            delta=delta,
            sampling=sampling,
            accountant=accountant,
            prior=prior,
        )
        return eps <= target_epsilon

    if not fits(1):
        raise UsageError(
            f"target_epsilon={target_epsilon} at delta={delta} is exceeded by a single step with "
            f"noise_multiplier={noise_multiplier}; raise the noise or the target."
        )
    low, high = 1, steps_per_epoch(n, batch_size, sampling)
    while high < MAX_STEPS and fits(high):
        low, high = high, min(2 * high, MAX_STEPS)
    if fits(high):
        return high
    while high - low > 1:  # invariant: fits(low), not fits(high)
        middle = (low + high) // 2
        low, high = (middle, high) if fits(middle) else (low, middle)
    return low


def check_run(n: int, batch_size: int, delta: float) -> None:
    validation.positive("n", n)
    validation.positive("batch_size", batch_size)
    if batch_size > n:
        raise UsageError(f"Expected batch_size={batch_size} <= n={n}.")
    validation.in_open_unit_interval("delta", delta)
