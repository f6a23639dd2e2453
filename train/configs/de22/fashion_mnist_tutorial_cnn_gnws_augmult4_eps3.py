"""Fashion-MNIST, the full De et al. 2022 recipe at CPU scale, epsilon 3, delta 1e-5.

fashion_mnist_tutorial_cnn_ws_eps3.py with everything the paper uses on CIFAR-10: GroupNorm
after each layer as well as weight standardisation, and augmentation multiplicity K = 4
(reflect-pad 4, random crop, random flip; the gradient of each example's mean loss over its 4
views is clipped once, so the privacy cost is unchanged). Kept as the ablation that shows what
the paper's augmentation does on this model and dataset.
Command: dpzoo-train --config=train/configs/de22/fashion_mnist_tutorial_cnn_gnws_augmult4_eps3.py
Hardware: 2-core CPU, about 25 minutes. Result: see results/fashion_mnist.md.
"""

import dataclasses

from dpzoo.train.configs.de22 import fashion_mnist_tutorial_cnn_ws_eps3
from dpzoo.training import TrainConfig


def get_config() -> TrainConfig:
    config = fashion_mnist_tutorial_cnn_ws_eps3.get_config()
    return dataclasses.replace(
        config,
        model="tutorial_cnn_gnws",
        augment=True,
        augmult=4,
        output_dir="runs/de22_fmnist_gnws_augmult4_eps3",
    )
