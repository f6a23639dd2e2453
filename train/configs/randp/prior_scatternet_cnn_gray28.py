"""DP-RandP phase I for Fashion-MNIST: the ScatterNet CNN trained without privacy on 28x28 grey
random-process images (random_processes_gray28: 60,000 images, 10 proxy classes).

The scattering front looks at no data; the CNN after it learns the prior. Public by construction:
no privacy cost. Momentum SGD (0.9), lr 0.05, batch 256, 15 epochs: 84.06% on the proxy task's
held-out images, 128 s on this 2-core CPU.
Published: none (the paper's phase I has no accuracy of its own).
Command: dpzoo-train --config=train/configs/randp/prior_scatternet_cnn_gray28.py
"""

from dpzoo.train.configs.randp._recipe import prior
from dpzoo.training import TrainConfig


def get_config() -> TrainConfig:
    return prior("scatternet_cnn", "random_processes_gray28", "runs/randp/scatternet_cnn_gray28", epochs=15)
