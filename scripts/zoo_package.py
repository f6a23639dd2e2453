"""Packs the runs of scripts/zoo_train.sh into the zoo: dpzoo/zoo/checkpoints/NAME/ (card, checkpoint,
training curves) and dpzoo/zoo/checkpoints/index.json (one ZooEntry per run, sha256 of every file), plus
the zoo's accuracy-against-epsilon plot, results/zoo.png, drawn from every packed card. Entries of the
index without a run here stay as they are, so new checkpoints join the zoo without retraining the others.
The public backbones' runs (--backbones, one folder per backbone name) go the same way into
dpzoo/zoo/checkpoints/backbones.json.

  .venv/bin/python scripts/zoo_package.py [--runs=runs/zoo] [--backbones=runs/backbones]

Each run must carry its membership-inference audit (dpzoo-audit --run_dir); a backbone must also be
a run without noise on data public by construction (dpzoo.data.RANDOM_PROCESS_DATASETS). The indexes are written last, so a
failed packing leaves the previous ones in place.
"""

import os
import shutil
import sys

from absl import app, flags

from dpzoo import data, zoo
from dpzoo.artifacts import model_card
from dpzoo.zoo import plots, registry

_RUNS = flags.DEFINE_string("runs", "runs/zoo", "Runs of scripts/zoo_train.sh, one folder per checkpoint name.")
_BACKBONES = flags.DEFINE_string(
    "backbones", "runs/backbones", "Runs of the public backbones (no noise, public data), one folder per name."
)
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
    "scatternet_linear_centered": "ScatterNet + linear, centred features",
    "scatternet_linear_centered_scaled": "ScatterNet + linear, centred features, orders 0-1 scaled",
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


# a backbone's pretraining data -> (its paper, the task it was trained on)
BACKBONE_TASKS = {
    name: (
        "Tang et al. 2023 (DP-RandP), phase I with a supervised proxy task",
        "name which of the 10 random processes drew each image",
    )
    for name in data.RANDOM_PROCESS_DATASETS
}


def _files(folder: str) -> dict[str, str]:
    files = sorted(os.path.relpath(os.path.join(root, f), folder) for root, _, fs in os.walk(folder) for f in fs)
    return {f: zoo.sha256_of(os.path.join(folder, f)) for f in files}


def _audit(name: str, card: dict) -> dict[str, float]:
    """The run's membership-inference audit, attack -> implied epsilon lower bound; every zoo entry has one."""
    if "audit" not in card:
        sys.exit(f"{name} has no audit; run dpzoo-audit --run_dir on it (scripts/zoo_train.sh does).")
    return {a["attack"]: a["epsilon_lower_bound"] for a in card["audit"]["attacks"]}


def _entry(name: str, card: dict, folder: str) -> zoo.ZooEntry:
    method, paper = TAGS[_tag(name)]
    privacy = card["privacy"]
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
        audit=_audit(name, card),
        command=card["command"],
        files=_files(folder),
    )


def _backbone_entry(name: str, card: dict, folder: str) -> zoo.BackboneEntry:
    dataset = card["dataset"]["name"]
    if card["privacy"]["guarantee"] != "none" or dataset not in BACKBONE_TASKS:
        sys.exit(
            f"{name}: a public backbone is a run without noise on data public by construction "
            f"({', '.join(BACKBONE_TASKS)}); this one is {card['privacy']['guarantee']} on {dataset}."
        )
    paper, task = BACKBONE_TASKS[dataset]
    return zoo.BackboneEntry(
        name=name,
        model=card["model"]["name"],
        paper=paper,
        dataset=dataset,
        data_source=card["dataset"]["source"],
        task=task,
        test_accuracy=card["results"]["test_accuracy"],
        audit=_audit(name, card),
        command=card["command"],
        files=_files(folder),
    )


def _pack(name: str, run_dir: str, make_entry=_entry) -> zoo.ZooEntry | zoo.BackboneEntry:
    """Copies the run's card and checkpoint (no SavedModel, no TensorBoard logs) and draws its curves."""
    card = model_card.read(run_dir)
    folder = os.path.join(zoo.CHECKPOINT_DIR, name)
    shutil.rmtree(folder, ignore_errors=True)
    shutil.copytree(os.path.join(run_dir, "checkpoint"), os.path.join(folder, "checkpoint"))
    model_card.write(card, folder)
    with open(os.path.join(folder, "model_card.md"), "a") as f:
        f.write("\n## Training curves\n\n![accuracy and epsilon per epoch](curves.png)\n")
    plots.training_curves(card, os.path.join(folder, "curves.png"))
    return make_entry(name, card, folder)


def _runs(folder: str) -> dict:
    return model_card.read_all(folder) if os.path.isdir(folder) else {}


def _pack_backbones(runs: dict) -> None:
    packed = {name: _pack(name, os.path.join(_BACKBONES.value, name), _backbone_entry) for name in runs}
    kept = [b for b in zoo.read_backbones() if b.name not in packed]
    registry.write_index(sorted([*kept, *packed.values()], key=lambda b: b.name), name=registry.BACKBONE_INDEX)
    print(f"Packed {len(packed)} public backbones into {zoo.CHECKPOINT_DIR}")


def main(argv: list[str]) -> None:
    del argv
    runs, backbones = _runs(_RUNS.value), _runs(_BACKBONES.value)
    if not runs and not backbones:
        sys.exit(f"No runs under {_RUNS.value} or {_BACKBONES.value}; run scripts/zoo_train.sh first.")
    if backbones:
        _pack_backbones(backbones)
    if not runs:
        return
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
