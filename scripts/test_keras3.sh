#!/usr/bin/env bash
# dpzoo moves to Keras 3 in steps (dpzoo.common.stack: DPZOO_KERAS). Until the default flips, the
# tests already ported run a second time on Keras 3, so no step can break what the last one moved:
# tests/keras3_ported.txt lists them (paths, and "not:" lines for tests still to port).
set -euo pipefail
cd "$(dirname "$0")/.."
args=()
while read -r line; do
  line="${line%%#*}"
  line="$(echo "$line" | xargs)"
  [[ -z "$line" ]] && continue
  if [[ "$line" == not:* ]]; then
    args+=(--deselect "$(echo "${line#not:}" | xargs)")
  else
    args+=("$line")
  fi
done < tests/keras3_ported.txt
DPZOO_KERAS=3 TF_CPP_MIN_LOG_LEVEL=3 .venv/bin/python -m pytest -n 2 --dist loadgroup "${args[@]}" "$@"
