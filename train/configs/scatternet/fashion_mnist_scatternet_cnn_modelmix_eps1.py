"""Fashion-MNIST, ScatterNet CNN, DP-SGD + ModelMix at epsilon 1, delta 1e-5 (ModelMix's table).

Plain SGD, batch 2048, C 1, refined clipping p 100, gap tau = 0.0075 lr; the card states the smaller of ModelMix's and DP-SGD's epsilon; Poisson sampling, PLD; see _recipe.py.
Published: 88.8% test accuracy (Xiao et al., ModelMix, Fashion-MNIST table, DP-SGD + ModelMix).
Command: dpzoo-train --config=train/configs/scatternet/fashion_mnist_scatternet_cnn_modelmix_eps1.py
Hardware: 2-core CPU, 6 to 12 minutes (measured beside another run). Result: results/fashion_mnist_scatternet.md.
"""

from dpzoo.train.configs.scatternet._recipe import modelmix_table
from dpzoo.training import TrainConfig


def get_config() -> TrainConfig:
    return modelmix_table("modelmix", 1.0)
