"""De, Berrada, Hayes, Smith, Balle 2022 (METHODS.md section 1): DP-SGD at scale.

The paper's guarantee is DP-SGD's, and so is this method's statement (formal, the run's
accountant and sampling): what it adds are four techniques, each a dpzoo part any run can use,
and none with a privacy cost of its own:

* weight-standardised convolutions and GroupNorm instead of BatchNorm (``dpzoo.layers.WSConv2D``,
  the ``wrn*``, ``nf_resnet*`` and ``tutorial_cnn_*ws`` models): weights only, no data;
* augmentation multiplicity K (``augment``, ``augmult``; ``DPConfig(augmult=K)``): the gradient
  of an example's mean loss over its K views is clipped once, one example's contribution as at
  K = 1. It needs dpzoo's engine, which the run's config enforces for every method;
* parameter averaging (``ema_decay``, ``eval_weights``; ``dpzoo.training.averaging``): EMA with
  warm-up and Polyak averages of released parameters, post-processing;
* large batches of plain SGD trained until the budget is spent (``stop_at_epsilon``).

The recipe's fixed choices are in train/configs/de22/_recipe.py, whose configs name this method.
"""

from dpzoo.methods.dpsgd import DPSGD


class De22(DPSGD):
    name = "de22"
    paper = "De et al. 2022"
    summary = (
        "De et al. 2022: DP-SGD with weight-standardised models, augmentation multiplicity and parameter "
        "averaging (their flags), formal as DP-SGD"
    )
