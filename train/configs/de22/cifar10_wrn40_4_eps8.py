"""CIFAR-10, WRN-40-4, De et al. 2022 recipe at epsilon 8, delta 1e-5.

The WRN-16-4 epsilon-8 recipe (batch 4096, K = 16, SGD lr 4, C = 1, noise multiplier 3, EMA
0.999, trained until epsilon 8: 3066 steps by RDP) on the deeper WRN-40-4 (8.96M parameters).
Published: 81.4% test accuracy, the best CIFAR-10 result without extra data (previous best 71.7%).
Command: dpzoo-train --config=train/configs/de22/cifar10_wrn40_4_eps8.py --data_dir=DIR_WITH_cifar-10-batches-py
Hardware: physical batch 32 (128 chunks of 32 x 16 views per step); at roughly 2.5x WRN-16-4's memory
per view (2.5x its depth; not measured), about 6 GiB of activations. Not run here.
"""

import dataclasses

from dpzoo.train.configs.de22 import cifar10_wrn16_4_eps8
from dpzoo.training import TrainConfig


def get_config() -> TrainConfig:
    config = cifar10_wrn16_4_eps8.get_config()
    return dataclasses.replace(
        config, model="wrn40_4", physical_batch_size=32, output_dir="runs/de22_cifar10_wrn40_4_eps8"
    )
