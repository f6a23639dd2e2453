#!/usr/bin/env bash
# The test command: install if needed, lint (ruff, then import-linter's layer contract), then the whole test suite.
set -euo pipefail
cd "$(dirname "$0")/.."
bash scripts/setup.sh
.venv/bin/ruff check .
.venv/bin/ruff format --check .
.venv/bin/lint-imports  # the package's layers run one way (pyproject.toml [tool.importlinter])
# Two workers (pytest-xdist): tests spend much of their time in single-threaded Python (tracing),
# so two halve the wall time on a 2-core machine; a module's tests share a worker (conftest.py).
# The 25 slowest tests are listed at the end, to keep CI's time in view.
TF_CPP_MIN_LOG_LEVEL=3 .venv/bin/python -m pytest -n 2 --dist loadgroup --durations=25 "$@"
# With no arguments (the whole suite), the tests of tests/keras2_run.txt run again on tf-keras.
if [[ $# -eq 0 ]]; then
  bash scripts/test_keras2.sh
fi
