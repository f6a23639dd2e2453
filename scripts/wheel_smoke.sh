#!/usr/bin/env bash
# Smoke of an installed dpzoo wheel, run outside the checkout: a ScatterNet config trains 2 steps
# (on 512 Fashion-MNIST images), zoo.load of a shipped checkpoint, dpzoo-export, dpzoo-privacy.
# Usage: scripts/wheel_smoke.sh BIN_DIR (the bin/ folder of a virtualenv where the wheel is installed).
# Used by tests/test_wheel.py and by .ci/run on Python 3.13 (scripts/wheel_check.sh).
set -euo pipefail
bin=$(cd "$1" && pwd)
work=$(mktemp -d)
trap 'rm -rf "$work"' EXIT
cd "$work"
export TF_CPP_MIN_LOG_LEVEL=3 DPZOO_CACHE_DIR="$work/cache"

"$bin/python" - <<'PY'
import os

import numpy as np

import dpzoo
from dpzoo import data

assert "site-packages" in dpzoo.__file__, f"dpzoo imports from {dpzoo.__file__}, not the installed wheel"
fashion = data.load("fashion_mnist")
os.makedirs("fmnist")
np.savez("fmnist/fashion_mnist.npz", x_train=fashion.x_train[:512], y_train=fashion.y_train[:512],
         x_test=fashion.x_test[:256], y_test=fashion.y_test[:256])
PY
configs=$("$bin/python" -c 'import os, dpzoo.train.configs.scatternet as c; print(os.path.dirname(c.__file__))')
"$bin/dpzoo-train" --config="$configs/fashion_mnist_scatternet_cnn_eps3.py" --data_dir=fmnist --batch_size=256 --max_steps=2 \
  --output_dir=run | grep -E "DP|accuracy" | head -3
test -f run/model_card.json
"$bin/python" -c '
from dpzoo import zoo
model, card = zoo.load("tutorial_cnn.fmnist_eps3_dpsgd")
print("zoo.load: test accuracy", card["results"]["test_accuracy"], "at epsilon", card["privacy"]["epsilon"])
'
"$bin/dpzoo-export" --name=tutorial_cnn.fmnist_eps3_dpsgd --version=1 --export_base=serving
test -f serving/tutorial_cnn.fmnist_eps3_dpsgd/1/saved_model.pb
"$bin/dpzoo-privacy" --N=60000 --batch_size=256 --noise_multiplier=1.1 --epochs=1
echo "wheel smoke: passed"
