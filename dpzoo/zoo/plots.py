"""Plots of results (matplotlib, written as PNG next to the Markdown that shows them)."""

import os
from collections.abc import Mapping, Sequence

import matplotlib

matplotlib.use("Agg")  # files only; no display needed
import matplotlib.pyplot as plt  # noqa: E402
from matplotlib import ticker  # noqa: E402


def accuracy_vs_epsilon_figure(
    methods: Mapping[str, Sequence[dict]],
    *,
    anchors: Sequence[tuple[str, float, float]] = (),
    title: str = "",
) -> plt.Figure:
    """One line per method through its runs' (epsilon, test accuracy), read from model cards;
    ``anchors`` are published (label, epsilon, accuracy %) points, drawn as crosses.

    The epsilon axis is logarithmic with a tick at each epsilon plotted, labelled as the number
    (1, 3, 8, not 10^0-style labels of the log scale), and the legend sits outside the axes, so it
    covers no line."""
    figure, axes = plt.subplots(figsize=(8.5, 4.2))
    epsilons = set()
    for label, cards in methods.items():
        points = sorted((c["privacy"]["epsilon"], 100 * c["results"]["test_accuracy"]) for c in cards)
        axes.plot([p[0] for p in points], [p[1] for p in points], marker="o", label=label)
        epsilons.update(round(p[0], 2) for p in points)
    for label, eps, accuracy in anchors:
        axes.scatter([eps], [accuracy], marker="x", color="black", zorder=3)
        axes.annotate(label, (eps, accuracy), textcoords="offset points", xytext=(5, -10), fontsize=8)
        epsilons.add(round(eps, 2))
    axes.set_xscale("log")
    ticks = sorted(epsilons)
    axes.xaxis.set_major_locator(ticker.FixedLocator(ticks))
    axes.xaxis.set_major_formatter(ticker.FixedFormatter([f"{t:g}" for t in ticks]))
    axes.xaxis.set_minor_formatter(ticker.NullFormatter())
    axes.set_xlabel("epsilon (delta = 1e-5)")
    axes.set_ylabel("test accuracy (%)")
    axes.set_title(title)
    axes.grid(True, which="major", alpha=0.3)
    axes.legend(loc="upper left", bbox_to_anchor=(1.02, 1.0), fontsize=8, borderaxespad=0.0)
    figure.tight_layout()
    return figure


def accuracy_vs_epsilon(
    methods: Mapping[str, Sequence[dict]],
    path: str,
    *,
    anchors: Sequence[tuple[str, float, float]] = (),
    title: str = "",
) -> str:
    """``accuracy_vs_epsilon_figure`` written as a PNG to ``path``."""
    return save(accuracy_vs_epsilon_figure(methods, anchors=anchors, title=title), path)


def accuracy_by_run_figure(
    runs: Mapping[str, dict],
    *,
    goal: float | None = None,
    band: tuple[str, float, float] | None = None,
    references: Sequence[tuple[str, float]] = (),
    title: str = "",
) -> plt.Figure:
    """One row per run, sorted by its EMA accuracy: a dot for the final weights and one for the
    EMA weights (read from ``test_accuracy_by_weights``). ``goal`` (%) is drawn as a red line,
    ``band`` (label, low %, high %) as a grey span (say, one recipe's spread over seeds) and
    ``references`` as labelled dashed lines (say, runs without noise): how far every try landed
    from a target, in one picture."""
    rows = sorted(runs.items(), key=lambda item: item[1]["results"]["test_accuracy_by_weights"]["ema"])
    figure, axes = plt.subplots(figsize=(8.5, 0.8 + 0.26 * len(rows)))
    positions = range(len(rows))
    for weights, marker, label in (("raw", "o", "final weights"), ("ema", "D", "EMA weights")):
        values = [100 * card["results"]["test_accuracy_by_weights"][weights] for _, card in rows]
        axes.scatter(values, positions, marker=marker, s=22, label=label, zorder=3)
    if band is not None:
        label, low, high = band
        axes.axvspan(low, high, color="grey", alpha=0.2, label=label)
    for label, accuracy in references:
        axes.axvline(accuracy, color="black", linestyle="--", linewidth=1)
        axes.annotate(label, (accuracy, len(rows) - 0.5), rotation=90, fontsize=7, ha="right", va="top")
    if goal is not None:
        axes.axvline(goal, color="red", linewidth=1.5, label=f"goal {goal:g}%")
    axes.set_yticks(list(positions), [name for name, _ in rows], fontsize=7)
    axes.set_ylim(-0.7, len(rows) - 0.3)
    axes.set_xlabel("test accuracy (%)")
    axes.set_title(title)
    axes.grid(True, axis="x", alpha=0.3)
    axes.legend(loc="lower right", fontsize=7)
    figure.tight_layout()
    return figure


def save(figure: plt.Figure, path: str, dpi: int = 120) -> str:
    """Writes ``figure`` as a PNG to ``path`` (its folder made if needed) and closes it."""
    os.makedirs(os.path.dirname(os.path.abspath(path)), exist_ok=True)
    figure.savefig(path, dpi=dpi)
    plt.close(figure)
    return path


def training_curves(card: dict, path: str) -> str:
    """Test accuracy (and train accuracy) and epsilon after each epoch of one run, from its card:
    what privacy each epoch spent against what it bought (no epsilon axis for a run without noise)."""
    rows = card["history"]
    epochs = [row["epoch"] for row in rows]
    figure, accuracy_axes = plt.subplots(figsize=(6, 3.5))
    for key, label in (("val_accuracy", "test accuracy"), ("accuracy", "train accuracy")):
        if all(key in row for row in rows):
            accuracy_axes.plot(epochs, [100 * row[key] for row in rows], marker="o", label=label)
    accuracy_axes.set_xlabel("epoch")
    accuracy_axes.set_ylabel("accuracy (%)")
    accuracy_axes.grid(True, alpha=0.3)
    privacy, extra = card["privacy"], ([], [])
    if all("epsilon" in row for row in rows):  # a run without noise (a public backbone) has none
        epsilon_axes = accuracy_axes.twinx()
        epsilon_axes.plot(epochs, [row["epsilon"] for row in rows], color="black", linestyle="--", label="epsilon")
        epsilon_axes.set_ylabel(f"epsilon (delta = {privacy['delta']:g}, {privacy['accountant']})")
        extra = epsilon_axes.get_legend_handles_labels()
    handles = accuracy_axes.get_legend_handles_labels()
    accuracy_axes.legend(handles[0] + extra[0], handles[1] + extra[1], loc="lower right", fontsize=8)
    method = card["training"].get("method", "dpsgd")  # cards before --method existed
    what = f"{method}, {privacy['guarantee']}"
    if privacy["guarantee"] == "none":
        what = f"trained without privacy\non {card['dataset']['name']}"
    accuracy_axes.set_title(f"{card['model']['name']}, {what}")
    figure.tight_layout()
    return save(figure, path, dpi=100)
