"""Writes results/fashion_mnist_scatternet.md (+ PNG, + the model cards) from the runs of
scripts/scatternet_table.sh: Tramer & Boneh's ScatterNets at epsilon 3, ModelMix's Fashion-MNIST
table with its tuning, the ablation of why ModelMix loses, and the runs towards 90% at epsilon 3.

  .venv/bin/python scripts/scatternet_results.py [--runs=runs/scatternet]
"""

import json
import os
import pathlib
import re
import shutil
import sys

from absl import app, flags

from dpzoo.artifacts import model_card
from dpzoo.zoo import plots

_RUNS = flags.DEFINE_string("runs", "runs/scatternet", "Runs of scripts/scatternet_table.sh.")
_OUTPUT = flags.DEFINE_string(
    "output", "results/fashion_mnist_scatternet", "Output stem: .md, .png and a folder of cards."
)

EPSILONS = (0.2, 0.4, 0.6, 0.8, 1.0)
PUBLISHED = {  # Xiao et al. (ModelMix), Fashion-MNIST, ScatterNet CNN (METHODS.md section 3)
    "dpsgd": (53.4, 74.0, 81.5, 84.5, 85.6),
    "modelmix": (83.9, 85.7, 86.1, 87.9, 88.8),
}
TRAMER_BONEH = {"scatternet_linear": ("ScatterNet + linear", 89.7), "scatternet_cnn": ("ScatterNet + CNN", 89.0)}
METHOD_NAMES = {"dpsgd": "DP-SGD", "modelmix": "DP-SGD + ModelMix"}


def _tag(eps: float) -> str:
    return f"{eps:g}".replace(".", "_")


def _percent(value: float) -> str:
    return f"{100 * value:.2f}%"


def _accuracies(card: dict) -> tuple[str, str, str]:
    by_weights = card["results"]["test_accuracy_by_weights"]
    return _percent(by_weights["raw"]), _percent(by_weights["ema"]), _percent(by_weights["polyak"])


def _stated(card: dict) -> str:
    """The stated epsilon, its accountant, and for ModelMix runs both epsilons."""
    privacy = card["privacy"]
    if privacy["guarantee"] == "none":
        return "none (not private)"
    text = f"{privacy['epsilon']:.3g} ({privacy['accountant']})"
    mixing = privacy.get("modelmix")
    if mixing:
        text += f"; ModelMix {mixing['modelmix_epsilon']:.3g}, DP-SGD {mixing['dpsgd_epsilon']:.3g}"
    elif "ablation" in privacy.get("reason", ""):
        text += "; ModelMix's not stated (ablation)"
    return text


def _gaussian_noise(card: dict) -> float:
    """DP-SGD's noise per coordinate per step in weight units: lr sigma C / B."""
    training = card["training"]
    return (
        training["learning_rate"]
        * card["privacy"]["noise_multiplier"]
        * training["l2_norm_clip"]
        / (training["batch_size"])
    )


def _mixing_rms(card: dict) -> str:
    values = [row["mixing_rms"] for row in card["history"] if "mixing_rms" in row]
    return f"{sum(values) / len(values):.2e}" if values else "-"


def _group(cards: dict[str, dict], prefix: str) -> dict[str, dict]:
    return {name[len(prefix) :]: card for name, card in cards.items() if name.startswith(prefix)}


def tramer_boneh_table(cards: dict[str, dict]) -> list[str]:
    lines = [
        "| model | published | dpzoo: final weights | EMA | Polyak | epsilon stated | sigma | steps |",
        "|---|---|---|---|---|---|---|---|",
    ]
    for model, (label, published) in TRAMER_BONEH.items():
        card = cards.get(f"{model}_eps3")
        if card is None:
            lines.append(f"| {label} | {published}% | not run | | | | | |")
            continue
        raw, ema, polyak = _accuracies(card)
        privacy = card["privacy"]
        lines.append(
            f"| {label} | {published}% | {raw} | {ema} | {polyak} | {_stated(card)} | "
            f"{privacy['noise_multiplier']:.3g} | {privacy['steps']} |"
        )
    return lines


def modelmix_table(cards: dict[str, dict]) -> list[str]:
    lines = ["| method | " + " | ".join(f"eps {e:g}" for e in EPSILONS) + " |", "|---|" + "---|" * len(EPSILONS)]
    for method, label in METHOD_NAMES.items():
        lines.append(f"| {label}, published | " + " | ".join(f"{a}%" for a in PUBLISHED[method]) + " |")
        cells = []
        for eps in EPSILONS:
            card = cards.get(f"cnn_{method}_eps{_tag(eps)}")
            cells.append("not run" if card is None else f"**{_accuracies(card)[0]}** ({_accuracies(card)[1]} EMA)")
        lines.append(f"| {label}, dpzoo | " + " | ".join(cells) + " |")
    for method, label in METHOD_NAMES.items():
        cells = []
        for eps in EPSILONS:
            card = cards.get(f"cnn_{method}_eps{_tag(eps)}")
            cells.append("" if card is None else f"sigma {card['privacy']['noise_multiplier']:.3g}: {_stated(card)}")
        lines.append(f"| {label}: noise, epsilon stated | " + " | ".join(cells) + " |")
    return lines


def runs_table(cards: dict[str, dict], columns: str) -> list[str]:
    """One row per run: its settings, noise, stated epsilon, mixing and accuracies."""
    lines = [
        f"| {columns} | B | lr | epochs | sigma | lr sigma C / B | mixing_rms | epsilon stated | final | EMA | Polyak |",
        "|---|---|---|---|---|---|---|---|---|---|---|",
    ]
    for name, card in cards.items():
        training = card["training"]
        raw, ema, polyak = _accuracies(card)
        schedule = "" if training.get("lr_schedule", "constant") == "constant" else f" ({training['lr_schedule']})"
        lines.append(
            f"| {name} | {training['batch_size']} | {training['learning_rate']:g}{schedule} | {training['epochs']} | "
            f"{card['privacy']['noise_multiplier']:.3g} | {_gaussian_noise(card):.2e} | {_mixing_rms(card)} | "
            f"{_stated(card)} | {raw} | {ema} | {polyak} |"
        )
    return lines


def _published_points(method: str) -> list[dict]:
    """Published cells as minimal cards, for the plot."""
    return [
        {"privacy": {"epsilon": eps}, "results": {"test_accuracy": accuracy / 100}}
        for eps, accuracy in zip(EPSILONS, PUBLISHED[method], strict=True)
    ]


GROUPS = (
    "",
    "tune/",
    "ablation/",
    "goal/",
    "goal2/",
    "goal_eps1/",
    "centered/",
    "centered_tune/",
    "centered_scaled/",
)  # folders of runs under --runs, one per section


def _run_cards() -> dict[str, dict]:
    """The cards of the runs under --runs, as group/name."""
    cards = {}
    for group in GROUPS:
        for name, card in model_card.read_all(os.path.join(_RUNS.value, group)).items():
            cards[group + name] = card
    return cards


def _committed_cards() -> dict[str, dict]:
    """The cards an earlier call copied into the output folder (group/name as group_name): the
    record of the runs whose folders are gone."""
    cards = {}
    for path in sorted(pathlib.Path(_OUTPUT.value).glob("*.json")):
        # the longest group first: "goal_eps1_x" is goal_eps1/x, not goal/eps1_x
        group = next((g for g in sorted(GROUPS, key=len, reverse=True) if g and path.stem.startswith(g[:-1] + "_")), "")
        cards[group + path.stem[len(group) :]] = json.loads(path.read_text())
    return cards


def main(argv: list[str]) -> None:
    del argv
    runs = _run_cards()
    cards = _committed_cards() | runs
    if not cards:
        sys.exit(f"No model cards under {_RUNS.value}; run scripts/scatternet_table.sh first.")
    os.makedirs(_OUTPUT.value, exist_ok=True)
    for name in runs:
        for card_file, suffix in ((model_card.CARD_JSON, "json"), (model_card.CARD_MARKDOWN, "md")):
            flat = name.replace("/", "_")
            shutil.copy(os.path.join(_RUNS.value, name, card_file), os.path.join(_OUTPUT.value, f"{flat}.{suffix}"))
    lines = {
        method: [cards[f"cnn_{method}_eps{_tag(e)}"] for e in EPSILONS if f"cnn_{method}_eps{_tag(e)}" in cards]
        for method in METHOD_NAMES
    }
    plots.accuracy_vs_epsilon(
        {
            **{f"{METHOD_NAMES[m]}, dpzoo": runs for m, runs in lines.items() if runs},
            **{f"{METHOD_NAMES[m]}, published": _published_points(m) for m in METHOD_NAMES},
        },
        _OUTPUT.value + ".png",
        title="Fashion-MNIST, ScatterNet CNN: DP-SGD and ModelMix",
    )
    goal_plot(cards, _OUTPUT.value + "_goal.png")
    with open(_OUTPUT.value + ".md.partial", "w") as f:
        f.write(
            TEMPLATE.format(
                tramer_boneh="\n".join(tramer_boneh_table(cards)),
                modelmix="\n".join(modelmix_table(cards)),
                tuning="\n".join(runs_table(_group(cards, "tune/"), "tuning run (epsilon 0.6)")),
                ablation="\n".join(runs_table(_group(cards, "ablation/") | _baselines(cards), "variant (epsilon 0.6)")),
                goal="\n".join(runs_table(_group(cards, "goal/") | _goal_baseline(cards), "run (epsilon 3)")),
                goal2="\n".join(runs_table(_unseeded(_group(cards, "goal2/")), "run (epsilon 3, or none)")),
                goal_eps1="\n".join(runs_table(_eps1_runs(cards, "cnn_") | _eps1_baseline(cards), "run (epsilon 1)")),
                goal_eps1_linear="\n".join(runs_table(_eps1_runs(cards, "linear_"), "run (epsilon 1)")),
                eps1_seeds="\n".join(seeds_table(cards, EPS1_SEED_STUDY)),
                full=model_card.results_table(list(cards.values())),
                png=os.path.basename(_OUTPUT.value) + ".png",
                goal_png=os.path.basename(_OUTPUT.value) + "_goal.png",
                seeds="\n".join(seeds_table(cards, SEED_STUDY)),
                linear_seeds="\n".join(seeds_table(cards, LINEAR_SEED_STUDY)),
                centered_eps3="\n".join(seeds_table(cards, CENTERED_EPS3_STUDY)),
                centered_eps1="\n".join(seeds_table(cards, CENTERED_EPS1_STUDY)),
                centered_tune="\n".join(runs_table(_centered_tune_runs(cards), "run (seed 0)")),
                centered_tune_seeds="\n".join(seeds_table(cards, CENTERED_TUNE_EPS1_STUDY)),
                centered_scaled="\n".join(runs_table(_centered_scaled_runs(cards), "run (epsilon 1, seed 0)")),
                centered_scaled_eps3="\n".join(seeds_table(cards, CENTERED_SCALED_EPS3_STUDY)),
                centered_scaled_eps1="\n".join(seeds_table(cards, CENTERED_SCALED_EPS1_STUDY)),
                cards=os.path.basename(_OUTPUT.value),
            )
        )
    os.replace(_OUTPUT.value + ".md.partial", _OUTPUT.value + ".md")
    print(f"Wrote {_OUTPUT.value}.md, .png and {len(cards)} model cards")


def _unseeded(cards: dict[str, dict]) -> dict[str, dict]:
    """``cards`` without the runs of seeds 1 and 2, which a seed table shows."""
    return {name: card for name, card in cards.items() if "_seed" not in name}


def _eps1_runs(cards: dict[str, dict], model: str) -> dict[str, dict]:
    """The epsilon-1 runs of one model ("cnn_" or "linear_") but seeds 1 and 2."""
    return {name: card for name, card in _unseeded(_group(cards, "goal_eps1/")).items() if name.startswith(model)}


def _centered_tune_runs(cards: dict[str, dict]) -> dict[str, dict]:
    """The centred recipe's retuning runs after the recipes they vary (seed 0, release sigma 32)."""
    recipes = {
        f"recipe, epsilon {eps}": cards[f"centered/linear_centered_sigma32_eps{eps}_seed0"]
        for eps in (1, 3)
        if f"centered/linear_centered_sigma32_eps{eps}_seed0" in cards
    }
    return recipes | _unseeded(_group(cards, "centered_tune/"))


def _centered_scaled_runs(cards: dict[str, dict]) -> dict[str, dict]:
    """The choice of the first orders' scale at epsilon 1 (seed 0): 1 (the centred recipe) and the others."""
    chosen = {
        "scale 1 (the centred recipe)": "centered/linear_centered_sigma32_eps1_seed0",
        "scale 0.7 (the config)": "centered_scaled/linear_centered_scaled_eps1_seed0",
    }
    named = {label: cards[name] for label, name in chosen.items() if name in cards}
    return named | {
        name: card for name, card in _group(cards, "centered_scaled/").items() if re.search(r"_scale[0-9]", name)
    }


def _eps1_baseline(cards: dict[str, dict]) -> dict[str, dict]:
    """The epsilon-1 runs' reference: DP-SGD's cell of ModelMix's table, the zoo's epsilon-1 checkpoint."""
    return {"cnn_dpsgd_eps1 (ModelMix's table)": cards["cnn_dpsgd_eps1"]} if "cnn_dpsgd_eps1" in cards else {}


def _baselines(cards: dict[str, dict]) -> dict[str, dict]:
    """The ablation's reference points: the tuning's ModelMix and DP-SGD runs at the same lr and epochs."""
    names = {"ModelMix (a ~ U[0, 1], gap 0.0075 lr)": "tune/modelmix_lr2_epochs10", "DP-SGD": "tune/dpsgd_lr2_epochs10"}
    return {label: cards[name] for label, name in names.items() if name in cards}


SEED_STUDY = {  # recipes run with seeds 0, 1 and 2: each seed draws the initial weights, batches and noise
    "Tramer & Boneh's recipe": ("scatternet_cnn_eps3", "goal/cnn_seed1_ema", "goal/cnn_seed2_ema"),
    "wider CNN, C 0.05, lr 8": tuple(f"goal/cnn_wide_c0_05_seed{seed}_ema" for seed in range(3)),
    "the same with shift views of 1 pixel": (
        "goal/cnn_wide_c0_05_shift1_ema",
        "goal/cnn_wide_c0_05_shift1_seed1_ema",
        "goal/cnn_wide_c0_05_shift1_seed2_ema",
    ),
}
RECIPE_SEEDS = SEED_STUDY["Tramer & Boneh's recipe"]
LINEAR_SEED_STUDY = {  # epsilon 3: the best CNN mean above against the linear model's longer large-batch runs
    "wide CNN, C 0.05, lr 8, shift views of 1 pixel": SEED_STUDY["the same with shift views of 1 pixel"],
    "ScatterNet + linear, batch 16384, lr 32, 120 epochs": (
        "goal2/linear_b16384_lr32_120epochs",
        "goal2/linear_b16384_lr32_120epochs_seed1",
        "goal2/linear_b16384_lr32_120epochs_seed2",
    ),
}
EPS1_SEED_STUDY = {  # epsilon 1: the zoo's CNN checkpoint's recipe against the best linear one
    "ScatterNet CNN, ModelMix's table's DP-SGD cell": (
        "cnn_dpsgd_eps1",
        "goal_eps1/cnn_dpsgd_seed1_eps1",
        "goal_eps1/cnn_dpsgd_seed2_eps1",
    ),
    "ScatterNet + linear, batch 16384, lr 32, 40 epochs": (
        "goal_eps1/linear_b16384_lr32_40epochs_eps1",
        "goal_eps1/linear_b16384_lr32_40epochs_seed1_eps1",
        "goal_eps1/linear_b16384_lr32_40epochs_seed2_eps1",
    ),
}


def _centered_study(epsilon: int, uncentered: tuple[str, ...]) -> dict[str, tuple[str, ...]]:
    """The zoo's linear recipe at ``epsilon`` without and with DPSGD-F's feature centering (the
    release's noise multiplier 8, then 32)."""
    return {
        f"linear, epsilon {epsilon}": uncentered,
        "centred, release sigma 8": tuple(f"centered/linear_centered_eps{epsilon}_seed{seed}" for seed in range(3)),
        "centred, release sigma 32": tuple(
            f"centered/linear_centered_sigma32_eps{epsilon}_seed{seed}" for seed in range(3)
        ),
    }


CENTERED_EPS3_STUDY = _centered_study(3, LINEAR_SEED_STUDY["ScatterNet + linear, batch 16384, lr 32, 120 epochs"])
CENTERED_EPS1_STUDY = _centered_study(1, EPS1_SEED_STUDY["ScatterNet + linear, batch 16384, lr 32, 40 epochs"])
CENTERED_TUNE_EPS1_STUDY = {
    "centred recipe (C 0.1, lr 32)": CENTERED_EPS1_STUDY["centred, release sigma 32"],
    "centred, C 0.05, lr 64": (
        "centered_tune/linear_centered_c0_05_lr64_eps1",
        "centered_tune/linear_centered_c0_05_lr64_seed1_eps1",
        "centered_tune/linear_centered_c0_05_lr64_seed2_eps1",
    ),
}


def _scaled_study(epsilon: int, centred: dict[str, tuple[str, ...]]) -> dict[str, tuple[str, ...]]:
    """The centred recipe at ``epsilon`` without and with the scattering's orders 0 and 1 scaled by 0.7."""
    return {
        "centred recipe": centred["centred, release sigma 32"],
        "centred, orders 0 and 1 scaled by 0.7": tuple(
            f"centered_scaled/linear_centered_scaled_eps{epsilon}_seed{seed}" for seed in range(3)
        ),
    }


CENTERED_SCALED_EPS3_STUDY = _scaled_study(3, CENTERED_EPS3_STUDY)
CENTERED_SCALED_EPS1_STUDY = _scaled_study(1, CENTERED_EPS1_STUDY) | {
    "scaled by 0.7, C 0.05, lr 64": tuple(
        f"centered_scaled/linear_centered_scaled_c0_05_lr64_eps1_seed{seed}" for seed in range(3)
    )
}
GOAL = 90.0


def _ema_percent(card: dict) -> float:
    return 100 * card["results"]["test_accuracy_by_weights"]["ema"]


def _mean_accuracies(runs: list[dict]) -> str:
    """Mean EMA accuracy of ``runs``, the final weights' in brackets."""
    ema, final = (
        sum(card["results"]["test_accuracy_by_weights"][weights] for card in runs) / len(runs)
        for weights in ("ema", "raw")
    )
    return f"{_percent(ema)} ({_percent(final)})"


def seeds_table(cards: dict[str, dict], study: dict[str, tuple[str, ...]]) -> list[str]:
    """One column per recipe of ``study``, one row per seed, then the mean: EMA (final) accuracy."""
    lines = ["| seed | " + " | ".join(study) + " |", "|---|" + "---|" * len(study)]
    columns = [[cards.get(name) for name in names] for names in study.values()]
    for seed in range(3):
        row = [_mean_accuracies([column[seed]]) if column[seed] else "not run" for column in columns]
        lines.append(f"| {seed} | " + " | ".join(row) + " |")
    means = [_mean_accuracies(column) if all(column) else "not run" for column in columns]
    lines.append("| mean | " + " | ".join(means) + " |")
    return lines


def goal_plot(cards: dict[str, dict], path: str) -> None:
    """Every private run at epsilon 3 against the 90% goal, the recipe's spread over seeds and
    the two runs without noise."""
    candidates = _group(cards, "goal/") | _group(cards, "goal2/") | _group(cards, "centered/") | _goal_baseline(cards)
    candidates |= _group(cards, "centered_tune/") | _group(cards, "centered_scaled/")
    runs = {
        name: card
        for name, card in candidates.items()
        if card["privacy"]["guarantee"] != "none" and round(card["privacy"]["epsilon"], 2) == 3.0
    }
    if not runs:
        return
    stated = ", ".join(sorted({f"{c['privacy']['guarantee']}, {c['privacy']['accountant']}" for c in runs.values()}))
    seeds = [_ema_percent(cards[name]) for name in RECIPE_SEEDS if name in cards]
    references = [
        (label, _ema_percent(cards[name]))
        for label, name in (
            ("clipped, no noise", "goal/cnn_clip_only_reference"),
            ("not private", "goal/cnn_nonprivate_reference"),
        )
        if name in cards
    ]
    figure = plots.accuracy_by_run_figure(
        runs,
        goal=GOAL,
        band=("the recipe's spread over seeds", min(seeds), max(seeds)) if len(seeds) > 1 else None,
        references=references,
        title=f"Fashion-MNIST at epsilon 3 ({stated}): {len(runs)} private ScatterNet runs",
    )
    plots.save(figure, path)


def _goal_baseline(cards: dict[str, dict]) -> dict[str, dict]:
    return {"Tramer & Boneh's recipe": cards["scatternet_cnn_eps3"]} if "scatternet_cnn_eps3" in cards else {}


TEMPLATE = pathlib.Path(__file__).with_name("scatternet_results.md.in").read_text()


if __name__ == "__main__":
    app.run(main)
