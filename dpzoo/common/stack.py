"""Which Keras dpzoo runs on, checked once at import.

dpzoo runs on tf-keras 2.21 (Keras 2), which TensorFlow 2.21 serves as ``tf.keras`` when
``TF_USE_LEGACY_KERAS=1`` was set before the first use of ``tf.keras`` (dpzoo's ``__init__``
sets it). Code that used ``tf.keras`` before importing dpzoo has Keras 3 there, and dpzoo's
models and engine would fail far from the cause; this says so at once.
"""

import tensorflow as tf

KERAS_MODULE = tf.keras.__name__

if not KERAS_MODULE.startswith("tf_keras"):
    raise ImportError(
        f"dpzoo runs on tf-keras (Keras 2), but tf.keras is {KERAS_MODULE} (Keras 3): import dpzoo before "
        "using tf.keras, or set TF_USE_LEGACY_KERAS=1 before importing TensorFlow."
    )
