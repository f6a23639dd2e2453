"""CIFAR-10, WRN-16-4, De et al. 2022 recipe at epsilon 1, delta 1e-5.

Batch 4096, K = 16, SGD lr 2.0 (constant, no momentum), C = 1, noise multiplier 10.0, EMA 0.999,
trained until epsilon 1 is reached (RDP, Poisson sampling): 895 steps with dpzoo's accountant
(the paper's published config: sigma 10, lr 2, 875 steps by its own RDP orders).
Published: 56.8% test accuracy (De et al. 2022, WRN-16-4, no extra data).
Command: dpzoo-train --config=train/configs/de22/cifar10_wrn16_4_eps1.py --data_dir=DIR_WITH_cifar-10-batches-py
Hardware: needs a GPU (16 x 4096 forward and backward passes of WRN-16-4 per step); not run here.
"""

from dpzoo.train.configs.de22._recipe import cifar10_config
from dpzoo.training import TrainConfig


def get_config() -> TrainConfig:
    return cifar10_config(model="wrn16_4", target_epsilon=1.0, noise_multiplier=10.0, learning_rate=2.0)
