"""dpzoo-audit: what a private run leaks, measured two ways; the result goes into a model card.

Membership inference on a trained model (members are training examples, non-members as many
test examples; TF Privacy's threshold and logistic-regression attacks):

  dpzoo-audit --run_dir=runs/fmnist_cnn_eps3 --max_examples=5000     # the result goes into the run's card
  dpzoo-audit --checkpoint=tutorial_cnn.fmnist_eps3_dpsgd             # a zoo checkpoint, against its card's audit
  dpzoo-audit --checkpoint=scatternet_cnn.random_processes_gray28      # a public backbone: no epsilon, no noise

A one-run canary audit of a recipe: a run of the config with M white-box gradient canaries
(dpzoo.privacy.canaries), whose card gets the epsilon lower bound they show:

  dpzoo-audit --config=train/configs/fashion_mnist/quickstart.py --canaries=1000 --output_dir=runs/quickstart_audit

Exit code 1 when a formally private run leaks more than its epsilon allows (an attack's or the
canaries' lower bound exceeds it).
"""

import dataclasses
import shlex
import sys

from absl import flags

from dpzoo import training, zoo
from dpzoo.artifacts import model_card
from dpzoo.cli import app
from dpzoo.cli.config_files import load_config
from dpzoo.common.errors import UsageError
from dpzoo.training import canary_audit
from dpzoo.zoo import audit

_RUN_DIR = flags.DEFINE_string("run_dir", None, "Output folder of dpzoo-train (model_card.json + checkpoint/).")
_CHECKPOINT = flags.DEFINE_string(
    "checkpoint", None, "A zoo checkpoint or public backbone (dpzoo-zoo list), instead of --run_dir."
)
_CONFIG = flags.DEFINE_string(
    "config", None, "A training config (as dpzoo-train --config) to run with --canaries, instead of --run_dir."
)
_CANARIES = flags.DEFINE_integer(
    "canaries", 1000, "With --config: the canaries M planted in the run (--mode says which).", lower_bound=2
)
_MODE = flags.DEFINE_enum(
    "mode",
    canary_audit.WHITE_BOX,
    list(canary_audit.MODES),
    "With --config: white_box (gradient canaries scored on every step's noisy sum, Nasr et al. 2023) or "
    "black_box (mislabelled training examples scored by the final model's loss: any method, far weaker bounds).",
)
_OUTPUT_DIR = flags.DEFINE_string(
    "output_dir", None, "With --config: the audited run's folder (default: the config's output_dir + '_canary_audit')."
)
_OVERWRITE = flags.DEFINE_bool("overwrite", False, "With --config: replace a non-empty --output_dir.")
_MAX_EXAMPLES = flags.DEFINE_integer("max_examples", 5000, "Members (and as many non-members) to attack with.")
_DATA_DIR = flags.DEFINE_string("data_dir", None, "Folder with the dataset's files, if not found by default.")
_SEED = flags.DEFINE_integer("seed", 0, "Seed of the choice of members and non-members.")


def main(argv: list[str]) -> None:
    del argv
    if sum(value is not None for value in (_RUN_DIR.value, _CHECKPOINT.value, _CONFIG.value)) != 1:
        raise UsageError(
            "Give exactly one of --run_dir (a training run), --checkpoint (a zoo checkpoint) or --config (a recipe "
            "to audit with --canaries)."
        )
    if _CONFIG.value:
        _canary_audit()
        return
    _membership_inference()


def _canary_audit() -> None:
    """Trains the config with canaries, prints the card's canary audit; exit 1 above a formal claim."""
    config = load_config(_CONFIG.value)
    output_dir = _OUTPUT_DIR.value or f"{config.output_dir.rstrip('/')}_canary_audit"
    config = dataclasses.replace(
        config,
        audit_canaries=_CANARIES.value,
        audit_mode=_MODE.value,
        output_dir=output_dir,
        overwrite=_OVERWRITE.value,
    )
    result = training.run(config, command=shlex.join(["dpzoo-audit", *sys.argv[1:]]))
    card = result.card
    print(f"{card['model']['name']}: {card['privacy']['statement']}")
    print("\n".join(model_card.canary_audit_lines(card["canary_audit"])).strip())
    if result.wrote:
        print(f"Audited run written to {result.output_dir}")
    failed = canary_audit.failures(card["canary_audit"])
    if card["privacy"]["guarantee"] == "formal" and failed:
        print(f"AUDIT FAILED: {'; '.join(failed)}.")
        sys.exit(1)


def _membership_inference() -> None:
    """Attacks a run's or a zoo checkpoint's model; exit 1 above a formal claim."""
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
        recorded = zoo.lookup(_CHECKPOINT.value).audit
        print("Recorded in its card: " + ", ".join(f"{k} epsilon >= {v:.3f}" for k, v in recorded.items()))
    broken = audit.exceeds_guarantee(card)
    if broken:
        print(f"AUDIT FAILED: {', '.join(broken)} imply more than the formal epsilon {privacy['epsilon']:.4g}.")
        sys.exit(1)


def run() -> None:
    app.run(main)


if __name__ == "__main__":
    run()
