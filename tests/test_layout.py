"""The package's shape: its import-linter contract breaks on an upward import, and no module grows
past 400 lines."""

import glob
import os
import shutil
import subprocess
import sys

import pytest

from tests.conftest import ROOT

LINT_IMPORTS = os.path.join(os.path.dirname(sys.executable), "lint-imports")
MAX_LINES = 400


def lint_imports(tree: str) -> subprocess.CompletedProcess:
    """lint-imports with the repository's contract on the dpzoo package found in ``tree``."""
    env = os.environ | {"PYTHONPATH": tree}
    return subprocess.run(
        [LINT_IMPORTS, "--config", os.path.join(ROOT, "pyproject.toml"), "--no-cache"],
        cwd=tree,
        env=env,
        capture_output=True,
        text=True,
        timeout=120,
    )


@pytest.fixture
def copied_package(tmp_path):
    shutil.copytree(
        os.path.join(ROOT, "dpzoo"), tmp_path / "dpzoo", ignore=shutil.ignore_patterns("__pycache__", "checkpoints")
    )
    return tmp_path


def test_the_contract_holds_on_the_package(copied_package):
    result = lint_imports(str(copied_package))
    assert result.returncode == 0, result.stdout + result.stderr
    assert "3 kept, 0 broken" in result.stdout


@pytest.mark.parametrize(
    "module, upward",
    [
        ("layers/gaussian_lstm.py", "from dpzoo.privacy.clipping import norms"),  # a layer registering its norm
        ("accounting/dpsgd.py", "from dpzoo.methods import modelmix"),  # an accountant in a method
        ("privacy/private_model.py", "from dpzoo.data import pipeline"),  # independent siblings
        ("models/lenet.py", "from dpzoo.privacy import guards"),  # models use layers, nothing above
        ("training/trainer.py", "from dpzoo.zoo import registry"),  # the trainer above the zoo
        ("models/lenet.py", "import tensorflow"),  # a model built from Keras alone
        ("accounting/dpsgd.py", "import tensorflow"),  # accounting is plain Python
        ("training/train_config.py", "import tensorflow"),  # the configuration
    ],
)
def test_an_upward_import_breaks_the_contract(copied_package, module, upward):
    path = copied_package / "dpzoo" / module
    path.write_text(path.read_text() + f"\n{upward}  # planted\n")
    result = lint_imports(str(copied_package))
    assert result.returncode != 0 and "1 broken" in result.stdout, result.stdout
    assert f"dpzoo.{module[:-3].replace('/', '.')} -> {upward.split()[1]}" in result.stdout


def test_no_module_is_over_400_lines():
    lengths = {}
    for path in glob.glob(os.path.join(ROOT, "dpzoo", "**", "*.py"), recursive=True):
        with open(path) as f:
            lengths[os.path.relpath(path, ROOT)] = sum(1 for _ in f)
    assert len(lengths) > 50
    assert {p: n for p, n in lengths.items() if n > MAX_LINES} == {}
