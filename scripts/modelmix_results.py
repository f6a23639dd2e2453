"""Writes results/fashion_mnist_modelmix.md (+ PNG, + the model cards) from the runs of
scripts/modelmix_table.sh.

  .venv/bin/python scripts/modelmix_results.py [--runs=runs/modelmix]
"""

import os
import sys

from absl import app, flags

from dpzoo.artifacts import model_card
from dpzoo.zoo import plots

_RUNS = flags.DEFINE_string("runs", "runs/modelmix", "Runs of scripts/modelmix_table.sh.")
_OUTPUT = flags.DEFINE_string(
    "output", "results/fashion_mnist_modelmix", "Output stem: .md, .png and a folder of cards."
)

EPSILONS = (1.0, 3.0, 8.0)
# Xiao et al. on Fashion-MNIST (METHODS.md section 3): ScatterNet CNN, with and without ModelMix
ANCHORS = (("ModelMix, ScatterNet (paper)", 1.0, 88.8), ("Tramer & Boneh, ScatterNet (paper)", 1.0, 85.6))


def _variant(card: dict) -> str:
    if card["training"]["method"] != "modelmix":
        return "DP-SGD (same recipe, no mixing)"
    return f"ModelMix, tau/eta {card['training']['modelmix_tau_ratio']:g}"


def _rows(cards: dict[str, dict]) -> dict[str, dict[float, dict]]:
    """Variant -> target epsilon -> card, DP-SGD first."""
    rows: dict[str, dict[float, dict]] = {}
    for card in sorted(cards.values(), key=lambda c: (c["training"]["method"] != "dpsgd", _variant(c))):
        rows.setdefault(_variant(card), {})[card["training"]["target_epsilon"]] = card
    return rows


def _cell(card: dict | None, text) -> str:
    return text(card) if card else "not run"


def _accuracies(card: dict) -> str:
    """Raw weights, and their EMA (post-processing: same epsilon)."""
    by_weights = card["results"]["test_accuracy_by_weights"]
    return f"{100 * by_weights['raw']:.2f}% ({100 * by_weights['ema']:.2f}% EMA)"


def _accuracy_table(rows: dict[str, dict[float, dict]]) -> list[str]:
    lines = [
        "| method | " + " | ".join(f"eps {e:g}" for e in EPSILONS) + " |",
        "|---|" + "---|" * len(EPSILONS),
    ]
    for variant, by_eps in rows.items():
        cells = [_cell(by_eps.get(e), _accuracies) for e in EPSILONS]
        lines.append(f"| {variant} | " + " | ".join(cells) + " |")
    return lines


def _noise(card: dict) -> str:
    """sigma, and which accountant's epsilon the card states."""
    privacy = card["privacy"]
    text = f"sigma {privacy['noise_multiplier']:.3g}"
    if privacy.get("modelmix"):
        mixing = privacy["modelmix"]
        text += f"; ModelMix {mixing['modelmix_epsilon']:.3g}, DP-SGD {mixing['dpsgd_epsilon']:.3g}"
    return text + f" -> {privacy['epsilon']:.3g} ({privacy['accountant']})"


def _noise_table(rows: dict[str, dict[float, dict]]) -> list[str]:
    lines = [
        "| method | " + " | ".join(f"eps {e:g}" for e in EPSILONS) + " |",
        "|---|" + "---|" * len(EPSILONS),
    ]
    for variant, by_eps in rows.items():
        lines.append(f"| {variant} | " + " | ".join(_cell(by_eps.get(e), _noise) for e in EPSILONS) + " |")
    return lines


def main(argv: list[str]) -> None:
    del argv
    cards = model_card.read_all(_RUNS.value)
    if not cards:
        sys.exit(f"No model cards under {_RUNS.value}; run scripts/modelmix_table.sh first.")
    model_card.copy_all(_RUNS.value, cards, _OUTPUT.value)
    rows = _rows(cards)
    plots.accuracy_vs_epsilon(
        {variant: list(by_eps.values()) for variant, by_eps in rows.items()},
        _OUTPUT.value + ".png",
        anchors=ANCHORS,
        title="Fashion-MNIST: ModelMix vs DP-SGD (tutorial CNN, GroupNorm)",
    )
    with open(_OUTPUT.value + ".md.partial", "w") as f:
        f.write(
            TEMPLATE.format(
                accuracy="\n".join(_accuracy_table(rows)),
                noise="\n".join(_noise_table(rows)),
                full=model_card.results_table(list(cards.values())),
                png=os.path.basename(_OUTPUT.value) + ".png",
                cards=os.path.basename(_OUTPUT.value),
            )
        )
    os.replace(_OUTPUT.value + ".md.partial", _OUTPUT.value + ".md")
    print(f"Wrote {_OUTPUT.value}.md, .png and the model cards")


TEMPLATE = """# Fashion-MNIST: ModelMix (Xiao, Wan, Devadas) against DP-SGD

Test accuracy on the 10,000 Fashion-MNIST test images at the epsilon each run states (delta 1e-5,
Poisson sampling, formal guarantee): the final weights, and in brackets their EMA (mu 0.999 with
warm-up, post-processing, so the same epsilon). One recipe for every cell (train/configs/modelmix/fashion_mnist.py):
the tutorial CNN with GroupNorm and tanh, plain SGD lr 4, C 1, refined clipping p 100 (coordinates
clamped to C/10 after L2 clipping), batch 1024, 5 epochs (295 steps). ModelMix rows mix the two
latest states around every step with the gap tau = (tau/eta) * lr; tau/eta 0.0075 is the paper's
ratio tau / (eta C) = 0.15 / 20 at C = 1. For each ModelMix run sigma is calibrated so that the
smaller of ModelMix's epsilon and DP-SGD's (PLD) meets the target, and that smaller one is stated.
DP-SGD rows: the same recipe without mixing, sigma calibrated with PLD. One run per cell (seed 0),
2-core CPU, about three minutes per run. Commands: `bash scripts/modelmix_table.sh`, then
`.venv/bin/python scripts/modelmix_results.py`; each run's exact command is in the full table and
its model card ([{cards}/]({cards}/)).

{accuracy}

![accuracy against epsilon]({png})

The noise each run trains with, and which epsilon it states (ModelMix's, DP-SGD's, the stated
one and its accountant):

{noise}

On this model and budget, mixing costs more accuracy than the noise it saves buys back. ModelMix's
accountant lets the runs train with far less Gaussian noise (sigma 0.15 instead of 0.58 at epsilon 8
with tau/eta 0.0075), but the uniform noise that pays for it is larger: each step the mixing moves
every coordinate by a uniform fraction of a gap of at least tau, a per-coordinate std of about
(tau/eta) / sqrt(12) = 0.0022 in gradient units against DP-SGD's sigma C / B = 0.0006 at epsilon 8.
Accuracy then hardly depends on epsilon (74-75% with tau/eta 0.0075, 78-80% with 0.002) and stays
below DP-SGD's (83-84.5%) at every epsilon. (These runs' ModelMix epsilons were computed over the paper's orders 2..19, as
their cards record; dpzoo now uses 2..127.) At epsilon 1 with tau/eta 0.002 ModelMix's bound is not
the smaller one, so that run states DP-SGD's epsilon and its mixing only costs accuracy. The EMA of
the weights recovers 1 to 3.5 points of the mixing's jitter. The paper reports the opposite on
CIFAR-10 with ResNet-20 (+14 points at epsilon 8) and 88.8% on Fashion-MNIST at epsilon 1 with
ScatterNet features; neither setting ran here (CIFAR-10 is not installed, ScatterNet features are
not in the zoo, and ResNet-20 runs do not fit this CPU), so this table does not contradict them, but
the gain is not general: on a small end-to-end CNN at batch 1024 ModelMix loses to DP-SGD.

## Every run

{full}"""

if __name__ == "__main__":
    app.run(main)
