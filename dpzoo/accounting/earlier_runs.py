"""An earlier private run on the same training set, composed into a later run's epsilon.

A fine-tuning run that starts from a model trained privately on its own data (DP-RandP's private
linear probe, then its full fine-tuning) is the second part of one sequence of mechanisms on that
set: adaptive composition adds their privacy losses. The earlier run is rebuilt as the
dp_accounting event it was (its sampling rate, noise multiplier and steps, as its card states
them, and whatever it composed before it) and put before the later run's steps, so any accountant
states the total, as for a release before training (dpzoo.accounting.releases).
"""

import dataclasses

import dp_accounting

from dpzoo.accounting.dpsgd import dp_event
from dpzoo.accounting.releases import GaussianReleases
from dpzoo.common.errors import UsageError


@dataclasses.dataclass(frozen=True, kw_only=True)
class EarlierRun:
    """``steps`` DP-SGD steps of ``noise_multiplier`` on batches of ``batch_size`` from ``n``
    examples (``sampling``), after ``before`` (that run's own earlier releases, if any)."""

    what: str
    n: int
    batch_size: int
    noise_multiplier: float
    steps: int
    sampling: str
    before: "GaussianReleases | EarlierRun | None" = None

    def dp_event(self) -> dp_accounting.DpEvent:
        run = dp_event(
            n=self.n,
            batch_size=self.batch_size,
            noise_multiplier=self.noise_multiplier,
            steps=self.steps,
            sampling=self.sampling,
        )
        return dp_accounting.ComposedDpEvent([self.before.dp_event(), run]) if self.before else run

    def rdp(self, order: float) -> float:
        raise UsageError(
            "ModelMix's accountant cannot compose an earlier DP-SGD run; fine-tune with --method=dpsgd or de22."
        )

    def to_dict(self) -> dict:
        fields = dataclasses.asdict(self) | {"noise_multipliers": [self.noise_multiplier]}
        return fields | {"before": self.before.to_dict() if self.before else None}


def prior_from_dict(record: dict | None) -> "GaussianReleases | EarlierRun | None":
    """A prior as a card's privacy section records it (``to_dict``), rebuilt."""
    if not record:
        return None
    if "parts" in record:
        return composed(*(prior_from_dict(part) for part in record["parts"]))
    if "steps" in record:
        fields = {k: record[k] for k in ("what", "n", "batch_size", "noise_multiplier", "steps", "sampling")}
        return EarlierRun(**fields, before=prior_from_dict(record.get("before")))
    return GaussianReleases(what=record["what"], noise_multipliers=tuple(record["noise_multipliers"]))


def earlier_run(privacy: dict, what: str) -> EarlierRun:
    """The earlier run a card's privacy section states, with its own prior; UsageError unless its
    guarantee is formal (a nominal or absent guarantee composes into nothing formal)."""
    if privacy.get("guarantee") != "formal":
        raise UsageError(
            f"{what} has a {privacy.get('guarantee', 'missing')} guarantee, not a formal one: there is no epsilon to "
            "compose with. Start from a model trained privately with Poisson sampling, or from public data."
        )
    return EarlierRun(
        what=what,
        n=privacy["n"],
        batch_size=privacy["batch_size"],
        noise_multiplier=privacy["noise_multiplier"],
        steps=privacy["steps"],
        sampling=privacy["sampling"],
        before=prior_from_dict(privacy.get("prior")),
    )


@dataclasses.dataclass(frozen=True)
class ComposedPriors:
    """Several priors of one run, in order (an earlier run, then this run's data normalisation)."""

    parts: tuple

    @property
    def what(self) -> str:
        return "; then ".join(part.what for part in self.parts)

    def dp_event(self) -> dp_accounting.DpEvent:
        return dp_accounting.ComposedDpEvent([part.dp_event() for part in self.parts])

    def rdp(self, order: float) -> float:
        return sum(part.rdp(order) for part in self.parts)

    def to_dict(self) -> dict:
        sigmas = [s for part in self.parts for s in part.to_dict()["noise_multipliers"]]
        return {"what": self.what, "noise_multipliers": sigmas, "parts": [part.to_dict() for part in self.parts]}


def composed(*priors) -> "GaussianReleases | EarlierRun | ComposedPriors | None":
    """The priors given (None ones dropped) as one: None, the one, or their composition."""
    present = tuple(p for p in priors if p is not None)
    if not present:
        return None
    return present[0] if len(present) == 1 else ComposedPriors(present)
