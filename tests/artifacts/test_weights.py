"""The run folders' and the zoo's checkpoint format (dpzoo.artifacts.weights): weights keyed by
name, read back bitwise, refused when they belong to another model, and the same file read on
Keras 2 and Keras 3, which the object-graph format it replaces is not."""

import os
import subprocess
import sys

import numpy as np
import pytest
import tensorflow as tf

from dpzoo import models
from dpzoo.artifacts import weights
from dpzoo.common import keras_api
from dpzoo.common.errors import UsageError

ROOT = os.path.dirname(os.path.dirname(os.path.dirname(os.path.abspath(__file__))))


def _model(name="lenet5", seed=0, **kwargs) -> tf.keras.Model:
    tf.keras.utils.set_random_seed(seed)
    return models.get(name, **kwargs)


def test_weights_come_back_bitwise(tmp_path):
    trained = _model(seed=1)
    path = weights.checkpoint(trained).write(str(tmp_path / "weights"))
    fresh = _model(seed=2)
    assert not np.array_equal(fresh.weights[0].numpy(), trained.weights[0].numpy())
    weights.read(fresh, path)
    for a, b in zip(fresh.weights, trained.weights, strict=True):
        np.testing.assert_array_equal(a.numpy(), b.numpy())


def test_another_models_checkpoint_is_refused_by_name(tmp_path):
    path = weights.checkpoint(_model("tutorial_cnn")).write(str(tmp_path / "weights"))
    with pytest.raises(AssertionError, match="holds 8 weights, lenet5 has 10; it lacks lenet5_conv1/bias"):
        weights.read(_model("lenet5"), path)


def test_a_checkpoint_lacking_weights_or_holding_more_is_refused(tmp_path):
    named = weights.by_name(_model("lenet5"))
    fewer = tf.train.Checkpoint(**{weights.WEIGHTS: dict(list(named.items())[:-2])}).write(str(tmp_path / "fewer"))
    with pytest.raises(AssertionError, match="holds 8 weights, lenet5 has 10; it lacks lenet5_logits/bias"):
        weights.read(_model("lenet5"), fewer)
    extra = {**named, "lenet5_extra/kernel": tf.Variable(tf.zeros([2]))}
    more = tf.train.Checkpoint(**{weights.WEIGHTS: extra}).write(str(tmp_path / "more"))
    with pytest.raises(AssertionError, match="holds 11 weights, lenet5 has 10; lenet5 has no lenet5_extra/kernel"):
        weights.read(_model("lenet5"), more)


def test_the_old_object_graph_format_reads_on_keras_2_and_is_refused_by_name_on_keras_3(tmp_path):
    path = tf.train.Checkpoint(**{weights.LEGACY: _model(seed=1)}).write(str(tmp_path / "weights"))
    if keras_api.KERAS_3:
        with pytest.raises(UsageError, match="convert_checkpoints.py"):
            weights.read(_model(seed=2), path)
    else:
        fresh = _model(seed=2)
        weights.read(fresh, path)
        np.testing.assert_array_equal(fresh.weights[0].numpy(), _model(seed=1).weights[0].numpy())


WRITE = """
import sys, dpzoo, tensorflow as tf
from dpzoo import models
from dpzoo.artifacts import weights
tf.keras.utils.set_random_seed(1)
model = models.get("lenet5_sidp")
if sys.argv[2] == "names":
    weights.checkpoint(model).write(sys.argv[1])
else:
    tf.train.Checkpoint(model=model).write(sys.argv[1])
"""
READ = """
import sys, numpy as np, dpzoo, tensorflow as tf
from dpzoo import models
from dpzoo.artifacts import weights
tf.keras.utils.set_random_seed(2)
model = models.get("lenet5_sidp")
if sys.argv[2] == "names":
    weights.read(model, sys.argv[1])
else:
    tf.train.Checkpoint(model=model).read(sys.argv[1]).assert_existing_objects_matched()
np.save(sys.argv[3], np.concatenate([v.numpy().ravel() for v in model.weights]))
"""


def _python(code: str, keras: str, *args: str) -> subprocess.CompletedProcess:
    env = {k: v for k, v in os.environ.items() if k not in ("DPZOO_KERAS", "TF_USE_LEGACY_KERAS")}
    env["DPZOO_KERAS"] = keras
    command = [sys.executable, "-c", code, *args]
    return subprocess.run(command, env=env, cwd=ROOT, capture_output=True, text=True, timeout=300)


@pytest.mark.parametrize("writer, reader", [("2", "3"), ("3", "2")])
def test_a_checkpoint_written_on_one_keras_reads_bitwise_on_the_other(tmp_path, writer, reader):
    path = str(tmp_path / "weights")
    assert _python(WRITE, writer, path, "names").returncode == 0
    read = _python(READ, reader, path, "names", str(tmp_path / "read.npy"))
    assert read.returncode == 0, read.stderr[-2000:]
    again = _python(READ, writer, path, "names", str(tmp_path / "same.npy"))
    assert again.returncode == 0, again.stderr[-2000:]
    np.testing.assert_array_equal(np.load(tmp_path / "read.npy"), np.load(tmp_path / "same.npy"))


def test_the_object_graph_format_it_replaces_does_not_cross_from_keras_2_to_3(tmp_path):
    path = str(tmp_path / "weights")
    assert _python(WRITE, "2", path, "graph").returncode == 0
    assert _python(READ, "2", path, "graph", str(tmp_path / "k2.npy")).returncode == 0  # its own Keras reads it
    crossed = _python(READ, "3", path, "graph", str(tmp_path / "k3.npy"))
    assert crossed.returncode != 0 and "AssertionError" in crossed.stderr
