"""Membership-inference audits: what a trained model leaks about its training examples in practice.

TF Privacy's attack library (``tensorflow_privacy.privacy.privacy_tests``, shipped as
tensorflow-empirical-privacy) runs a threshold attack on the loss and a logistic-regression
attack on the logits, members (training examples) against non-members (test examples the model
never saw), balanced. Each attack reports its ROC AUC, attacker advantage (max TPR - FPR) and a
95% lower bound on epsilon (``held_out_epsilon_bound``); a formal (epsilon, delta) guarantee
must not fall below it.

The library's own bound is the largest over every threshold and reading of the attack, each at
95% confidence, so it exceeds the true epsilon far more often than 5% of the time (a DP-SGD
model at epsilon 1 gave 1.17). dpzoo picks the threshold on one half of the scores and bounds
on the other half (Clopper-Pearson), which keeps the 95%.
"""

import contextlib
import dataclasses
import logging
import os
import shutil
import tempfile
import warnings

import numpy as np
import tensorflow as tf
from scipy.optimize import OptimizeWarning
from sklearn.exceptions import ConvergenceWarning

from dpzoo import data
from dpzoo.artifacts import model_card, run_folder
from dpzoo.common.errors import UsageError
from dpzoo.common.stack import keras
from dpzoo.common.tf_privacy import tf_privacy_module
from dpzoo.zoo import registry

ATTACKS = ("threshold", "logistic_regression")


@dataclasses.dataclass(frozen=True)
class AttackResult:
    attack: str
    auc: float
    advantage: float
    epsilon_lower_bound: float

    def to_dict(self) -> dict:
        return dataclasses.asdict(self)


@contextlib.contextmanager
def _quiet_attack_library():
    """The library logs every attack at INFO, its logistic regression warns of non-convergence per
    fold (and, with scikit-learn 1.6 on SciPy 1.18, of an lbfgs option SciPy no longer takes), and
    its bounds divide by empty ROC cells: the results say all that matters."""
    library_logger = logging.getLogger()  # the library logs through the root logger
    level = library_logger.level
    library_logger.setLevel(logging.WARNING)
    try:
        with np.errstate(divide="ignore", invalid="ignore"), warnings.catch_warnings():
            warnings.simplefilter("ignore", ConvergenceWarning)
            warnings.simplefilter("ignore", OptimizeWarning)
            yield
    finally:
        library_logger.setLevel(level)


def _attack_library():
    attack_package = "privacy.privacy_tests.membership_inference_attack"
    return tf_privacy_module(f"{attack_package}.data_structures"), tf_privacy_module(
        f"{attack_package}.membership_inference_attack"
    )


BOUND_ALPHA = 0.05


def _ratio_bounds(members: np.ndarray, others: np.ndarray, thresholds: np.ndarray, alpha: float) -> np.ndarray:
    """Clopper-Pearson lower bounds, [4, thresholds], of the four likelihood ratios an attack
    with a threshold can exhibit: TPR / FPR and TNR / FNR predicting members above it, and the
    two readings predicting members below it."""
    elb = tf_privacy_module("privacy.privacy_tests.epsilon_lower_bound")

    tp = (members[None, :] >= thresholds[:, None]).sum(axis=1)
    fp = (others[None, :] >= thresholds[:, None]).sum(axis=1)
    fn, tn = len(members) - tp, len(others) - fp
    p, n = len(members), len(others)
    readings = ((tp, fp, p, n), (tn, fn, n, p), (fp, tp, n, p), (fn, tn, p, n))
    return np.stack(
        [
            elb.RatioBound(a, b, na, nb, alpha).compute_bound(elb.BoundMethod.CLOPPER_PEARSON)
            for a, b, na, nb in readings
        ]
    )


def held_out_epsilon_bound(
    members: np.ndarray, others: np.ndarray, *, alpha: float = BOUND_ALPHA, seed: int = 0
) -> float:
    """A (1 - alpha) lower bound on epsilon from an attack's membership scores: the threshold and
    reading are chosen on a random half of members and non-members, and the Clopper-Pearson bound
    of that one ratio is computed on the other half. 0 when the attack shows nothing."""
    rng = np.random.default_rng(seed)
    m, o = rng.permutation(members), rng.permutation(others)
    (m1, m2), (o1, o2) = np.array_split(m, 2), np.array_split(o, 2)
    thresholds = np.unique(np.quantile(np.concatenate([m1, o1]), np.linspace(0, 1, 1001)))
    chosen = _ratio_bounds(m1, o1, thresholds, alpha)
    reading, index = np.unravel_index(np.argmax(chosen), chosen.shape)
    ratio = _ratio_bounds(m2, o2, thresholds[index : index + 1], alpha)[reading, 0]
    return float(np.log(ratio)) if ratio > 1 else 0.0


def logits_of(model: keras.Model, images: tf.Tensor, batch_size: int = 1000) -> np.ndarray:
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
    with _quiet_attack_library():
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
        with _quiet_attack_library():
            bound = held_out_epsilon_bound(result.membership_scores_train, result.membership_scores_test)
        out.append(
            AttackResult(
                attack=name,
                auc=float(result.get_auc()),
                advantage=float(result.get_attacker_advantage()),
                epsilon_lower_bound=bound,
            )
        )
    return out


def audit_run(run_dir: str, *, max_examples: int = 5000, data_dir: str | None = None, seed: int = 0) -> dict:
    """Attacks a dpzoo-train run's model (as exported: inference mode) with up to ``max_examples``
    of its training examples against as many test examples, stores the result in its model card
    and returns it."""
    _positive_count(max_examples)
    model, card = run_folder.load_run(run_dir)
    dataset = data.load(card["dataset"]["name"], data_dir)
    n_train = card["dataset"]["n_train"]  # the run trained on the first n_train examples
    count = min(n_train, len(dataset.x_test), max_examples)
    rng = np.random.default_rng(seed)
    members = rng.choice(n_train, size=count, replace=False)
    others = rng.choice(len(dataset.x_test), size=count, replace=False)
    preprocess = run_folder.preprocessor_from_card(card)
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


def audit_checkpoint(name: str, *, max_examples: int = 5000, data_dir: str | None = None, seed: int = 0) -> dict:
    """Attacks the zoo checkpoint or public backbone ``name`` (its verified files, copied aside:
    the shipped card is never rewritten) as ``audit_run`` does; returns its card with this audit.
    A backbone's members are its public training images: what a model trained without noise leaks."""
    folder = registry.fetch(registry.lookup(name))
    with tempfile.TemporaryDirectory(prefix="dpzoo-audit-") as scratch:
        copy = os.path.join(scratch, name)
        shutil.copytree(folder, copy)
        return audit_run(copy, max_examples=max_examples, data_dir=data_dir, seed=seed)


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
