#!/usr/bin/env bash
# The SIDP comparison on Fashion-MNIST (results/fashion_mnist_sidp.md): sidp (nominal), sidp_dp and
# dpsgd (formal) for BN-LeNet-5, LN-LeNet-5 and the tutorial CNN at epsilon 0.1, 1, 3 and 8, all
# with the recipe train/configs/sidp/fashion_mnist.py. Runs that already have a model card are
# kept, so an interrupted sweep resumes. About a minute per run on a 2-core CPU (36 runs).
#   bash scripts/sidp_table.sh [RUNS_DIR]   (default runs/sidp)
set -euo pipefail
cd "$(dirname "$0")/.."
runs=${1:-runs/sidp}
export TF_CPP_MIN_LOG_LEVEL=3
public='{"normalization": "public_batch"}'  # formal methods: BatchNorm statistics of the public batch only
for eps in 1 8 3 0.1; do
  for model in lenet5_bn_sidp lenet5_sidp tutorial_cnn_sidp; do
    for method in sidp sidp_dp dpsgd; do
      kwargs='{}'
      if [ "$model" = lenet5_bn_sidp ] && [ "$method" != sidp ]; then kwargs=$public; fi
      out="$runs/${model}_${method}_eps${eps}"
      [ -f "$out/model_card.json" ] && continue
      echo "== $out"
      .venv/bin/dpzoo-train --config=train/configs/sidp/fashion_mnist.py --model="$model" --method="$method" \
        --model_kwargs="$kwargs" --target_epsilon="$eps" --output_dir="$out" --overwrite >"$out.log" 2>&1 \
        || { echo "failed: $out (see $out.log)"; exit 1; }
      grep -m1 "Test accuracy" "$out/model_card.md"
    done
  done
done
