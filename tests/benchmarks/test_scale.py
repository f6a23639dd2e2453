"""dpzoo-bench's scale mode: a logical step by physical batch size and distribution."""

import json
import subprocess
import sys

from dpzoo.benchmarks import scale as scale_benchmark


def test_memory_of_a_logical_step_follows_p_not_b():
    results = scale_benchmark.measure_scale(
        model_name="tutorial_cnn",
        input_shape=(28, 28, 1),
        batch_size=128,
        physical_batch_sizes=(None, 16),
        plain_rows=(16,),
        rounds=1,
        seconds_per_round=0.05,
    )
    one_pass, chunked, plain = results
    assert (one_pass.physical_batch_size, chunked.physical_batch_size, plain.batch_size) == (None, 16, 16)
    assert all(r.examples_per_second > 0 and r.memory_bytes for r in results)
    assert chunked.step_memory_bytes < one_pass.step_memory_bytes / 3  # 8 chunks of 16 rows, not 128 rows at once
    assert chunked.memory_bytes < 1.5 * plain.memory_bytes
    table = scale_benchmark.markdown_table("t", results)
    assert "| logical | none | 1 | 128 | 16 |" in table and "| plain | none | 1 | 16 | - |" in table


def test_cli_scale_mode_with_mirrored_logical_cpus(tmp_path):
    out = tmp_path / "scale"
    args = ["--models=tutorial_cnn", "--batch_size=32", "--physical_batch_size=none,16", "--distribution=none,mirrored"]
    args += ["--cpu_devices=2", "--rounds=1", "--seconds_per_round=0.01", f"--output={out}"]
    done = subprocess.run([sys.executable, "-m", "dpzoo.cli.bench", *args], capture_output=True, text=True)
    assert done.returncode == 0, done.stderr[-2000:]
    rows = json.loads((tmp_path / "scale.json").read_text())["results"]["tutorial_cnn"]
    assert [(r["kind"], r["distribution"], r["replicas"], r["physical_batch_size"]) for r in rows] == [
        ("logical", "none", 1, None),
        ("logical", "none", 1, 16),
        ("logical", "mirrored", 2, None),
        ("logical", "mirrored", 2, 16),
        ("plain", "none", 1, None),
    ]
    assert rows[-1]["batch_size"] == 16  # one pass of P rows
    assert "| logical | mirrored | 2 | 32 | 16 |" in (tmp_path / "scale.md").read_text()


def test_cli_refuses_an_unknown_distribution():
    args = ["--physical_batch_size=16", "--distribution=pods"]
    done = subprocess.run([sys.executable, "-m", "dpzoo.cli.bench", *args], capture_output=True, text=True)
    assert done.returncode == 2 and "--distribution='pods'" in done.stderr
