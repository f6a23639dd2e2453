"""CIFAR-10, DP-RandP (phase III) at epsilon 4, delta 1e-5: WRN-16-4 from the random-process prior
(prior_wrn16_4_rgb32.py), every layer fine-tuned with De et al.'s recipe for this budget.

What dpzoo does differently from the paper (a supervised proxy in phase I; no phase II, so the
whole budget goes to phase III): _recipe.py.
Published: the paper's table for epsilon 4 (not at hand here; its abstract gives 72.3% at epsilon 1).
Command: dpzoo-train --config=train/configs/randp/prior_wrn16_4_rgb32.py, then
dpzoo-train --config=train/configs/randp/cifar10_wrn16_4_eps4.py --data_dir=DIR_WITH_cifar-10-batches-py
Hardware: as train/configs/de22/cifar10_wrn16_4_eps4.py (a 16 GiB GPU). Not run here: CIFAR-10 is not at hand.
"""

from dpzoo.train.configs.randp._recipe import cifar10
from dpzoo.training import TrainConfig


def get_config() -> TrainConfig:
    return cifar10(4.0)
