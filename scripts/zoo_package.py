"""Packs the runs of scripts/zoo_train.sh into the zoo: dpzoo/zoo/checkpoints/NAME/ (card, checkpoint,
training curves) and dpzoo/zoo/checkpoints/index.json (one ZooEntry per run, sha256 of every file), plus
the zoo's accuracy-against-epsilon plot, results/zoo.png, drawn from every packed card. Entries of the
index without a run here stay as they are, so new checkpoints join the zoo without retraining the others.

  .venv/bin/python scripts/zoo_package.py [--runs=runs/zoo]

Each run must carry its audit (dpzoo-audit); the index is written last, so a failed packing leaves
the previous index in place.
"""

import os
import shutil
import sys

from absl import app, flags

from dpzoo import zoo
from dpzoo.artifacts import model_card
from dpzoo.zoo import plots, registry

_RUNS = flags.DEFINE_string("runs", "runs/zoo", "Runs of scripts/zoo_train.sh, one folder per checkpoint name.")
_PLOT = flags.DEFINE_string("plot", "results/zoo.png", "The zoo's accuracy-against-epsilon plot.")

# the tag after the epsilon in a name -> (method label, key of zoo.PAPERS)
TAGS = {
    "dpsgd": ("dpsgd", "dpsgd"),
    "de22": ("de22", "de22"),
    "modelmix": ("modelmix", "modelmix"),
    "sidp_dp": ("sidp_dp", "sidp_dp"),
    "sidp_nominal": ("sidp", "sidp"),
}
METHOD_LABELS = {
    "dpsgd": "DP-SGD",
    "de22": "De et al. 2022 recipe",
    "modelmix": "ModelMix",
    "sidp_dp": "SIDP + DP-SGD noise",
    "sidp": "SIDP as published (nominal)",
}
MODEL_LABELS = {  # the architecture part of a name
    "tutorial_cnn": "tutorial CNN",
    "tutorial_cnn_ws": "WS CNN",
    "tutorial_cnn_gn": "tutorial CNN (GN)",
    "lenet5_sidp": "LN-LeNet-5",
    "scatternet_cnn": "ScatterNet CNN",
    "scatternet_linear": "ScatterNet + linear",
}
# published points on Fashion-MNIST (METHODS.md): Tramer & Boneh's end-to-end CNN and ScatterNet at
# epsilon 3 (as the results tables cite them), ModelMix's ScatterNet CNN at epsilon 1
ANCHORS = (
    ("Tramer & Boneh CNN", 3.0, 86.0),
    ("Tramer & Boneh ScatterNet", 3.0, 89.7),
    ("ModelMix ScatterNet (paper)", 1.0, 88.8),
)


def _label(entry: zoo.ZooEntry) -> str:
    """The plot's line of an entry: method and architecture."""
    return f"{METHOD_LABELS[entry.method]}, {MODEL_LABELS[entry.name.split('.', 1)[0]]}"


def _tag(name: str) -> str:
    """'lenet5_sidp.fmnist_eps1_sidp_dp' -> 'sidp_dp'."""
    return name.split(".", 1)[1].split("_", 2)[2]


def _entry(name: str, card: dict, folder: str) -> zoo.ZooEntry:
    method, paper = TAGS[_tag(name)]
    if "audit" not in card:
        sys.exit(f"{name} has no audit; run dpzoo-audit --run_dir on it (scripts/zoo_train.sh does).")
    privacy = card["privacy"]
    files = sorted(os.path.relpath(os.path.join(root, f), folder) for root, _, fs in os.walk(folder) for f in fs)
    return zoo.ZooEntry(
        name=name,
        model=card["model"]["name"],
        method=method,
        paper=zoo.PAPERS[paper],
        dataset=card["dataset"]["name"],
        epsilon=privacy["epsilon"],
        delta=privacy["delta"],
        accountant=privacy["accountant"],
        sampling=privacy["sampling"],
        guarantee=privacy["guarantee"],
        test_accuracy=card["results"]["test_accuracy"],
        audit={a["attack"]: a["epsilon_lower_bound"] for a in card["audit"]["attacks"]},
        command=card["command"],
        files={f: zoo.sha256_of(os.path.join(folder, f)) for f in files},
    )


def _pack(name: str, run_dir: str) -> zoo.ZooEntry:
    """Copies the run's card and checkpoint (no SavedModel, no TensorBoard logs) and draws its curves."""
    card = model_card.read(run_dir)
    folder = os.path.join(zoo.CHECKPOINT_DIR, name)
    shutil.rmtree(folder, ignore_errors=True)
    shutil.copytree(os.path.join(run_dir, "checkpoint"), os.path.join(folder, "checkpoint"))
    model_card.write(card, folder)
    with open(os.path.join(folder, "model_card.md"), "a") as f:
        f.write("\n## Training curves\n\n![accuracy and epsilon per epoch](curves.png)\n")
    plots.training_curves(card, os.path.join(folder, "curves.png"))
    return _entry(name, card, folder)


def main(argv: list[str]) -> None:
    del argv
    runs = model_card.read_all(_RUNS.value)
    if not runs:
        sys.exit(f"No runs under {_RUNS.value}; run scripts/zoo_train.sh first.")
    packed = {name: _pack(name, os.path.join(_RUNS.value, name)) for name in runs}
    kept = [e for e in zoo.read_index() if e.name not in packed]
    entries = sorted([*kept, *packed.values()], key=lambda e: e.name)
    by_method: dict[str, list[dict]] = {}
    for e in entries:
        by_method.setdefault(_label(e), []).append(model_card.read(os.path.join(zoo.CHECKPOINT_DIR, e.name)))
    plots.accuracy_vs_epsilon(by_method, _PLOT.value, anchors=ANCHORS, title="dpzoo checkpoints on Fashion-MNIST")
    registry.write_index(entries)
    print(
        f"Packed {len(packed)} checkpoints ({len(entries)} in the index) into {zoo.CHECKPOINT_DIR}; plot {_PLOT.value}"
    )


if __name__ == "__main__":
    app.run(main)
