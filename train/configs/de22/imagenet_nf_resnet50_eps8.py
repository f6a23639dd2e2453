"""ImageNet, NF-ResNet-50 from scratch, De et al. 2022 recipe at epsilon 8, delta 8e-7.

The paper's ImageNet settings (its published config): batch 16384, K = 4, SGD lr 4 (constant,
no momentum), C = 1, noise multiplier 2.5, EMA 0.99999, SkipInit gains initialised to 1 and the
classifier to N(0, 0.01^2), inputs 224x224 standardised with the ImageNet channel statistics,
delta 8e-7 (below 1/N), trained until epsilon 8: 71,589 steps by RDP, Poisson sampling.
The batch and K differ from the CIFAR-10 configs (4096, 16) because the paper's do.
Published: 32.4% top-1.
Data: tfds's imagenet2012 prepared in ArrayRecord format (tfds build imagenet2012
--file_format=array_record --manual_dir=<the ILSVRC2012 tars>), streamed by index from --data_dir:
each step reads its Poisson-sampled records, resized (shorter side 224) and centre-cropped.
Command: dpzoo-train --config=train/configs/de22/imagenet_nf_resnet50_eps8.py --data_dir=<tfds folder>
Hardware: physical batch 16 (1,024 chunks of 16 x 4 views per step): 64 views of 224x224 per pass.
Measured on a 2-core CPU (results/streaming.md), at B 32, K 2, P 16 on synthetic ImageNet-shaped
records: 4.2 views/s and 6.3 GiB peak resident memory, so the paper's 65,536 views a step take
about 4 hours each there. Not yet run on the real data set, which is not at hand.
"""

import dataclasses

from dpzoo.train.configs.de22._recipe import de22_config
from dpzoo.training import TrainConfig


def get_config() -> TrainConfig:
    config = de22_config(
        model="nf_resnet50",
        model_kwargs={"skip_gain_init": 1.0, "head_stddev": 0.01},
        dataset="imagenet2012",
        batch_size=16384,
        epochs=-(-71_589 * 16384 // 1_281_167),
        learning_rate=4.0,
        target_epsilon=8.0,
        noise_multiplier=2.5,
        delta=8e-7,
        output_dir="runs/de22_imagenet_nf_resnet50_eps8",
    )
    return dataclasses.replace(config, augmult=4, ema_decay=0.99999, physical_batch_size=16)
