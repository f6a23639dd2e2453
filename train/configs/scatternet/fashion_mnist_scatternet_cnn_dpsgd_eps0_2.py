"""Fashion-MNIST, ScatterNet CNN, DP-SGD at epsilon 0.2, delta 1e-5 (ModelMix's table).

Plain SGD, batch 2048, C 1, L2 clipping, no mixing; Poisson sampling, PLD; see _recipe.py.
Published: 53.4% test accuracy (Xiao et al., ModelMix, Fashion-MNIST table, DP-SGD).
Command: dpzoo-train --config=train/configs/scatternet/fashion_mnist_scatternet_cnn_dpsgd_eps0_2.py
Hardware: 2-core CPU, 6 to 12 minutes (measured beside another run). Result: results/fashion_mnist_scatternet.md.
"""

from dpzoo.train.configs.scatternet._recipe import modelmix_table
from dpzoo.training import TrainConfig


def get_config() -> TrainConfig:
    return modelmix_table("dpsgd", 0.2)
