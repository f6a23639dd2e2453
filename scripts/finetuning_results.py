"""Writes results/fashion_mnist_finetuning.md (+ PNG, + the model cards) from the DP-RandP runs
on Fashion-MNIST and the from-scratch run of the same model and recipe (a run whose folder is gone
is read from its committed card), and
results/text_finetuning.md (+ cards) from the runs of scripts/text_finetuning.sh.

  .venv/bin/python scripts/finetuning_results.py [--runs=runs/randp] [--text_runs=runs/text]
"""

import json
import os

from absl import app, flags

from dpzoo.artifacts import model_card
from dpzoo.zoo import plots

_RUNS = flags.DEFINE_string("runs", "runs/randp", "Folder of the prior and the fine-tuning runs.")
_TEXT_RUNS = flags.DEFINE_string("text_runs", "runs/text", "Runs of scripts/text_finetuning.sh.")
_TEXT_OUTPUT = flags.DEFINE_string("text_output", "results/text_finetuning", "Output stem of the text results.")
_OUTPUT = flags.DEFINE_string("output", "results/fashion_mnist_finetuning", "Output stem: .md, .png, folder of cards.")

PRIOR = "scatternet_cnn_gray28"
FINE_TUNED = {
    "ft_full_eps3_seed0": "DP-RandP prior, every layer",
    "ft_full_lr2_eps3_seed0": "DP-RandP prior, every layer, lr 2",
    "ft_full_lr8_eps3_seed0": "DP-RandP prior, every layer, lr 8",
    "ft_full_lr16_eps3_seed0": "DP-RandP prior, every layer, lr 16",
    "ft_head_eps3_seed0": "DP-RandP prior, head only",
    "ft_probe_eps1_43_seed0": "DP-RandP phase II alone: prior, head only, 10 epochs",
    "ft_probe_then_full_eps3_seed0": "DP-RandP phases II then III: the probe above, then every layer for 30 epochs",
}
TEXT_PRIOR = "bilstm_debian"
TEXT_RUNS = {
    "scratch_eps3": "from scratch",
    "full_eps3": "pretrained, full (LSTMs and head)",
    "lora_eps3": "pretrained, LoRA rank 8 (embedding) and head",
    "head_eps3": "pretrained, head only",
}
SCRATCH = ("results/fashion_mnist_scatternet/scatternet_cnn_eps3.json", "from scratch (Tramer & Boneh's recipe)")


def _card(runs: str, name: str, output: str) -> dict:
    """A run's card: from its folder under ``runs``, else the copy an earlier call wrote under
    ``output`` (run folders are not kept; the committed cards are the record)."""
    folder = os.path.join(runs, name)
    if os.path.isdir(folder):
        return model_card.read(folder)
    with open(os.path.join(output, f"{name}.json")) as f:
        return json.load(f)


def _copy_cards(runs: str, names, output: str) -> None:
    """Copies the cards of the runs still under ``runs`` into ``output`` (the others are there already)."""
    model_card.copy_all(runs, [name for name in names if os.path.isdir(os.path.join(runs, name))], output)


def _row(label: str, card: dict) -> str:
    by_weights = card["results"]["test_accuracy_by_weights"]
    cells = " | ".join(f"{100 * by_weights[w]:.2f}%" for w in ("raw", "ema", "polyak"))
    trainable = card["model"].get("trainable_parameters", card["model"]["parameters"])
    return f"| {label} | {cells} | {trainable:,} | {card['privacy']['statement']} |"


def _epochs_before(card: dict) -> int:
    """The epochs of the private run a composed start made (0 for other runs): its curve goes first."""
    prior = card["privacy"].get("prior") or {}
    return round(prior["steps"] * prior["batch_size"] / prior["n"]) if prior else 0


def _curves(cards: dict[str, dict], path: str) -> str:
    figure, axes = plots.plt.subplots(figsize=(7, 4.8))
    for label, card in cards.items():
        rows = card["history"]
        before = _epochs_before(card)
        axes.plot([before + r["epoch"] for r in rows], [100 * r["val_accuracy"] for r in rows], label=label)
    axes.set_xlabel("epoch of private training, a composed start's included (epsilon grows to 3)")
    axes.set_ylabel("test accuracy (%), final weights")
    axes.set_ylim(40, 92)
    axes.grid(True, alpha=0.3)
    axes.legend(loc="upper center", bbox_to_anchor=(0.5, -0.16), ncol=2, fontsize=7)
    axes.set_title("ScatterNet CNN, Fashion-MNIST, epsilon 3: prior or none", fontsize=10)
    figure.tight_layout()
    return plots.save(figure, path)


def _text_results() -> None:
    runs = {name: _card(_TEXT_RUNS.value, name, _TEXT_OUTPUT.value) for name in TEXT_RUNS}
    prior = _card(_TEXT_RUNS.value, TEXT_PRIOR, _TEXT_OUTPUT.value)
    _copy_cards(_TEXT_RUNS.value, [TEXT_PRIOR, *TEXT_RUNS], _TEXT_OUTPUT.value)
    template = open(os.path.join(os.path.dirname(__file__), "text_finetuning_results.md.in")).read()
    text = template.format(
        table="\n".join(_row(TEXT_RUNS[name], card) for name, card in runs.items()),
        prior_accuracy=f"{100 * prior['results']['test_accuracy']:.2f}%",
        runs=model_card.results_table(list(runs.values())),
        stem=os.path.basename(_TEXT_OUTPUT.value),
    )
    with open(_TEXT_OUTPUT.value + ".md", "w") as f:
        f.write(text)
    print(f"wrote {_TEXT_OUTPUT.value}.md and {len(runs) + 1} cards")


def main(argv: list[str]) -> None:
    del argv
    _text_results()
    runs = {name: _card(_RUNS.value, name, _OUTPUT.value) for name in FINE_TUNED}
    prior = _card(_RUNS.value, PRIOR, _OUTPUT.value)
    with open(SCRATCH[0]) as f:
        scratch = json.load(f)
    _copy_cards(_RUNS.value, [PRIOR, *FINE_TUNED], _OUTPUT.value)
    cards = {SCRATCH[1]: scratch} | {FINE_TUNED[name]: card for name, card in runs.items()}
    _curves(cards, _OUTPUT.value + ".png")
    template = open(os.path.join(os.path.dirname(__file__), "finetuning_results.md.in")).read()
    table = "\n".join(_row(label, card) for label, card in cards.items())
    prior_accuracy = 100 * prior["results"]["test_accuracy"]
    text = template.format(
        table=table,
        prior_accuracy=f"{prior_accuracy:.2f}%",
        prior_command=prior["command"],
        commands="\n".join(card["command"] for card in runs.values()),
        runs=model_card.results_table(list(runs.values())),
        stem=os.path.basename(_OUTPUT.value),
    )
    with open(_OUTPUT.value + ".md", "w") as f:
        f.write(text)
    print(f"wrote {_OUTPUT.value}.md, .png and {len(runs) + 1} cards")


if __name__ == "__main__":
    app.run(main)
