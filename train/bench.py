"""dpzoo-bench: private vs non-private training throughput, side by side in one process.

dpzoo-bench --models=tutorial_cnn,lenet5 --batch_size=256 --output=results/bench_cpu
"""

import dataclasses
import json
import os
import platform
import shlex
import sys

import tensorflow as tf
from absl import flags

from dpzoo import bench, cli

_MODELS = flags.DEFINE_list("models", ["tutorial_cnn", "lenet5"], "Registered models to measure.")
_SHAPE = flags.DEFINE_list("input_shape", ["28", "28", "1"], "Input shape H,W,C.")
_BATCH = flags.DEFINE_integer("batch_size", 256, "Expected batch size B.", lower_bound=1)
_METHODS = flags.DEFINE_list("methods", list(bench.METHODS), f"Subset of {', '.join(bench.METHODS)}.")
_ROUNDS = flags.DEFINE_integer("rounds", 5, "Interleaved rounds (median taken).", lower_bound=1)
_SECONDS = flags.DEFINE_float("seconds_per_round", 2.0, "Time per method per round.")
_JIT = flags.DEFINE_boolean("jit_compile", False, "Compile every method with XLA.")
_OUTPUT = flags.DEFINE_string("output", None, "Write <output>.json and <output>.md.")

HEADER = """# Training throughput: private vs non-private

Measured side by side in one process by `{command}`: interleaved rounds after warm-up, median
per method. dpzoo's rows include the Poisson padding (physical rows > B); examples/s counts real
examples. dpzoo clips materialised per-example gradients (vectorised), dpzoo_ghost uses ghost
norms; tf_privacy is TF Privacy's DPKerasSGDOptimizer with one microbatch per example.

"""


def main(argv: list[str]) -> None:
    del argv
    unknown = set(_METHODS.value) - set(bench.METHODS)
    if unknown:
        raise cli.UsageError(f"Unknown methods {sorted(unknown)}; known: {', '.join(bench.METHODS)}.")
    shape = tuple(int(s) for s in _SHAPE.value)
    device = "GPU" if tf.config.list_physical_devices("GPU") else f"CPU ({os.cpu_count()} cores)"
    report, tables = {"device": device, "platform": platform.platform(), "results": {}}, []
    for name in _MODELS.value:
        results = bench.measure(
            model_name=name,
            input_shape=shape,
            batch_size=_BATCH.value,
            methods=tuple(_METHODS.value),
            rounds=_ROUNDS.value,
            seconds_per_round=_SECONDS.value,
            jit=_JIT.value,
        )
        report["results"][name] = [dataclasses.asdict(r) for r in results]
        tables.append(bench.markdown_table(f"{name}, input {shape}, batch {_BATCH.value}, {device}", results))
        print(tables[-1])
    if _OUTPUT.value:
        os.makedirs(os.path.dirname(_OUTPUT.value) or ".", exist_ok=True)
        with open(_OUTPUT.value + ".json", "w") as f:
            json.dump(report, f, indent=2)
        with open(_OUTPUT.value + ".md", "w") as f:
            f.write(HEADER.format(command=shlex.join(["dpzoo-bench", *sys.argv[1:]])) + "\n".join(tables))


def run() -> None:
    cli.run(main)


if __name__ == "__main__":
    run()
