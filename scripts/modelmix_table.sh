#!/usr/bin/env bash
# The ModelMix comparison on Fashion-MNIST (results/fashion_mnist_modelmix.md): DP-SGD and ModelMix
# (gap tau/eta 0.0075, the paper's at C = 1, and 0.002) at epsilon 1, 3 and 8, all with the recipe
# train/configs/modelmix/fashion_mnist.py. Runs that have a model card are kept, so an interrupted
# sweep resumes; a second copy of this script started beside the first shares the work (each run
# is claimed by a lock file). About three minutes per run on a 2-core CPU (9 runs).
#   bash scripts/modelmix_table.sh [RUNS_DIR]   (default runs/modelmix)
set -euo pipefail
cd "$(dirname "$0")/.."
runs=${1:-runs/modelmix}
mkdir -p "$runs"
export TF_CPP_MIN_LOG_LEVEL=3
for eps in 3 8 1; do
  for variant in dpsgd modelmix_0.0075 modelmix_0.002; do
    out="$runs/${variant}_eps${eps}"
    [ -f "$out/model_card.json" ] && continue
    (set -C; : >"$out.lock") 2>/dev/null || continue  # another copy of the script has it
    case $variant in
      dpsgd) args=(--method=dpsgd) ;;
      *) args=(--method=modelmix --modelmix_tau_ratio="${variant#modelmix_}") ;;
    esac
    echo "== $out"
    .venv/bin/dpzoo-train --config=train/configs/modelmix/fashion_mnist.py "${args[@]}" \
      --target_epsilon="$eps" --output_dir="$out" --overwrite >"$out.log" 2>&1 \
      || { echo "failed: $out (see $out.log)"; rm -f "$out.lock"; exit 1; }
    rm -f "$out.lock"
    grep -m1 "Test accuracy" "$out/model_card.md"
  done
done
