#!/usr/bin/env bash
# Builds dpzoo's wheel and installs it, with the pinned stack, into a fresh virtualenv of the given
# Python outside the checkout, then runs scripts/wheel_smoke.sh there. .ci/run runs it on Python 3.13.
# Usage: scripts/wheel_check.sh PYTHON (e.g. python3.13, or a path to one)
set -euo pipefail
cd "$(dirname "$0")/.."
python=$1
if ! command -v "$python" >/dev/null 2>&1 || ! "$python" -c 'import sys' 2>/dev/null; then
  python=$(ls "$HOME"/.pyenv/versions/"${1#python}"*/bin/"$1" 2>/dev/null | head -n 1)
fi
[ -n "$python" ] || { echo "wheel_check: $1 not found" >&2; exit 2; }
work=$(mktemp -d)
trap 'rm -rf "$work"' EXIT
echo "wheel_check: $("$python" --version), in $work"
rm -rf build  # a stale build/ could carry files the tree no longer has
.venv/bin/python -m build --wheel --no-isolation --outdir "$work/dist" . >/dev/null
"$python" -m venv "$work/venv"
pip=("$work/venv/bin/pip" install -q --disable-pip-version-check)
"${pip[@]}" --upgrade "pip==26.3"
"${pip[@]}" -r requirements.lock
"${pip[@]}" --no-deps --ignore-requires-python -r requirements-nodeps.lock
"${pip[@]}" --no-deps "$work"/dist/dpzoo-*.whl
bash scripts/wheel_smoke.sh "$work/venv/bin"
