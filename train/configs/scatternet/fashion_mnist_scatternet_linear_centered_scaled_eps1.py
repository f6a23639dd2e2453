"""Fashion-MNIST, ScatterNet + linear, centred features, orders 0 and 1 scaled by 0.7: DP-SGD at epsilon 1, delta 1e-5.

The centred recipe (fashion_mnist_scatternet_linear_centered_eps1.py) with the 17 channels of the
scattering's orders 0 and 1 multiplied by 0.7 after the centring (_recipe.CENTERED_SCALED): a
fixed map of each example's features, so it costs no privacy. Those channels hold 74% of the
centred features' squared norm, so the scale shortens DP-SGD's noise's reach into the logits
through them; 0.7 was chosen among 0.3, 0.5, 0.7, 1 and 1.5 at epsilon 1 with seed 0.
Published: none for this model at epsilon 1; ModelMix reports 88.8% with a ScatterNet CNN (Xiao et
al.); the centred recipe unscaled gives 88.61% (seed 0) and 88.48% (three seeds) here.
Command: dpzoo-train --config=train/configs/scatternet/fashion_mnist_scatternet_linear_centered_scaled_eps1.py
Hardware: 2-core CPU, about 1 minute. Result:
88.79% EMA with seed 0; 88.65% as the mean of seeds 0, 1 and 2 (results/fashion_mnist_scatternet.md).
"""

import dataclasses

from dpzoo.train.configs.scatternet import fashion_mnist_scatternet_linear_centered_eps1
from dpzoo.train.configs.scatternet._recipe import CENTERED_SCALED
from dpzoo.training import TrainConfig


def get_config() -> TrainConfig:
    return dataclasses.replace(
        fashion_mnist_scatternet_linear_centered_eps1.get_config(),
        output_dir="runs/scatternet/scatternet_linear_centered_scaled_eps1",
        **CENTERED_SCALED,
    )
