"""Two stacks side by side: dpzoo-bench in alternated processes of an old checkout's virtualenv and
this one's, on the same machine, then one table of private examples/s and private/non-private ratios.

    .venv/bin/python scripts/stack_bench.py --old=../old --pairs=3 --output=results/bench_stack

``--old`` is a checkout (a git worktree of an earlier commit) with its own ``.venv`` made by its
``scripts/setup.sh``. Each pair runs the old stack's process, then this one's, each measuring the
tutorial CNN and LeNet-5 (B 256, 28x28x1) and WRN-16-4 (B 64, 32x32x3), non-private and dpzoo's
default private step; the table gives each stack's median over its processes.
"""

import argparse
import json
import os
import statistics
import subprocess
import sys
import tempfile

HERE = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))
SETS = {  # name: dpzoo-bench flags
    "small": ["--models=tutorial_cnn,lenet5", "--batch_size=256", "--rounds=5", "--seconds_per_round=2"],
    "wrn": ["--models=wrn16_4", "--input_shape=32,32,3", "--batch_size=64", "--rounds=4", "--seconds_per_round=3"],
}
METHODS = "--methods=nonprivate,dpzoo"


def stack_versions(checkout: str) -> str:
    code = "import sys, tensorflow as tf, dpzoo; print(f'Python {sys.version.split()[0]}, TensorFlow {tf.__version__}')"
    return subprocess.run(
        [os.path.join(checkout, ".venv", "bin", "python"), "-c", code],
        cwd=checkout,
        capture_output=True,
        text=True,
        check=True,
        env=os.environ | {"TF_CPP_MIN_LOG_LEVEL": "3"},
    ).stdout.strip()


def bench(checkout: str, flags: list[str], out: str) -> dict:
    tool = os.path.join(checkout, ".venv", "bin", "dpzoo-bench")
    subprocess.run(
        [tool, *flags, METHODS, f"--output={out}"],
        cwd=checkout,
        check=True,
        stdout=subprocess.DEVNULL,
        env=os.environ | {"TF_CPP_MIN_LOG_LEVEL": "3"},
    )
    with open(out + ".json") as f:
        return json.load(f)["results"]


def rows_of(results: dict) -> dict[str, tuple[float, float]]:
    """model -> (private examples/s, private over non-private speed) of one process."""
    rows = {}
    for model, entries in results.items():
        by_method = {e["method"]: e["examples_per_second"] for e in entries if e["augmult"] == 1}
        rows[model] = (by_method["dpzoo"], by_method["dpzoo"] / by_method["nonprivate"])
    return rows


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--old", required=True, help="checkout of the old stack, with its .venv")
    parser.add_argument("--pairs", type=int, default=3, help="alternated (old, new) process pairs per set")
    parser.add_argument("--output", required=True, help="writes OUTPUT.json and OUTPUT.md")
    args = parser.parse_args()
    stacks = {"old": os.path.abspath(args.old), "new": HERE}
    versions = {name: stack_versions(path) for name, path in stacks.items()}
    measured = {name: [] for name in stacks}  # stack -> list of {model: (ex/s, ratio)}
    with tempfile.TemporaryDirectory() as tmp:
        for set_name, flags in SETS.items():
            for pair in range(args.pairs):
                for name, path in stacks.items():
                    print(f"{set_name} pair {pair + 1}/{args.pairs}: {name} ({versions[name]})", file=sys.stderr)
                    results = bench(path, flags, os.path.join(tmp, f"{set_name}_{name}_{pair}"))
                    measured[name].append(rows_of(results))
    table = {}
    for name in stacks:
        per_model: dict[str, list[tuple[float, float]]] = {}
        for process in measured[name]:
            for model, row in process.items():
                per_model.setdefault(model, []).append(row)
        table[name] = {
            model: {
                "examples_per_second": [r[0] for r in rows],
                "ratio": [r[1] for r in rows],
                "median_examples_per_second": statistics.median(r[0] for r in rows),
                "median_ratio": statistics.median(r[1] for r in rows),
            }
            for model, rows in per_model.items()
        }
    with open(args.output + ".json", "w") as f:
        json.dump({"versions": versions, "pairs": args.pairs, "results": table}, f, indent=1)
    lines = [
        "# dpzoo's private step on two stacks, measured in alternated processes",
        "",
        f"`scripts/stack_bench.py --pairs={args.pairs}`: for each set of models, {args.pairs} pairs of "
        "dpzoo-bench processes (old stack, then new) on the same 2-core CPU, one after another; each "
        "process measures non-private training and dpzoo's default private step (ghost norms) in "
        "interleaved rounds. Medians over a stack's processes; the spread is every process's value.",
        "",
        f"- old: {versions['old']}",
        f"- new: {versions['new']}",
        "",
        "| model, batch | private examples/s old | new | new / old | private/non-private old | new |",
        "|---|---|---|---|---|---|",
    ]
    for model in table["new"]:
        old, new = table["old"][model], table["new"][model]
        spread = lambda values, f: ", ".join(f.format(v) for v in values)  # noqa: E731
        lines.append(
            f"| {model} | {old['median_examples_per_second']:.0f} ({spread(old['examples_per_second'], '{:.0f}')}) "
            f"| {new['median_examples_per_second']:.0f} ({spread(new['examples_per_second'], '{:.0f}')}) "
            f"| {new['median_examples_per_second'] / old['median_examples_per_second']:.2f}x "
            f"| {old['median_ratio']:.2f}x ({spread(old['ratio'], '{:.2f}')}) "
            f"| {new['median_ratio']:.2f}x ({spread(new['ratio'], '{:.2f}')}) |"
        )
    with open(args.output + ".md", "w") as f:
        f.write("\n".join(lines) + "\n")
    print("\n".join(lines))


if __name__ == "__main__":
    main()
