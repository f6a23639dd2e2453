"""The quickstart recipe at (8, 1e-5)-DP: the budget at which its one-run canary audit is reported
beside the quickstart's own epsilon 3 (results/canary_audit.md).

Command: dpzoo-audit --config=train/configs/fashion_mnist/quickstart_eps8.py --canaries=5000
Hardware: 2-core CPU, about a minute. Expected: about 88% test accuracy at epsilon 8 (Poisson
sampling, PLD accountant, delta 1e-5).
"""

import dataclasses

from dpzoo.train.configs.fashion_mnist import quickstart
from dpzoo.training import TrainConfig


def get_config() -> TrainConfig:
    return dataclasses.replace(quickstart.get_config(), target_epsilon=8.0, output_dir="runs/quickstart_eps8")
