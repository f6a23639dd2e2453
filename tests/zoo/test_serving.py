"""TF Serving export of zoo checkpoints: the layout, models.config, and the SavedModel as TensorFlow's
loader, saved_model_cli and a tensorflow-serving-api PredictRequest see it."""

import os
import subprocess
import sys

import numpy as np
import pytest
import tensorflow as tf
from google.protobuf import text_format
from tensorflow_serving.apis import predict_pb2
from tensorflow_serving.config import model_server_config_pb2

from dpzoo import zoo
from dpzoo.common.errors import UsageError
from dpzoo.zoo import serving
from tests.cli.test_cli import run

NAMES = [e.name for e in zoo.list()][:2]
SAVED_MODEL_CLI = os.path.join(os.path.dirname(sys.executable), "saved_model_cli")


@pytest.fixture(scope="module")
def exported(tmp_path_factory):
    """Two zoo models exported into one base, the first through the command line."""
    base = tmp_path_factory.mktemp("serving")
    result = run("dpzoo-export", f"--name={NAMES[0]}", "--version=3", f"--export_base={base}")
    assert result.returncode == 0, result.stderr[-2000:]
    serving.export_zoo_model(NAMES[1], 1, str(base))
    return base


@pytest.fixture(scope="module")
def images(fashion):
    return fashion.x_test[:16].astype(np.float32) / 255.0


def _keras_probabilities(name, images):
    model, _ = zoo.load(name)
    return tf.nn.softmax(model(images, training=False)).numpy()


def test_layout_and_models_config_list_every_exported_model(exported):
    assert os.path.isfile(exported / NAMES[0] / "3" / "saved_model.pb")
    assert os.path.isfile(exported / NAMES[1] / "1" / "saved_model.pb")
    config = text_format.Parse(
        (exported / serving.MODELS_CONFIG).read_text(), model_server_config_pb2.ModelServerConfig()
    )
    listed = {c.name: c.base_path for c in config.model_config_list.config}
    assert listed == {name: f"/models/{name}" for name in NAMES}
    assert all(c.model_platform == "tensorflow" for c in config.model_config_list.config)


def test_the_export_reloads_and_predicts_what_keras_predicts(exported, images):
    loaded = tf.saved_model.load(str(exported / NAMES[0] / "3"))
    outputs = loaded.signatures["serving_default"](images=tf.constant(images))
    want = _keras_probabilities(NAMES[0], images)
    np.testing.assert_allclose(outputs["probabilities"].numpy(), want, rtol=1e-5, atol=1e-6)
    np.testing.assert_array_equal(outputs["classes"].numpy(), want.argmax(axis=1))


def test_saved_model_cli_shows_the_signature_and_runs_it(exported, images, tmp_path):
    directory = str(exported / NAMES[0] / "3")
    shown = subprocess.run(
        [SAVED_MODEL_CLI, "show", "--dir", directory, "--tag_set", "serve", "--signature_def", "serving_default"],
        capture_output=True,
        text=True,
        timeout=300,
    )
    assert shown.returncode == 0, shown.stderr[-2000:]
    for word in ("images", "probabilities", "classes", "DT_FLOAT", "DT_INT64"):
        assert word in shown.stdout
    np.save(tmp_path / "x.npy", images)
    ran = subprocess.run(
        [SAVED_MODEL_CLI, "run", "--dir", directory, "--tag_set", "serve", "--signature_def", "serving_default"]
        + ["--inputs", f"images={tmp_path / 'x.npy'}", "--outdir", str(tmp_path / "out")],
        capture_output=True,
        text=True,
        timeout=300,
    )
    assert ran.returncode == 0, ran.stderr[-2000:]
    got = np.load(tmp_path / "out" / "probabilities.npy")
    np.testing.assert_allclose(got, _keras_probabilities(NAMES[0], images), rtol=1e-5, atol=1e-6)


def test_a_predict_request_carries_the_signatures_input(exported, images):
    """What a gRPC client sends: the request's tensor converts back to the images exactly, and the
    served signature gives the Keras prediction for it."""
    request = predict_pb2.PredictRequest()
    request.model_spec.name = NAMES[0]
    request.model_spec.signature_name = "serving_default"
    request.inputs["images"].CopyFrom(tf.make_tensor_proto(images))
    received = tf.make_ndarray(predict_pb2.PredictRequest.FromString(request.SerializeToString()).inputs["images"])
    np.testing.assert_array_equal(received, images)
    loaded = tf.saved_model.load(str(exported / NAMES[0] / "3"))
    outputs = loaded.signatures["serving_default"](images=tf.constant(received))
    np.testing.assert_allclose(outputs["probabilities"].numpy(), _keras_probabilities(NAMES[0], images), atol=1e-6)


def test_bad_export_requests_are_refused(tmp_path):
    with pytest.raises(UsageError, match="version=0 >= 1"):
        serving.export_zoo_model(NAMES[0], 0, str(tmp_path))
    both = run("dpzoo-export", f"--name={NAMES[0]}", f"--run_dir={tmp_path}", f"--export_base={tmp_path}")
    assert both.returncode == 2 and "Give --name and --export_base" in both.stderr
    assert not os.listdir(tmp_path)
