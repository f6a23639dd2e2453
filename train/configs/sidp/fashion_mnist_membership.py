"""Fashion-MNIST membership-inference comparison (results/fashion_mnist_sidp.md, second table).

LN-LeNet-5 (lenet5_sidp) trained on the first 5,000 training images for 40 epochs, so that a
non-private model overfits and leaks; batch 250, SGD with momentum 0.9, lr 0.4, C 1, Poisson
sampling, PLD accountant, delta 1e-5. Run with --method=sidp / --method=dpsgd at the same
--target_epsilon, or --engine=nonprivate --learning_rate=0.05 (unclipped, lr 0.4 diverges), then
audit with dpzoo-audit.
Command: dpzoo-train --config=train/configs/sidp/fashion_mnist_membership.py --method=sidp
  --target_epsilon=8 --output_dir=runs/sidp_mi/sidp_eps8 && dpzoo-audit --run_dir=runs/sidp_mi/sidp_eps8
Hardware: 2-core CPU, about a minute per run.
"""

import dataclasses

from dpzoo.train.configs.sidp import fashion_mnist
from dpzoo.training import TrainConfig


def get_config() -> TrainConfig:
    return dataclasses.replace(
        fashion_mnist.get_config(),
        max_train_examples=5000,
        epochs=40,
        batch_size=250,
        target_epsilon=8.0,
        output_dir="runs/sidp_mi/latest",
    )
