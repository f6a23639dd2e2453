"""``dpzoo-bench --keras=2,3``: the benchmark on tf-keras and on Keras 3, in alternating processes.

A process runs one Keras (``DPZOO_KERAS``, read once at import), so the two cannot be interleaved
in one process as the methods are. Instead each Keras runs the same benchmark in a process of its
own, and the processes alternate (2, 3, 2, 3, ...) so that load from elsewhere on the machine
hits both alike; each (Keras, model, method, K) reports the median, over its processes, of their
median examples/s. TF Privacy's Keras peers need tf-keras, so they run in the tf-keras processes
only. Keras 3's figures are set against tf-keras's, and each Keras's private methods against its
own non-private step.
"""

import json
import os
import statistics
import subprocess
import sys
from collections.abc import Callable, Sequence

from dpzoo.benchmarks import throughput as benchmark
from dpzoo.common.errors import UsageError

KERAS_NAMES = {"2": "tf-keras", "3": "Keras 3"}
CHILD_LIMIT_S = 3600  # one process's benchmark; a hung child fails the comparison instead of blocking it


def child_args(keras: str, *, models, input_shape, batch_size, methods, augmults, rounds, seconds, jit) -> list[str]:
    """dpzoo-bench's arguments for one process of ``keras`` (TF Privacy's peers only on tf-keras)."""
    if keras == "3":
        methods = [m for m in methods if m not in benchmark.TF_PRIVACY]
    return [
        f"--models={','.join(models)}",
        f"--input_shape={','.join(map(str, input_shape))}",
        f"--batch_size={batch_size}",
        f"--methods={','.join(methods)}",
        f"--augmult={','.join(map(str, augmults))}",
        f"--rounds={rounds}",
        f"--seconds_per_round={seconds}",
        f"--{'' if jit else 'no'}jit_compile",
    ]


def run_alternated(
    args_for: Callable[[str], list[str]],
    kerases: Sequence[str],
    processes: int,
    workdir: str,
    progress: Callable[[str], None] = print,
) -> dict[tuple[str, str, str, int], list[float]]:
    """examples/s of each (Keras, model, method, K), one value per process; processes alternate."""
    speeds: dict[tuple[str, str, str, int], list[float]] = {}
    for index in range(processes):
        for keras in kerases:
            progress(f"process {index + 1}/{processes} on {KERAS_NAMES[keras]}")
            output = os.path.join(workdir, f"keras{keras}_{index}")
            env = dict(os.environ, DPZOO_KERAS=keras, TF_CPP_MIN_LOG_LEVEL="3")
            command = [sys.executable, "-m", "dpzoo.cli.bench", *args_for(keras), f"--output={output}"]
            done = subprocess.run(command, env=env, capture_output=True, text=True, timeout=CHILD_LIMIT_S)
            if done.returncode != 0:
                last = (done.stderr.strip().splitlines() or ["no output"])[-1]
                raise UsageError(f"dpzoo-bench on {KERAS_NAMES[keras]} failed (exit {done.returncode}): {last}")
            with open(output + ".json") as f:
                report = json.load(f)
            for model, rows in report["results"].items():
                for row in rows:
                    key = (keras, model, row["method"], row["augmult"])
                    speeds.setdefault(key, []).append(row["examples_per_second"])
    return speeds


def _ratio(value: float | None, base: float | None) -> str:
    return f"{value / base:.2f}x" if value and base else "-"


def _added_ms(batch_size: int, value: float | None, base: float | None) -> str:
    """What a step of ``batch_size`` examples takes beyond the non-private one, in ms: privacy's own
    cost, which the ratio hides when the non-private step itself got faster."""
    return f"{1000 * batch_size * (1 / value - 1 / base):.2f}" if value and base else "-"


def comparison_table(
    title: str, model: str, speeds: dict[tuple[str, str, str, int], list[float]], batch_size: int
) -> str:
    """Per (method, K) of ``model``: median examples/s on each Keras, Keras 3 against tf-keras,
    each Keras's speed against its own non-private step, and the ms a step of ``batch_size``
    examples adds to that step on each."""
    median = {key: statistics.median(values) for key, values in speeds.items() if key[1] == model}
    runs = sorted({(method, k) for (_, _, method, k) in median}, key=lambda run: (run[1], run[0] != "nonprivate"))
    lines = [
        f"### {title}",
        "",
        "| method | K | tf-keras examples/s | Keras 3 examples/s | Keras 3 vs tf-keras | "
        "vs non-private, tf-keras | vs non-private, Keras 3 | ms/step over non-private, tf-keras | "
        "ms/step over non-private, Keras 3 | processes (tf-keras, Keras 3) |",
        "|---|---|---|---|---|---|---|---|---|---|",
    ]
    for method, k in runs:
        two, three = median.get(("2", model, method, k)), median.get(("3", model, method, k))
        base2, base3 = median.get(("2", model, "nonprivate", k)), median.get(("3", model, "nonprivate", k))
        counts = ", ".join(str(len(speeds.get((keras, model, method, k), []))) for keras in ("2", "3"))
        lines.append(
            f"| {method} | {k} | {f'{two:.0f}' if two else '-'} | {f'{three:.0f}' if three else '-'} | "
            f"{_ratio(three, two)} | {_ratio(two, base2)} | {_ratio(three, base3)} | "
            f"{_added_ms(batch_size, two, base2)} | {_added_ms(batch_size, three, base3)} | {counts} |"
        )
    return "\n".join(lines) + "\n"
