"""Fashion-MNIST recipe of the SIDP comparison table (results/fashion_mnist_sidp.md).

One recipe for every row, so rows differ only in model, method and epsilon: batch 1024, SGD with
momentum 0.9, lr 0.4, C 1, 5 epochs, Poisson sampling, PLD accountant, delta 1e-5, sigma
calibrated to --target_epsilon. Davody et al. 2020 train MNIST at batch 32; a CPU run of this
table needs the larger batch.
Command: dpzoo-train --config=train/configs/sidp/fashion_mnist.py --model=lenet5_bn_sidp --method=sidp
  --target_epsilon=1 --output_dir=runs/sidp/lenet5_bn_sidp_sidp_eps1
Hardware: 2-core CPU, about a minute per run.
"""

from dpzoo.training import TrainConfig


def get_config() -> TrainConfig:
    return TrainConfig(
        model="lenet5_sidp",
        dataset="fashion_mnist",
        method="sidp",
        epochs=5,
        batch_size=1024,
        learning_rate=0.4,
        optimizer="momentum",
        momentum=0.9,
        l2_norm_clip=1.0,
        target_epsilon=3.0,
        delta=1e-5,
        sampling="poisson",
        accountant="pld",
        output_dir="runs/sidp/latest",
    )
