"""Fashion-MNIST quickstart: the TF Privacy tutorial CNN (tanh) at (3, 1e-5)-DP in a few minutes on a CPU.

tutorial_cnn_eps3.py shortened to 8 epochs of batch 1024, for scripts/quickstart.sh.
Command: dpzoo-train --config=train/configs/fashion_mnist/quickstart.py --output_dir=runs/quickstart
Hardware: 2-core CPU, about 3 minutes. Expected: about 85% test accuracy at epsilon 3
(Poisson sampling, PLD accountant, delta 1e-5); measured 85.30%.
"""

import dataclasses

from dpzoo.train.configs.fashion_mnist import tutorial_cnn_eps3
from dpzoo.train_config import TrainConfig


def get_config() -> TrainConfig:
    return dataclasses.replace(tutorial_cnn_eps3.get_config(), epochs=8, batch_size=1024, output_dir="runs/quickstart")
