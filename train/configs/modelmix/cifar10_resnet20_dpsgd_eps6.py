"""CIFAR-10, ResNet-20 (GroupNorm), DP-SGD, Xiao et al. (ModelMix) settings at epsilon 6, delta 1e-5; guarantee formal.

Expected batch 1500, C 20, plain SGD, lr 0.1, plain L2 clipping; see _paper.py.
Published: 53.2% test accuracy (Xiao et al., DP-SGD, ResNet-20 GroupNorm, median of 5).
Command: dpzoo-train --config=train/configs/modelmix/cifar10_resnet20_dpsgd_eps6.py --data_dir=DIR_WITH_cifar-10-batches-py
Hardware: not run here (CIFAR-10 is not installed): 3,498 steps of expected batch 1500.
"""

from dpzoo.train.configs.modelmix._paper import paper_config
from dpzoo.training import TrainConfig


def get_config() -> TrainConfig:
    return paper_config(dataset="cifar10", method="dpsgd", target_epsilon=6)
