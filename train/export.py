"""dpzoo-export: write a SavedModel (serving_default signature) from a training run's checkpoint.

dpzoo-export --run_dir=runs/fmnist_cnn_eps3 --export_dir=/tmp/serving/fmnist_cnn/1
"""

from absl import flags

from dpzoo import cli
from dpzoo.restore import export_run

_RUN_DIR = flags.DEFINE_string("run_dir", None, "Output folder of dpzoo-train (model_card.json + checkpoint/).")
_EXPORT_DIR = flags.DEFINE_string("export_dir", None, "Where to write the SavedModel.")
flags.mark_flags_as_required(["run_dir", "export_dir"])


def main(argv: list[str]) -> None:
    del argv
    path = export_run(_RUN_DIR.value, _EXPORT_DIR.value)
    print(f"SavedModel with signature serving_default written to {path}")


def run() -> None:
    cli.run(main)


if __name__ == "__main__":
    run()
