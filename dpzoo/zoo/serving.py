"""TF Serving layout: BASE/NAME/VERSION/ SavedModels and a models.config that serves them all.

TF Serving watches BASE/NAME/ and serves the highest numeric VERSION folder; one
``--model_config_file`` lists several models. ``serving_default`` takes float32 images with
pixels in [0, 1] and returns ``probabilities`` and ``classes`` (dpzoo.artifacts.export).
"""

import os

from dpzoo.artifacts import run_folder
from dpzoo.common.errors import UsageError
from dpzoo.zoo import registry

MODELS_CONFIG = "models.config"


def export_zoo_model(name: str, version: int, export_base: str, config_base_path: str = "/models") -> str:
    """Writes the verified zoo checkpoint (or public backbone) ``name`` to EXPORT_BASE/NAME/VERSION/ and rewrites
    EXPORT_BASE/models.config for every model there; returns the SavedModel's path."""
    if version < 1:
        raise UsageError(f"Expected version={version} >= 1 (TF Serving serves numeric versions).")
    folder = registry.fetch(registry.lookup(name))
    path = run_folder.export_run(folder, os.path.join(export_base, name, str(version)))
    write_models_config(export_base, config_base_path)
    return path


def served_models(export_base: str) -> list[str]:
    """Model folders under ``export_base`` that hold at least one numeric version."""
    names = []
    for name in sorted(os.listdir(export_base)):
        folder = os.path.join(export_base, name)
        if os.path.isdir(folder) and any(v.isdigit() for v in os.listdir(folder)):
            names.append(name)
    return names


def write_models_config(export_base: str, config_base_path: str = "/models") -> str:
    """EXPORT_BASE/models.config (text protobuf ModelServerConfig) with one entry per served model,
    base paths under ``config_base_path`` (where the server sees EXPORT_BASE: /models in Docker)."""
    entries = "".join(
        f'  config {{\n    name: "{name}"\n    base_path: "{config_base_path.rstrip("/")}/{name}"\n'
        '    model_platform: "tensorflow"\n  }\n'
        for name in served_models(export_base)
    )
    path = os.path.join(export_base, MODELS_CONFIG)
    with open(path + ".partial", "w") as f:
        f.write(f"model_config_list {{\n{entries}}}\n")
    os.replace(path + ".partial", path)
    return path
