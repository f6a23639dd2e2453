"""Fashion-MNIST, De et al. 2022 recipe at CPU scale, epsilon 3, delta 1e-5.

The recipe's parts that a 2-core CPU can afford: a weight-standardised CNN (the tutorial CNN
with WSConv2D, tanh), large batches (2048) of plain SGD at a constant learning rate, no
momentum, every per-example gradient clipped (C = 0.1; lr 40 here equals the paper's lr 4 with
its rescaling of clipped gradients to unit norm), parameter EMA (mu 0.999) for evaluation and
export, Poisson sampling, PLD accounting, training until the budget (sigma calibrated so that
40 epochs spend it). Augmentation multiplicity is off (K = 1): on this model and dataset, crop
and flip views cost accuracy at every K we tried (results/fashion_mnist.md has the ablation).
Command: dpzoo-train --config=train/configs/de22/fashion_mnist_tutorial_cnn_ws_eps3.py
Hardware: 2-core CPU, about 10 minutes. Result: see results/fashion_mnist.md.
Anchors at epsilon 3: best plain DP-SGD row 86.49% (tutorial CNN); Tramer & Boneh 2021 86.0%
end to end, 89.7% with ScatterNet features.
"""

from dpzoo.train.configs.de22._recipe import de22_config
from dpzoo.training import TrainConfig


def get_config() -> TrainConfig:
    return de22_config(
        model="tutorial_cnn_ws",
        dataset="fashion_mnist",
        batch_size=2048,
        epochs=40,
        learning_rate=40.0,
        l2_norm_clip=0.1,
        target_epsilon=3.0,
        accountant="pld",
        augment=False,
        augmult=1,
        output_dir="runs/de22_fmnist_ws_eps3",
    )
