"""Fashion-MNIST quickstart: the TF Privacy tutorial CNN (tanh) at (3, 1e-5)-DP in a few minutes on a CPU.

A shorter version of tutorial_cnn_eps3.py (8 instead of 40 epochs), for scripts/quickstart.sh.
Command: dpzoo-train --config=train/configs/fashion_mnist/quickstart.py --output_dir=runs/quickstart
Hardware: 2-core CPU, about 3 minutes. Expected: about 83% test accuracy at epsilon 3
(Poisson sampling, PLD accountant, delta 1e-5).
"""

from dpzoo.train_config import TrainConfig


def get_config() -> TrainConfig:
    return TrainConfig(
        model="tutorial_cnn",
        model_kwargs={"activation": "tanh"},
        dataset="fashion_mnist",
        epochs=8,
        batch_size=1024,
        learning_rate=4.0,
        optimizer="momentum",
        momentum=0.9,
        l2_norm_clip=0.1,
        target_epsilon=3.0,
        delta=1e-5,
        sampling="poisson",
        accountant="pld",
        output_dir="runs/quickstart",
    )
