"""Fashion-MNIST, ScatterNet + linear with centred features (DPSGD-F), DP-SGD at epsilon 1, delta 1e-5.

The zoo's epsilon-1 linear recipe (batch 16384, lr 32, 40 epochs, EMA weights; see
fashion_mnist_scatternet_linear_eps1.py) on the GroupNorm's features minus their mean, released
privately before training (_recipe.CENTERED; its cost is composed into the epsilon).
Published: none for this model at epsilon 1; ModelMix reports 88.8% with a ScatterNet CNN (Xiao et al.).
Command: dpzoo-train --config=train/configs/scatternet/fashion_mnist_scatternet_linear_centered_eps1.py
Hardware: 2-core CPU, about 1 minute. Result: results/fashion_mnist_scatternet.md.
"""

import dataclasses

from dpzoo.train.configs.scatternet import fashion_mnist_scatternet_linear_eps1
from dpzoo.train.configs.scatternet._recipe import CENTERED
from dpzoo.training import TrainConfig


def get_config() -> TrainConfig:
    return dataclasses.replace(
        fashion_mnist_scatternet_linear_eps1.get_config(),
        output_dir="runs/scatternet/scatternet_linear_centered_eps1",
        **CENTERED,
    )
