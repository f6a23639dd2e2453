"""Private fine-tuning modes side by side: examples/s and peak memory of one private step in
each mode (dpzoo.finetuning: full, head, norms, lora) on one backbone, against full fine-tuning.

Each mode gets its own copy of the backbone, prepared (a new zero head of ``num_classes``) and
made private with the default clipping (``auto``: ghost norms where every trainable layer has a
norm function; LoRA on a convolution falls back to the vectorised path, which the table names).
After a warm-up, rounds interleave the modes on the same padded Poisson batches as
dpzoo.benchmarks.throughput, so load from elsewhere on the machine hits them alike.
"""

import dataclasses
import statistics

import numpy as np

from dpzoo import finetuning, models
from dpzoo.benchmarks.throughput import (
    batch_memory,
    method_batches,
    mib,
    private_compiled,
    ratio,
    state_bytes,
    timed_round,
)
from dpzoo.privacy import DPConfig


@dataclasses.dataclass(frozen=True)
class FinetuneMeasurement:
    mode: str
    trainable_parameters: int
    clipping: str  # "ghost" or "vectorized", as the engine chose
    examples_per_second: float
    seconds_per_step: float
    step_memory_bytes: int | None  # allocator peak during a step on the largest batch, above what it held before
    state_bytes: int  # variables and optimizer state

    @property
    def memory_bytes(self) -> int | None:
        return None if self.step_memory_bytes is None else self.step_memory_bytes + self.state_bytes


def _private(model_name: str, input_shape, num_classes: int, mode: str, batch_size: int, lora_rank: int):
    backbone = models.get(model_name, input_shape=input_shape, num_classes=num_classes)
    prepared = finetuning.prepare(backbone, mode, num_classes=num_classes, lora_rank=lora_rank)
    config = DPConfig(l2_norm_clip=1.0, noise_multiplier=1.0, expected_batch_size=batch_size, seed=0)
    return private_compiled(prepared, config)


def measure_finetuning(
    *,
    model_name: str,
    input_shape: tuple[int, ...],
    batch_size: int,
    modes: tuple[str, ...] = finetuning.MODES,
    lora_rank: int = 8,
    rounds: int = 5,
    seconds_per_round: float = 2.0,
    num_classes: int = 10,
    seed: int = 0,
    progress=None,
) -> list[FinetuneMeasurement]:
    """Median throughput and step memory of a private step in each fine-tuning mode, interleaved."""
    rng = np.random.default_rng(seed)
    runners = {}
    for mode in modes:
        if progress:
            progress(f"preparing {mode}")
        private = _private(model_name, input_shape, num_classes, mode, batch_size, lora_rank)
        batches = method_batches("dpzoo", batch_size, input_shape, 1, num_classes, False, rng)
        for batch in batches:  # warm-up: a graph per padded size
            private.train_on_batch(batch.x, batch.y, sample_weight=batch.mask)
        memory = batch_memory(private, max(batches, key=lambda b: len(b.mask)))
        runners[mode] = (private, batches, memory)
    timings = {mode: [] for mode in runners}
    for r in range(rounds):
        if progress:
            progress(f"round {r + 1}/{rounds}")
        for mode, (private, batches, _) in runners.items():
            timings[mode].append(timed_round(private, batches, seconds_per_round))
    results = []
    for mode, (private, _, memory) in runners.items():
        results.append(
            FinetuneMeasurement(
                mode=mode,
                trainable_parameters=sum(int(np.prod(v.shape)) for v in private.trainable_variables),
                clipping=private.clipping_strategy,
                examples_per_second=statistics.median(e for _, e in timings[mode]),
                seconds_per_step=statistics.median(t for t, _ in timings[mode]),
                step_memory_bytes=memory,
                state_bytes=state_bytes(private),
            )
        )
    return results


def markdown_table(title: str, results: list[FinetuneMeasurement]) -> str:
    """One row per mode, its speed and memory as ratios to full fine-tuning's."""
    full = next((r for r in results if r.mode == "full"), None)
    lines = [
        f"### {title}",
        "",
        "| mode | trainable parameters | clipping | s/step | examples/s | speed vs full | "
        "peak memory MiB (step + state) | memory vs full |",
        "|---|---|---|---|---|---|---|---|",
    ]
    for r in results:
        lines.append(
            f"| {r.mode} | {r.trainable_parameters:,} | {r.clipping} | {r.seconds_per_step:.4f} | "
            f"{r.examples_per_second:.0f} | {ratio(r.examples_per_second, full and full.examples_per_second)} | "
            f"{mib(r.memory_bytes)} ({mib(r.step_memory_bytes)} + {mib(r.state_bytes)}) | "
            f"{ratio(r.memory_bytes, full and full.memory_bytes)} |"
        )
    return "\n".join(lines) + "\n"
