"""Fashion-MNIST, De et al. 2022 recipe at CPU scale with a twice-wider WS CNN, epsilon 3, delta 1e-5.

fashion_mnist_tutorial_cnn_ws_eps3.py with width 2 (32 and 64 channels, 64 hidden units; 101,258
parameters instead of 26,058): the paper's finding that the right recipe lets larger models
train better under DP, at the scale a 2-core CPU allows.
Command: dpzoo-train --config=train/configs/de22/fashion_mnist_tutorial_cnn_ws2_eps3.py
(the recorded run used the equivalent --config=...ws_eps3.py --model_kwargs='{"width": 2}').
Hardware: 2-core CPU, about 15 minutes. Result: 88.21% (results/fashion_mnist.md).
"""

import dataclasses

from dpzoo.train.configs.de22 import fashion_mnist_tutorial_cnn_ws_eps3
from dpzoo.training import TrainConfig


def get_config() -> TrainConfig:
    config = fashion_mnist_tutorial_cnn_ws_eps3.get_config()
    return dataclasses.replace(config, model_kwargs={"width": 2}, output_dir="runs/de22_fmnist_ws2_eps3")
