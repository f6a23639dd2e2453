"""A trained model's weights on disk, keyed by variable name: the format of run folders and the zoo.

``tf.train.Checkpoint(model=model)`` keys each value by the path Keras' object graph takes to it,
and Keras 2 and Keras 3 lay that graph out differently: a checkpoint written on one leaves the
model's objects unbound on the other. Keyed by the variables' unique names
("lenet5_conv1/kernel"), which both give alike (``dpzoo.common.keras_api.variable_name``), one
checkpoint serves both, and a checkpoint of another model fails by name.

Checkpoints written before this format (the object graph under ``model``) are read on Keras 2
only; ``scripts/convert_checkpoints.py`` rewrites them in this format, with the same values.
"""

import tensorflow as tf

from dpzoo.common import keras_api
from dpzoo.common.errors import UsageError
from dpzoo.common.stack import keras

WEIGHTS = "weights"  # the checkpoint's one object: {variable name: variable}
LEGACY = "model"  # the object graph of a Keras 2 model, as dpzoo wrote it before


def by_name(model: keras.Model) -> dict[str, tf.Variable]:
    """The model's weights by their unique names."""
    named = {}
    for variable in model.weights:
        name = keras_api.variable_name(variable)
        if name in named:
            raise ValueError(f"{model.name} has two weights named {name}: rename one of their layers.")
        named[name] = variable
    return named


def checkpoint(model: keras.Model, **extra) -> tf.train.Checkpoint:
    """A checkpoint of the model's weights by name, with ``extra`` objects beside them (a
    method's state)."""
    return tf.train.Checkpoint(**{WEIGHTS: by_name(model)}, **extra)


def stored_objects(path: str) -> set[str]:
    """The top-level objects of the checkpoint at ``path`` ("weights", "model", ...)."""
    return {name.split("/", 1)[0] for name, _ in tf.train.list_variables(path)}


def stored_weight_names(path: str) -> set[str]:
    """The names of the weights in the checkpoint at ``path`` (TensorFlow escapes "/" in an
    object's name as ".S" and "." as "..")."""
    prefix, suffix = WEIGHTS + "/", "/.ATTRIBUTES/VARIABLE_VALUE"
    return {
        name[len(prefix) : -len(suffix)].replace(".S", "/").replace("..", ".")
        for name, _ in tf.train.list_variables(path)
        if name.startswith(prefix) and name.endswith(suffix)
    }


def _listed(names: set[str], most: int = 4) -> str:
    shown = sorted(names)[:most]
    return ", ".join(shown) + (f" and {len(names) - most} more" if len(names) > most else "")


def read(model: keras.Model, path: str) -> None:
    """Restores the model's weights from the checkpoint at ``path``. Raises AssertionError when
    the checkpoint lacks one of them or holds weights the model has not, and UsageError for a
    checkpoint in the old format on Keras 3."""
    objects = stored_objects(path)
    if WEIGHTS not in objects and LEGACY in objects:
        if keras_api.KERAS_3:
            raise UsageError(
                f"{path} holds a Keras 2 object graph (dpzoo's old checkpoint format), which Keras 3 cannot bind. "
                "Convert it on Keras 2: DPZOO_KERAS=2 python scripts/convert_checkpoints.py RUN_DIR."
            )
        tf.train.Checkpoint(**{LEGACY: model}).read(path).expect_partial().assert_existing_objects_matched()
        return
    named = by_name(model)
    stored = stored_weight_names(path)
    if stored != set(named):
        lacking, extra = set(named) - stored, stored - set(named)
        raise AssertionError(
            f"the checkpoint holds {len(stored)} weights, {model.name} has {len(named)}"
            + (f"; it lacks {_listed(lacking)}" if lacking else "")
            + (f"; {model.name} has no {_listed(extra)}" if extra else "")
        )
    tf.train.Checkpoint(**{WEIGHTS: named}).read(path).expect_partial().assert_existing_objects_matched()
