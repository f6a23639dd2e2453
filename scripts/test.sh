#!/usr/bin/env bash
# The test command: install if needed, lint, then the whole test suite.
set -euo pipefail
cd "$(dirname "$0")/.."
bash scripts/setup.sh
.venv/bin/ruff check .
.venv/bin/ruff format --check .
TF_CPP_MIN_LOG_LEVEL=3 .venv/bin/python -m pytest "$@"
