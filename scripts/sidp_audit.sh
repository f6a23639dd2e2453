#!/usr/bin/env bash
# What SIDP's nominal epsilon leaks (results/fashion_mnist_sidp.md, membership-inference table):
# LN-LeNet-5 on 5,000 Fashion-MNIST images (train/configs/sidp/fashion_mnist_membership.py) trained
# non-privately, with dpsgd (formal) and with sidp (nominal) at the same epsilon, each audited with
# dpzoo-audit (TF Privacy's threshold and logistic-regression attacks). Runs with an audited card are
# kept, so an interrupted sweep resumes. About a minute per run on a 2-core CPU.
#   bash scripts/sidp_audit.sh [RUNS_DIR]   (default runs/sidp_mi)
set -euo pipefail
cd "$(dirname "$0")/.."
runs=${1:-runs/sidp_mi}
export TF_CPP_MIN_LOG_LEVEL=3
config=train/configs/sidp/fashion_mnist_membership.py
train_and_audit() {  # NAME, then dpzoo-train flags
  local out="$runs/$1"
  shift
  if ! grep -q '"audit"' "$out/model_card.json" 2>/dev/null; then
    echo "== $out"
    .venv/bin/dpzoo-train --config="$config" --output_dir="$out" --overwrite "$@" >"$out.log" 2>&1 \
      || { echo "failed: $out (see $out.log)"; exit 1; }
    .venv/bin/dpzoo-audit --run_dir="$out" || echo "AUDIT FLAGGED $out: a formal epsilon below the attack's bound"
  fi
}
mkdir -p "$runs"
# without clipping, lr 0.4 with momentum diverges: the non-private run takes lr 0.05
train_and_audit nonprivate --engine=nonprivate --method=dpsgd --learning_rate=0.05
for eps in 8 1; do
  for method in sidp dpsgd sidp_dp; do
    train_and_audit "${method}_eps${eps}" --method="$method" --target_epsilon="$eps"
  done
done
