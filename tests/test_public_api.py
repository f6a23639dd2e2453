"""The public surface a user imports stays where it was: the top-level names, the registries, the
accountant, the callbacks, the layer classes and every console script."""

import importlib
import importlib.metadata
import importlib.util

import pytest

PUBLIC = {
    "dpzoo": ["make_private", "DPConfig", "PrivateModel", "UsageError", "__version__"],
    "dpzoo.models": ["get", "names"],
    "dpzoo.zoo": ["load", "list", "entry", "ZooEntry"],
    "dpzoo.accounting": ["epsilon", "calibrate_noise", "max_steps", "modelmix_epsilon", "PrivacyLedger"],
    "dpzoo.callbacks": ["ModelMix", "ParameterAveraging", "PrivacyLedgerCallback", "StopAtStep"],
    "dpzoo.layers": ["WSConv2D", "SkipGain", "GaussianDense", "GaussianConv2D", "GaussianLSTM", "AuxBatchNorm"],
    "dpzoo.data": ["load", "Dataset", "synthetic", "public_auxiliary_batch"],
    "dpzoo.training": ["run", "TrainConfig"],
    "dpzoo.methods": ["get", "names", "Method"],
}
CONSOLE_SCRIPTS = ("dpzoo-train", "dpzoo-privacy", "dpzoo-export", "dpzoo-bench", "dpzoo-audit", "dpzoo-zoo")


@pytest.mark.parametrize("module, names", PUBLIC.items(), ids=PUBLIC)
def test_public_names_import(module, names):
    imported = importlib.import_module(module)
    assert [name for name in names if not hasattr(imported, name)] == []


def test_every_console_script_points_at_its_tool():
    """Each script runs ``run`` of its module in dpzoo.cli (importing them all in one process would
    define their absl flags twice; tests/cli/test_cli.py runs each)."""
    scripts = {
        e.name: e for e in importlib.metadata.entry_points(group="console_scripts") if e.name.startswith("dpzoo")
    }
    assert sorted(scripts) == sorted(CONSOLE_SCRIPTS)
    for name, script in scripts.items():
        assert script.value == f"dpzoo.cli.{name.removeprefix('dpzoo-')}:run"
        assert importlib.util.find_spec(script.module) is not None, name
