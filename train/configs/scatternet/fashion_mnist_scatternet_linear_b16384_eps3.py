"""Fashion-MNIST, ScatterNet + linear, DP-SGD at epsilon 3, delta 1e-5: the zoo's best at epsilon 3.

Tramer & Boneh's linear recipe (momentum SGD 0.9, C 0.1, GroupNorm of the scattering channels; see
_recipe.py) with batch 16384 and lr 32 for 120 epochs, evaluated with its EMA weights: the best
mean at epsilon 3 in results/fashion_mnist_scatternet.md, 89.71% EMA over seeds 0, 1 and 2.
Published: 89.7% test accuracy (Tramer & Boneh 2021, ScatterNet + linear, Fashion-MNIST, epsilon 3).
Command: dpzoo-train --config=train/configs/scatternet/fashion_mnist_scatternet_linear_b16384_eps3.py
Hardware: 2-core CPU, about 3.5 minutes. Result: results/fashion_mnist_scatternet.md.
"""

from dpzoo.train.configs.scatternet._recipe import tramer_boneh
from dpzoo.training import TrainConfig


def get_config() -> TrainConfig:
    return tramer_boneh(
        "scatternet_linear",
        3.0,
        batch_size=16384,
        learning_rate=32.0,
        epochs=120,
        eval_weights="ema",
        output_dir="runs/scatternet/scatternet_linear_b16384_eps3",
    )
