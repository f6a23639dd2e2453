"""Shared plumbing of the absl command-line tools: exit code 2 with a clear message on bad input."""

import sys
from collections.abc import Callable

from absl import app, flags

from dpzoo.common.errors import UsageError

__all__ = ["run"]


def _fail(message: str) -> None:
    program = sys.argv[0].rsplit("/", 1)[-1] if sys.argv else "dpzoo"
    sys.stderr.write(f"{program}: error: {message}\nRun with --help for the flags.\n")
    sys.exit(2)


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
        if len(argv) > 1 and not positional:
            _fail(f"unexpected arguments {' '.join(argv[1:])!r} (flags look like --name=value)")
        try:
            main(argv)
        except UsageError as e:
            _fail(str(e))
        except OSError as e:  # a file that cannot be read or written: name it, not a traceback
            if e.filename is None:
                raise
            _fail(f"cannot use {e.filename}: {e.strerror or e}. Check the path, its permissions and free space.")

    app.run(guarded, flags_parser=_parse_flags)
