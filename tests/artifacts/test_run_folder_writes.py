"""run_folder.writing: a failed write becomes a UsageError naming the folder and what to do, but a
peer worker's failure that interrupts the write passes through unchanged.

The bug this guards against, seen in a multi-worker run: the other worker was killed while the
chief wrote a resume checkpoint, the aborted collective raised inside ``writing``, and the chief
ended with exit 2 and "Free space or pick another --output_dir" instead of exit 1 and "another
worker of this multi-worker run failed"."""

import pytest
import tensorflow as tf

from dpzoo.artifacts import run_folder
from dpzoo.common.errors import PEER_FAILURES, UsageError


def test_a_failed_write_names_the_folder_and_what_to_do(tmp_path):
    with pytest.raises(UsageError, match=f"Cannot write a checkpoint under {tmp_path}: .*Free space"):
        with run_folder.writing(str(tmp_path), "a checkpoint"):
            raise OSError(28, "No space left on device")
    with pytest.raises(UsageError, match="Cannot write"):
        with run_folder.writing(str(tmp_path)):
            raise tf.errors.ResourceExhaustedError(None, None, "disk full")


@pytest.mark.parametrize("error", PEER_FAILURES, ids=lambda e: e.__name__)
def test_a_peer_failure_during_a_write_is_not_called_a_failed_write(tmp_path, error):
    aborted = error(None, None, "Collective ops is aborted by: Error reported from /job:worker/task:1")
    with pytest.raises(error) as raised:
        with run_folder.writing(str(tmp_path), "a resume checkpoint"):
            raise aborted
    assert raised.value is aborted and not isinstance(raised.value, UsageError)
