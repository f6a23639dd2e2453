"""MNIST, DP-SGD LeNet-5, Davody et al. 2020 settings at epsilon 0.1, delta 1e-5; guarantee formal.

Batch 32, C 3.1, SGD lr 0.1 with momentum 0.9, 10 epochs, sigma calibrated to epsilon 0.1 (RDP,
Poisson sampling); see _paper.py for what differs from the authors' code.
Published: 83.0% test accuracy (Davody et al. 2020, DP-SGD LeNet-5, epsilon 0.1 as the paper states it).
Command: dpzoo-train --config=train/configs/sidp/mnist_lenet5_dpsgd_eps0_1.py --data_dir=DIR_WITH_MNIST_IDX_FILES
Hardware: not run here (MNIST is not installed): 18,750 steps of batch 32.
"""

from dpzoo.train.configs.sidp._paper import paper_config
from dpzoo.training import TrainConfig


def get_config() -> TrainConfig:
    return paper_config(dataset="mnist", model="lenet5", method="dpsgd", target_epsilon=0.1)
