#!/usr/bin/env bash
# Builds and tests the root BUILD with Debian's Bazel 4.2.3, offline: `bazel build //...`, then
# `bazel test //...` (dpzoo, the configs mapped to dpzoo.train, and a few fast test files; see BUILD).
# Needs .venv (bash scripts/setup.sh): its interpreter is the Python toolchain. Installs
# bazel-bootstrap and bazel-rules-java with apt when missing (as root, or through sudo).
# Kept small for a 2-core machine: two jobs, two CPUs' worth of actions, and the Bazel server stopped
# at the end. Its output lives under $DPZOO_BAZEL_ROOT (default /tmp/bazel-dpzoo-$UID): delete that
# folder for a fresh start. Exits non-zero when anything fails.
set -euo pipefail
cd "$(dirname "$0")/.."

if [ ! -x .venv/bin/python ]; then
  echo "bazel_check: .venv/bin/python is missing; run bash scripts/setup.sh first." >&2
  exit 2
fi

if ! command -v bazel >/dev/null 2>&1 || [ ! -f /usr/share/bazel/rules/java/java/defs.bzl ]; then
  echo "bazel_check: installing bazel-bootstrap and bazel-rules-java (Debian)"
  sudo=""
  if [ "$(id -u)" != 0 ]; then sudo="sudo"; fi
  export DEBIAN_FRONTEND=noninteractive
  $sudo apt-get update -qq
  $sudo apt-get install -y -qq bazel-bootstrap bazel-rules-java >/dev/null
fi

root="${DPZOO_BAZEL_ROOT:-/tmp/bazel-dpzoo-$(id -u)}"
bazel_cmd=(bazel --output_user_root="$root")
trap '"${bazel_cmd[@]}" shutdown >/dev/null 2>&1 || true' EXIT

# .bazelrc forbids downloads.
flags=(--jobs=2 --local_cpu_resources=2 --show_progress_rate_limit=30 --color=no --curses=no)

start=$SECONDS
"${bazel_cmd[@]}" build "${flags[@]}" //...
# The venv is invisible to Bazel's cache, so tests always run.
"${bazel_cmd[@]}" test "${flags[@]}" --nocache_test_results //...
echo "bazel_check: build and tests passed in $((SECONDS - start)) s"
