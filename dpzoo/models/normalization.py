"""The normalisation option shared by the small CNNs: none, group, layer, or the auxiliary-batch
BatchNorm of Davody et al. 2020 (dpzoo.layers.aux_batchnorm).

none, group, layer and public_batch keep examples independent, so they are safe on formally
private paths. aux_batch (statistics of the private batch and the public batch, the paper's) is
refused by the engine except on a nominal run; Keras' BatchNormalization is not offered.
"""

from dpzoo.common.stack import keras
from dpzoo.layers import AuxBatchNorm

NORMALIZATIONS = ("none", "group", "layer", "aux_batch", "public_batch")


def normalization(kind: str, channels: int, name: str, groups: int = 8):
    """A normalisation layer over the last axis, or None for ``kind == "none"``."""
    if kind not in NORMALIZATIONS:
        raise ValueError(f"Expected normalization={kind!r} to be one of {NORMALIZATIONS}.")
    if kind == "none":
        return None
    if kind == "layer":
        return keras.layers.LayerNormalization(name=name)
    if kind in ("aux_batch", "public_batch"):
        return AuxBatchNorm(statistics="batch" if kind == "aux_batch" else "public", name=name)
    groups = max(g for g in range(1, min(groups, channels) + 1) if channels % g == 0)
    return keras.layers.GroupNormalization(groups=groups, name=name)


def norm_act(
    x: "keras.KerasTensor", kind: str, activation: str, name: str, *, norm_after_activation: bool = False
) -> "keras.KerasTensor":
    """Normalise (if asked), then apply the activation; or the other way round (Davody et al.
    2020 normalise after the activations)."""
    layer = normalization(kind, x.shape[-1], name=f"{name}_norm")
    activation = keras.layers.Activation(activation, name=f"{name}_act")
    for step in (activation, layer) if norm_after_activation else (layer, activation):
        x = step(x) if step is not None else x
    return x
