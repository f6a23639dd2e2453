"""The wheel carries what a user needs: built from the checkout, installed into a fresh virtualenv
outside it, it trains a ScatterNet config, loads and exports a zoo checkpoint and states a privacy
guarantee (scripts/wheel_smoke.sh). Every tracked file of the package and the configs is in it, and
its dependency ranges admit the pinned stack."""

import os
import shutil
import subprocess
import sys
import sysconfig
import zipfile

import pytest
from packaging.requirements import Requirement

from tests.conftest import ROOT

PACKAGE_FOLDERS = {"dpzoo/": "dpzoo/", "train/": "dpzoo/train/"}  # checkout folder -> where the wheel puts it


def tracked_package_files() -> set[str]:
    """The paths in the wheel that git's tracked files under dpzoo/ and train/ must have."""
    listed = subprocess.run(
        ["git", "ls-files", *PACKAGE_FOLDERS], cwd=ROOT, capture_output=True, text=True, check=True
    ).stdout.split()
    return {
        PACKAGE_FOLDERS[folder] + path[len(folder) :]
        for path in listed
        for folder in PACKAGE_FOLDERS
        if path.startswith(folder)
    }


def missing_from(wheel_names: set[str]) -> list[str]:
    return sorted(tracked_package_files() - wheel_names)


@pytest.fixture(scope="module")
def wheel(tmp_path_factory) -> str:
    """Built from a copy of the files git tracks or would (as a fresh clone has them, with the
    working tree's changes), so no build/ folder of an earlier build can lend it a file."""
    source, out = tmp_path_factory.mktemp("source"), tmp_path_factory.mktemp("dist")
    files = subprocess.run(
        ["git", "ls-files", "--cached", "--others", "--exclude-standard"], cwd=ROOT, capture_output=True, text=True
    ).stdout.split()
    for path in files:
        if os.path.isfile(os.path.join(ROOT, path)):
            os.makedirs(source / os.path.dirname(path), exist_ok=True)
            shutil.copy2(os.path.join(ROOT, path), source / path)
    built = subprocess.run(
        [sys.executable, "-m", "build", "--wheel", "--no-isolation", "--outdir", str(out), str(source)],
        capture_output=True,
        text=True,
        timeout=300,
    )
    assert built.returncode == 0, built.stdout[-3000:] + built.stderr[-3000:]
    (path,) = out.glob("dpzoo-*.whl")
    return str(path)


@pytest.fixture(scope="module")
def wheel_names(wheel) -> set[str]:
    with zipfile.ZipFile(wheel) as archive:
        return set(archive.namelist())


def test_every_tracked_module_config_and_checkpoint_file_is_in_the_wheel(wheel_names):
    assert "dpzoo/train/configs/scatternet/fashion_mnist_scatternet_cnn_eps3.py" in wheel_names
    assert "dpzoo/zoo/checkpoints/index.json" in wheel_names
    assert missing_from(wheel_names) == []


def test_a_wheel_without_a_config_folder_is_caught(wheel_names):
    """setup.py once listed the config packages by hand and missed scatternet/: such a wheel fails."""
    hand_listed = {name for name in wheel_names if not name.startswith("dpzoo/train/configs/scatternet/")}
    assert "dpzoo/train/configs/scatternet/fashion_mnist_scatternet_cnn_eps3.py" in missing_from(hand_listed)


def test_the_wheels_requirements_admit_the_pinned_stack(wheel, wheel_names):
    (metadata,) = [name for name in wheel_names if name.endswith(".dist-info/METADATA")]
    with zipfile.ZipFile(wheel) as archive:
        lines = archive.read(metadata).decode().splitlines()
    requirements = [Requirement(line.split(":", 1)[1]) for line in lines if line.startswith("Requires-Dist:")]
    with open(os.path.join(ROOT, "requirements.lock")) as f:
        pins = dict(line.strip().split("==") for line in f if "==" in line and not line.startswith("#"))
    pins = {name.lower().replace("_", "-"): version for name, version in pins.items()}
    core = [r for r in requirements if r.marker is None]
    assert len(core) >= 10
    for requirement in core:
        pinned = pins.get(requirement.name.lower().replace("_", "-"))
        assert pinned is not None and requirement.specifier.contains(pinned), (str(requirement), pinned)


def test_the_installed_wheel_trains_loads_exports_and_states_privacy(wheel, tmp_path):
    """A fresh virtualenv outside the checkout that sees the pinned stack (this interpreter's
    site-packages, through a .pth file: no download) but not the checkout's dpzoo."""
    venv = tmp_path / "venv"
    subprocess.run([sys.executable, "-m", "venv", "--without-pip", str(venv)], check=True)
    (site,) = venv.glob("lib/python*/site-packages")
    (site / "stack.pth").write_text(sysconfig.get_paths()["purelib"] + "\n")
    subprocess.run(
        [sys.executable, "-m", "pip", "--python", str(venv / "bin" / "python"), "install", "-q", "--no-deps",
         "--no-index", wheel],
        check=True,
        capture_output=True,
        timeout=300,
    )  # fmt: skip
    smoke = subprocess.run(
        ["bash", os.path.join(ROOT, "scripts", "wheel_smoke.sh"), str(venv / "bin")],
        cwd=tmp_path,
        capture_output=True,
        text=True,
        timeout=600,
    )
    assert smoke.returncode == 0, smoke.stdout + smoke.stderr
    assert "formal guarantee" in smoke.stdout and "wheel smoke: passed" in smoke.stdout, smoke.stdout
