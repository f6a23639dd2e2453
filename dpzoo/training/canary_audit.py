"""A run's canary audit (``audit_canaries``, ``audit_mode``): what it plants, and what its card says.

White-box (dpzoo.privacy.canaries): gradient canaries drawn at the run's Poisson rate q = B / N,
the one its accountant composes, from the run's seed. After training, their scores give
Steinke et al.'s one-run lower bound on epsilon at 95% confidence and the noise check, with the
parametric bound it implies if the noise is Gaussian.

Black-box (dpzoo.data.input_canaries): mislabelled training examples, half of them kept in the
training set, scored by the final model's log-probability of their wrong label. It needs no noisy
sum to read, so it audits what white-box canaries cannot: a nominal claim whose noise is in the
weights (SIDP), ModelMix with its random mixing, any engine. It sees only the final model, so its
bounds are far weaker than white-box ones for DP-SGD (which releases every step).

Either audit tests the training algorithm as this run ran it, canaries and all; it says nothing
about weights trained without them. The card records it beside the epsilon the run states.
"""

import numpy as np

from dpzoo import methods
from dpzoo.accounting import audit_bounds
from dpzoo.common.stack import keras
from dpzoo.data import input_canaries, pipeline
from dpzoo.privacy import canaries
from dpzoo.privacy.canaries import CanaryPlan

WHITE_BOX, BLACK_BOX = "white_box", "black_box"
MODES = (WHITE_BOX, BLACK_BOX)
WHAT = {
    WHITE_BOX: (
        "a one-run audit of the training algorithm (Steinke, Nasr & Jagielski 2023): white-box Dirac gradient "
        "canaries, each in the run with probability 1/2 and drawn at the run's sampling rate, scored by the "
        "likelihood ratio of every step's noisy sum; it tests this recipe's mechanism, not a particular set of weights"
    ),
    BLACK_BOX: (
        "a one-run audit of the training algorithm (Steinke, Nasr & Jagielski 2023): black-box input canaries, "
        "training examples given a wrong label, each kept in the training set with probability 1/2, scored by the "
        "final model's log-probability of that label; it sees only the final model, so it bounds epsilon from "
        "below far more loosely than white-box canaries, and tests this recipe, not a particular set of weights"
    ),
}


def refusal(config) -> str | None:
    """Why the configured canaries cannot test ``config``'s claim (None: they can)."""
    if config.audit_mode == BLACK_BOX:
        return None
    if not methods.get(config.method).dp_config_fields(config, 1.0)["noise_multiplier"]:
        return (
            f"--method={config.method} adds no Gaussian noise to its update (its epsilon is nominal), so there is no "
            "DP-SGD claim for gradient canaries to test; audit it black-box (dpzoo-audit --mode=black_box, or "
            "dpzoo-train --audit_mode=black_box)"
        )
    if config.method == "modelmix" and config.modelmix_mixing != "fixed":
        return (
            "ModelMix's epsilon credits its random mixing, which white-box canaries bypass (they read every noisy "
            "sum). Audit its DP-SGD steps with --modelmix_mixing=fixed, which states DP-SGD's epsilon, or the whole "
            "method black-box (dpzoo-audit --mode=black_box, or dpzoo-train --audit_mode=black_box)"
        )
    return None


def failures(section: dict) -> list[str]:
    """What of a card's canary audit refutes its formal claim (empty: nothing does)."""
    found = []
    if section["exceeds_claim"]:  # the one-run bound's: the larger of two 95% bounds is not a 95% bound
        found.append(
            f"the canaries' bound {section['epsilon_lower_bound']:.3f} exceeds epsilon {section['claimed_epsilon']:.4g}"
        )
    if section.get("noise_below_claim"):
        found.append(
            f"the released noise is {section['noise_ratio']:.3f} x the claimed sigma C (epsilon >= "
            f"{section['noise_epsilon_lower_bound']:.3f} if it is Gaussian)"
        )
    return found


def canary_plan(config, n: int) -> CanaryPlan | None:
    """The white-box canaries ``config.audit_canaries`` asks for (None for none), drawn at q = B / N."""
    if not config.audit_canaries or config.audit_mode != WHITE_BOX:
        return None
    return CanaryPlan(count=config.audit_canaries, sampling_rate=min(1.0, config.batch_size / n), seed=config.seed)


def plant_inputs(config, dataset) -> tuple[object, input_canaries.InputCanaries | None]:
    """The training data with the black-box canaries ``config`` asks for planted, and those
    canaries (the data as given and None without them)."""
    if not config.audit_canaries or config.audit_mode != BLACK_BOX:
        return dataset, None
    return input_canaries.plant(dataset, config.audit_canaries, config.seed)


def input_scores(model: keras.Model, planted: input_canaries.InputCanaries, features, preprocess) -> np.ndarray:
    """Each input canary's score: the final ``model``'s log-probability of its wrong label, on the
    inputs the model takes (through the run's fixed front, if it has one)."""
    images, inputs = features.eval_inputs(planted.images, preprocess)
    scores = []
    for x, y in pipeline.eval_dataset(images, planted.labels, inputs, batch_size=500):
        log_probabilities = keras.ops.log_softmax(model(x, training=False), axis=-1)
        scores.append(np.take_along_axis(np.asarray(log_probabilities), np.asarray(y)[:, None], axis=1)[:, 0])
    return np.concatenate(scores)


def _claim_fields(bound: float, privacy: dict) -> dict:
    """The one-run bound against the epsilon the run states."""
    claimed = privacy.get("epsilon")
    return {
        "claimed_epsilon": claimed,
        "share_of_claim": bound / claimed if claimed else None,
        "exceeds_claim": bool(claimed is not None and bound > claimed),
    }


def card_section(trainable, privacy: dict, delta: float) -> dict | None:
    """The card's white-box canary audit: the bounds, their confidence, the guesses, the noise
    check, and the bound as a share of the epsilon the run states (``privacy``, the card's privacy
    section). Either finding refutes the claim: a bound above it, or less noise than it assumes."""
    planted = getattr(trainable, "canaries", None)
    if planted is None:
        return None
    result = canaries.audit(planted, delta=delta)
    return {
        "mode": WHITE_BOX,
        **result.to_dict(),
        "steps": int(planted.steps.numpy()),
        "sampling_rate": planted.sampling_rate,
        "raw_norm_multiple": planted.raw_norm_multiple,
        **_claim_fields(result.epsilon_lower_bound, privacy),
        "noise_as_claimed": result.noise.as_claimed,
        "noise_below_claim": result.noise.upper < 1.0,
        "what": WHAT[WHITE_BOX],
    }


def black_box_section(scores: np.ndarray, planted: input_canaries.InputCanaries, privacy: dict, delta: float) -> dict:
    """The card's black-box canary audit: the one-run and Clopper-Pearson bounds of the input
    canaries' ``scores``, the guesses, and the bound as a share of the epsilon the run states."""
    bounds = audit_bounds.score_bounds(scores, planted.included, delta=delta)
    return {
        "mode": BLACK_BOX,
        **bounds.to_dict(),
        "included": int(planted.included.sum()),
        "score": "the final model's log-probability of the canary's wrong label",
        "mean_score_in": float(np.mean(scores[planted.included])),
        "mean_score_out": float(np.mean(scores[~planted.included])),
        **_claim_fields(bounds.epsilon_lower_bound, privacy),
        "what": WHAT[BLACK_BOX],
    }
