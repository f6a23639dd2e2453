"""ImageNet, ResNet152V2 pretrained on public data and fine-tuned privately, at epsilon 8, delta 8e-7.

The backbone nearest to De et al.'s NFNet-F3 in keras.applications, and why its own ImageNet
weights cannot be the start: _imagenet_finetuning.py.
Published: 86.7% top-1 (De et al. 2022, NFNet-F3 pretrained on JFT-4B, fine-tuned at epsilon 8).
Command: dpzoo-train --config=train/configs/de22/imagenet_resnet152v2_finetune_eps8.py --data_dir=<tfds folder>
--init_from=<a ResNet152V2 run on public data>
"""

from dpzoo.train.configs.de22._imagenet_finetuning import imagenet_finetuning
from dpzoo.training import TrainConfig


def get_config() -> TrainConfig:
    return imagenet_finetuning(8, "8")
