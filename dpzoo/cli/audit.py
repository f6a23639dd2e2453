"""dpzoo-audit: membership-inference attacks on a trained run; the result goes into its model card.

  dpzoo-audit --run_dir=runs/fmnist_cnn_eps3 --max_examples=5000     # the result goes into the run's card
  dpzoo-audit --checkpoint=tutorial_cnn.fmnist_eps3_dpsgd             # a zoo checkpoint, against its card's audit

Members are training examples of the run, non-members test examples, equally many. Exit code 1
when a formally private model leaks more than its epsilon allows (an attack's implied epsilon
lower bound exceeds it).
"""

import sys

from absl import flags

from dpzoo import zoo
from dpzoo.cli import app
from dpzoo.common.errors import UsageError
from dpzoo.zoo import audit

_RUN_DIR = flags.DEFINE_string("run_dir", None, "Output folder of dpzoo-train (model_card.json + checkpoint/).")
_CHECKPOINT = flags.DEFINE_string("checkpoint", None, "A zoo checkpoint (dpzoo-zoo list), instead of --run_dir.")
_MAX_EXAMPLES = flags.DEFINE_integer("max_examples", 5000, "Members (and as many non-members) to attack with.")
_DATA_DIR = flags.DEFINE_string("data_dir", None, "Folder with the dataset's files, if not found by default.")
_SEED = flags.DEFINE_integer("seed", 0, "Seed of the choice of members and non-members.")


def main(argv: list[str]) -> None:
    del argv
    if (_RUN_DIR.value is None) == (_CHECKPOINT.value is None):
        raise UsageError("Give exactly one of --run_dir (a training run) or --checkpoint (a zoo checkpoint).")
    options = dict(max_examples=_MAX_EXAMPLES.value, data_dir=_DATA_DIR.value, seed=_SEED.value)
    if _CHECKPOINT.value:
        card = audit.audit_checkpoint(_CHECKPOINT.value, **options)
    else:
        card = audit.audit_run(_RUN_DIR.value, **options)
    privacy = card["privacy"]
    print(f"{card['model']['name']}: {privacy['statement']}")
    for attack in card["audit"]["attacks"]:
        print(
            f"  {attack['attack']:>19}: AUC {attack['auc']:.3f}, advantage {attack['advantage']:.3f}, "
            f"implied epsilon >= {attack['epsilon_lower_bound']:.3f}"
        )
    if _RUN_DIR.value:
        print(f"Audit written to {_RUN_DIR.value}/model_card.json and model_card.md")
    else:
        recorded = zoo.entry(_CHECKPOINT.value).audit
        print("Recorded in its card: " + ", ".join(f"{k} epsilon >= {v:.3f}" for k, v in recorded.items()))
    broken = audit.exceeds_guarantee(card)
    if broken:
        print(f"AUDIT FAILED: {', '.join(broken)} imply more than the formal epsilon {privacy['epsilon']:.4g}.")
        sys.exit(1)


def run() -> None:
    app.run(main)


if __name__ == "__main__":
    run()
