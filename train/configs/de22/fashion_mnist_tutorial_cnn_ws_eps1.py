"""Fashion-MNIST, De et al. 2022 recipe at CPU scale, epsilon 1, delta 1e-5.

fashion_mnist_tutorial_cnn_ws_eps3.py with the noise calibrated for epsilon 1.
Command: dpzoo-train --config=train/configs/de22/fashion_mnist_tutorial_cnn_ws_eps1.py
Hardware: 2-core CPU, about 10 minutes. Result: see results/fashion_mnist.md.
"""

import dataclasses

from dpzoo.train.configs.de22 import fashion_mnist_tutorial_cnn_ws_eps3
from dpzoo.training import TrainConfig


def get_config() -> TrainConfig:
    config = fashion_mnist_tutorial_cnn_ws_eps3.get_config()
    return dataclasses.replace(config, target_epsilon=1.0, output_dir="runs/de22_fmnist_ws_eps1")
