"""Throughput of the training input pipeline (in memory or streamed from ArrayRecord files) beside
the private step it feeds: whether reading, decoding and augmenting keep up with training.

The pipeline is the trainer's own (``dpzoo.data.pipeline.train_dataset``: Poisson steps of B
expected records, K augmented views, chunks of P rows) iterated alone after a warm-up; records/s
counts real records. Its resident memory is sampled after every element: the peak above the level
after the warm-up shows whether it grows with the steps. The private step is
``dpzoo.benchmarks.scale``'s logical step of B rows on the same input shape, K and P.
"""

import dataclasses
import time

import psutil

from dpzoo import data
from dpzoo.data import pipeline, sampling

WARMUP_STEPS = 3


@dataclasses.dataclass(frozen=True)
class InputMeasurement:
    dataset: str
    source: str
    records: int  # N
    batch_size: int
    augmult: int
    physical_batch_size: int | None
    steps: int
    records_per_second: float
    seconds_per_step: float
    rss_after_warmup_bytes: int
    rss_peak_bytes: int


def measure_input(
    dataset: data.Dataset,
    *,
    batch_size: int,
    augmult: int = 1,
    physical_batch_size: int | None = None,
    steps: int = 20,
    seed: int = 0,
) -> InputMeasurement:
    """Iterates ``steps`` Poisson steps of the training pipeline over ``dataset`` after a warm-up."""
    n = len(dataset.x_train)
    sampler = sampling.make_sampler("poisson", n, batch_size, seed=seed, bucketed=physical_batch_size is None)
    stream = pipeline.train_dataset(
        dataset.x_train,
        dataset.y_train,
        sampler,
        pipeline.Preprocessor.for_dataset(dataset),
        steps=WARMUP_STEPS + steps,
        augment=not dataset.is_text,
        augmult=augmult,
        physical_batch_size=physical_batch_size,
        seed=seed,
    )
    warmup_elements = sum(_elements_of_step(sampler, physical_batch_size, step) for step in range(WARMUP_STEPS))
    process, records = psutil.Process(), 0
    for i, element in enumerate(stream):
        if i == warmup_elements:
            after_warmup = peak = process.memory_info().rss
            start = time.perf_counter()
        if i >= warmup_elements:
            records += int(element[2].numpy().sum())
            peak = max(peak, process.memory_info().rss)
    seconds = time.perf_counter() - start
    return InputMeasurement(
        dataset.name,
        dataset.source,
        n,
        batch_size,
        augmult,
        physical_batch_size,
        steps,
        records / seconds,
        seconds / steps,
        after_warmup,
        peak,
    )


def _elements_of_step(sampler, rows: int | None, step: int) -> int:
    """How many pipeline elements step ``step`` is: one, or its chunks of ``rows``."""
    if not rows:
        return 1
    return pipeline.chunks_in_step(int(sampler.batch(step)[1].sum()), rows)


def markdown_table(title: str, inputs: list[InputMeasurement], step_examples_per_second: float | None) -> str:
    """Per input: records/s, s/step, resident memory, and records/s over the private step's
    examples/s (above 1x: the input keeps up with training)."""
    lines = [
        f"### {title}",
        "",
        "| dataset | source | N | B | K | P | input records/s | input s/step | RSS after warm-up MiB "
        "| RSS peak MiB | input vs private step |",
        "|---|---|---|---|---|---|---|---|---|---|---|",
    ]
    for m in inputs:
        ratio = f"{m.records_per_second / step_examples_per_second:.1f}x" if step_examples_per_second else "n/a"
        lines.append(
            f"| {m.dataset} | {m.source} | {m.records:,} | {m.batch_size} | {m.augmult} | {m.physical_batch_size or '-'} "
            f"| {m.records_per_second:.0f} | {m.seconds_per_step:.3f} | {m.rss_after_warmup_bytes / 2**20:.0f} "
            f"| {m.rss_peak_bytes / 2**20:.0f} | {ratio} |"
        )
    return "\n".join(lines) + "\n"
