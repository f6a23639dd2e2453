"""Throughput of private vs non-private training, measured side by side in one process.

Each method gets its own copy of the model and one compiled train step. After a warm-up
(tracing and compilation are not timed), rounds interleave the methods so that load from
elsewhere on the machine hits all of them alike; each method's throughput is the median over
rounds of real examples per second. The dpzoo engine is timed on a padded Poisson batch
(physical size M > B, B real rows), so the cost of padding is included in its number; "dpzoo"
clips with materialised per-example gradients, "dpzoo_ghost" with ghost norms.
"""

import dataclasses
import statistics
import time

import numpy as np
import tensorflow as tf

from dpzoo import models, sampling, tf_privacy_engine
from dpzoo.config import DPConfig
from dpzoo.engine import make_private

METHODS = ("nonprivate", "dpzoo", "dpzoo_ghost", "tf_privacy")
CLIPPING = {"dpzoo": "vectorized", "dpzoo_ghost": "ghost"}  # dpzoo's engine, by clipping strategy
POISSON_N = 60_000  # dataset size that sets dpzoo's Poisson pad (Fashion-MNIST's training set)


@dataclasses.dataclass(frozen=True)
class Measurement:
    method: str
    examples_per_second: float
    seconds_per_step: float
    physical_batch_size: int


def _compiled(method: str, model_name: str, input_shape, num_classes: int, batch_size: int, jit: bool):
    """(model, physical batch rows) ready for train_on_batch."""
    model = models.get(model_name, input_shape=input_shape, num_classes=num_classes)
    loss = tf.keras.losses.SparseCategoricalCrossentropy(from_logits=True)
    if method == "nonprivate":
        model.compile(tf.keras.optimizers.SGD(0.1), loss=loss, jit_compile=jit)
        return model, batch_size
    if method in CLIPPING:
        rows = sampling.physical_batch_size(POISSON_N, batch_size)
        config = DPConfig(
            l2_norm_clip=1.0,
            noise_multiplier=1.0,
            expected_batch_size=batch_size,
            clipping=CLIPPING[method],
            seed=0,
        )
        private = make_private(model, config)
        private.compile(tf.keras.optimizers.SGD(0.1), loss=loss, jit_compile=jit)
        return private, rows
    tf_privacy_engine.compile_model(
        model,
        optimizer="sgd",
        learning_rate=0.1,
        momentum=0.0,
        l2_norm_clip=1.0,
        noise_multiplier=1.0,
        rows_per_batch=batch_size,
        expected_batch_size=batch_size,
        jit_compile=jit,
    )
    return model, batch_size


def measure(
    *,
    model_name: str,
    input_shape: tuple[int, ...],
    batch_size: int,
    methods: tuple[str, ...] = METHODS,
    rounds: int = 5,
    seconds_per_round: float = 2.0,
    num_classes: int = 10,
    jit: bool = False,
    seed: int = 0,
) -> list[Measurement]:
    """Median throughput of each method over interleaved rounds (see the module docstring)."""
    rng = np.random.default_rng(seed)
    runners = {}
    for method in methods:
        model, rows = _compiled(method, model_name, input_shape, num_classes, batch_size, jit)
        x = rng.standard_normal((rows, *input_shape)).astype(np.float32)
        y = rng.integers(0, num_classes, rows)
        mask = (np.arange(rows) < batch_size).astype(np.float32)
        model.train_on_batch(x, y, sample_weight=mask)  # warm-up: trace and compile
        model.train_on_batch(x, y, sample_weight=mask)
        runners[method] = (model, x, y, mask, rows)
    timings = {m: [] for m in methods}
    for _ in range(rounds):
        for method, (model, x, y, mask, _) in runners.items():
            steps, start = 0, time.perf_counter()
            while True:
                model.train_on_batch(x, y, sample_weight=mask)
                steps += 1
                elapsed = time.perf_counter() - start
                if elapsed >= seconds_per_round:
                    break
            timings[method].append(elapsed / steps)
    return [
        Measurement(m, batch_size / statistics.median(t), statistics.median(t), runners[m][4])
        for m, t in timings.items()
    ]


def markdown_table(title: str, results: list[Measurement]) -> str:
    """Rows per method with the throughput ratio to non-private training."""
    base = {r.method: r for r in results}.get("nonprivate")
    lines = [
        f"### {title}",
        "",
        "| method | rows/step | s/step | examples/s | vs non-private |",
        "|---|---|---|---|---|",
    ]
    for r in results:
        ratio = f"{r.examples_per_second / base.examples_per_second:.3g}x" if base else "-"
        lines.append(
            f"| {r.method} | {r.physical_batch_size} | {r.seconds_per_step:.4f} | "
            f"{r.examples_per_second:.0f} | {ratio} |"
        )
    return "\n".join(lines) + "\n"
