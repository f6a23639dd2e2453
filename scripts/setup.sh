#!/usr/bin/env bash
# Installs what dpzoo needs on a fresh machine, idempotently:
#   .venv on Python 3.12 (or 3.13, 3.11) with the pinned stack (requirements.lock, then TF Privacy
#   from requirements-nodeps.lock without its declared dependencies, keras-hub from requirements-hub.lock)
#   and dpzoo itself (editable);
#   Fashion-MNIST from Debian's dataset-fashion-mnist package when it is missing.
set -euo pipefail
cd "$(dirname "$0")/.."

# Python 3.12 first (CI's), then 3.13 and 3.11; also pyenv's installs, whose shims answer only for
# the version pyenv has selected.
python=""
pyenv_versions="$HOME/.pyenv/versions"
for candidate in python3.12 "$pyenv_versions"/3.12*/bin/python3.12 python3.13 "$pyenv_versions"/3.13*/bin/python3.13 \
  python3.11 "$pyenv_versions"/3.11*/bin/python3.11 python3; do
  if command -v "$candidate" >/dev/null 2>&1 &&
    "$candidate" -c 'import sys; sys.exit(not (3, 11) <= sys.version_info[:2] <= (3, 13))' 2>/dev/null; then
    python=$candidate
    break
  fi
done
if [ -z "$python" ]; then
  echo "setup: dpzoo needs Python 3.11, 3.12 or 3.13 (TensorFlow 2.21 has wheels for these); install python3.12." >&2
  exit 2
fi

stamp=".venv/.installed-$(cat requirements.lock requirements-nodeps.lock requirements-hub.lock setup.py | sha256sum | cut -c1-16)"
if [ ! -f "$stamp" ]; then
  echo "setup: installing the pinned stack into .venv (a few minutes on first run)"
  version() { "$1" -c 'import sys; print(*sys.version_info[:2], sep=".")'; }
  if [ -x .venv/bin/python ] && [ "$(version .venv/bin/python)" != "$(version "$python")" ]; then
    echo "setup: .venv has Python $(version .venv/bin/python); making it anew with $(version "$python")"
    rm -rf .venv
  fi
  [ -x .venv/bin/python ] || "$python" -m venv .venv
  .venv/bin/pip install -q --disable-pip-version-check --upgrade "pip==26.3" "setuptools==84.2.1" "wheel==0.48.0"
  .venv/bin/pip install -q --disable-pip-version-check -r requirements.lock
  # TF Privacy by its own step: pip refuses it as a dependency (requirements-nodeps.lock says why).
  .venv/bin/pip install -q --disable-pip-version-check --no-deps --ignore-requires-python -r requirements-nodeps.lock
  .venv/bin/pip install -q --disable-pip-version-check -r requirements-hub.lock  # keras-hub presets as starts
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
