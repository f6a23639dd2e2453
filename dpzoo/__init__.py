"""dpzoo: a Keras model zoo for differentially private deep learning.

The public surface: ``make_private`` and ``DPConfig`` (the private step, dpzoo.privacy),
``dpzoo.accounting`` (epsilon, calibration, ledger), ``dpzoo.models`` (the registry),
``dpzoo.layers``, ``dpzoo.callbacks``, ``dpzoo.data``, ``dpzoo.training`` (``run``) and
``dpzoo.zoo`` (``load``, ``list``). The package's layers, each importing only those below it:
zoo, benchmarks > training > methods, artifacts > privacy, data, models > accounting, layers > common.
"""

import os

os.environ.setdefault("TF_CPP_MIN_LOG_LEVEL", "3")  # keep TensorFlow's C++ start-up chatter out of logs
# tf.keras is Keras 3 unless DPZOO_KERAS=2 asks for tf-keras 2.21 (Keras 2: TF Privacy's Keras
# peers need it). TensorFlow reads this switch when tf.keras is first used, so it must be set before that;
# dpzoo.common.stack checks it took.
os.environ["TF_USE_LEGACY_KERAS"] = "1" if os.environ.get("DPZOO_KERAS") == "2" else "0"

from dpzoo.common import stack  # noqa: E402,F401,I001  (checks tf.keras before anything builds a model)

from dpzoo.common.errors import DataNotFoundError, UsageError
from dpzoo.privacy import DPConfig, PrivateModel, make_private
from dpzoo.version import __version__

__all__ = ["DPConfig", "DataNotFoundError", "PrivateModel", "UsageError", "make_private", "__version__"]
