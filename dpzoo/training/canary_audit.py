"""A run's white-box canary audit (``audit_canaries``): what it plants, and what its card says.

The canaries (dpzoo.privacy.canaries) are drawn at the run's Poisson rate q = B / N, the one its
accountant composes, from the run's seed. After training, their scores give Steinke et al.'s
one-run lower bound on epsilon at 95% confidence and the noise check; the card records both
beside the epsilon the run states. The audit tests the training algorithm as this run ran it,
canaries and all; it says nothing about weights trained without them.
"""

from dpzoo import methods
from dpzoo.privacy import canaries
from dpzoo.privacy.canaries import CanaryPlan

MODE = "white_box"
WHAT = (
    "a one-run audit of the training algorithm (Steinke, Nasr & Jagielski 2023): white-box Dirac gradient "
    "canaries, each in the run with probability 1/2 and drawn at the run's sampling rate, scored by the "
    "likelihood ratio of every step's noisy sum; it tests this recipe's mechanism, not a particular set of weights"
)


def refusal(config) -> str | None:
    """Why white-box canaries cannot test ``config``'s claim (None: they can)."""
    if not methods.get(config.method).dp_config_fields(config, 1.0)["noise_multiplier"]:
        return (
            f"--method={config.method} adds no Gaussian noise to its update (its epsilon is nominal), so there is no "
            "DP-SGD claim for gradient canaries to test"
        )
    if config.method == "modelmix" and config.modelmix_mixing != "fixed":
        return (
            "ModelMix's epsilon credits its random mixing, which white-box canaries bypass (they read every noisy "
            "sum). Audit its DP-SGD steps with --modelmix_mixing=fixed, which states DP-SGD's epsilon"
        )
    return None


def failures(section: dict) -> list[str]:
    """What of a card's canary audit refutes its formal claim (empty: nothing does)."""
    found = []
    if section["exceeds_claim"]:
        found.append(
            f"the canaries' bound {section['epsilon_lower_bound']:.3f} exceeds epsilon {section['claimed_epsilon']:.4g}"
        )
    if section["noise_below_claim"]:
        found.append(f"the released noise is {section['noise_ratio']:.3f} x the claimed sigma C")
    return found


def canary_plan(config, n: int) -> CanaryPlan | None:
    """The canaries ``config.audit_canaries`` asks for (None for none), drawn at q = B / N."""
    if not config.audit_canaries:
        return None
    return CanaryPlan(count=config.audit_canaries, sampling_rate=min(1.0, config.batch_size / n), seed=config.seed)


def card_section(trainable, privacy: dict, delta: float) -> dict | None:
    """The card's canary audit: the bound, its confidence, the guesses, the noise check, and the
    bound as a share of the epsilon the run states (``privacy``, the card's privacy section).
    Either finding refutes the claim: a bound above it, or less noise than it assumes."""
    planted = getattr(trainable, "canaries", None)
    if planted is None:
        return None
    result = canaries.audit(planted, delta=delta)
    claimed = privacy.get("epsilon")
    section = {
        "mode": MODE,
        **result.to_dict(),
        "steps": int(planted.steps.numpy()),
        "sampling_rate": planted.sampling_rate,
        "raw_norm_multiple": planted.raw_norm_multiple,
        "claimed_epsilon": claimed,
        "share_of_claim": result.epsilon_lower_bound / claimed if claimed else None,
        "exceeds_claim": bool(claimed is not None and result.epsilon_lower_bound > claimed),
        "noise_as_claimed": result.noise.as_claimed,
        "noise_below_claim": result.noise.upper < 1.0,
        "what": WHAT,
    }
    return section
