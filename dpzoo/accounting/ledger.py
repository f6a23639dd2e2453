"""The privacy statement of a run and the ledger that makes it (METHODS.md section 0, step 5).

``PrivacyLedger`` counts the private steps a run actually took, read from the training engine,
and states their cost: epsilon at delta with the accountant, the sampling and whether the
guarantee is formal, nominal or none (no noise: the reason says so). For a ModelMix run that meets its assumptions it states the
smaller of ModelMix's epsilon and DP-SGD's (dpzoo.accounting.modelmix). A release of the
training set before training (``prior``: Tramer & Boneh's data normalisation) is composed into
every epsilon it states, from before the first step on.
"""

import dataclasses
import functools
import math
from collections.abc import Callable

from dpzoo.accounting.dpsgd import ACCOUNTANTS, SAMPLINGS, check_run, epsilon
from dpzoo.accounting.modelmix import ModelMixTerms
from dpzoo.accounting.releases import GaussianReleases
from dpzoo.common import validation

NO_NOISE_REASON = "No noise: no differential privacy guarantee."
ACCOUNTANT_NAMES = {"pld": "PLD", "rdp": "RDP", "modelmix": "ModelMix RDP"}
SAMPLING_NAMES = {
    "poisson": "Poisson sampling",
    "shuffle": "shuffled fixed-size batches, no amplification",
}


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
    prior: dict | None = None  # a release before training, composed into epsilon: what, sigmas, its own epsilon

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
        if self.prior:
            sigmas = ", ".join(f"{s:.4g}" for s in self.prior["noise_multipliers"])
            line += (
                f"; composed with {self.prior['what']} before training (noise multipliers {sigmas}; "
                f"alone ({self.prior['epsilon']:.3g}, {self.delta:g})-DP)"
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
        prior: GaussianReleases | None = None,
    ) -> None:
        """``modelmix``: the run mixes states with ModelMix and meets its assumptions; the statement
        then gives the smaller of ModelMix's epsilon and DP-SGD's (mixing with fresh randomness
        is post-processing, so DP-SGD's bound holds too). ``prior``: what the run released of the
        training set before training, composed into both."""
        check_run(n, batch_size, delta)
        validation.one_of("accountant", accountant, ACCOUNTANTS)
        validation.one_of("sampling", sampling, SAMPLINGS)
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
        self._reason = NO_NOISE_REASON if noise_multiplier == 0 else reason
        self._modelmix = modelmix
        self._prior = prior

    @property
    def steps(self) -> int:
        return int(self._step_counter())

    def statement(self) -> PrivacyStatement:
        steps = self.steps
        fixed = dict(self._fixed)
        eps = epsilon(steps=steps, prior=self._prior, **fixed)
        mixing = None
        if self._modelmix is not None and fixed["noise_multiplier"] > 0:
            mixed_eps = self._modelmix.epsilon(
                n=fixed["n"],
                batch_size=fixed["batch_size"],
                noise_multiplier=fixed["noise_multiplier"],
                steps=steps,
                delta=fixed["delta"],
                prior=self._prior,
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
            prior=self._prior_record,
            **fixed,
        )

    @functools.cached_property
    def _prior_record(self) -> dict | None:
        """The card's record of the release before training, with its epsilon alone (computed
        once: it does not change as steps are taken)."""
        if self._prior is None:
            return None
        fixed = self._fixed
        alone = epsilon(
            n=fixed["n"],
            batch_size=fixed["batch_size"],
            noise_multiplier=fixed["noise_multiplier"],
            steps=0,
            delta=fixed["delta"],
            accountant=fixed["accountant"],
            prior=self._prior,
        )
        return self._prior.to_dict() | {"epsilon": alone}
