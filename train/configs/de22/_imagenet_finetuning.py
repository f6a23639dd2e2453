"""ImageNet fine-tuning after De et al. 2022 (section 5: NFNet-F3 pretrained on JFT-4B), from the
keras.applications backbone nearest to NFNet-F3, shared by the configs named imagenet_resnet152v2_*.

NFNet-F3 is a normaliser-free pre-activation bottleneck ResNet of 255M weights; neither
keras.applications nor keras-hub has an NFNet. The nearest there is ResNet152V2, the deepest
pre-activation bottleneck ResNet (60M weights); it has BatchNormalization, which is frozen in
inference mode (pretrained statistics) so that DP-SGD can train the rest. Its keras.applications
weights were trained on ImageNet-1k itself: a start that saw the private set, which dpzoo refuses.
JFT-4B is not public, so the start is a dpzoo run of ResNet152V2 trained without privacy on a
public set disjoint from ImageNet (e.g. Places365: --dataset=tfds:places365_small), named by
--init_from. Full fine-tuning, batch 16384, K = 4, SGD lr 4, C = 1, EMA 0.99999, delta 8e-7,
10 epochs with sigma calibrated to the budget (PLD would give a few more steps; RDP as the paper).
Not run here: ImageNet is not at hand, and a step takes hours on a CPU.
"""

import dataclasses

from dpzoo.train.configs.de22._recipe import de22_config
from dpzoo.training import TrainConfig

EPOCHS = 10


def imagenet_finetuning(target_epsilon: float, tag: str) -> TrainConfig:
    config = de22_config(
        model="keras.applications.ResNet152V2",
        init_from="runs/places365_resnet152v2",
        batch_norm="freeze",
        finetune="full",
        dataset="imagenet2012",
        batch_size=16384,
        epochs=EPOCHS,
        learning_rate=4.0,
        target_epsilon=target_epsilon,
        delta=8e-7,
        stop_at_epsilon=False,
        output_dir=f"runs/de22_imagenet_resnet152v2_finetune_eps{tag}",
    )
    return dataclasses.replace(config, augmult=4, ema_decay=0.99999, physical_batch_size=16)
