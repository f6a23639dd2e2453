"""Membership-inference audits: what a trained model leaks about its training examples in practice.

TF Privacy's attack library (``tensorflow_privacy.privacy.privacy_tests``, shipped as
tensorflow-empirical-privacy) runs a threshold attack on the loss and a logistic-regression
attack on the logits, members (training examples) against non-members (test examples the model
never saw), balanced. Each attack reports its ROC AUC, attacker advantage (max TPR - FPR) and the
epsilon lower bound the attack implies (the largest of the library's bound estimates at its
default 95% confidence); a formal (epsilon, delta) guarantee must not fall below that bound.
"""

import dataclasses

import numpy as np
import tensorflow as tf

from dpzoo.errors import UsageError

ATTACKS = ("threshold", "logistic_regression")


@dataclasses.dataclass(frozen=True)
class AttackResult:
    attack: str
    auc: float
    advantage: float
    epsilon_lower_bound: float

    def to_dict(self) -> dict:
        return dataclasses.asdict(self)


def _attack_library():
    try:
        from tensorflow_privacy.privacy.privacy_tests.membership_inference_attack import (
            data_structures,
            membership_inference_attack,
        )
    except ImportError as e:
        raise UsageError(
            "Membership-inference audits need TF Privacy's attack library: pip install --no-deps "
            f"-r requirements-nodeps.lock (tensorflow-empirical-privacy) after requirements.lock ({e})."
        ) from e
    return data_structures, membership_inference_attack


def logits_of(model: tf.keras.Model, images: tf.Tensor, batch_size: int = 1000) -> np.ndarray:
    """The model's logits in inference mode, in batches."""
    return np.concatenate(
        [model(images[i : i + batch_size], training=False).numpy() for i in range(0, len(images), batch_size)]
    )


def membership_inference(
    logits_members: np.ndarray, labels_members: np.ndarray, logits_others: np.ndarray, labels_others: np.ndarray
) -> list[AttackResult]:
    """Threshold and logistic-regression attacks on members vs non-members (equal counts)."""
    if len(logits_members) != len(logits_others):
        raise ValueError(
            f"Expected equal member and non-member counts; got {len(logits_members)} and {len(logits_others)}."
        )
    structures, attacks = _attack_library()
    kinds = {
        "threshold": structures.AttackType.THRESHOLD_ATTACK,
        "logistic_regression": structures.AttackType.LOGISTIC_REGRESSION,
    }
    with np.errstate(divide="ignore", invalid="ignore"):  # the library's bounds divide by empty ROC cells
        results = attacks.run_attacks(
            structures.AttackInputData(
                logits_train=logits_members.astype(np.float64),
                logits_test=logits_others.astype(np.float64),
                labels_train=labels_members.astype(np.int64),
                labels_test=labels_others.astype(np.int64),
            ),
            structures.SlicingSpec(entire_dataset=True),
            attack_types=list(kinds.values()),
        )
    by_kind = {result.attack_type: result for result in results.single_attack_results}
    out = []
    for name, kind in kinds.items():
        result = by_kind[kind]
        bounds = result.get_epsilon_lower_bound()
        out.append(
            AttackResult(
                attack=name,
                auc=float(result.get_auc()),
                advantage=float(result.get_attacker_advantage()),
                epsilon_lower_bound=float(np.max(bounds)) if np.size(bounds) else 0.0,
            )
        )
    return out


def audit_run(run_dir: str, *, max_examples: int = 5000, data_dir: str | None = None, seed: int = 0) -> dict:
    """Attacks a dpzoo-train run's model (as exported: inference mode) with up to ``max_examples``
    of its training examples against as many test examples, stores the result in its model card
    and returns it."""
    from dpzoo import data, model_card, restore

    _positive_count(max_examples)
    model, card = restore.load_run(run_dir)
    dataset = data.load(card["dataset"]["name"], data_dir)
    n_train = card["dataset"]["n_train"]  # the run trained on the first n_train examples
    count = min(n_train, len(dataset.x_test), max_examples)
    rng = np.random.default_rng(seed)
    members = rng.choice(n_train, size=count, replace=False)
    others = rng.choice(len(dataset.x_test), size=count, replace=False)
    preprocess = restore.preprocessor_from_card(card)
    inputs = lambda images: preprocess(tf.constant(images))
    attacks = membership_inference(
        logits_of(model, inputs(dataset.x_train[members])),
        dataset.y_train[members],
        logits_of(model, inputs(dataset.x_test[others])),
        dataset.y_test[others],
    )
    card["audit"] = {
        "members": count,
        "non_members": count,
        "seed": seed,
        "source": "tensorflow-empirical-privacy (tensorflow_privacy.privacy.privacy_tests)",
        "attacks": [attack.to_dict() for attack in attacks],
    }
    model_card.write(card, run_dir)
    return card


def _positive_count(max_examples: int) -> None:
    if max_examples < 1:
        raise UsageError(f"Expected max_examples={max_examples} >= 1.")


def exceeds_guarantee(card: dict) -> list[str]:
    """Attacks whose implied epsilon lower bound exceeds the card's formal epsilon (an audit
    failure: the guarantee or its implementation is wrong); empty for nominal cards."""
    privacy = card["privacy"]
    if privacy["guarantee"] != "formal":
        return []
    return [
        attack["attack"]
        for attack in card.get("audit", {}).get("attacks", [])
        if attack["epsilon_lower_bound"] > privacy["epsilon"]
    ]
