"""Fashion-MNIST, ScatterNet + linear, DP-SGD at epsilon 1, delta 1e-5: the zoo's best at epsilon 1.

Tramer & Boneh's linear recipe (momentum SGD 0.9, C 0.1, GroupNorm of the scattering channels; see
_recipe.py) with batch 16384 and lr 32 for 40 epochs, evaluated with its EMA weights: the best of
the epsilon-1 runs in results/fashion_mnist_scatternet.md, 88.27% EMA as the mean of seeds 0, 1, 2.
Published: none for this model at epsilon 1; ModelMix reports 88.8% with a ScatterNet CNN (Xiao et al.).
Command: dpzoo-train --config=train/configs/scatternet/fashion_mnist_scatternet_linear_eps1.py
Hardware: 2-core CPU, about 1 minute. Result: results/fashion_mnist_scatternet.md.
"""

from dpzoo.train.configs.scatternet._recipe import tramer_boneh
from dpzoo.training import TrainConfig


def get_config() -> TrainConfig:
    return tramer_boneh("scatternet_linear", 1.0, batch_size=16384, learning_rate=32.0, eval_weights="ema")
