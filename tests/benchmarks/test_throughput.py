"""The benchmark harness runs every method and reports comparable rows (no timing asserted)."""

import json
import subprocess
import sys

import pytest

from dpzoo.benchmarks import keras_comparison
from dpzoo.benchmarks import throughput as bench
from dpzoo.common.errors import UsageError
from dpzoo.common.keras_api import KERAS_3

TF_KERAS_ONLY = pytest.mark.skipif(KERAS_3, reason="TF Privacy's Keras peers need tf-keras (the tf-keras run has them)")
PEER = "tf_privacy_dpmodel"


@TF_KERAS_ONLY
def test_measure_reports_each_method_and_k_with_rows_and_memory():
    results = bench.measure(
        model_name="tutorial_cnn",
        input_shape=(28, 28, 1),
        batch_size=64,
        methods=("nonprivate", "dpzoo", PEER),
        augmults=(1, 2),
        rounds=1,
        seconds_per_round=0.05,
    )
    runs = [(r.method, r.augmult) for r in results]
    assert runs == [("nonprivate", 1), ("dpzoo", 1), ("tf_privacy_dpmodel", 1), ("nonprivate", 2), ("dpzoo", 2)]
    assert all(r.examples_per_second > 0 for r in results)
    rows = {run: r.mean_rows for run, r in zip(runs, results, strict=True)}
    assert rows["nonprivate", 1] == rows["tf_privacy_dpmodel", 1] == 64
    # the mean padded size of the seeded Poisson draws (their realised sizes vary around B)
    assert rows["dpzoo", 1] == rows["dpzoo", 2] != 64
    assert rows["nonprivate", 2] == 128  # the B * K augmented images, without privacy
    for r in results:  # the CPU allocator keeps statistics; the state is the model's weights
        assert r.step_memory_bytes > 0 and r.state_bytes >= 4 * 26_010  # tutorial CNN parameters
        assert r.step_memory_at_batch_size_bytes > 0
    memory_rows = {run: r.memory_rows for run, r in zip(runs, results, strict=True)}
    assert memory_rows["dpzoo", 1] > rows["dpzoo", 1]  # dpzoo's peak: its largest padded batch ...
    assert memory_rows["nonprivate", 2] == 128
    for r in results:  # ... and again at B rows; the others run B rows (B * K images) anyway
        if r.method != "dpzoo":
            assert r.step_memory_at_batch_size_bytes == r.step_memory_bytes
    table = bench.markdown_table("t", results)
    assert "| dpzoo | 2 |" in table and "tf_privacy_dpmodel" in table and "| 1x |" in table


def test_on_keras_3_the_tf_privacy_peers_are_refused_with_the_way_to_measure_them():
    if not KERAS_3:
        pytest.skip("tf-keras runs the peers")
    with pytest.raises(UsageError, match="dpzoo-bench --keras=2,3"):
        bench.measure(model_name="lenet5", input_shape=(28, 28, 1), batch_size=8, methods=("nonprivate", PEER))


def test_state_bytes_counts_weights_and_optimizer_slots():
    import tensorflow as tf

    model = tf.keras.Sequential([tf.keras.Input((3,)), tf.keras.layers.Dense(2)])
    model.compile(tf.keras.optimizers.SGD(0.1, momentum=0.9), loss="mse")
    model.train_on_batch(tf.ones((1, 3)), tf.ones((1, 2)))
    # kernel 6 + bias 2, their momenta 8, floats; plus the optimizer's int64 iteration counter
    # and, on Keras 3, its learning rate, a float variable
    assert bench.state_bytes(model) == 16 * 4 + 8 + (4 if KERAS_3 else 0)


@TF_KERAS_ONLY
def test_state_bytes_counts_tf_privacys_legacy_slots():
    import tensorflow as tf

    from dpzoo.privacy import tf_privacy_optimizers  # TF Privacy's (legacy) optimizer lists its slots by a method

    dp = tf.keras.Sequential([tf.keras.Input((3,)), tf.keras.layers.Dense(2)])
    common = dict(optimizer="sgd", learning_rate=0.1, momentum=0.0, l2_norm_clip=1.0, noise_multiplier=1.0)
    tf_privacy_optimizers.compile_model(dp, rows_per_batch=1, expected_batch_size=1, **common)
    dp.train_on_batch(tf.ones((1, 3)), tf.zeros((1,)))
    assert bench.state_bytes(dp) >= 8 * 4


def test_cli_writes_json_and_markdown(tmp_path):
    out = tmp_path / "bench"
    args = ["--models=lenet5", "--batch_size=16", "--methods=nonprivate,dpzoo"]
    args += ["--rounds=1", "--seconds_per_round=0.01", f"--output={out}"]
    done = subprocess.run([sys.executable, "-m", "dpzoo.cli.bench", *args], capture_output=True, text=True)
    assert done.returncode == 0, done.stderr[-2000:]
    report = json.loads((tmp_path / "bench.json").read_text())
    assert [r["method"] for r in report["results"]["lenet5"]] == ["nonprivate", "dpzoo"]
    assert "| dpzoo | 1 |" in (tmp_path / "bench.md").read_text()
    assert not list(tmp_path.glob("*.tmp"))


def test_keras_comparison_runs_each_keras_in_alternating_processes(tmp_path):
    """Two processes per Keras, alternating; the peer runs on tf-keras only; the table sets Keras 3
    against tf-keras and each against its own non-private step."""
    out = tmp_path / "keras"
    args = ["--keras=2,3", "--keras_processes=2", "--models=lenet5", "--batch_size=16"]
    args += [f"--methods=nonprivate,dpzoo,{PEER}", "--rounds=1", "--seconds_per_round=0.01", f"--output={out}"]
    done = subprocess.run([sys.executable, "-m", "dpzoo.cli.bench", *args], capture_output=True, text=True)
    assert done.returncode == 0, done.stderr[-2000:]
    order = [line.split(" on ")[1] for line in done.stdout.splitlines() if line.startswith("process ")]
    assert order == ["tf-keras", "Keras 3", "tf-keras", "Keras 3"]
    rows = json.loads((tmp_path / "keras.json").read_text())["examples_per_second"]
    counts = {(r["keras"], r["method"]): len(r["per_process"]) for r in rows}
    assert counts == {
        ("2", "nonprivate"): 2,
        ("2", "dpzoo"): 2,
        ("2", PEER): 2,
        ("3", "nonprivate"): 2,
        ("3", "dpzoo"): 2,
    }
    table = (tmp_path / "keras.md").read_text()
    assert "| dpzoo | 1 |" in table and f"| {PEER} | 1 |" in table and "| nonprivate | 1 |" in table
    assert "Keras 3 vs tf-keras" in table


def test_keras_comparison_table_ratios():
    speeds = {("2", "m", "nonprivate", 1): [100.0, 120.0, 110.0], ("3", "m", "nonprivate", 1): [90.0]}
    speeds |= {("2", "m", "dpzoo", 1): [70.0], ("3", "m", "dpzoo", 1): [77.0]}
    table = keras_comparison.comparison_table("t", "m", speeds, batch_size=7)
    assert "| nonprivate | 1 | 110 | 90 | 0.82x | 1.00x | 1.00x | 0.00 | 0.00 | 3, 1 |" in table
    # privacy's own cost: 7 examples at 70/s take 100 ms, at 110/s 63.64 ms; at 77/s 90.91, at 90/s 77.78
    assert "| dpzoo | 1 | 70 | 77 | 1.10x | 0.64x | 0.86x | 36.36 | 13.13 | 1, 1 |" in table


def test_cli_refuses_bad_augmult():
    done = subprocess.run([sys.executable, "-m", "dpzoo.cli.bench", "--augmult=1,zero"], capture_output=True, text=True)
    assert done.returncode == 2 and "--augmult takes positive integers" in done.stderr
