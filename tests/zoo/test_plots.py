"""Plots from the committed model cards."""

import glob
import json
import os

from dpzoo.zoo import plots
from tests.conftest import ROOT


def test_accuracy_vs_epsilon_writes_a_png_from_committed_cards(tmp_path):
    paths = sorted(glob.glob(os.path.join(ROOT, "results", "fashion_mnist", "*.json")))
    assert len(paths) >= 3
    cards = []
    for path in paths:
        with open(path) as f:
            cards.append(json.load(f))
    out = plots.accuracy_vs_epsilon({"DP-SGD": cards}, str(tmp_path / "plot.png"), anchors=[("anchor", 3.0, 86.0)])
    with open(out, "rb") as f:
        assert f.read(8) == b"\x89PNG\r\n\x1a\n"
    assert os.path.getsize(out) > 10_000


def test_training_curves_of_a_committed_card(tmp_path):
    with open(os.path.join(ROOT, "results", "fashion_mnist", "tutorial_cnn_eps3.json")) as f:
        card = json.load(f)
    out = plots.training_curves(card, str(tmp_path / "curves.png"))
    with open(out, "rb") as f:
        assert f.read(8) == b"\x89PNG\r\n\x1a\n"
    assert os.path.getsize(out) > 10_000
