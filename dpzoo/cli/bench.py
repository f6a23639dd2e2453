"""dpzoo-bench: private vs non-private training throughput and memory, side by side in one process.

dpzoo-bench --models=tutorial_cnn,lenet5 --batch_size=256 --augmult=1,4 --output=results/bench_cpu

With --physical_batch_size or --distribution it measures a logical private step instead, by
physical batch size P and tf.distribute strategy (dpzoo.benchmarks.scale):

dpzoo-bench --models=tutorial_cnn --batch_size=1024 --physical_batch_size=none,1024,256,128 \
  --distribution=none,mirrored --cpu_devices=2 --output=results/bench_scale_cpu

With --inputs it measures the training input pipeline (in memory, or streamed from a tfds ArrayRecord
data set) in records/s beside the private step it feeds (dpzoo.benchmarks.inputs):

dpzoo-bench --inputs=fashion_mnist,tfds:fashion_mnist --data_dir=DIR --models=tutorial_cnn --augmult=2

With --finetune it measures a private step of each fine-tuning mode on each model, against full
fine-tuning (dpzoo.benchmarks.finetuning):

dpzoo-bench --finetune=full,head,norms,lora --models=tutorial_cnn_gnws --output=results/bench_finetune_cpu

With --keras=2,3 it runs the benchmark on tf-keras and on Keras 3 in alternating processes and
compares them (dpzoo.benchmarks.keras_comparison):

dpzoo-bench --keras=2,3 --keras_processes=3 --models=tutorial_cnn,lenet5 --methods=nonprivate,dpzoo
"""

import dataclasses
import json
import os
import platform
import shlex
import sys
import tempfile

import tensorflow as tf
from absl import flags

from dpzoo import data, finetuning
from dpzoo.benchmarks import finetuning as finetune_benchmark
from dpzoo.benchmarks import inputs as input_benchmark
from dpzoo.benchmarks import keras_comparison
from dpzoo.benchmarks import scale as scale_benchmark
from dpzoo.benchmarks import throughput as bench
from dpzoo.cli import app
from dpzoo.common.errors import UsageError
from dpzoo.training import distribution
from dpzoo.training.distribution import DISTRIBUTIONS

_MODELS = flags.DEFINE_list("models", ["tutorial_cnn", "lenet5"], "Registered models to measure.")
_SHAPE = flags.DEFINE_list("input_shape", ["28", "28", "1"], "Input shape H,W,C.")
_BATCH = flags.DEFINE_integer("batch_size", 256, "Expected batch size B.", lower_bound=1)
_METHODS = flags.DEFINE_list("methods", list(bench.METHODS), f"Subset of {', '.join(bench.METHODS)}.")
_AUGMULT = flags.DEFINE_list(
    "augmult", ["1"], "Augmentation multiplicities K to measure (dpzoo and non-private; TF Privacy at K=1 only)."
)
_ROUNDS = flags.DEFINE_integer("rounds", 5, "Interleaved rounds (median taken).", lower_bound=1)
_SECONDS = flags.DEFINE_float("seconds_per_round", 2.0, "Time per method per round.")
_JIT = flags.DEFINE_boolean("jit_compile", False, "Compile every method with XLA.")
_OUTPUT = flags.DEFINE_string("output", None, "Write <output>.json and <output>.md.")
_PHYSICAL = flags.DEFINE_list(
    "physical_batch_size",
    [],
    "Scale mode: physical batch sizes P to measure a logical step of --batch_size rows in ('none': one pass); "
    "a plain one-pass step of each P rows is measured beside them as the memory baseline.",
)
_DISTRIBUTION = flags.DEFINE_list(
    "distribution", [], "Scale mode: tf.distribute strategies to measure (none, mirrored, multi_worker, tpu)."
)
_CPU_DEVICES = flags.DEFINE_integer(
    "cpu_devices", None, "Split the CPU into this many logical devices (mirrored without GPUs).", lower_bound=1
)
_CLIPPING = flags.DEFINE_enum("clipping", "auto", ["auto", "ghost", "vectorized"], "Scale mode: the clipping.")
_INPUTS = flags.DEFINE_list(
    "inputs",
    [],
    "Input mode: datasets whose training input pipeline to measure, in memory or streamed (e.g. "
    "fashion_mnist,tfds:fashion_mnist), beside a private step of the first of --models on their input shape "
    "(--batch_size, the first --augmult, the first --physical_batch_size).",
)
_DATA_DIR = flags.DEFINE_string("data_dir", None, "Input mode: the datasets' --data_dir (as for dpzoo-train).")
_INPUT_STEPS = flags.DEFINE_integer("input_steps", 20, "Input mode: steps of the pipeline timed.", lower_bound=1)
_FINETUNE = flags.DEFINE_list(
    "finetune",
    [],
    f"Fine-tuning mode: modes ({', '.join(finetuning.MODES)}) whose private step to measure side by side on "
    "each of --models, a new head of 10 classes; speed and memory against full.",
)
_LORA_RANK = flags.DEFINE_integer("lora_rank", 8, "Fine-tuning mode: the adapters' rank for lora.", lower_bound=1)
_KERAS = flags.DEFINE_list(
    "keras",
    [],
    "Keras mode: 2,3 runs the benchmark on tf-keras and on Keras 3 in alternating processes and compares them "
    "(TF Privacy's peers in the tf-keras processes only).",
)
_KERAS_PROCESSES = flags.DEFINE_integer(
    "keras_processes", 3, "Keras mode: processes per Keras (alternated; median taken).", lower_bound=1
)

KERAS_HEADER = """# Keras 3 against tf-keras: training throughput, private and non-private

Measured by `{command}`, {device}: the benchmark of `dpzoo-bench` (interleaved rounds after a
warm-up, median per method) in processes of their own per Keras, alternating tf-keras and Keras 3;
each figure is the median over its processes. dpzoo's rows include the Poisson padding; examples/s
counts real examples. TF Privacy's Keras peers run on tf-keras only.

"""

FINETUNE_HEADER = """# Private fine-tuning modes: speed and memory against full fine-tuning

Measured side by side in one process by `{command}`: interleaved rounds after warm-up, median
per mode; {device}. Each mode trains a new zero-initialised head of 10 classes on the backbone
(dpzoo.finetuning), a private step on padded Poisson batches (examples/s counts real examples).
`clipping`: the strategy the engine chose (LoRA on a convolution has no ghost norm: vectorised).
Memory: the allocator's peak during a step above what it held before, plus variables and
optimizer state.

"""

SCALE_HEADER = """# A logical DP-SGD step by physical batch size and distribution

Measured side by side in one process by `{command}`: interleaved rounds after warm-up, median per
configuration; {device}. A logical step trains on B real rows in chunks of P (`-`: one pass);
`plain` is one pass of P rows, the memory baseline. Memory: the allocator's peak during a step
above what it held before, plus variables, optimizer slots and accumulators.

"""

INPUT_HEADER = """# The training input pipeline: records/s, in memory and streamed, beside the private step

Measured in one process by `{command}`, {device}: the trainer's own pipeline (Poisson steps of B
expected records, K augmented views, chunks of P rows) iterated alone after a warm-up; records/s
counts real records; resident memory sampled after every element. The private step is a logical
step of B rows of the model on the same input shape. "input vs private step" above 1x: the input
keeps up with training.

"""

HEADER = """# Training throughput and memory: private vs non-private

Measured side by side in one process by `{command}`: interleaved rounds after warm-up, median
per method; {device}. dpzoo's rows include the Poisson padding (physical rows > B); examples/s
counts real examples. `dpzoo` is the engine's default clipping (`auto`: ghost norms where every
layer has a norm function), `dpzoo_ghost` and `dpzoo_vectorized` force a strategy; `tf_privacy`
is TF Privacy's DPKerasSGDOptimizer (one microbatch per example), `tf_privacy_dpmodel` its DPModel
(fast clipping when its registry covers every layer, vectorised otherwise). With K views,
non-private training sees the B * K augmented images of a step. Memory: the allocator's peak
during one step above what it held before it, plus the variables and optimizer state.

"""


def main(argv: list[str]) -> None:
    del argv
    unknown = set(_METHODS.value) - set(bench.METHODS)
    if unknown:
        raise UsageError(f"Unknown methods {sorted(unknown)}; known: {', '.join(bench.METHODS)}.")
    shape, augmults = _positive_ints("input_shape", _SHAPE.value), _positive_ints("augmult", _AUGMULT.value)
    if _CPU_DEVICES.value:
        distribution.split_cpu(_CPU_DEVICES.value)
    device = "GPU" if tf.config.list_physical_devices("GPU") else f"CPU ({os.cpu_count()} cores)"
    if _KERAS.value:
        return _keras_mode(shape, augmults, device)
    if _INPUTS.value:
        return _input_mode(augmults[0], device)
    if _FINETUNE.value:
        return _finetune_mode(shape, device)
    if _PHYSICAL.value or _DISTRIBUTION.value:
        return _scale_mode(shape, augmults, device)

    def measure(name: str, progress) -> list:
        return bench.measure(
            model_name=name,
            input_shape=shape,
            **_timing(),
            methods=tuple(_METHODS.value),
            augmults=augmults,
            jit=_JIT.value,
            progress=progress,
        )

    def title(name: str) -> str:
        return f"{name}, input {shape}, batch {_BATCH.value}, {device}"

    _per_model(measure, title, bench.markdown_table, HEADER, device)


def _timing() -> dict:
    """The measurement settings every mode passes on: B, interleaved rounds, seconds per round."""
    return dict(batch_size=_BATCH.value, rounds=_ROUNDS.value, seconds_per_round=_SECONDS.value)


def _per_model(measure, title, table, header: str, device: str) -> None:
    """Measures each of --models (``measure(name, progress)``), prints its table, writes the report."""
    report, tables = {"device": device, "platform": platform.platform(), "results": {}}, []
    for name in _MODELS.value:
        results = measure(name, lambda message, name=name: print(f"[{name}] {message}", flush=True))
        report["results"][name] = [dict(dataclasses.asdict(r), memory_bytes=r.memory_bytes) for r in results]
        tables.append(table(title(name), results))
        print(tables[-1])
    _write_report(report, header, tables, device)


def _finetune_mode(shape: tuple[int, ...], device: str) -> None:
    unknown = [mode for mode in _FINETUNE.value if mode not in finetuning.MODES]
    if unknown:
        raise UsageError(f"--finetune: unknown modes {unknown}; known: {', '.join(finetuning.MODES)}.")

    def measure(name: str, progress) -> list:
        return finetune_benchmark.measure_finetuning(
            model_name=name,
            input_shape=shape,
            **_timing(),
            modes=tuple(_FINETUNE.value),
            lora_rank=_LORA_RANK.value,
            progress=progress,
        )

    def title(name: str) -> str:
        return f"{name}, input {shape}, batch {_BATCH.value}, LoRA rank {_LORA_RANK.value}, {device}"

    _per_model(measure, title, finetune_benchmark.markdown_table, FINETUNE_HEADER, device)


def _write_report(report: dict, header: str, tables: list[str], device: str) -> None:
    """<output>.json and <output>.md (the header, then the tables), when --output is given."""
    if _OUTPUT.value:
        command = shlex.join(["dpzoo-bench", *sys.argv[1:]])
        _write(_OUTPUT.value + ".json", json.dumps(report, indent=2))
        _write(_OUTPUT.value + ".md", header.format(command=command, device=device) + "\n".join(tables))


def _keras_mode(shape: tuple[int, ...], augmults: tuple[int, ...], device: str) -> None:
    if sorted(_KERAS.value) != ["2", "3"]:
        raise UsageError(f"--keras takes 2,3 (tf-keras and Keras 3, compared); got {','.join(_KERAS.value)!r}.")

    def args_for(keras: str) -> list[str]:
        return keras_comparison.child_args(
            keras,
            models=_MODELS.value,
            input_shape=shape,
            batch_size=_BATCH.value,
            methods=_METHODS.value,
            augmults=augmults,
            rounds=_ROUNDS.value,
            seconds=_SECONDS.value,
            jit=_JIT.value,
        )

    with tempfile.TemporaryDirectory() as workdir:
        speeds = keras_comparison.run_alternated(args_for, _KERAS.value, _KERAS_PROCESSES.value, workdir)
    tables = []
    for model in _MODELS.value:
        title = f"{model}, input {shape}, batch {_BATCH.value}, {device}"
        tables.append(keras_comparison.comparison_table(title, model, speeds, _BATCH.value))
        print(tables[-1])
    report = {
        "device": device,
        "platform": platform.platform(),
        "examples_per_second": [
            {"keras": k, "model": m, "method": method, "augmult": a, "per_process": v}
            for (k, m, method, a), v in speeds.items()
        ],
    }
    _write_report(report, KERAS_HEADER, tables, device)


def _scale_mode(shape: tuple[int, ...], augmults: tuple[int, ...], device: str) -> None:
    rows = tuple(None if v == "none" else _positive_ints("physical_batch_size", [v])[0] for v in _PHYSICAL.value)
    distributions = tuple(_DISTRIBUTION.value) or ("none",)
    for name in distributions:
        if name not in DISTRIBUTIONS:
            raise UsageError(f"--distribution={name!r}: expected one of {', '.join(DISTRIBUTIONS)}.")

    def measure(model: str, progress) -> list:
        return scale_benchmark.measure_scale(
            model_name=model,
            input_shape=shape,
            **_timing(),
            physical_batch_sizes=rows or (None,),
            distributions=distributions,
            plain_rows=tuple(sorted({r for r in rows if r and r < _BATCH.value})),
            augmult=augmults[0],
            clipping=_CLIPPING.value,
            progress=progress,
        )

    def title(model: str) -> str:
        return f"{model}, input {shape}, B {_BATCH.value}, K {augmults[0]}, {device}"

    _per_model(measure, title, scale_benchmark.markdown_table, SCALE_HEADER, device)


def _input_mode(augmult: int, device: str) -> None:
    physical = _PHYSICAL.value[0] if _PHYSICAL.value else "none"
    rows = None if physical == "none" else _positive_ints("physical_batch_size", [physical])[0]
    datasets = [data.load(name, _DATA_DIR.value) for name in _INPUTS.value]
    shapes = {d.input_shape for d in datasets}
    if len(shapes) > 1:
        raise UsageError(f"--inputs have different input shapes {sorted(shapes)}; measure them in separate runs.")
    measured = []
    for dataset in datasets:
        print(f"[input] {dataset.name} from {dataset.source}", flush=True)
        measured.append(
            input_benchmark.measure_input(
                dataset, batch_size=_BATCH.value, augmult=augmult, physical_batch_size=rows, steps=_INPUT_STEPS.value
            )
        )
    model = _MODELS.value[0]
    (step,) = scale_benchmark.measure_scale(
        model_name=model,
        input_shape=datasets[0].input_shape,
        **_timing(),
        physical_batch_sizes=(rows,),
        augmult=augmult,
        clipping=_CLIPPING.value,
        num_classes=datasets[0].num_classes,
        progress=lambda message: print(f"[{model}] {message}", flush=True),
    )
    title = (
        f"input pipelines beside a private {model} step of B {_BATCH.value} (P {rows or '-'}, K {augmult}): "
        f"{step.examples_per_second:.1f} examples/s, {step.seconds_per_step:.2f} s/step, {device}"
    )
    tables = [input_benchmark.markdown_table(title, measured, step.examples_per_second)]
    print(tables[0])
    report = {
        "device": device,
        "platform": platform.platform(),
        "inputs": [dataclasses.asdict(m) for m in measured],
        "private_step": dict(dataclasses.asdict(step), model=model, memory_bytes=step.memory_bytes),
    }
    _write_report(report, INPUT_HEADER, tables, device)


def _write(path: str, text: str) -> None:
    """Whole file or nothing: written beside the target, then renamed over it."""
    os.makedirs(os.path.dirname(path) or ".", exist_ok=True)
    with open(path + ".tmp", "w") as f:
        f.write(text)
    os.replace(path + ".tmp", path)


def _positive_ints(name: str, values: list[str]) -> tuple[int, ...]:
    try:
        numbers = tuple(int(v) for v in values)
    except ValueError:
        numbers = ()
    if not numbers or min(numbers) < 1:
        raise UsageError(f"--{name} takes positive integers separated by commas; got {','.join(values)!r}.")
    return numbers


def run() -> None:
    app.run(main)


if __name__ == "__main__":
    run()
