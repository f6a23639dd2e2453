"""DP-RandP phase I for CIFAR-10: WRN-16-4 trained without privacy on 32x32 RGB random-process
images (random_processes_rgb32: 50,000 images, 10 proxy classes), the prior of cifar10_wrn16_4_eps*.

Public by construction: the images come from a seed and no data, so this run costs no privacy and
its card says so. Momentum SGD (0.9), lr 0.05, batch 256, 15 epochs.
Published: the paper's phase I is contrastive on StyleGAN-Oriented images (no accuracy of its own).
Command: dpzoo-train --config=train/configs/randp/prior_wrn16_4_rgb32.py
Hardware: 2.7M weights; a GPU for minutes, a 2-core CPU for hours.
"""

from dpzoo.train.configs.randp._recipe import CIFAR10_PRIOR, prior
from dpzoo.training import TrainConfig


def get_config() -> TrainConfig:
    return prior("wrn16_4", "random_processes_rgb32", CIFAR10_PRIOR, epochs=15)
