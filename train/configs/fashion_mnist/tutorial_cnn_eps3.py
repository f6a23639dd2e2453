"""Fashion-MNIST, TF Privacy tutorial CNN (tanh), DP-SGD at epsilon 3, delta 1e-5.

Recipe of Tramer & Boneh 2021 ("Differentially private learning needs better features"), end-to-end
CNN: batch 2048, lr 4, momentum 0.9, C 0.1, 40 epochs; sigma calibrated by dpzoo (Poisson
sampling, PLD accountant) to reach epsilon 3 after 40 epochs.
Anchor: 86.0% at epsilon 3 (Tramer & Boneh 2021, end-to-end CNN).
Command: dpzoo-train --config=train/configs/fashion_mnist/tutorial_cnn_eps3.py --output_dir=runs/fmnist_cnn_eps3
Hardware: 2-core CPU, about 15 minutes. Result: 86.49% (results/fashion_mnist.md).
"""

from dpzoo.training import TrainConfig


def get_config() -> TrainConfig:
    return TrainConfig(
        model="tutorial_cnn",
        model_kwargs={"activation": "tanh"},
        dataset="fashion_mnist",
        epochs=40,
        batch_size=2048,
        learning_rate=4.0,
        optimizer="momentum",
        momentum=0.9,
        l2_norm_clip=0.1,
        target_epsilon=3.0,
        delta=1e-5,
        sampling="poisson",
        accountant="pld",
        output_dir="runs/fmnist_cnn_eps3",
    )
