"""dpzoo-zoo: the pretrained private checkpoints of the zoo, and its public backbones.

dpzoo-zoo list                                   # tables: name, method, epsilon, guarantee, accuracy, audits;
                                                 # then the public backbones and the data they saw
dpzoo-zoo show tutorial_cnn.fmnist_eps3_dpsgd    # its model card in Markdown
"""

import json
import os

from absl import flags

from dpzoo import zoo
from dpzoo.cli import app
from dpzoo.common.errors import UsageError

_FORMAT = flags.DEFINE_enum("format", "markdown", ["markdown", "json"], "list: Markdown tables or JSON.")
COMMANDS = "list | show NAME"


def _canary_bound(audit) -> str:
    """The recipe's canary bound, with its mode where it is not the usual white-box one, and the
    white-box noise check's parametric bound where the audit has one."""
    black_box = " (black-box)" if audit.get("mode") == "black_box" else ""
    noise = audit.get("noise_epsilon_lower_bound")
    parametric = f"; {noise:.2f} from the noise" if noise is not None else ""
    return f"{audit['epsilon_lower_bound']:.2f}{black_box}{parametric}"


def table(entries: list[zoo.ZooEntry]) -> str:
    """A Markdown table, one row per checkpoint, with every fact needed to read its epsilon."""
    lines = [
        "| name | method | epsilon | delta | accountant | sampling | guarantee | test accuracy "
        "| audit: epsilon >= | canaries: epsilon >= |",
        "|---|---|---|---|---|---|---|---|---|---|",
    ]
    for e in entries:
        audit = max(e.audit.values(), default=float("nan"))
        canaries = "-" if e.canary_audit is None else _canary_bound(e.canary_audit)
        lines.append(
            f"| {e.name} | {e.method} | {e.epsilon:.3g} | {e.delta:g} | {e.accountant} | {e.sampling} "
            f"| {e.guarantee} | {100 * e.test_accuracy:.2f}% | {audit:.2f} | {canaries} |"
        )
    return "\n".join(lines)


BACKBONES_TITLE = "Public backbones (trained on public data only: no epsilon, no privacy cost to fine-tune from)"


def backbone_table(entries: list[zoo.BackboneEntry]) -> str:
    """A Markdown table of the public backbones: the data each saw, its own task's accuracy, and
    what a membership-inference attack shows it leaks of that (public) data, trained without noise."""
    lines = [
        "| name | model | data (public) | task | test accuracy on that task | audit: epsilon >= |",
        "|---|---|---|---|---|---|",
    ]
    lines += [
        f"| {b.name} | {b.model} | {b.dataset}: {b.data_source} | {b.task} | {100 * b.test_accuracy:.2f}% "
        f"| {max(b.audit.values(), default=float('nan')):.2f} |"
        for b in entries
    ]
    return "\n".join(lines)


def main(argv: list[str]) -> None:
    args = argv[1:]
    if args == ["list"]:
        entries, backbones = zoo.list(), zoo.backbones()
        if _FORMAT.value == "json":
            listed = {"checkpoints": [e.to_dict() for e in entries], "backbones": [b.to_dict() for b in backbones]}
            print(json.dumps(listed, indent=1))
        else:
            print(f"{table(entries)}\n\n{BACKBONES_TITLE}:\n\n{backbone_table(backbones)}")
        return
    if len(args) == 2 and args[0] == "show":
        folder = zoo.fetch(zoo.lookup(args[1]))  # verified before its card is shown
        with open(os.path.join(folder, "model_card.md")) as f:
            print(f.read())
        return
    raise UsageError(f"Expected a command: {COMMANDS}; got {' '.join(args) or 'none'}.")


def run() -> None:
    app.run(main, positional=True)


if __name__ == "__main__":
    run()
