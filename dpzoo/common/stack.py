"""Which Keras dpzoo runs on, checked once at import.

dpzoo runs on Keras 3. ``DPZOO_KERAS=2`` selects tf-keras 2.21 (Keras 2) instead, kept for what
needs it: TF Privacy's Keras optimizers and DPModel (dpzoo-bench's peers), the tf-keras side of
``dpzoo-bench --keras=2,3``, and converting old checkpoints. TensorFlow 2.21 serves tf-keras as ``tf.keras``
when ``TF_USE_LEGACY_KERAS=1`` was set before the first use of ``tf.keras``, and Keras 3
otherwise; dpzoo's ``__init__`` sets that switch from ``DPZOO_KERAS``. Code that used
``tf.keras`` before importing dpzoo may hold the other Keras, and dpzoo's models and engine would
fail far from the cause; this says so at once.
"""

import importlib.metadata
import os

import tensorflow as tf

KERAS_CHOICES = ("2", "3")
KERAS_MODULE = tf.keras.__name__
KERAS_MAJOR = 2 if KERAS_MODULE.startswith("tf_keras") else 3
KERAS_PACKAGE = "tf-keras" if KERAS_MAJOR == 2 else "keras"
KERAS_VERSION = f"{KERAS_PACKAGE} {importlib.metadata.version(KERAS_PACKAGE)}"  # as a model card states it
# The Keras dpzoo runs on, for modules that need Keras and not TensorFlow: ``keras`` itself (Keras 3,
# whose classes tf.keras serves too), or tf.keras when that is tf-keras.
keras = importlib.import_module("keras") if KERAS_MAJOR == 3 else tf.keras


def requested_keras() -> str:
    """The Keras major version ``DPZOO_KERAS`` asks for ("3" unless set)."""
    requested = os.environ.get("DPZOO_KERAS", "3")
    if requested not in KERAS_CHOICES:
        raise ImportError(f"DPZOO_KERAS={requested!r}: expected one of {', '.join(KERAS_CHOICES)}.")
    return requested


if str(KERAS_MAJOR) != requested_keras():
    raise ImportError(
        f"dpzoo was asked for Keras {requested_keras()} (DPZOO_KERAS), but tf.keras is {KERAS_MODULE} "
        f"(Keras {KERAS_MAJOR}): import dpzoo before using tf.keras, or set TF_USE_LEGACY_KERAS="
        f"{'1' if requested_keras() == '2' else '0'} before importing TensorFlow."
    )
