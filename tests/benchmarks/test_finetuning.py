"""dpzoo-bench --finetune: a private step of each fine-tuning mode on one backbone, side by side,
with the trainable parameters, the clipping chosen and memory (no timing asserted)."""

import json
import subprocess
import sys

import pytest

from dpzoo.benchmarks import finetuning as finetune_benchmark
from dpzoo.common.keras_api import KERAS_3

pytestmark = pytest.mark.skipif(not KERAS_3, reason="the lora mode is Keras 3's")


def test_each_mode_is_measured_with_its_trainable_parameters_and_clipping():
    results = finetune_benchmark.measure_finetuning(
        model_name="tutorial_cnn_gnws",
        input_shape=(28, 28, 1),
        batch_size=32,
        lora_rank=2,
        rounds=1,
        seconds_per_round=0.05,
    )
    by_mode = {r.mode: r for r in results}
    assert list(by_mode) == ["full", "head", "norms", "lora"]
    head = 32 * 10 + 10  # the new head on the 32 hidden units
    assert by_mode["head"].trainable_parameters == head
    assert by_mode["norms"].trainable_parameters == head + 2 * (16 + 32 + 32)  # three GroupNorms' gamma, beta
    # rank-2 adapters: conv1 8x8x1 -> 16, conv2 4x4x16 -> 32, fc1 512 -> 32
    lora = 2 * ((64 + 16) + (256 + 32) + (512 + 32))
    assert by_mode["lora"].trainable_parameters == head + lora
    assert by_mode["full"].trainable_parameters > by_mode["lora"].trainable_parameters
    assert by_mode["lora"].clipping == "vectorized"  # adapters on convolutions: no ghost norm
    assert by_mode["full"].clipping == by_mode["head"].clipping == by_mode["norms"].clipping == "ghost"
    assert all(r.examples_per_second > 0 and r.step_memory_bytes > 0 for r in results)
    table = finetune_benchmark.markdown_table("t", results)
    assert "| full |" in table and "| 1x |" in table and "| lora |" in table


def test_cli_writes_the_finetuning_report(tmp_path):
    out = tmp_path / "finetune"
    args = ["--finetune=full,head", "--models=tutorial_cnn_gnws", "--batch_size=16", "--rounds=1"]
    args += ["--seconds_per_round=0.01", f"--output={out}"]
    done = subprocess.run([sys.executable, "-m", "dpzoo.cli.bench", *args], capture_output=True, text=True)
    assert done.returncode == 0, done.stderr[-2000:]
    report = json.loads((tmp_path / "finetune.json").read_text())
    assert [r["mode"] for r in report["results"]["tutorial_cnn_gnws"]] == ["full", "head"]
    assert "speed vs full" in (tmp_path / "finetune.md").read_text()


def test_cli_refuses_an_unknown_mode():
    done = subprocess.run(
        [sys.executable, "-m", "dpzoo.cli.bench", "--finetune=full,adapters"], capture_output=True, text=True
    )
    assert done.returncode == 2 and "--finetune: unknown modes ['adapters']" in done.stderr
