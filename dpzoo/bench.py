"""Throughput and memory of private vs non-private training, measured side by side in one process.

Each (method, augmult K) gets its own copy of the model and one compiled train step. After a
warm-up (tracing and compilation are not timed), rounds interleave all of them so that load
from elsewhere on the machine hits every one alike; throughput is the median over rounds of
real examples per second.

Methods:
  nonprivate      Keras ``fit``-style training of the same model (with K views: B * K images).
  dpzoo[_<clip>]  dpzoo's engine with ``DPConfig(clipping=<clip>)`` (default: auto), timed on a
                  padded Poisson batch of the rows training uses (``dpzoo_sampler``: bucketed
                  padding without XLA, the fixed pad M with it), so padding is part of its cost.
  tf_privacy      TF Privacy's DPKerasSGDOptimizer, one microbatch per example.
  tf_privacy_dpmodel  TF Privacy's DPModel: fast (ghost) clipping when its layer registry covers
                  every trainable layer, its vectorised per-example path otherwise.
TF Privacy has no augmentation multiplicity, so its methods are measured at K = 1 only.

Memory: the device allocator's peak during one step above what was allocated before it (the
step's working memory), plus the bytes of the model's variables and optimizer state.
"""

import dataclasses
import statistics
import time

import numpy as np
import tensorflow as tf

from dpzoo import models, sampling, tf_privacy_engine
from dpzoo.config import DPConfig
from dpzoo.engine import make_private

CLIPPING = {"dpzoo": "auto", "dpzoo_vectorized": "vectorized", "dpzoo_ghost": "ghost"}  # engine, by strategy
TF_PRIVACY = ("tf_privacy", "tf_privacy_dpmodel")
METHODS = ("nonprivate", *CLIPPING, *TF_PRIVACY)
POISSON_N = 60_000  # dataset size that sets dpzoo's Poisson pad (Fashion-MNIST's training set)
_LOSS = tf.keras.losses.SparseCategoricalCrossentropy(from_logits=True)


@dataclasses.dataclass(frozen=True)
class Measurement:
    method: str
    augmult: int
    examples_per_second: float
    seconds_per_step: float
    physical_batch_size: float  # mean physical rows per step (real + padding)
    step_memory_bytes: int | None  # allocator peak during a step above the memory in use before it
    state_bytes: int  # model variables + optimizer state

    @property
    def memory_bytes(self) -> int | None:
        return None if self.step_memory_bytes is None else self.step_memory_bytes + self.state_bytes


def dpzoo_sampler(batch_size: int, jit: bool) -> sampling.PoissonSampler:
    """The Poisson sampler dpzoo's training uses: bucketed padding without XLA, fixed M with it."""
    return sampling.make_sampler("poisson", POISSON_N, batch_size, seed=0, bucketed=not jit)


def _tf_privacy_dpmodel(model: tf.keras.Model, jit: bool) -> tf.keras.Model:
    from tensorflow_privacy.privacy.fast_gradient_clipping import layer_registry
    from tensorflow_privacy.privacy.keras_models import dp_keras_model

    dp_model = dp_keras_model.DPModel(
        l2_norm_clip=1.0,
        noise_multiplier=1.0,
        use_xla=jit,
        layer_registry=layer_registry.make_default_layer_registry(),
        inputs=model.inputs,
        outputs=model.outputs,
    )
    dp_model.compile(tf.keras.optimizers.SGD(0.1), loss=_LOSS)
    return dp_model


def _compiled(method: str, model: tf.keras.Model, batch_size: int, augmult: int, jit: bool) -> tf.keras.Model:
    """The model compiled for ``method``, ready for train_on_batch."""
    if method == "nonprivate":
        model.compile(tf.keras.optimizers.SGD(0.1), loss=_LOSS, jit_compile=jit)
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
        private = make_private(model, config)
        private.compile(tf.keras.optimizers.SGD(0.1), loss=_LOSS, jit_compile=jit)
        return private
    if method == "tf_privacy_dpmodel":
        return _tf_privacy_dpmodel(model, jit)
    return tf_privacy_engine.compile_model(
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


def _batches(method, batch_size, input_shape, augmult, num_classes, jit, rng, draws=8) -> list[_Batch]:
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


def state_bytes(model: tf.keras.Model) -> int:
    """Bytes of the model's variables and its optimizer's slots (each variable counted once)."""
    slots = model.optimizer.variables
    slots = slots() if callable(slots) else slots  # TF Privacy's optimizers: the legacy method form
    variables = {id(v): v for v in [*model.variables, *slots]}
    return sum(int(np.prod(v.shape)) * v.dtype.size for v in variables.values())


def _runs(methods, augmults):
    """(method, K) pairs to measure: TF Privacy at K = 1 only."""
    return [(m, k) for k in augmults for m in methods if k == 1 or m not in TF_PRIVACY]


def _timed_round(model: tf.keras.Model, batches: list[_Batch], seconds: float) -> tuple[float, float]:
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
    rng = np.random.default_rng(seed)
    runners = {}
    for method, augmult in _runs(methods, augmults):
        if progress:
            progress(f"compiling {method} K={augmult}")
        model = models.get(model_name, input_shape=input_shape, num_classes=num_classes)
        model = _compiled(method, model, batch_size, augmult, jit)
        batches = _batches(method, batch_size, input_shape, augmult, num_classes, jit, rng)
        for batch in batches:  # warm-up: trace (a relaxed batch axis after the second size), compile
            model.train_on_batch(batch.x, batch.y, sample_weight=batch.mask)
        largest = max(batches, key=lambda b: len(b.mask))
        memory = step_memory(lambda m=model, b=largest: m.train_on_batch(b.x, b.y, sample_weight=b.mask))
        rows = float(np.mean([len(b.mask) for b in batches]))
        runners[method, augmult] = (model, batches, rows, memory, state_bytes(model))
    timings = {key: [] for key in runners}
    for r in range(rounds):
        if progress:
            progress(f"round {r + 1}/{rounds}")
        for key, (model, batches, *_) in runners.items():
            timings[key].append(_timed_round(model, batches, seconds_per_round))
    results = []
    for (method, augmult), rounds_measured in timings.items():
        _, _, rows, memory, state = runners[method, augmult]
        seconds = statistics.median(t for t, _ in rounds_measured)
        speed = statistics.median(e for _, e in rounds_measured)
        results.append(Measurement(method, augmult, speed, seconds, rows, memory, state))
    return results


def _mib(n: int | None) -> str:
    return "-" if n is None else f"{n / 2**20:.1f}"


def markdown_table(title: str, results: list[Measurement]) -> str:
    """One row per (method, K): throughput and memory, each as a ratio to non-private at that K,
    and the time per step relative to the same method at K = 1."""
    by_key = {(r.method, r.augmult): r for r in results}
    lines = [
        f"### {title}",
        "",
        "| method | K | rows/step | s/step | examples/s | speed vs non-private | "
        "memory MiB (step + state) | memory vs non-private | time vs K=1 |",
        "|---|---|---|---|---|---|---|---|---|",
    ]
    for r in results:
        base = by_key.get(("nonprivate", r.augmult))
        speed = f"{r.examples_per_second / base.examples_per_second:.3g}x" if base else "-"
        memory = "-"
        if base and r.memory_bytes and base.memory_bytes:
            memory = f"{r.memory_bytes / base.memory_bytes:.3g}x"
        k1 = by_key.get((r.method, 1))
        cost = f"{r.seconds_per_step / k1.seconds_per_step:.3g}x" if k1 and r.augmult > 1 else "-"
        lines.append(
            f"| {r.method} | {r.augmult} | {r.physical_batch_size:.4g} | {r.seconds_per_step:.4f} | "
            f"{r.examples_per_second:.0f} | {speed} | {_mib(r.memory_bytes)} ({_mib(r.step_memory_bytes)} + "
            f"{_mib(r.state_bytes)}) | {memory} | {cost} |"
        )
    return "\n".join(lines) + "\n"
