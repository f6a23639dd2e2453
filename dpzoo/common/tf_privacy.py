"""The one door to TF Privacy: every module of dpzoo that uses it imports it through here.

TF Privacy 0.9.0, its last release, declares Python < 3.12 and TensorFlow <= 2.15, so it is not
an ordinary dependency: it is installed by its own step (``requirements-nodeps.lock`` with
``--no-deps --ignore-requires-python``; README "TF Privacy on this stack"). Its package
``__init__`` imports ``tensorflow_estimator``, gone since TF 2.16; TF Privacy skips that import
when ``sys.skip_tf_privacy_import`` is set, a switch it reads itself, so it is set here before
the first import. The submodules dpzoo uses (DP Keras optimizers, DPModel, the fast-clipping
registry, the membership-inference attacks) import nothing from the skipped part.
"""

import importlib
import sys
from types import ModuleType

from dpzoo.common.errors import UsageError

INSTALL_STEP = (
    "pip install --no-deps --ignore-requires-python tensorflow-privacy==0.9.0 tensorflow-empirical-privacy==0.1.0"
)


def tf_privacy_module(name: str) -> ModuleType:
    """TF Privacy's module ``tensorflow_privacy.<name>``; a missing or broken install raises a
    UsageError naming the install step (the CLIs turn it into one line and exit code 2)."""
    sys.skip_tf_privacy_import = True
    full_name = f"tensorflow_privacy.{name}"
    try:
        import tensorflow_privacy  # noqa: F401  (its package first, with the switch set)

        return importlib.import_module(full_name)
    except Exception as e:  # an ImportError, or any error its module code raises on this stack
        raise UsageError(
            f"TF Privacy's {full_name} does not import ({type(e).__name__}: {e}); install it with: {INSTALL_STEP}"
        ) from e
