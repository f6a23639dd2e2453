"""Throughput and memory of private vs non-private training, measured side by side in one process.

Each (method, augmult K) gets its own copy of the model and one compiled train step. After a
warm-up (tracing and compilation are not timed), rounds interleave all of them so that load
from elsewhere on the machine hits every one alike; throughput is the median over rounds of
real examples per second.

Methods:
  nonprivate      Keras ``fit``-style training of the same model (with K views: B * K images).
  dpzoo[_<clip>]  dpzoo's engine with ``DPConfig(clipping=<clip>)`` (default: auto), timed on a
                  padded Poisson batch of the rows training uses (``dpzoo_sampler``: bucketed
                  padding without XLA, the fixed pad M with it), so padding is part of its cost;
                  each padded size runs in a graph of its own, traced in the warm-up, as the
                  common sizes of a long run do (``dpzoo.privacy.sized_steps``).
  tf_privacy      TF Privacy's DPKerasSGDOptimizer, one microbatch per example.
  tf_privacy_dpmodel  TF Privacy's DPModel: fast (ghost) clipping when its layer registry covers
                  every trainable layer, its vectorised per-example path otherwise.
TF Privacy has no augmentation multiplicity, so its methods are measured at K = 1 only. Its Keras
optimizers and DPModel need tf-keras: on Keras 3 they are refused, and ``dpzoo-bench --keras=2,3``
measures them in the tf-keras processes it alternates with Keras 3 ones.

Memory: the device allocator's peak during a step above what was allocated before it (the
step's working memory; the largest of ``MEMORY_STEPS`` steps, as the order in which the runtime
schedules ops varies it), plus the bytes of the model's variables and optimizer state. dpzoo's
peak is taken on its largest Poisson batch, and again on a batch of exactly B rows, to compare
with non-private training at equal rows.
"""

import dataclasses
import statistics
import time

import numpy as np
import tensorflow as tf

from dpzoo import models
from dpzoo.common.errors import UsageError
from dpzoo.common.keras_api import KERAS_3
from dpzoo.common.stack import keras
from dpzoo.common.tf_privacy import tf_privacy_module
from dpzoo.data import sampling
from dpzoo.privacy import DPConfig, make_private, sized_steps, tf_privacy_optimizers

CLIPPING = {"dpzoo": "auto", "dpzoo_vectorized": "vectorized", "dpzoo_ghost": "ghost"}  # engine, by strategy
TF_PRIVACY = ("tf_privacy", "tf_privacy_dpmodel")
METHODS = ("nonprivate", *CLIPPING, *TF_PRIVACY)
POISSON_N = 60_000  # dataset size that sets dpzoo's Poisson pad (Fashion-MNIST's training set)
MEMORY_STEPS = 3  # steps whose largest allocator peak is reported
_LOSS = keras.losses.SparseCategoricalCrossentropy(from_logits=True)


@dataclasses.dataclass(frozen=True)
class Measurement:
    method: str
    augmult: int
    examples_per_second: float
    seconds_per_step: float
    mean_rows: float  # mean physical rows per step (real + padding)
    step_memory_bytes: int | None  # allocator peak during a step above the memory in use before it
    state_bytes: int  # model variables + optimizer state
    memory_rows: int  # physical rows of the batch step_memory_bytes was measured on (the largest)
    step_memory_at_batch_size_bytes: int | None  # the same on a batch of B rows (B * K images non-private)

    @property
    def memory_bytes(self) -> int | None:
        return None if self.step_memory_bytes is None else self.step_memory_bytes + self.state_bytes

    @property
    def memory_at_batch_size_bytes(self) -> int | None:
        step = self.step_memory_at_batch_size_bytes
        return None if step is None else step + self.state_bytes


def dpzoo_sampler(batch_size: int, jit: bool) -> sampling.PoissonSampler:
    """The Poisson sampler dpzoo's training uses: bucketed padding without XLA, fixed M with it."""
    return sampling.make_sampler("poisson", POISSON_N, batch_size, seed=0, bucketed=not jit)


def _tf_privacy_dpmodel(model: keras.Model, jit: bool) -> keras.Model:
    layer_registry = tf_privacy_module("privacy.fast_gradient_clipping.layer_registry")
    dp_keras_model = tf_privacy_module("privacy.keras_models.dp_keras_model")

    dp_model = dp_keras_model.DPModel(
        l2_norm_clip=1.0,
        noise_multiplier=1.0,
        use_xla=jit,
        layer_registry=layer_registry.make_default_layer_registry(),
        inputs=model.inputs,
        outputs=model.outputs,
    )
    dp_model.compile(keras.optimizers.SGD(0.1), loss=_LOSS)
    return dp_model


def private_compiled(model: keras.Model, config: DPConfig, jit: bool = False) -> keras.Model:
    """``model`` made private with ``config`` and compiled, its train function built for the
    steady state of a long run (each padded batch size its own graph)."""
    private = make_private(model, config)
    private.compile(keras.optimizers.SGD(0.1), loss=_LOSS, jit_compile=jit)
    function = private.make_train_function()
    if isinstance(function, sized_steps.SizedTrainFunction):
        function.patience = 0
    return private


def _compiled(method: str, model: keras.Model, batch_size: int, augmult: int, jit: bool) -> keras.Model:
    """The model compiled for ``method``, ready for train_on_batch."""
    if method == "nonprivate":
        model.compile(keras.optimizers.SGD(0.1), loss=_LOSS, jit_compile=jit)
        return model
    if method in CLIPPING:
        config = DPConfig(
            l2_norm_clip=1.0,
            noise_multiplier=1.0,
            expected_batch_size=batch_size,
            clipping=CLIPPING[method],
            augmult=augmult,
            seed=0,
        )
        return private_compiled(model, config, jit)
    if method == "tf_privacy_dpmodel":
        return _tf_privacy_dpmodel(model, jit)
    return tf_privacy_optimizers.compile_model(
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


@dataclasses.dataclass(frozen=True)
class _Batch:
    x: np.ndarray
    y: np.ndarray
    mask: np.ndarray
    examples: int  # real (private) examples the step trains on


def method_batches(method, batch_size, input_shape, augmult, num_classes, jit, rng, draws=8) -> list[_Batch]:
    """Random data in the method's layout. dpzoo: ``draws`` Poisson steps as its sampler pads them
    (bucketed: sizes vary like in training); non-private: the B * K images of a step; TF
    Privacy: B rows."""
    if method in CLIPPING:
        sampler = dpzoo_sampler(batch_size, jit)
        masks = [sampler.sample()[1] for _ in range(draws)]
        if sampler.pad_to:  # fixed pad: the compute does not depend on the draw; B real rows
            masks = [(np.arange(sampler.pad_to) < batch_size).astype(np.float32)]
        view_shape = (augmult, *input_shape) if augmult > 1 else input_shape
    else:
        rows = batch_size * augmult if method == "nonprivate" else batch_size
        masks, view_shape = [np.ones(rows, np.float32)], input_shape
    batches = []
    for mask in masks:
        x = rng.standard_normal((len(mask), *view_shape)).astype(np.float32)
        examples = batch_size if method == "nonprivate" else int(mask.sum())
        batches.append(_Batch(x, rng.integers(0, num_classes, len(mask)), mask, examples))
    return batches


def _memory_device() -> str:
    return "GPU:0" if tf.config.list_physical_devices("GPU") else "CPU:0"


def step_memory(step) -> int | None:
    """Peak bytes the allocator holds during ``step()`` above what it held before; None where the
    device keeps no statistics."""
    device = _memory_device()
    try:
        tf.config.experimental.reset_memory_stats(device)
        before = tf.config.experimental.get_memory_info(device)["current"]
        step()
        peak = tf.config.experimental.get_memory_info(device)["peak"]
    except (ValueError, tf.errors.OpError):
        return None
    return max(0, peak - before) if peak else None


def batch_memory(model: keras.Model, batch: "_Batch") -> int | None:
    """The largest ``step_memory`` of ``MEMORY_STEPS`` training steps on ``batch``."""

    def step():
        model.train_on_batch(batch.x, batch.y, sample_weight=batch.mask)

    peaks = [step_memory(step) for _ in range(MEMORY_STEPS)]
    return None if None in peaks else max(peaks)


def _batch_of_b_rows(batches: list["_Batch"], batch_size: int, num_classes: int, rng) -> "_Batch":
    """A batch of exactly B physical rows, all real, in the layout of ``batches``."""
    x = rng.standard_normal((batch_size, *batches[0].x.shape[1:])).astype(np.float32)
    return _Batch(x, rng.integers(0, num_classes, batch_size), np.ones(batch_size, np.float32), batch_size)


def state_bytes(model: keras.Model) -> int:
    """Bytes of the model's variables and its optimizer's slots (each variable counted once)."""
    slots = model.optimizer.variables
    slots = slots() if callable(slots) else slots  # TF Privacy's optimizers: the legacy method form
    variables = {id(v): v for v in [*model.variables, *slots]}
    return sum(int(np.prod(v.shape)) * tf.as_dtype(v.dtype).size for v in variables.values())


def _runs(methods, augmults):
    """(method, K) pairs to measure: TF Privacy at K = 1 only."""
    return [(m, k) for k in augmults for m in methods if k == 1 or m not in TF_PRIVACY]


def timed_round(model: keras.Model, batches: list[_Batch], seconds: float) -> tuple[float, float]:
    """(seconds per step, examples per second) of steps cycling through ``batches``."""
    steps = examples = 0
    start = time.perf_counter()
    while True:
        batch = batches[steps % len(batches)]
        model.train_on_batch(batch.x, batch.y, sample_weight=batch.mask)
        steps, examples = steps + 1, examples + batch.examples
        elapsed = time.perf_counter() - start
        if elapsed >= seconds and steps >= len(batches):
            return elapsed / steps, examples / elapsed


def measure(
    *,
    model_name: str,
    input_shape: tuple[int, ...],
    batch_size: int,
    methods: tuple[str, ...] = METHODS,
    augmults: tuple[int, ...] = (1,),
    rounds: int = 5,
    seconds_per_round: float = 2.0,
    num_classes: int = 10,
    jit: bool = False,
    seed: int = 0,
    progress=None,
) -> list[Measurement]:
    """Median throughput and step memory of each (method, K), interleaved (see the module doc)."""
    peers = [m for m in methods if m in TF_PRIVACY]
    if KERAS_3 and peers:
        raise UsageError(
            f"{', '.join(peers)}: TF Privacy's Keras optimizers and DPModel need tf-keras. Measure them with "
            "DPZOO_KERAS=2, or compare both Keras with dpzoo-bench --keras=2,3 (the peers run in its tf-keras processes)."
        )
    rng = np.random.default_rng(seed)
    runners = {}
    for method, augmult in _runs(methods, augmults):
        if progress:
            progress(f"compiling {method} K={augmult}")
        model = models.get(model_name, input_shape=input_shape, num_classes=num_classes)
        model = _compiled(method, model, batch_size, augmult, jit)
        batches = method_batches(method, batch_size, input_shape, augmult, num_classes, jit, rng)
        for batch in batches:  # warm-up: trace (a relaxed batch axis after the second size), compile
            model.train_on_batch(batch.x, batch.y, sample_weight=batch.mask)
        largest = max(batches, key=lambda b: len(b.mask))
        memory = batch_memory(model, largest)
        at_b = memory
        if method in CLIPPING and len(largest.mask) != batch_size:  # padded Poisson batches: also at B rows
            at_b = batch_memory(model, _batch_of_b_rows(batches, batch_size, num_classes, rng))
        rows = float(np.mean([len(b.mask) for b in batches]))
        runners[method, augmult] = (model, batches, rows, (memory, len(largest.mask), at_b), state_bytes(model))
    timings = {key: [] for key in runners}
    for r in range(rounds):
        if progress:
            progress(f"round {r + 1}/{rounds}")
        for key, (model, batches, *_) in runners.items():
            timings[key].append(timed_round(model, batches, seconds_per_round))
    results = []
    for (method, augmult), rounds_measured in timings.items():
        _, _, rows, (memory, memory_rows, at_b), state = runners[method, augmult]
        seconds = statistics.median(t for t, _ in rounds_measured)
        speed = statistics.median(e for _, e in rounds_measured)
        results.append(Measurement(method, augmult, speed, seconds, rows, memory, state, memory_rows, at_b))
    return results


def mib(n: int | None) -> str:
    return "-" if n is None else f"{n / 2**20:.1f}"


def ratio(value: float | None, base: float | None) -> str:
    return f"{value / base:.3g}x" if value and base else "-"


def markdown_table(title: str, results: list[Measurement]) -> str:
    """One row per (method, K): throughput and memory (on the largest batch, and at B rows), each
    as a ratio to non-private at that K, and the time per step relative to the same method at K = 1."""
    by_key = {(r.method, r.augmult): r for r in results}
    lines = [
        f"### {title}",
        "",
        "| method | K | rows/step | s/step | examples/s | speed vs non-private | "
        "peak memory MiB (step + state) on the largest batch | memory vs non-private | "
        "memory at B rows vs non-private | time vs K=1 |",
        "|---|---|---|---|---|---|---|---|---|---|",
    ]
    for r in results:
        base = by_key.get(("nonprivate", r.augmult))
        speed = ratio(r.examples_per_second, base and base.examples_per_second)
        memory = ratio(r.memory_bytes, base and base.memory_bytes)
        at_b = ratio(r.memory_at_batch_size_bytes, base and base.memory_bytes)
        k1 = by_key.get((r.method, 1))
        cost = ratio(r.seconds_per_step, k1.seconds_per_step) if k1 and r.augmult > 1 else "-"
        lines.append(
            f"| {r.method} | {r.augmult} | {r.mean_rows:.4g} | {r.seconds_per_step:.4f} | "
            f"{r.examples_per_second:.0f} | {speed} | {mib(r.memory_bytes)} ({mib(r.step_memory_bytes)} + "
            f"{mib(r.state_bytes)}) [{r.memory_rows} rows] | {memory} | {at_b} | {cost} |"
        )
    return "\n".join(lines) + "\n"
