"""SavedModel export with a serving signature (for TF Serving and tf.saved_model.load).

``serving_default`` takes float32 images with pixels in [0, 1], shape [batch, H, W, C] (or int32
token ids [batch, length] for text models), applies the training preprocessing and returns ``probabilities`` [batch, classes] and
``classes`` [batch] (int64). No training-only ops (noise, dropout) are in the signature:
the model runs with training=False.
"""

import os
import shutil
import tempfile
from collections.abc import Callable

import tensorflow as tf

from dpzoo.common import keras_api
from dpzoo.common.stack import keras


def saved_model(
    model: keras.Model,
    export_dir: str,
    *,
    input_shape: tuple[int, ...],
    preprocess: Callable[[tf.Tensor], tf.Tensor],
    input_dtype: tf.DType = tf.float32,
) -> str:
    """Writes ``model`` as a SavedModel to ``export_dir`` atomically; returns the path.
    ``input_dtype``: float32 images in [0, 1], or int32 token ids for text models."""
    module = tf.Module()
    module.model_variables = keras_api.tensorflow_variables(model)  # restored by TF Serving's session too
    input_name = "images" if input_dtype == tf.float32 else "tokens"

    @tf.function(input_signature=[tf.TensorSpec([None, *input_shape], input_dtype, name=input_name)])
    def serve(images):
        probabilities = tf.nn.softmax(model(preprocess(images), training=False), axis=-1)
        return {"probabilities": probabilities, "classes": tf.argmax(probabilities, axis=-1)}

    module.serve = serve
    parent = os.path.dirname(os.path.abspath(export_dir))
    os.makedirs(parent, exist_ok=True)
    staging = tempfile.mkdtemp(prefix=".export-", dir=parent)
    try:
        tf.saved_model.save(module, staging, signatures={"serving_default": serve})
        if os.path.exists(export_dir):
            shutil.rmtree(export_dir)
        os.replace(staging, export_dir)
    except BaseException:
        shutil.rmtree(staging, ignore_errors=True)
        raise
    return export_dir
