"""Peak memory and throughput of a logical DP-SGD step by physical batch size and distribution.

For each (distribution, P) the model gets its own copy, made private with
``DPConfig(physical_batch_size=P)`` under the strategy's scope, and one logical step of B real
rows is fed the way the trainer feeds it: a chunk stream of P-row chunks (P = None: the whole
batch in one pass). After a warm-up, rounds interleave every configuration, as in
``dpzoo.benchmarks.throughput``; throughput is the median over rounds of real examples per second.
Memory: the allocator's peak during a step above what it held before (``benchmark.step_memory``,
the largest of a few steps), plus the variables, the optimizer's slots and the accumulators.

``plain`` rows are one-pass steps of exactly P rows (expected batch size P): what a chunk costs on
its own, the baseline that virtual batches must stay close to in memory.
"""

import dataclasses
import statistics
import time

import numpy as np
import tensorflow as tf

from dpzoo import models
from dpzoo.benchmarks.throughput import MEMORY_STEPS, state_bytes, step_memory
from dpzoo.common.stack import keras
from dpzoo.privacy import DPConfig, make_private
from dpzoo.training import distribution as distribution_lib

_LOSS = keras.losses.SparseCategoricalCrossentropy(from_logits=True)


@dataclasses.dataclass(frozen=True)
class ScaleMeasurement:
    kind: str  # "logical" (B rows in chunks of P) or "plain" (one pass of P rows)
    distribution: str
    replicas: int
    batch_size: int  # real rows per step
    physical_batch_size: int | None
    examples_per_second: float
    seconds_per_step: float
    step_memory_bytes: int | None
    state_bytes: int

    @property
    def memory_bytes(self) -> int | None:
        return None if self.step_memory_bytes is None else self.step_memory_bytes + self.state_bytes


def _step_data(batch_size: int, rows: int | None, input_shape, augmult: int, num_classes: int, rng) -> tf.data.Dataset:
    """One logical step of ``batch_size`` real rows, repeated: whole, or as a chunk stream."""
    view_shape = (augmult, *input_shape) if augmult > 1 else tuple(input_shape)
    x = rng.standard_normal((batch_size, *view_shape)).astype(np.float32)
    y = rng.integers(0, num_classes, batch_size)
    mask = np.ones(batch_size, np.float32)
    if not rows:
        return tf.data.Dataset.from_tensors((x, y, mask)).repeat()
    count = -(-batch_size // rows)
    padded = count * rows
    pad = lambda a: np.concatenate([a, np.zeros((padded - len(a), *a.shape[1:]), a.dtype)])
    chunks = [pad(x), pad(y), pad(mask), np.full(padded, count, np.int32)]
    return tf.data.Dataset.from_tensor_slices(tuple(a.reshape(count, rows, *a.shape[1:]) for a in chunks)).repeat()


class _Runner:
    """A compiled private model and an iterator over its steps; ``step()`` is one logical step."""

    def __init__(self, strategy, model_name, input_shape, batch_size, rows, augmult, clipping, num_classes, rng):
        with strategy.scope():
            model = models.get(model_name, input_shape=tuple(input_shape), num_classes=num_classes)
            config = DPConfig(
                l2_norm_clip=1.0,
                noise_multiplier=1.0,
                expected_batch_size=batch_size,
                augmult=augmult,
                clipping=clipping,
                physical_batch_size=rows,
                seed=0,
            )
            self.model = make_private(model, config)
            self.model.compile(optimizer=keras.optimizers.SGD(0.01), loss=_LOSS)
        data = _step_data(batch_size, rows, input_shape, augmult, num_classes, rng)
        if strategy.num_replicas_in_sync > 1:
            data = strategy.experimental_distribute_dataset(data)
        self.iterator = iter(data)
        self.function = self.model.make_train_function()

    def step(self) -> None:
        outputs = self.function(self.iterator)
        tf.nest.map_structure(lambda t: t.numpy() if hasattr(t, "numpy") else t, outputs)  # wait for it


def measure_scale(
    *,
    model_name: str,
    input_shape: tuple[int, ...],
    batch_size: int,
    physical_batch_sizes: tuple[int | None, ...],
    distributions: tuple[str, ...] = ("none",),
    plain_rows: tuple[int, ...] = (),
    augmult: int = 1,
    clipping: str = "auto",
    rounds: int = 3,
    seconds_per_round: float = 2.0,
    num_classes: int = 10,
    seed: int = 0,
    progress=None,
) -> list[ScaleMeasurement]:
    """Each (distribution, P) logical step of B rows, and each plain step of P rows (one device)."""
    rng = np.random.default_rng(seed)
    strategies = {name: distribution_lib.make_strategy(name) for name in distributions}
    configs = [("logical", name, batch_size, rows) for name in distributions for rows in physical_batch_sizes]
    configs += [("plain", "none", rows, None) for rows in plain_rows]
    runners = {}
    for kind, name, rows_per_step, rows in configs:
        strategy = strategies.get(name) or distribution_lib.make_strategy(name)
        if progress:
            progress(f"compiling {kind} B={rows_per_step} P={rows} on {name}")
        runner = _Runner(strategy, model_name, input_shape, rows_per_step, rows, augmult, clipping, num_classes, rng)
        runner.step()  # warm-up: tracing and compilation are not measured
        peaks = [step_memory(runner.step) for _ in range(MEMORY_STEPS)]
        runners[kind, name, rows_per_step, rows] = (runner, None if None in peaks else max(peaks), strategy)
    timings = {key: [] for key in runners}
    for r in range(rounds):
        if progress:
            progress(f"round {r + 1}/{rounds}")
        for key, (runner, *_) in runners.items():
            steps, start = 0, time.perf_counter()
            while (elapsed := time.perf_counter() - start) < seconds_per_round or steps < 1:
                runner.step()
                steps += 1
            timings[key].append(elapsed / steps)
    results = []
    for (kind, name, rows_per_step, rows), (runner, memory, strategy) in runners.items():
        seconds = statistics.median(timings[kind, name, rows_per_step, rows])
        results.append(
            ScaleMeasurement(
                kind,
                name,
                strategy.num_replicas_in_sync,
                rows_per_step,
                rows,
                rows_per_step / seconds,
                seconds,
                memory,
                state_bytes(runner.model),
            )
        )
    return results


def _mib(n: int | None) -> str:
    return "n/a" if n is None else f"{n / 2**20:.1f}"


def markdown_table(title: str, results: list[ScaleMeasurement]) -> str:
    """Per configuration: examples/s, s/step, memory, and ratios to the one-device baselines: the
    one-pass step of B (throughput) and the plain step of P rows (memory)."""
    one_pass = next((r for r in results if r.kind == "logical" and r.physical_batch_size is None), None)
    plain = {r.batch_size: r for r in results if r.kind == "plain"}
    lines = [
        f"### {title}",
        "",
        "| step | distribution | replicas | B | P | examples/s | s/step | memory MiB | speed vs one pass of B "
        "| memory vs plain step of P rows |",
        "|---|---|---|---|---|---|---|---|---|---|",
    ]
    for r in results:
        speed = f"{r.examples_per_second / one_pass.examples_per_second:.2f}x" if one_pass else "n/a"
        base = plain.get(r.physical_batch_size) if r.kind == "logical" else None
        memory = f"{r.memory_bytes / base.memory_bytes:.2f}x" if base and r.memory_bytes and base.memory_bytes else "-"
        lines.append(
            f"| {r.kind} | {r.distribution} | {r.replicas} | {r.batch_size} | {r.physical_batch_size or '-'} | "
            f"{r.examples_per_second:.1f} | {r.seconds_per_step:.3f} | {_mib(r.memory_bytes)} | {speed} | {memory} |"
        )
    return "\n".join(lines) + "\n"
