"""TensorFlow's op determinism, switched on for the span of a run.

Without it, some of TensorFlow 2.15's CPU kernels sum in an order that depends on thread timing:
measured on this project's CPU, three identical runs of the quickstart's weight-standardised
CNN at once ended with weights that differed by up to 4e-3 in about half the tries, and a run
resumed from a checkpoint computed its first step differently from the uninterrupted run (a
1-ulp difference that max pooling's near-ties grew to 1e-3 within a few steps). With op
determinism every one of those runs was bitwise equal, and the quickstart trained no slower.
It is not enough alone: a WSConv2D norm that read its gain twice made identical de22 runs differ
now and then even with it (dpzoo.privacy.clipping.norms.conv reads it once).
"""

import contextlib
from collections.abc import Iterator

from tensorflow.python.framework import config as tf_config  # 2.15 has no public switch back


@contextlib.contextmanager
def op_determinism(enabled: bool) -> Iterator[None]:
    """Within the block, TensorFlow's ops are deterministic when ``enabled`` (else left as they
    are); the previous setting is restored after, so a library user's unseeded generators work
    again outside the run."""
    was = tf_config.is_op_determinism_enabled()
    if enabled and not was:
        tf_config.enable_op_determinism()
    try:
        yield
    finally:
        if enabled and not was:
            tf_config.disable_op_determinism()
