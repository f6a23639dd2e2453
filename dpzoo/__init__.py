"""dpzoo: a Keras model zoo for differentially private deep learning.

The public surface: ``make_private`` and ``DPConfig`` (the DP-SGD engine),
``dpzoo.accounting`` (epsilon, calibration, ledger), ``dpzoo.models`` (the registry),
``dpzoo.data`` and ``dpzoo.export``.
"""

import os

os.environ.setdefault("TF_CPP_MIN_LOG_LEVEL", "3")  # keep TensorFlow's C++ start-up chatter out of logs

from dpzoo.config import DPConfig
from dpzoo.engine import PrivateModel, make_private
from dpzoo.version import __version__

__all__ = ["DPConfig", "PrivateModel", "make_private", "__version__"]
