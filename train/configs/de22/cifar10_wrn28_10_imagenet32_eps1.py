"""CIFAR-10, WRN-28-10 pretrained on ImageNet-32 and fine-tuned privately (all layers), De et al.
2022 recipe at epsilon 1, delta 1e-5.

The start: a WRN-28-10 trained without privacy on ImageNet 32x32 (public data, 1.28M images; its
classes are not CIFAR-10's), e.g. dpzoo-train --dataset=tfds:imagenet_resized/32x32 --model=wrn28_10
--engine=nonprivate --output_dir=runs/imagenet32_wrn28_10 (tfds ArrayRecord, METHODS.md section 4).
Its head is replaced by a zero one for CIFAR-10's 10 classes; every layer is fine-tuned with the
from-scratch recipe at epsilon 1 (batch 4096, K = 16, SGD lr 2, C = 1, sigma 10, EMA 0.999, until
epsilon 1 by RDP). The paper's fine-tuning hyper-parameters are in its appendix, not at hand here:
these are the from-scratch epsilon-1 ones, not checked against it.
Published: 94.8% test accuracy (De et al. 2022, WRN-28-10 pretrained on ImageNet-32, epsilon 1).
Command: dpzoo-train --config=train/configs/de22/cifar10_wrn28_10_imagenet32_eps1.py
--data_dir=DIR_WITH_cifar-10-batches-py [--init_from=YOUR_IMAGENET32_RUN]
Hardware: WRN-28-10 has 36.5M weights; a GPU with 40 GiB or more at physical batch 128. Not run here.
"""

import dataclasses

from dpzoo.train.configs.de22._recipe import cifar10_config
from dpzoo.training import TrainConfig


def get_config() -> TrainConfig:
    config = cifar10_config(model="wrn28_10", target_epsilon=1.0, noise_multiplier=10.0, learning_rate=2.0)
    return dataclasses.replace(
        config,
        init_from="runs/imagenet32_wrn28_10",
        finetune="full",
        output_dir="runs/de22_cifar10_wrn28_10_imagenet32_eps1",
    )
