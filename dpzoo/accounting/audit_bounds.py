"""Lower bounds on epsilon from an audit's guesses: what a run that claims (epsilon, delta)-DP
must not let an auditor exceed (METHODS.md section 7).

An audit plants m canaries, includes each with probability 1/2 (the auditor knows which), trains,
scores every canary, then guesses "in" for the highest scores and "out" for the lowest, abstaining
on the rest. Under (epsilon, delta)-DP a guess is right with probability at most about
e^eps / (1 + e^eps), whatever the attack, so many right guesses refute small epsilons.

- ``one_run_epsilon``: Steinke, Nasr & Jagielski 2023 ("Privacy auditing with one (1) training
  run", Theorem 5.2): the largest epsilon whose p-value of ``correct`` right guesses out of
  ``guesses`` is below 1 - confidence. With delta = 0 the count of right guesses is dominated by
  Binomial(guesses, q(eps)); delta adds at most 2 m delta times the largest average point mass
  of that binomial just below the count.
- ``clopper_pearson_epsilon``: a thresholded guess's true and false positive rates, each bounded
  by an exact (Clopper-Pearson) binomial interval, through eps >= log((TPR - delta) / FPR) and its
  mirror image on the negatives (Kairouz et al. 2015's hypothesis-testing view of DP).
- ``guesses``: the one-run auditor's guesses from canary scores: ``k`` "in" at the top, ``k``
  "out" at the bottom, fixed before the scores are seen (choosing k after looking would test
  several hypotheses on one run).

- ``CanaryAudit.noise_epsilon_lower_bound``: a parametric bound from the noise check. Released
  noise of std at most ``upper`` x sigma C (the check's interval) on a canary of sensitivity C,
  drawn by Poisson sampling at q for T steps, makes that canary's mechanism the subsampled
  Gaussian at multiplier sigma x upper, whose epsilon the PLD accountant gives. It assumes the
  noise is Gaussian (the one-run bound assumes nothing) and in exchange sees bugs that one run's
  guesses cannot refute: noise added per replica and divided as if once leaves a true epsilon of
  1.6 at a claim of 1, which even 50,000 canaries' guesses bound at about 0.8.

No TensorFlow here: scipy's binomial and beta distributions, and the PLD accountant.
"""

import dataclasses
import functools
import math

import numpy as np
from scipy import stats

from dpzoo.accounting import dpsgd
from dpzoo.common import validation

MAX_EPSILON = 100.0  # the search's upper end: no audit of m canaries can show more


@dataclasses.dataclass(frozen=True)
class Guesses:
    """An auditor's guesses on m canaries: how many it made (no abstention) and how many were right."""

    canaries: int
    made: int
    correct: int


def guesses(scores: np.ndarray, included: np.ndarray, k: int) -> Guesses:
    """Guess "in" for the ``k`` highest ``scores`` and "out" for the ``k`` lowest (ties broken by
    position), abstaining on the middle; ``included`` says which canaries were in."""
    scores, included = np.asarray(scores, dtype=np.float64), np.asarray(included, dtype=bool)
    if scores.shape != included.shape or scores.ndim != 1:
        raise ValueError(f"Expected one score per canary; got scores {scores.shape}, included {included.shape}.")
    if not 0 <= 2 * k <= len(scores):
        raise ValueError(f"Expected 0 <= 2k <= m; got k={k}, m={len(scores)}.")
    order = np.argsort(scores, kind="stable")
    right = int(included[order[len(order) - k :]].sum() + (~included[order[:k]]).sum())
    return Guesses(canaries=len(scores), made=2 * k, correct=right)


def _accuracy(epsilon: float) -> float:
    """e^eps / (1 + e^eps): the best a guess can do against eps-DP randomized response."""
    return 1.0 / (1.0 + math.exp(-epsilon))


def one_run_p_value(result: Guesses, epsilon: float, delta: float) -> float:
    """The probability of ``result.correct`` or more right guesses out of ``result.made`` under
    (epsilon, delta)-DP (Steinke et al. 2023, Theorem 5.2): the binomial tail plus the delta term."""
    q = _accuracy(epsilon)
    r, v = result.made, result.correct
    tail = float(stats.binom.sf(v - 1, r, q))
    # the delta term: 2 m delta max_i P[v - i <= Binomial(r, q) < v] / i
    below = stats.binom.pmf(np.arange(v - 1, -1, -1), r, q)  # P[B = v - 1], P[B = v - 2], ...
    mass = float(np.max(np.cumsum(below) / np.arange(1, v + 1))) if v > 0 else 0.0
    return min(1.0, tail + 2 * result.canaries * delta * mass)


def one_run_epsilon(result: Guesses, *, delta: float, confidence: float = 0.95) -> float:
    """The largest epsilon refuted at ``confidence`` by ``result`` (0 if none is): bisection, as
    the p-value grows with epsilon."""
    validation.in_open_unit_interval("confidence", confidence)
    if not 0 <= result.correct <= result.made <= result.canaries:
        raise ValueError(f"Expected 0 <= correct <= made <= canaries; got {result}.")
    level = 1.0 - confidence
    if result.made == 0 or one_run_p_value(result, 0.0, delta) > level:
        return 0.0
    low, high = 0.0, MAX_EPSILON
    for _ in range(100):
        middle = (low + high) / 2
        low, high = (middle, high) if one_run_p_value(result, middle, delta) <= level else (low, middle)
    return low


def clopper_pearson_epsilon(
    *,
    true_positives: int,
    positives: int,
    false_positives: int,
    negatives: int,
    delta: float,
    confidence: float = 0.95,
) -> float:
    """The epsilon a thresholded membership guess refutes at ``confidence``: the true positive
    rate's lower and the false positive rate's upper Clopper-Pearson bound (each at
    (1 - confidence) / 2), then the larger of log((TPR - delta) / FPR) and
    log((TNR - delta) / FNR), and 0 if neither is positive."""
    validation.in_open_unit_interval("confidence", confidence)
    alpha = (1.0 - confidence) / 2

    def lower(k: int, n: int) -> float:  # exact one-sided lower bound on a binomial rate
        return 0.0 if k == 0 else float(stats.beta.ppf(alpha, k, n - k + 1))

    def upper(k: int, n: int) -> float:
        return 1.0 if k == n else float(stats.beta.ppf(1 - alpha, k + 1, n - k))

    tpr, fpr = lower(true_positives, positives), upper(false_positives, negatives)
    tnr, fnr = lower(negatives - false_positives, negatives), upper(positives - true_positives, positives)
    bounds = [math.log((a - delta) / b) for a, b in ((tpr, fpr), (tnr, fnr)) if a > delta and b > 0]
    return max([0.0, *bounds])


DEFAULT_GUESS_FRACTION = 0.1  # guesses made, as a share of the canaries (half "in", half "out")


@dataclasses.dataclass(frozen=True)
class NoiseCheck:
    """The released noise on excluded canaries' coordinates, as a multiple of the claimed sigma C:
    the estimate and its interval at the audit's confidence (chi-square)."""

    ratio: float
    lower: float
    upper: float
    samples: int

    @property
    def as_claimed(self) -> bool:
        return self.lower <= 1.0 <= self.upper


def noise_check(excluded_squares: np.ndarray, steps: int, noise_multiplier: float, confidence: float) -> NoiseCheck:
    """From the summed squares (in units of C) of excluded canaries' per-step values, pure noise
    N(0, (r sigma)^2): r's estimate and its two-sided chi-square interval."""
    samples = int(steps) * len(excluded_squares)
    if samples == 0:
        raise ValueError("The noise check needs at least one step and one excluded canary.")
    total = float(np.sum(excluded_squares)) / noise_multiplier**2
    alpha = 1.0 - confidence
    high, low = stats.chi2.ppf(1 - alpha / 2, samples), stats.chi2.ppf(alpha / 2, samples)
    return NoiseCheck(math.sqrt(total / samples), math.sqrt(total / high), math.sqrt(total / low), samples)


@dataclasses.dataclass(frozen=True)
class ScoreBounds:
    """What a one-run auditor's guesses on canary scores refute: Steinke et al.'s bound on the
    top and bottom guesses, and the Clopper-Pearson bound of the threshold that says "in" for the
    top ones (the same top k, so neither is chosen after looking)."""

    guesses: Guesses
    epsilon_lower_bound: float
    clopper_pearson_epsilon: float
    confidence: float
    delta: float

    def to_dict(self) -> dict:
        return {
            "canaries": self.guesses.canaries,
            "guesses": self.guesses.made,
            "correct": self.guesses.correct,
            "epsilon_lower_bound": self.epsilon_lower_bound,
            "clopper_pearson_epsilon": self.clopper_pearson_epsilon,
            "confidence": self.confidence,
            "delta": self.delta,
        }


def score_bounds(
    scores: np.ndarray,
    included: np.ndarray,
    *,
    delta: float,
    confidence: float = 0.95,
    guess_fraction: float = DEFAULT_GUESS_FRACTION,
) -> ScoreBounds:
    """The bounds of ``guess_fraction`` of the canaries guessed (fixed in advance): half "in" at
    the top of ``scores``, half "out" at the bottom."""
    validation.in_open_unit_interval("guess_fraction", guess_fraction)
    scores, included = np.asarray(scores), np.asarray(included, dtype=bool)
    k = max(1, int(guess_fraction * len(scores) / 2))
    result = guesses(scores, included, k)
    said_in = np.zeros(len(scores), dtype=bool)
    said_in[np.argsort(scores, kind="stable")[len(scores) - k :]] = True
    threshold = clopper_pearson_epsilon(
        true_positives=int((said_in & included).sum()),
        positives=int(included.sum()),
        false_positives=int((said_in & ~included).sum()),
        negatives=int((~included).sum()),
        delta=delta,
        confidence=confidence,
    )
    return ScoreBounds(
        result, one_run_epsilon(result, delta=delta, confidence=confidence), threshold, confidence, delta
    )


@dataclasses.dataclass(frozen=True)
class CanaryAudit:
    """A white-box one-run audit's outcome: the bounds of the guesses, the noise check, and the
    canaries' mechanism (Poisson rate, steps, claimed multiplier) the parametric bound uses."""

    bounds: ScoreBounds
    noise: NoiseCheck
    sampling_rate: float
    steps: int
    noise_multiplier: float

    @property
    def epsilon_lower_bound(self) -> float:
        return self.bounds.epsilon_lower_bound

    @functools.cached_property
    def noise_epsilon_lower_bound(self) -> float:
        """The parametric bound (module docstring): epsilon of the canaries' mechanism at the
        largest noise the check allows, valid at the check's one-sided (1 + confidence) / 2."""
        return dpsgd.poisson_epsilon(
            sampling_rate=self.sampling_rate,
            noise_multiplier=self.noise_multiplier * self.noise.upper,
            steps=self.steps,
            delta=self.bounds.delta,
        )

    def to_dict(self) -> dict:
        return {
            **self.bounds.to_dict(),
            "noise_ratio": self.noise.ratio,
            "noise_ratio_interval": [self.noise.lower, self.noise.upper],
            "noise_samples": self.noise.samples,
            "noise_epsilon_lower_bound": self.noise_epsilon_lower_bound,
        }


def canary_audit(
    *,
    scores: np.ndarray,
    included: np.ndarray,
    squares: np.ndarray,
    steps: int,
    noise_multiplier: float,
    sampling_rate: float,
    delta: float,
    confidence: float = 0.95,
    guess_fraction: float = DEFAULT_GUESS_FRACTION,
) -> CanaryAudit:
    """The bounds of canary scores (``score_bounds``), the noise check on the excluded ones and,
    from it, the parametric bound of canaries drawn at ``sampling_rate`` for ``steps`` steps
    (dpzoo.privacy.canaries)."""
    bounds = score_bounds(scores, included, delta=delta, confidence=confidence, guess_fraction=guess_fraction)
    noise = noise_check(np.asarray(squares)[~np.asarray(included, dtype=bool)], steps, noise_multiplier, confidence)
    return CanaryAudit(bounds, noise, sampling_rate, int(steps), noise_multiplier)
