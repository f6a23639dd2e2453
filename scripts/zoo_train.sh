#!/usr/bin/env bash
# Builds the runs of the zoo's shipped checkpoints (dpzoo/zoo/) in runs/zoo/NAME: trains the DP-SGD
# and De et al. 2022 rows at epsilon 1, 3 and 8 from their configs, takes the ModelMix and SIDP runs
# of the result tables (scripts/modelmix_table.sh, scripts/sidp_table.sh), then audits every run
# (dpzoo-audit). The public backbone (DP-RandP phase I, no noise, public data) trains into
# runs/backbones/NAME and is audited the same way. Runs that have a model card are kept; a second copy started beside the first shares
# the training (each run is claimed by a lock file). Training takes 8 to 15 minutes per run on a
# 2-core CPU. The ScatterNet checkpoints come from scripts/scatternet_table.sh's runs. Then:
# .venv/bin/python scripts/zoo_package.py (entries without a run here stay in the index).
#   bash scripts/zoo_train.sh [all|scatternet]   (scatternet: only the ScatterNet checkpoints)
set -euo pipefail
cd "$(dirname "$0")/.."
runs=runs/zoo
backbones=runs/backbones
mkdir -p "$runs" "$backbones"
export TF_CPP_MIN_LOG_LEVEL=3

train() {  # RUN_DIR CONFIG
  local out="$1"
  [ -f "$out/model_card.json" ] && return 0
  (set -C; : >"$out.lock") 2>/dev/null || return 0  # another copy of the script has it
  echo "== $out"
  .venv/bin/dpzoo-train --config="$2" --output_dir="$out" --overwrite >"$out.log" 2>&1 \
    || { echo "failed: $out (see $out.log)"; rm -f "$out.lock"; exit 1; }
  rm -f "$out.lock"
  grep -m1 "Test accuracy" "$out/model_card.md"
}

take() {  # NAME RUN_DIR: a run of a result table
  local out="$runs/$1"
  [ -f "$out/model_card.json" ] && return 0
  [ -f "$2/model_card.json" ] || { echo "missing $2: run its table script first (with RETRAIN=1 where results/ holds its card)"; exit 1; }
  cp -r "$2" "$out"
}

part=${1:-all}
scatternet=runs/scatternet
# the best ScatterNet at epsilon 3 (results/fashion_mnist_scatternet.md), the DP-SGD cell of
# ModelMix's table at epsilon 1 (ModelMix's does not win there: no ModelMix checkpoint), and the
# linear model's best recipes at epsilon 1 and 3, the zoo's best there
take "scatternet_cnn.fmnist_eps3_dpsgd" "$scatternet/scatternet_cnn_eps3"
take "scatternet_cnn.fmnist_eps1_dpsgd" "$scatternet/cnn_dpsgd_eps1"
take "scatternet_linear.fmnist_eps1_dpsgd" "$scatternet/scatternet_linear_eps1"
take "scatternet_linear.fmnist_eps3_dpsgd" "$scatternet/scatternet_linear_b16384_eps3"
# and the same on centred features (DPSGD-F), the zoo's best at epsilon 1 and 3 (scatternet_table.sh centered)
take "scatternet_linear_centered.fmnist_eps1_dpsgd" "$scatternet/centered/linear_centered_sigma32_eps1_seed0"
take "scatternet_linear_centered.fmnist_eps3_dpsgd" "$scatternet/centered/linear_centered_sigma32_eps3_seed0"
# and with the scattering's orders 0 and 1 scaled by 0.7 after the centring, the best of all (scatternet_table.sh centered_scaled)
take "scatternet_linear_centered_scaled.fmnist_eps1_dpsgd" "$scatternet/centered_scaled/linear_centered_scaled_eps1_seed0"
take "scatternet_linear_centered_scaled.fmnist_eps3_dpsgd" "$scatternet/centered_scaled/linear_centered_scaled_eps3_seed0"
[ "$part" = scatternet ] || for eps in 1 3 8; do
  train "$runs/tutorial_cnn.fmnist_eps${eps}_dpsgd" "train/configs/fashion_mnist/tutorial_cnn_eps${eps}.py"
  train "$runs/tutorial_cnn_ws.fmnist_eps${eps}_de22" "train/configs/de22/fashion_mnist_tutorial_cnn_ws_eps${eps}.py"
done
[ "$part" = scatternet ] || train "$backbones/scatternet_cnn.random_processes_gray28" \
  train/configs/randp/prior_scatternet_cnn_gray28.py
[ -n "$(ls "$runs"/*.lock "$backbones"/*.lock 2>/dev/null)" ] && { echo "other runs still training; audit after they finish"; exit 0; }
[ "$part" = scatternet ] || for eps in 1 3 8; do
  take "tutorial_cnn_gn.fmnist_eps${eps}_modelmix" "runs/modelmix/modelmix_0.002_eps${eps}"
  take "lenet5_sidp.fmnist_eps${eps}_sidp_dp" "runs/sidp/lenet5_sidp_sidp_dp_eps${eps}"
done
[ "$part" = scatternet ] || take "lenet5_sidp.fmnist_eps1_sidp_nominal" "runs/sidp/lenet5_sidp_sidp_eps1"
for out in "$runs"/*/ "$backbones"/*/; do
  grep -q '"audit"' "$out/model_card.json" && continue
  echo "== audit $out"
  .venv/bin/dpzoo-audit --run_dir="$out" | tail -3 || [ $? -eq 1 ]  # exit 1: an audit failure, kept in the card
done
