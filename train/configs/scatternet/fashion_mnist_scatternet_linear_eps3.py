"""Fashion-MNIST, ScatterNet + linear, DP-SGD at epsilon 3, delta 1e-5 (Tramer & Boneh 2021).

Momentum SGD (0.9), C 0.1, 40 epochs, GroupNorm of the scattering channels; see _recipe.py.
Published: 89.7% test accuracy (Tramer & Boneh 2021, ScatterNet + linear, Fashion-MNIST, epsilon 3).
Command: dpzoo-train --config=train/configs/scatternet/fashion_mnist_scatternet_linear_eps3.py
Hardware: 2-core CPU, 5 to 18 minutes (measured beside another run). Result: results/fashion_mnist_scatternet.md.
"""

from dpzoo.train.configs.scatternet._recipe import tramer_boneh
from dpzoo.training import TrainConfig


def get_config() -> TrainConfig:
    return tramer_boneh("scatternet_linear", 3.0)
