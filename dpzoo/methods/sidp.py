"""Davody et al. 2020 ("SIDP", METHODS.md section 2): Gaussian weight layers sampled with the std
DP-SGD would add to the update, s = lr_t * C * sigma / B (dpzoo.layers.gaussian_weights).

Two registered methods:

* ``sidp``, the method as published: the weight noise and no update noise. Consecutive iterates
  reveal the clipped mean gradient exactly, so the epsilon, DP-SGD's for the same sigma, batch and
  steps, is nominal. The paper's BatchNorm over the private batch plus a public one
  (AuxBatchNorm(statistics="batch")) is allowed: the run claims nothing formal anyway.
* ``sidp_dp``: the same weight noise plus DP-SGD's update noise, a formal guarantee (the weight
  noise is data-independent, so it weakens nothing).

Both refuse models without Gaussian weight layers, whose weights they could not sample.
"""

from typing import Any

from dpzoo.common.errors import UsageError
from dpzoo.common.stack import keras
from dpzoo.layers import gaussian_layers
from dpzoo.methods.method import Attachment, Method, PrivacyTerms, RunConfig

NOMINAL_REASON = (
    "Nominal (the method's own accounting, no formal guarantee): SIDP adds no noise to the released "
    "parameters, so consecutive iterates reveal the clipped mean gradient exactly; the epsilon is DP-SGD's "
    "for the same sigma, batch and steps."
)


class SIDPWithUpdateNoise(Method):
    """SIDP's weight noise of multiplier sigma, plus DP-SGD's update noise sigma."""

    name = "sidp_dp"
    paper = "Davody et al. 2020 (SIDP) with DP-SGD's update noise"
    summary = "that weight noise plus DP-SGD's update noise, formal"
    engines = ("dpzoo",)

    def dp_config_fields(self, config: RunConfig, noise_multiplier: float) -> dict[str, Any]:
        return {"noise_multiplier": noise_multiplier, "weight_noise_multiplier": noise_multiplier}

    def check_model(self, config: RunConfig, model: keras.Model) -> None:
        if not gaussian_layers(model):
            raise UsageError(
                f"--method={self.name} needs a model with Gaussian weight layers; {config.model} has none. "
                "Use a *_sidp model (lenet5_sidp, lenet5_bn_sidp, tutorial_cnn_sidp, resnet18_sidp), bilstm or "
                "ln_bilstm (or --method=dpsgd)."
            )


class SIDP(SIDPWithUpdateNoise):
    """Davody et al. 2020 as published: the weight noise, no update noise, a nominal epsilon."""

    name = "sidp"
    paper = "Davody et al. 2020 (SIDP)"
    summary = (
        "Davody et al. 2020 as published: Gaussian weight noise of std lr * C * sigma / B, no update noise, "
        "nominal epsilon; the sidp methods need a model with Gaussian weight layers (the *_sidp models, bilstm, "
        "ln_bilstm)"
    )

    def dp_config_fields(self, config: RunConfig, noise_multiplier: float) -> dict[str, Any]:
        return {
            "noise_multiplier": 0.0,
            "weight_noise_multiplier": noise_multiplier,
            "private_batch_statistics": True,  # nominal already: the paper's BatchNorm is allowed
        }

    def attach(self, config: RunConfig, trainable: keras.Model) -> Attachment:
        return Attachment(privacy=PrivacyTerms(guarantee="nominal", reason=NOMINAL_REASON))
