"""Audits every zoo checkpoint's recipe with canaries, then folds the audits into the zoo.

  .venv/bin/python scripts/zoo_canary_audits.py [--canaries=5000] [--black_box_canaries=1000]
      [--only=NAME,...] [--nofold]

1. Each card's own training command runs again with --audit_canaries (dpzoo.privacy.canaries), into
   runs/zoo_canary_audits/<name>/. A recipe already audited (its folder has a card) is skipped, so
   a stopped sweep continues where it stopped. ModelMix's recipes run with --modelmix_mixing=fixed:
   the canaries read every noisy sum, so they test its DP-SGD steps, not the credit its accountant
   gives the mixing. A recipe white-box canaries cannot test (no noise in its update: SIDP's
   nominal claim) runs with black-box input canaries instead (--audit_mode=black_box).
2. Each checkpoint's card gains a ``recipe_canary_audit`` section (the audited run's canary audit,
   its command and what it stated), the index entry its ``canary_audit`` summary and the card
   files' new sha256. With --only, only those checkpoints are folded. The weights are not touched:
   the audit tests the recipe that trained them, in a run of its own.
"""

import dataclasses
import os
import shlex
import subprocess
import sys

from absl import app, flags

from dpzoo import zoo
from dpzoo.artifacts import model_card
from dpzoo.training import TrainConfig, canary_audit
from dpzoo.zoo import registry

_CANARIES = flags.DEFINE_integer("canaries", 5000, "White-box canaries per run.", lower_bound=2)
_BLACK_BOX_CANARIES = flags.DEFINE_integer(
    "black_box_canaries",
    1000,
    "Black-box input canaries per run (recipes white-box canaries cannot test).",
    lower_bound=2,
)
_OUTPUT = flags.DEFINE_string("output", "runs/zoo_canary_audits", "Folder of the audited runs, one per checkpoint.")
_ONLY = flags.DEFINE_list("only", [], "Audit these checkpoints only (default: all).")
_FOLD = flags.DEFINE_bool("fold", True, "Fold the audits into the zoo's cards and index once all are done.")
_DROPPED = ("--output_dir", "--overwrite")
SUMMARY = (  # what the index keeps of a recipe's audit (a black-box audit has no noise check)
    "mode",
    "canaries",
    "guesses",
    "correct",
    "epsilon_lower_bound",
    "noise_epsilon_lower_bound",
    "confidence",
    "claimed_epsilon",
)
MODELMIX_NOTE = (
    "run with the checkpoint's sigma and --modelmix_mixing=fixed: the canaries read every noisy sum, so they test "
    "ModelMix's DP-SGD steps against the DP-SGD epsilon of that sigma, not the credit ModelMix's accountant gives "
    "the mixing"
)


def white_box_refusal(entry: zoo.ZooEntry) -> str | None:
    """Why white-box canaries cannot audit the checkpoint's recipe (None: they can)."""
    return canary_audit.refusal(TrainConfig(noise_multiplier=1.0, method=entry.method, modelmix_mixing="fixed"))


def mode_of(entry: zoo.ZooEntry) -> str:
    """White-box where it applies (far tighter for DP-SGD), black-box where it cannot."""
    return canary_audit.BLACK_BOX if white_box_refusal(entry) else canary_audit.WHITE_BOX


def audit_command(entry: zoo.ZooEntry, output_dir: str) -> list[str]:
    """The checkpoint's training command with canaries, into ``output_dir``. ModelMix's runs keep
    the checkpoint's sigma (calibrated for ModelMix's accountant) with the mixing fixed, so the
    canaries test the noisy sums that trained it against the DP-SGD epsilon of that sigma."""
    dropped = (*_DROPPED, "--target_epsilon") if entry.method == "modelmix" else _DROPPED
    args = [a for a in shlex.split(entry.command)[1:] if not a.startswith(dropped)]
    if mode_of(entry) == canary_audit.BLACK_BOX:
        args += [f"--audit_canaries={_BLACK_BOX_CANARIES.value}", "--audit_mode=black_box"]
    else:
        args += [f"--audit_canaries={_CANARIES.value}"]
    args += [f"--output_dir={output_dir}", "--overwrite"]
    if entry.method == "modelmix":
        sigma = model_card.read(zoo.fetch(entry))["privacy"]["noise_multiplier"]
        args += ["--modelmix_mixing=fixed", f"--noise_multiplier={sigma!r}"]
    return [os.path.join(os.path.dirname(sys.executable), "dpzoo-train"), *args]


def run_audits(entries: list[zoo.ZooEntry]) -> None:
    """Runs the audit of every auditable recipe not audited yet."""
    os.makedirs(_OUTPUT.value, exist_ok=True)
    for number, entry in enumerate(entries, 1):
        output_dir = os.path.join(_OUTPUT.value, entry.name)
        if os.path.exists(os.path.join(output_dir, model_card.CARD_JSON)):
            print(f"[{number}/{len(entries)}] {entry.name}: audited already", flush=True)
            continue
        command = audit_command(entry, output_dir)
        print(f"[{number}/{len(entries)}] {entry.name}: {shlex.join(command)}", flush=True)
        with open(f"{output_dir}.log", "w") as log:
            subprocess.run(command, check=True, stdout=log, stderr=subprocess.STDOUT)


def recipe_audit(entry: zoo.ZooEntry, audited: dict) -> dict:
    """The checkpoint card's section: the audited run's canary audit, its command and accuracy."""
    section = {
        **audited["canary_audit"],
        "command": audited["command"],
        "audited_run_statement": audited["privacy"]["statement"],
        "audited_run_test_accuracy": audited["results"]["test_accuracy"],
    }
    if entry.method == "modelmix":
        section["note"] = MODELMIX_NOTE
    if mode_of(entry) == canary_audit.BLACK_BOX:
        section["note"] = f"black-box, as white-box canaries cannot test it: {white_box_refusal(entry)}"
    return section


def fold(entry: zoo.ZooEntry, audited: dict) -> zoo.ZooEntry:
    """Writes the section into the checkpoint's card (Markdown with its curves) and returns the
    index entry with the summary and the files' sha256 now on disk."""
    folder = os.path.join(zoo.CHECKPOINT_DIR, entry.name)
    card = model_card.read(folder)
    card["recipe_canary_audit"] = recipe_audit(entry, audited)
    model_card.write(card, folder)
    with open(os.path.join(folder, model_card.CARD_MARKDOWN), "a") as f:
        f.write("\n## Training curves\n\n![accuracy and epsilon per epoch](curves.png)\n")
    summary = {key: card["recipe_canary_audit"][key] for key in SUMMARY if key in card["recipe_canary_audit"]}
    files = {f: zoo.sha256_of(os.path.join(folder, f)) for f in entry.files}
    return dataclasses.replace(entry, canary_audit=summary, files=files)


def main(argv: list[str]) -> None:
    del argv
    entries = zoo.read_index()
    selected = [e for e in entries if not _ONLY.value or e.name in _ONLY.value]
    run_audits(selected)
    if not _FOLD.value:
        return
    audits = model_card.read_all(_OUTPUT.value)
    missing = [e.name for e in selected if e.name not in audits]
    if missing:
        sys.exit(f"Not folded: no audited run under {_OUTPUT.value} for {', '.join(missing)}.")
    registry.write_index([fold(e, audits[e.name]) if e in selected else e for e in entries])
    print(f"Folded {len(selected)} recipe audits into {zoo.CHECKPOINT_DIR}")


if __name__ == "__main__":
    app.run(main)
