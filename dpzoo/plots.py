"""Plots of results (matplotlib, written as PNG next to the Markdown that shows them)."""

import os
from collections.abc import Mapping, Sequence

import matplotlib

matplotlib.use("Agg")  # files only; no display needed
import matplotlib.pyplot as plt  # noqa: E402


def accuracy_vs_epsilon(
    methods: Mapping[str, Sequence[dict]],
    path: str,
    *,
    anchors: Sequence[tuple[str, float, float]] = (),
    title: str = "",
) -> str:
    """One line per method through its runs' (epsilon, test accuracy), read from model cards;
    ``anchors`` are published (label, epsilon, accuracy %) points, drawn as crosses."""
    figure, axes = plt.subplots(figsize=(6, 4))
    for label, cards in methods.items():
        points = sorted((c["privacy"]["epsilon"], 100 * c["results"]["test_accuracy"]) for c in cards)
        axes.plot([p[0] for p in points], [p[1] for p in points], marker="o", label=label)
    for label, eps, accuracy in anchors:
        axes.scatter([eps], [accuracy], marker="x", color="black", zorder=3)
        axes.annotate(label, (eps, accuracy), textcoords="offset points", xytext=(5, -10), fontsize=8)
    axes.set_xscale("log")
    axes.set_xlabel("epsilon (delta = 1e-5)")
    axes.set_ylabel("test accuracy (%)")
    axes.set_title(title)
    axes.grid(True, which="both", alpha=0.3)
    axes.legend(loc="lower right", fontsize=8)
    figure.tight_layout()
    os.makedirs(os.path.dirname(os.path.abspath(path)), exist_ok=True)
    figure.savefig(path, dpi=120)
    plt.close(figure)
    return path
