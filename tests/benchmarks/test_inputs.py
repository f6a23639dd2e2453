"""dpzoo-bench's input mode: the training input pipeline's records/s, in memory and streamed from
ArrayRecord files, beside the private step it feeds."""

import json
import subprocess
import sys

from dpzoo import data
from dpzoo.benchmarks import inputs as input_benchmark
from dpzoo.data import record_writer


def test_measures_the_pipeline_in_memory_and_streamed(fashion, tmp_path):
    subset = {
        "train": (fashion.x_train[:2000], fashion.y_train[:2000]),
        "test": (fashion.x_test[:10], fashion.y_test[:10]),
    }
    folder = record_writer.write_arrays(str(tmp_path), "fashion_mnist", subset)
    in_memory = data.Dataset("fashion_mnist", *subset["train"], *subset["test"], 10, "arrays")
    streamed = data.load("tfds:fashion_mnist", folder)
    results = [
        input_benchmark.measure_input(d, batch_size=100, augmult=2, physical_batch_size=rows, steps=4)
        for d in (in_memory, streamed)
        for rows in (None, 32)
    ]
    for r in results:
        # 4 steps of about 100 records (Binomial(2000, 0.05): sd 9.7) were timed
        assert 300 < r.records_per_second * r.seconds_per_step * r.steps < 500
        assert r.rss_peak_bytes >= r.rss_after_warmup_bytes > 0
    table = input_benchmark.markdown_table("t", results, step_examples_per_second=1000.0)
    assert table.count("| fashion_mnist |") == 4 and "| 2,000 | 100 | 2 | 32 |" in table


def test_cli_input_mode(fashion, tmp_path):
    subset = {
        "train": (fashion.x_train[:1000], fashion.y_train[:1000]),
        "test": (fashion.x_test[:10], fashion.y_test[:10]),
    }
    record_writer.write_arrays(str(tmp_path / "tfds"), "fashion_mnist", subset)
    args = [
        "--inputs=tfds:fashion_mnist",
        f"--data_dir={tmp_path / 'tfds'}",
        "--models=tutorial_cnn",
        "--batch_size=64",
    ]
    args += ["--input_steps=2", "--rounds=1", "--seconds_per_round=0.01", f"--output={tmp_path / 'input'}"]
    done = subprocess.run([sys.executable, "-m", "dpzoo.cli.bench", *args], capture_output=True, text=True)
    assert done.returncode == 0, done.stderr[-2000:]
    report = json.loads((tmp_path / "input.json").read_text())
    assert report["inputs"][0]["records"] == 1000 and report["private_step"]["model"] == "tutorial_cnn"
    assert "input vs private step" in (tmp_path / "input.md").read_text()
