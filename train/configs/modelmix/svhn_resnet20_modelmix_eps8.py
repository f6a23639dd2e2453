"""SVHN, ResNet-20 (GroupNorm), DP-SGD + ModelMix, Xiao et al. (ModelMix) settings at epsilon 8, delta 1e-5; guarantee formal.

Expected batch 1500, C 20, plain SGD, lr 0.15, gap tau = 0.15 lr, refined clipping p 100; see _paper.py.
Published: no SVHN accuracy is given in METHODS.md's account of the paper, so none is recorded here.
Command: dpzoo-train --config=train/configs/modelmix/svhn_resnet20_modelmix_eps8.py --data_dir=DIR_WITH_train_32x32.mat_AND_test_32x32.mat
Hardware: not run here (SVHN is not installed): 3,479 steps of expected batch 1500.
"""

from dpzoo.train.configs.modelmix._paper import paper_config
from dpzoo.training import TrainConfig


def get_config() -> TrainConfig:
    return paper_config(dataset="svhn", method="modelmix", target_epsilon=8)
