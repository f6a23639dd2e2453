"""dpzoo: a Keras model zoo for differentially private deep learning.

The public surface: ``make_private`` and ``DPConfig`` (the DP-SGD engine),
``dpzoo.accounting`` (epsilon, calibration, ledger), ``dpzoo.models`` (the registry),
``dpzoo.data`` and ``dpzoo.export``.
"""

from dpzoo.config import DPConfig
from dpzoo.engine import PrivateModel, make_private
from dpzoo.version import __version__

__all__ = ["DPConfig", "PrivateModel", "make_private", "__version__"]
