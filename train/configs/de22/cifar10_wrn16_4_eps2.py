"""CIFAR-10, WRN-16-4, De et al. 2022 recipe at epsilon 2, delta 1e-5.

Batch 4096, K = 16, SGD lr 2.0 (constant, no momentum), C = 1, noise multiplier 6.0, EMA 0.999,
trained until epsilon 2 is reached (RDP, Poisson sampling): 1125 steps with dpzoo's accountant.
The noise multiplier and learning rate for this budget are dpzoo's choice in the paper's range
(sigma 10 and lr 2 at epsilon 1, lr about 4 at epsilon 8); the recipe is otherwise the paper's.
Published: 65.9% test accuracy (De et al. 2022, WRN-16-4, no extra data).
Command: dpzoo-train --config=train/configs/de22/cifar10_wrn16_4_eps2.py --data_dir=DIR_WITH_cifar-10-batches-py
Hardware: physical batch 128 (virtual batches: 32 chunks of 128 x 16 views per step), about 10 GiB of
activations (4.9 MiB per view, measured on CPU: results/de22_scale.md), so a 16 GiB GPU; lower
--physical_batch_size on a smaller one. One step on this 2-core CPU at P = 16: 1938 s, 3.3 GiB.
"""

from dpzoo.train.configs.de22._recipe import cifar10_config
from dpzoo.training import TrainConfig


def get_config() -> TrainConfig:
    return cifar10_config(model="wrn16_4", target_epsilon=2.0, noise_multiplier=6.0, learning_rate=2.0)
