"""Which Keras dpzoo runs on (dpzoo.common.stack): Keras 3 by default, tf-keras with
DPZOO_KERAS=2, a clear ImportError for anything else; and the list of tests run again on
tf-keras names only tests that exist, so a renamed file cannot drop out of that run unseen."""

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


@pytest.mark.parametrize(
    "keras, module, keras_3", [(None, "keras", "True"), ("3", "keras", "True"), ("2", "tf_keras", "False")]
)
def test_dpzoo_keras_picks_the_keras_tf_keras_serves(keras, module, keras_3):
    done = _import_dpzoo(keras)
    assert done.returncode == 0, done.stderr[-2000:]
    name, flag = done.stdout.split()
    assert name.split(".")[0] == module and flag == keras_3


def test_an_unknown_keras_choice_is_refused_by_name():
    done = _import_dpzoo("4")
    assert done.returncode != 0
    assert "DPZOO_KERAS='4': expected one of 2, 3." in done.stderr


def test_the_tf_keras_list_names_existing_tests():
    lines = [line.split("#")[0].strip() for line in (ROOT / "tests/keras2_run.txt").read_text().splitlines()]
    paths = [line.split("::")[0] for line in lines if line]
    assert paths and all((ROOT / path).exists() for path in paths)
