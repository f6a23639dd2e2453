"""Fashion-MNIST, DP-RandP (phase III) at epsilon 3, delta 1e-5: the ScatterNet CNN from the
random-process prior, the zoo's public backbone scatternet_cnn.random_processes_gray28 (shipped
with dpzoo; prior_scatternet_cnn_gray28.py trains it again), every layer fine-tuned privately with
Tramer & Boneh's recipe (momentum 0.9, C 0.1, batch 2048, lr 4, 40 epochs, sigma by PLD).

Published: none for DP-RandP on Fashion-MNIST; the same model from scratch, 89.0% (Tramer & Boneh
2021) and 89.40% in dpzoo (train/configs/scatternet/fashion_mnist_scatternet_cnn_eps3.py).
Command: dpzoo-train --config=train/configs/randp/fashion_mnist_scatternet_cnn_eps3.py
Hardware: 2-core CPU, about 3 minutes with the scattering features cached. Result: results/fashion_mnist_finetuning.md.
"""

from dpzoo.train.configs.scatternet._recipe import tramer_boneh
from dpzoo.training import TrainConfig


def get_config() -> TrainConfig:
    return tramer_boneh(
        "scatternet_cnn",
        3.0,
        init_from="scatternet_cnn.random_processes_gray28",  # a zoo name: dpzoo-train fetches it
        finetune="full",
        output_dir="runs/randp/fashion_mnist_scatternet_cnn_eps3",
    )
