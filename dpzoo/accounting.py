"""Privacy accounting for DP-SGD on dp_accounting (METHODS.md section 0, steps 5 and 6).

Each DP-SGD step is a Gaussian mechanism with noise multiplier sigma on clipped sums.

* ``poisson`` sampling (each example joins a step independently with probability
  q = B / N): the run is ``PoissonSampledDpEvent(q, GaussianDpEvent(sigma))`` self-composed
  over the steps taken. This is the amplified bound of Abadi et al. 2016, valid only when
  batches really are Poisson samples (``dpzoo.sampling.PoissonSampler``).
* ``shuffle`` sampling (a fresh permutation each epoch cut into fixed-size batches): no
  amplification is claimed. Each example is in at most one batch per epoch, so under
  zero-out adjacency an epoch is one ``GaussianDpEvent(sigma)`` for that example and the run
  is that event composed once per epoch touched. This is the honest bound for shuffled
  batches; it is much larger than the Poisson number, which must never be reported for them.

PLD (privacy loss distributions) gives tight numbers and is the default; RDP is the
classic, looser accountant.
"""

import dataclasses
import math
from collections.abc import Callable

import dp_accounting
from dp_accounting import pld, rdp

from dpzoo import _validate
from dpzoo.errors import UsageError
from dpzoo.modelmix_accounting import ModelMixTerms, modelmix_epsilon  # noqa: F401  (part of this module's API)

ACCOUNTANTS = ("pld", "rdp")
SAMPLINGS = ("poisson", "shuffle")
RDP_ORDERS = tuple([1 + x / 10.0 for x in range(1, 100)] + list(range(11, 64)) + [128, 256, 512])
MAX_NOISE_MULTIPLIER = 1000.0
ACCOUNTANT_NAMES = {"pld": "PLD", "rdp": "RDP", "modelmix": "ModelMix RDP"}
SAMPLING_NAMES = {
    "poisson": "Poisson sampling",
    "shuffle": "shuffled fixed-size batches, no amplification",
}


def steps_per_epoch(n: int, batch_size: int, sampling: str) -> int:
    """Steps in one epoch: N / B rounded for Poisson, whole batches only for shuffling."""
    _validate.one_of("sampling", sampling, SAMPLINGS)
    if sampling == "poisson":
        return max(1, round(n / batch_size))
    return max(1, n // batch_size)


def dp_event(*, n: int, batch_size: int, noise_multiplier: float, steps: int, sampling: str) -> dp_accounting.DpEvent:
    """The dp_accounting event of ``steps`` DP-SGD steps (see the module docstring)."""
    _validate.one_of("sampling", sampling, SAMPLINGS)
    if sampling == "poisson":
        gaussian = dp_accounting.GaussianDpEvent(noise_multiplier)
        step = dp_accounting.PoissonSampledDpEvent(batch_size / n, gaussian)
        return dp_accounting.SelfComposedDpEvent(step, steps)
    # k Gaussian mechanisms of multiplier sigma compose to exactly one of multiplier
    # sigma / sqrt(k) (sensitivity adds in quadrature); one event keeps PLD cheap and exact.
    participations = math.ceil(steps / steps_per_epoch(n, batch_size, sampling))
    return dp_accounting.GaussianDpEvent(noise_multiplier / math.sqrt(participations))


def make_accountant(accountant: str, value_discretization_interval: float = 1e-4):
    """A fresh dp_accounting accountant by name ("pld" or "rdp")."""
    _validate.one_of("accountant", accountant, ACCOUNTANTS)
    if accountant == "pld":
        return pld.PLDAccountant(value_discretization_interval=value_discretization_interval)
    return rdp.RdpAccountant(list(RDP_ORDERS))


def _composed_epsilon(event: dp_accounting.DpEvent, delta: float, accountant: str) -> float:
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
) -> float:
    """Epsilon at ``delta`` after ``steps`` DP-SGD steps; inf without noise, 0 before any step."""
    _check_run(n, batch_size, delta)
    _validate.non_negative("noise_multiplier", noise_multiplier)
    if steps <= 0:
        return 0.0
    if noise_multiplier == 0:
        return math.inf
    event = dp_event(n=n, batch_size=batch_size, noise_multiplier=noise_multiplier, steps=steps, sampling=sampling)
    return _composed_epsilon(event, delta, accountant)


def calibrate_noise(
    *,
    target_epsilon: float,
    delta: float,
    n: int,
    batch_size: int,
    epochs: float,
    sampling: str = "poisson",
    accountant: str = "pld",
) -> float:
    """Smallest noise multiplier whose run of ``epochs`` epochs meets (target_epsilon, delta).

    Refuses (UsageError) a target that no sigma up to MAX_NOISE_MULTIPLIER meets.
    """
    _validate.positive("target_epsilon", target_epsilon)
    _validate.positive("epochs", epochs)
    _check_run(n, batch_size, delta)
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
        )

    if eps_at(MAX_NOISE_MULTIPLIER) > target_epsilon:
        raise UsageError(
            f"target_epsilon={target_epsilon} at delta={delta} cannot be met with {steps} steps "
            f"of batch {batch_size} over {n} examples ({sampling} sampling) even with "
            f"noise_multiplier={MAX_NOISE_MULTIPLIER}. Raise the target, train fewer epochs, "
            "or use Poisson sampling and a smaller batch."
        )

    def event(sigma: float) -> dp_accounting.DpEvent:
        return dp_event(n=n, batch_size=batch_size, noise_multiplier=sigma, steps=steps, sampling=sampling)

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
) -> int:
    """The largest number of steps T whose epsilon (same accountant) is <= target_epsilon.

    Training for T steps never overshoots the budget, and one more step would: this is how a
    run "trains until the budget" (De et al. 2022 stop when epsilon is reached). Epsilon grows
    with T, so a doubling search brackets T and a bisection finds it. Refuses (UsageError) a
    budget too small for even one step; capped at MAX_STEPS.
    """
    _validate.positive("target_epsilon", target_epsilon)
    _validate.positive("noise_multiplier", noise_multiplier)

    def fits(steps: int) -> bool:
        eps = epsilon(
            n=n,
            batch_size=batch_size,
            noise_multiplier=noise_multiplier,
            steps=steps,
            delta=delta,
            sampling=sampling,
            accountant=accountant,
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


def _check_run(n: int, batch_size: int, delta: float) -> None:
    _validate.positive("n", n)
    _validate.positive("batch_size", batch_size)
    if batch_size > n:
        raise UsageError(f"Expected batch_size={batch_size} <= n={n}.")
    _validate.in_open_unit_interval("delta", delta)


@dataclasses.dataclass(frozen=True, kw_only=True)
class PrivacyStatement:
    """What a run guarantees, with everything needed to read the number."""

    epsilon: float
    delta: float
    accountant: str
    sampling: str
    noise_multiplier: float
    l2_norm_clip: float | None
    steps: int
    n: int
    batch_size: int
    guarantee: str  # "formal", "nominal" or "none"
    reason: str = ""
    modelmix: dict | None = None  # both epsilons of a ModelMix run and its tau/eta, p (see PrivacyLedger)

    def text(self) -> str:
        """One line a person can quote: epsilon, delta, accountant, sampling, guarantee."""
        if self.guarantee == "none":
            return (
                f"Not differentially private (no noise): epsilon = inf. {SAMPLING_NAMES[self.sampling]}, "
                f"batch {self.batch_size} of {self.n}, {self.steps} steps."
            )
        eps = "inf" if math.isinf(self.epsilon) else f"{self.epsilon:.3g}"
        line = (
            f"({eps}, {self.delta:g})-DP, {self.guarantee} guarantee: "
            f"{ACCOUNTANT_NAMES[self.accountant]} accountant, {SAMPLING_NAMES[self.sampling]} "
            f"(q={self.batch_size / self.n:.4g}, batch {self.batch_size} of {self.n}), "
            f"noise multiplier {self.noise_multiplier:.4g}, {self.steps} steps"
        )
        if self.modelmix:
            m = self.modelmix
            line += (
                f"; the smaller of ModelMix's epsilon {m['modelmix_epsilon']:.3g} (tau/eta {m['tau_over_lr']:g}, "
                f"refined clipping p {m['linf_p']:g}) and DP-SGD's {m['dpsgd_epsilon']:.3g} "
                f"({ACCOUNTANT_NAMES[m['dpsgd_accountant']]})"
            )
        return f"{line}. {self.reason}".strip() if self.reason else line

    def to_dict(self) -> dict:
        return dataclasses.asdict(self)


class PrivacyLedger:
    """Counts the private steps a run actually took and states their privacy cost.

    The count is read from the training engine (``step_counter``), which increments it inside
    each applied update, so steps of a resumed run and a partly finished epoch are all counted.
    """

    def __init__(
        self,
        *,
        n: int,
        batch_size: int,
        noise_multiplier: float,
        l2_norm_clip: float | None,
        delta: float,
        sampling: str,
        accountant: str,
        step_counter: Callable[[], int],
        guarantee: str = "formal",
        reason: str = "",
        modelmix: ModelMixTerms | None = None,
    ) -> None:
        """``modelmix``: the run mixes states with ModelMix and meets its assumptions; the statement
        then gives the smaller of ModelMix's epsilon and DP-SGD's (mixing with fresh randomness
        is post-processing, so DP-SGD's bound holds too)."""
        _check_run(n, batch_size, delta)
        _validate.one_of("accountant", accountant, ACCOUNTANTS)
        _validate.one_of("sampling", sampling, SAMPLINGS)
        self._fixed = dict(
            n=n,
            batch_size=batch_size,
            noise_multiplier=noise_multiplier,
            delta=delta,
            sampling=sampling,
            accountant=accountant,
        )
        self._l2_norm_clip = l2_norm_clip
        self._step_counter = step_counter
        self._guarantee = "none" if noise_multiplier == 0 else guarantee
        self._reason = reason
        self._modelmix = modelmix

    @property
    def steps(self) -> int:
        return int(self._step_counter())

    def statement(self) -> PrivacyStatement:
        steps = self.steps
        fixed = dict(self._fixed)
        eps = epsilon(steps=steps, **fixed)
        mixing = None
        if self._modelmix is not None and fixed["noise_multiplier"] > 0:
            mixed_eps = self._modelmix.epsilon(
                n=fixed["n"],
                batch_size=fixed["batch_size"],
                noise_multiplier=fixed["noise_multiplier"],
                steps=steps,
                delta=fixed["delta"],
            )
            mixing = dataclasses.asdict(self._modelmix) | {
                "modelmix_epsilon": mixed_eps,
                "dpsgd_epsilon": eps,
                "dpsgd_accountant": fixed["accountant"],
            }
            if mixed_eps < eps:
                eps, fixed["accountant"] = mixed_eps, "modelmix"
        return PrivacyStatement(
            epsilon=eps,
            l2_norm_clip=self._l2_norm_clip,
            steps=steps,
            guarantee=self._guarantee,
            reason=self._reason,
            modelmix=mixing,
            **fixed,
        )
