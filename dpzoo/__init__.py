"""dpzoo: a Keras model zoo for differentially private deep learning.

The public surface: ``make_private`` and ``DPConfig`` (the private step, dpzoo.privacy),
``dpzoo.accounting`` (epsilon, calibration, ledger), ``dpzoo.models`` (the registry),
``dpzoo.layers``, ``dpzoo.callbacks``, ``dpzoo.data``, ``dpzoo.training`` (``run``) and
``dpzoo.zoo`` (``load``, ``list``). The package's layers, each importing only those below it:
zoo > training > methods, artifacts > privacy, data, models > accounting, layers > common.
"""

import os

os.environ.setdefault("TF_CPP_MIN_LOG_LEVEL", "3")  # keep TensorFlow's C++ start-up chatter out of logs

from dpzoo.common.errors import DataNotFoundError, UsageError
from dpzoo.privacy import DPConfig, PrivateModel, make_private
from dpzoo.version import __version__

__all__ = ["DPConfig", "DataNotFoundError", "PrivateModel", "UsageError", "make_private", "__version__"]
