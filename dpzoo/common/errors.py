"""Error types that mark a user's input as wrong (the CLIs exit with code 2 on them), and the
TensorFlow errors that mean another worker failed."""

import tensorflow as tf

# What TensorFlow raises in a worker when another worker of a multi-worker run dies or stops
# answering (a collective aborted, a heartbeat missed): a peer's failure, not this worker's,
# whichever op it interrupts (a training step or a checkpoint's write).
PEER_FAILURES = (
    tf.errors.UnavailableError,
    tf.errors.AbortedError,
    tf.errors.DeadlineExceededError,
    tf.errors.CancelledError,
)


class UsageError(ValueError):
    """Bad user input: a flag, config field, file or checkpoint. The message says what to do."""


class DataNotFoundError(UsageError):
    """A dataset could be found neither locally nor through tensorflow-datasets."""
