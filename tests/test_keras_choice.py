"""Which Keras dpzoo runs on (dpzoo.common.stack): tf-keras by default, Keras 3 with
DPZOO_KERAS=3, a clear ImportError for anything else; and the list of tests ported to Keras 3
names only tests that exist, so a renamed file cannot drop out of the second run unseen."""

import os
import pathlib
import subprocess
import sys

import pytest

ROOT = pathlib.Path(__file__).resolve().parents[1]
PROBE = (
    "import dpzoo, tensorflow as tf; from dpzoo.common import keras_api; print(tf.keras.__name__, keras_api.KERAS_3)"
)


def _import_dpzoo(keras: str | None) -> subprocess.CompletedProcess:
    env = {k: v for k, v in os.environ.items() if k not in ("DPZOO_KERAS", "TF_USE_LEGACY_KERAS")}
    if keras is not None:
        env["DPZOO_KERAS"] = keras
    return subprocess.run([sys.executable, "-c", PROBE], env=env, cwd=ROOT, capture_output=True, text=True, timeout=300)


@pytest.mark.parametrize("keras, module, keras_3", [(None, "tf_keras", "False"), ("3", "keras", "True")])
def test_dpzoo_keras_picks_the_keras_tf_keras_serves(keras, module, keras_3):
    done = _import_dpzoo(keras)
    assert done.returncode == 0, done.stderr[-2000:]
    name, flag = done.stdout.split()
    assert name.split(".")[0] == module and flag == keras_3


def test_an_unknown_keras_choice_is_refused_by_name():
    done = _import_dpzoo("4")
    assert done.returncode != 0
    assert "DPZOO_KERAS='4': expected one of 2, 3." in done.stderr


def test_the_keras_3_list_names_existing_tests():
    lines = [line.split("#")[0].strip() for line in (ROOT / "tests/keras3_ported.txt").read_text().splitlines()]
    paths = [line.removeprefix("not:").strip().split("::")[0] for line in lines if line]
    assert paths and all((ROOT / path).exists() for path in paths)
