"""CIFAR-10, SIDP tutorial CNN, Davody et al. 2020 settings at epsilon 4, delta 1e-5; guarantee nominal (no formal guarantee; the card says why).

Batch 32, C 3.1, SGD lr 0.1 with momentum 0.9, 10 epochs, sigma calibrated to epsilon 4 (RDP,
Poisson sampling); see _paper.py for what differs from the authors' code.
Published: 77.7% test accuracy (Davody et al. 2020, SIDP tutorial CNN, epsilon 4 as the paper states it).
Command: dpzoo-train --config=train/configs/sidp/cifar10_tutorial_cnn_sidp_sidp_eps4.py --data_dir=DIR_WITH_cifar-10-batches-py
Hardware: not run here (CIFAR-10 is not installed): 15,630 steps of batch 32.
"""

from dpzoo.train.configs.sidp._paper import paper_config
from dpzoo.training import TrainConfig


def get_config() -> TrainConfig:
    return paper_config(
        dataset="cifar10",
        model="tutorial_cnn_sidp",
        method="sidp",
        target_epsilon=4,
        model_kwargs={"normalization": "aux_batch"},
    )
