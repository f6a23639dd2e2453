"""CIFAR-10, WRN-16-4, De et al. 2022 recipe at epsilon 1, delta 1e-5.

Batch 4096, K = 16, SGD lr 2.0 (constant, no momentum), C = 1, noise multiplier 10.0, EMA 0.999,
trained until epsilon 1 is reached (RDP, Poisson sampling): 895 steps with dpzoo's accountant
(the paper's published config: sigma 10, lr 2, 875 steps by its own RDP orders).
Published: 56.8% test accuracy (De et al. 2022, WRN-16-4, no extra data).
Command: dpzoo-train --config=train/configs/de22/cifar10_wrn16_4_eps1.py --data_dir=DIR_WITH_cifar-10-batches-py
Hardware: physical batch 128 (virtual batches: 32 chunks of 128 x 16 views per step), about 10 GiB of
activations (4.9 MiB per view, measured on CPU: results/de22_scale.md), so a 16 GiB GPU; lower
--physical_batch_size on a smaller one. One step on this 2-core CPU at P = 16: 1938 s, 3.3 GiB.
"""

from dpzoo.train.configs.de22._recipe import cifar10_config
from dpzoo.training import TrainConfig


def get_config() -> TrainConfig:
    return cifar10_config(model="wrn16_4", target_epsilon=1.0, noise_multiplier=10.0, learning_rate=2.0)
