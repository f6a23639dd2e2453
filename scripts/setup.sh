#!/usr/bin/env bash
# Installs what dpzoo needs on a fresh machine, idempotently:
#   .venv with the pinned stack (requirements.lock, then requirements-nodeps.lock without its
#   declared dependencies) and dpzoo itself (editable);
#   Fashion-MNIST from Debian's dataset-fashion-mnist package when it is missing.
set -euo pipefail
cd "$(dirname "$0")/.."

python=""
for candidate in python3.11 python3; do
  if command -v "$candidate" >/dev/null && "$candidate" -c 'import sys; sys.exit(sys.version_info[:2] != (3, 11))'; then
    python=$candidate
    break
  fi
done
if [ -z "$python" ]; then
  echo "setup: dpzoo needs Python 3.11 (tensorflow-privacy 0.9.0 supports < 3.12); install python3.11." >&2
  exit 2
fi

stamp=".venv/.installed-$(cat requirements.lock requirements-nodeps.lock setup.py | sha256sum | cut -c1-16)"
if [ ! -f "$stamp" ]; then
  echo "setup: installing the pinned stack into .venv (a few minutes on first run)"
  [ -x .venv/bin/python ] || "$python" -m venv .venv
  .venv/bin/pip install -q --disable-pip-version-check --upgrade "pip==24.3.1" "setuptools==69.5.1" "wheel==0.45.1"
  .venv/bin/pip install -q --disable-pip-version-check -r requirements.lock
  .venv/bin/pip install -q --disable-pip-version-check --no-deps -r requirements-nodeps.lock
  .venv/bin/pip install -q --disable-pip-version-check --no-deps --no-build-isolation -e .
  rm -f .venv/.installed-*
  touch "$stamp"
fi

if [ ! -e /usr/share/datasets/fashion-mnist/train-images-idx3-ubyte.gz ]; then
  if [ "$(id -u)" = 0 ] && command -v apt-get >/dev/null; then
    echo "setup: installing Fashion-MNIST (Debian package dataset-fashion-mnist)"
    apt-get update -qq && apt-get install -y -qq dataset-fashion-mnist
  elif command -v sudo >/dev/null && command -v apt-get >/dev/null; then
    sudo apt-get update -qq && sudo apt-get install -y -qq dataset-fashion-mnist
  else
    echo "setup: Fashion-MNIST is missing: install Debian's dataset-fashion-mnist or pass --data_dir." >&2
  fi
fi
