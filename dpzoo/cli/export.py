"""dpzoo-export: a SavedModel (serving_default signature) for TF Serving, from a zoo checkpoint or a
training run.

dpzoo-export --name=tutorial_cnn.fmnist_eps3_dpsgd --version=1 --export_base=/tmp/serving
    # /tmp/serving/NAME/1/ and /tmp/serving/models.config listing every model exported there
dpzoo-export --run_dir=runs/fmnist_cnn_eps3 --export_dir=/tmp/serving/fmnist_cnn/1
"""

from absl import flags

from dpzoo.artifacts.run_folder import export_run
from dpzoo.cli import app
from dpzoo.common.errors import UsageError
from dpzoo.zoo import serving

_NAME = flags.DEFINE_string("name", None, "Zoo checkpoint to export (dpzoo-zoo list).")
_VERSION = flags.DEFINE_integer("version", 1, "With --name: the model version folder TF Serving serves.")
_EXPORT_BASE = flags.DEFINE_string("export_base", None, "With --name: writes EXPORT_BASE/NAME/VERSION/.")
_CONFIG_BASE = flags.DEFINE_string(
    "config_base_path", "/models", "Where the server sees --export_base, for models.config (/models in Docker)."
)
_RUN_DIR = flags.DEFINE_string("run_dir", None, "Output folder of dpzoo-train (model_card.json + checkpoint/).")
_EXPORT_DIR = flags.DEFINE_string("export_dir", None, "With --run_dir: where to write the SavedModel.")


def main(argv: list[str]) -> None:
    del argv
    if _NAME.value and _EXPORT_BASE.value and not _RUN_DIR.value:
        path = serving.export_zoo_model(_NAME.value, _VERSION.value, _EXPORT_BASE.value, _CONFIG_BASE.value)
        print(f"SavedModel with signature serving_default written to {path}")
        print(
            f"TF Serving config for every model in {_EXPORT_BASE.value}: {_EXPORT_BASE.value}/{serving.MODELS_CONFIG}"
        )
    elif _RUN_DIR.value and _EXPORT_DIR.value and not _NAME.value:
        path = export_run(_RUN_DIR.value, _EXPORT_DIR.value)
        print(f"SavedModel with signature serving_default written to {path}")
    else:
        raise UsageError("Give --name and --export_base (a zoo checkpoint), or --run_dir and --export_dir (a run).")


def run() -> None:
    app.run(main)


if __name__ == "__main__":
    run()
