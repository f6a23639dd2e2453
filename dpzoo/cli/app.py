"""Shared plumbing of the absl command-line tools: exit code 2 with a clear message on bad input."""

import logging
import os
import re
import sys
from collections.abc import Callable

from absl import app, flags
from absl import logging as absl_logging

from dpzoo.common.errors import UsageError

__all__ = ["run"]


def _fail(message: str) -> None:
    program = sys.argv[0].rsplit("/", 1)[-1] if sys.argv else "dpzoo"
    sys.stderr.write(f"{program}: error: {message}\nRun with --help for the flags.\n")
    sys.exit(2)


class _TensorFlowInfo(logging.Filter):
    """Drops INFO records logged from inside the tensorflow package (a line per checkpoint write
    and per SavedModel function on TF 2.21); its warnings and dpzoo's own INFO lines stay."""

    def filter(self, record: logging.LogRecord) -> bool:
        return record.levelno >= logging.WARNING or f"{os.sep}tensorflow{os.sep}" not in record.pathname


def out_of_memory_message(error: BaseException) -> str:
    """One line for a run that ran out of memory: what ran out, and the three ways to need less."""
    allocation = re.search(r"OOM when allocating tensor with shape\[[^\]]*\]", str(error))
    what = allocation.group(0) if allocation else type(error).__name__
    return (
        f"out of memory ({what}). Need less per step: a smaller --batch_size, or virtual batches "
        "(--physical_batch_size=N with --engine=dpzoo: a step's memory is then set by N rows, not by the batch; "
        "--engine=tf_privacy cannot chunk, it holds every example's gradient of the whole batch at once)."
    )


def _parse_flags(argv: list[str]) -> list[str]:
    try:
        return flags.FLAGS(argv)
    except flags.Error as e:
        _fail(str(e))


def run(main: Callable[[list[str]], None], *, positional: bool = False) -> None:
    """Runs ``main`` under absl; flag errors and UsageError exit with code 2. Arguments that are
    not flags are refused unless ``positional`` (then ``main`` gets and checks them)."""

    def guarded(argv: list[str]) -> None:
        import tensorflow as tf

        tf.get_logger().setLevel("ERROR")  # TensorFlow's own INFO chatter; dpzoo's progress stays
        absl_logging.get_absl_logger().addFilter(_TensorFlowInfo())  # since TF 2.16 it logs through absl too
        if len(argv) > 1 and not positional:
            _fail(f"unexpected arguments {' '.join(argv[1:])!r} (flags look like --name=value)")
        try:
            main(argv)
        except UsageError as e:
            _fail(str(e))
        except (tf.errors.ResourceExhaustedError, MemoryError) as e:
            _fail(out_of_memory_message(e))
        except OSError as e:  # a file that cannot be read or written: name it, not a traceback
            if e.filename is None:
                raise
            _fail(f"cannot use {e.filename}: {e.strerror or e}. Check the path, its permissions and free space.")

    app.run(guarded, flags_parser=_parse_flags)
