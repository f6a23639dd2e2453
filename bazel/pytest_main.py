"""Main of the Bazel py_test targets: runs one test file under pytest in the test's runfiles tree,
then fails if dpzoo was imported from anywhere else (the venv holds an editable install of the
checkout, which would otherwise hide a file missing from the :dpzoo target)."""

import os
import sys

import pytest


def main() -> int:
    code = pytest.main([*sys.argv[1:], "-p", "no:cacheprovider"])
    runfiles = os.environ["TEST_SRCDIR"]
    stray = sorted(
        name
        for name, module in list(sys.modules.items())
        if (name == "dpzoo" or name.startswith("dpzoo."))
        and getattr(module, "__file__", None)
        and not os.path.abspath(module.__file__).startswith(runfiles + os.sep)
    )
    if stray:
        print(f"dpzoo modules imported from outside the runfiles ({runfiles}): {stray}", file=sys.stderr)
        return 1
    return int(code)


if __name__ == "__main__":
    sys.exit(main())
