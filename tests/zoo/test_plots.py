"""Plots from the committed model cards."""

import glob
import json
import os

import pytest

from dpzoo.zoo import plots
from tests.conftest import ROOT


def committed_cards(folder: str, pattern: str = "*.json") -> dict[str, dict]:
    """The model cards under results/FOLDER, by file name without ".json"."""
    cards = {}
    for path in sorted(glob.glob(os.path.join(ROOT, "results", folder, pattern))):
        with open(path) as f:
            cards[os.path.basename(path)[: -len(".json")]] = json.load(f)
    return cards


def test_accuracy_vs_epsilon_writes_a_png_from_committed_cards(tmp_path):
    cards = list(committed_cards("fashion_mnist").values())
    assert len(cards) >= 3
    out = plots.accuracy_vs_epsilon({"DP-SGD": cards}, str(tmp_path / "plot.png"), anchors=[("anchor", 3.0, 86.0)])
    with open(out, "rb") as f:
        assert f.read(8) == b"\x89PNG\r\n\x1a\n"
    assert os.path.getsize(out) > 10_000


def test_the_epsilon_axis_labels_the_epsilons_plotted_and_the_legend_covers_no_line():
    """results/zoo.png once labelled its log axis 2x10^0, 3x10^0 ... and its legend hid the
    ModelMix line at epsilon 8: ticks are now the epsilons plotted, and the legend sits outside."""
    cards = list(committed_cards("fashion_mnist").values())
    figure = plots.accuracy_vs_epsilon_figure({"DP-SGD": cards}, anchors=[("anchor", 0.5, 80.0)])
    axes = figure.axes[0]
    figure.canvas.draw()
    labels = [t.get_text() for t in axes.get_xticklabels() if t.get_text()]
    assert labels == ["0.5", "1", "3", "8"]
    assert not any(t.get_text() for t in axes.get_xticklabels(minor=True))
    renderer = figure.canvas.get_renderer()
    legend, inside = axes.get_legend().get_window_extent(renderer), axes.get_window_extent(renderer)
    assert legend.x0 >= inside.x1  # right of the axes: over no line


def test_training_curves_of_a_committed_card(tmp_path):
    with open(os.path.join(ROOT, "results", "fashion_mnist", "tutorial_cnn_eps3.json")) as f:
        card = json.load(f)
    out = plots.training_curves(card, str(tmp_path / "curves.png"))
    with open(out, "rb") as f:
        assert f.read(8) == b"\x89PNG\r\n\x1a\n"
    assert os.path.getsize(out) > 10_000


def test_accuracy_by_run_puts_each_committed_run_on_its_row_against_the_goal(tmp_path):
    """The goal plot of results/fashion_mnist_scatternet.md: one row per run, sorted by its EMA
    accuracy, its dots at the card's final and EMA accuracies, and the goal line where asked."""
    runs = dict(list(committed_cards("fashion_mnist_scatternet", "goal_cnn_*.json").items())[:6])
    assert len(runs) == 6
    figure = plots.accuracy_by_run_figure(runs, goal=90.0, band=("seeds", 89.1, 89.6), references=[("no noise", 90.3)])
    axes = figure.axes[0]
    by_ema = sorted(runs, key=lambda name: runs[name]["results"]["test_accuracy_by_weights"]["ema"])
    assert [t.get_text() for t in axes.get_yticklabels()] == by_ema
    final, ema = (collection.get_offsets() for collection in axes.collections[:2])
    for row, name in enumerate(by_ema):
        accuracies = runs[name]["results"]["test_accuracy_by_weights"]
        assert tuple(final[row]) == pytest.approx((100 * accuracies["raw"], row))
        assert tuple(ema[row]) == pytest.approx((100 * accuracies["ema"], row))
    assert 90.0 in [line.get_xdata()[0] for line in axes.get_lines()]
    out = plots.save(figure, str(tmp_path / "goal.png"))
    with open(out, "rb") as f:
        assert f.read(8) == b"\x89PNG\r\n\x1a\n"
