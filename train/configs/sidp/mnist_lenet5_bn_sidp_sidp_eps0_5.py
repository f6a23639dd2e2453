"""MNIST, SIDP BN-LeNet-5, Davody et al. 2020 settings at epsilon 0.5, delta 1e-5; guarantee nominal (no formal guarantee; the card says why).

Batch 32, C 3.1, SGD lr 0.1 with momentum 0.9, 10 epochs, sigma calibrated to epsilon 0.5 (RDP,
Poisson sampling); see _paper.py for what differs from the authors' code.
Published: 99.18% test accuracy (Davody et al. 2020, SIDP BN-LeNet-5, epsilon 0.5 as the paper states it).
Command: dpzoo-train --config=train/configs/sidp/mnist_lenet5_bn_sidp_sidp_eps0_5.py --data_dir=DIR_WITH_MNIST_IDX_FILES
Hardware: not run here (MNIST is not installed): 18,750 steps of batch 32.
"""

from dpzoo.train.configs.sidp._paper import paper_config
from dpzoo.training import TrainConfig


def get_config() -> TrainConfig:
    return paper_config(dataset="mnist", model="lenet5_bn_sidp", method="sidp", target_epsilon=0.5)
