"""DP-RandP (Tang et al. 2023, "Differentially private image classification by learning priors
from random processes"; METHODS.md section 6), shared by the configs in this folder.

Phase I learns a prior on images drawn from random processes (dpzoo.data.random_processes): no
data, no privacy cost. dpzoo trains it as a supervised proxy (which of ten processes drew the
image) instead of the paper's contrastive objective, which two CPU cores cannot afford. The
private phases then fine-tune that model on the private set. The paper runs a private linear
probe (phase II) before fine-tuning everything (phase III), with the budget split between them and
composed. These configs spend the whole budget on the full fine-tuning of phase III; phase II is
the same config with finetune="head" and part of the budget, and phase III then starts from it
with compose_start=True and the total as its target (dpzoo.accounting.earlier_runs).
"""

import dataclasses

from dpzoo.train.configs.de22._recipe import cifar10_config
from dpzoo.training import TrainConfig

# De et al.'s WRN-16-4 budgets (train/configs/de22/cifar10_wrn16_4_eps*.py): sigma and learning rate
CIFAR10_BUDGETS = {1.0: (10.0, 2.0), 2.0: (6.0, 2.0), 4.0: (4.0, 4.0), 8.0: (3.0, 4.0)}
CIFAR10_PRIOR = "runs/randp/wrn16_4_rgb32"


def prior(model: str, dataset: str, output_dir: str, **fields) -> TrainConfig:
    """Phase I: ``model`` trained without privacy on the random-process ``dataset``."""
    recipe = dict(engine="nonprivate", optimizer="momentum", momentum=0.9, batch_size=256, learning_rate=0.05)
    return TrainConfig(model=model, dataset=dataset, output_dir=output_dir, **(recipe | fields))


def cifar10(target_epsilon: float) -> TrainConfig:
    """Phase III on CIFAR-10 at ``target_epsilon``: De et al.'s WRN-16-4 recipe from the phase I prior."""
    sigma, lr = CIFAR10_BUDGETS[target_epsilon]
    config = cifar10_config(model="wrn16_4", target_epsilon=target_epsilon, noise_multiplier=sigma, learning_rate=lr)
    return dataclasses.replace(
        config, init_from=CIFAR10_PRIOR, finetune="full", output_dir=f"runs/randp/cifar10_wrn16_4_eps{target_epsilon:g}"
    )
