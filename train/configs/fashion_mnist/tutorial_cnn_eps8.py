"""Fashion-MNIST, TF Privacy tutorial CNN (tanh), DP-SGD at epsilon 8, delta 1e-5.

The recipe of tutorial_cnn_eps3.py (Tramer & Boneh 2021's end-to-end CNN: batch 2048, lr 4,
momentum 0.9, C 0.1, 40 epochs) with sigma calibrated for epsilon 8 (Poisson sampling, PLD).
Command: dpzoo-train --config=train/configs/fashion_mnist/tutorial_cnn_eps8.py --output_dir=runs/fmnist_cnn_eps8
Hardware: 2-core CPU, about 15 minutes. Result: see results/fashion_mnist.md.
"""

import dataclasses

from dpzoo.train.configs.fashion_mnist import tutorial_cnn_eps3
from dpzoo.training import TrainConfig


def get_config() -> TrainConfig:
    return dataclasses.replace(tutorial_cnn_eps3.get_config(), target_epsilon=8.0, output_dir="runs/fmnist_cnn_eps8")
