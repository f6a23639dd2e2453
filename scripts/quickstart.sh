#!/usr/bin/env bash
# The main job: install if needed, train a formally private CNN on Fashion-MNIST
# ((3, 1e-5)-DP, Poisson sampling, PLD accountant), print its model card, export a SavedModel.
set -euo pipefail
cd "$(dirname "$0")/.."
bash scripts/setup.sh
export TF_CPP_MIN_LOG_LEVEL=3
rm -rf runs/quickstart  # a finished run is replaced; an interrupted one (runs/.quickstart.partial) resumes
.venv/bin/dpzoo-train --config=train/configs/fashion_mnist/quickstart.py --output_dir=runs/quickstart "$@"  # extra flags pass on
.venv/bin/dpzoo-export --run_dir=runs/quickstart --export_dir=runs/serving/quickstart/1
