#!/usr/bin/env bash
# dpzoo runs on Keras 3. tf-keras (Keras 2, DPZOO_KERAS=2) stays selectable for what needs it: TF
# Privacy's Keras optimizers and DPModel, dpzoo-bench's peers, and the tf-keras side of
# dpzoo-bench --keras=2,3. The tests listed in tests/keras2_run.txt run a second time there.
set -euo pipefail
cd "$(dirname "$0")/.."
args=()
while read -r line; do
  line="${line%%#*}"
  line="$(echo "$line" | xargs)"
  [[ -z "$line" ]] && continue
  args+=("$line")
done < tests/keras2_run.txt
DPZOO_KERAS=2 TF_CPP_MIN_LOG_LEVEL=3 .venv/bin/python -m pytest -n 2 --dist loadgroup "${args[@]}" "$@"
