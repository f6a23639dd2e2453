"""Tramer & Boneh 2021's ScatterNet models (METHODS.md section 5): a fixed wavelet scattering
transform of the image (dpzoo.layers.Scattering2D, J = 2, L = 8, order 2), its channels
normalised, then a small model trained with DP-SGD.

The transform and a GroupNorm without affine parameters look at no data, so they cost no
privacy; only the head after them is trained. ``normalization="data"`` is Tramer & Boneh's data
normalisation: a ChannelNormalization whose per-channel mean and variance the trainer releases
privately before training (``--data_norm_noise_multiplier``; its cost is composed into the
run's epsilon). ``"group_centered"`` is the GroupNorm, then every feature minus its mean over
the training set (FeatureCentering, DPSGD-F of Sun, Suresh & Menon 2024), released privately
before training (``--feature_centering_noise_multiplier``; composed likewise). ``"none"``
leaves the channels as they are. For 28x28x1 images the head sees
7x7x81 features, for 32x32x3 (CIFAR-10) 8x8x243; the linear model's ``max_order=1`` keeps the 17
channels of orders 0 and 1 (measured at epsilon 1 in results/fashion_mnist_scatternet.md: worse).
"""

from dpzoo.common.stack import keras
from dpzoo.layers.channel_normalization import ChannelNormalization
from dpzoo.layers.feature_centering import FeatureCentering
from dpzoo.layers.scattering import Scattering2D, scattering_channels
from dpzoo.models.registry import register

NORMALIZATIONS = ("group", "group_centered", "data", "none")
SCATTERING_GROUPS = 27  # GroupNorm groups over the scattering channels (3 channels each for 81)
SCALES, ORIENTATIONS = 2, 8  # Tramer & Boneh's J and L


def _first_order_channel_scale(channels: int, max_order: int, scale: float) -> list[float]:
    """``scale`` on each input channel's orders 0 and 1 (the first 17 of its block, kymatio's
    order: S0, S1, then S2), 1 on order 2."""
    block = scattering_channels(SCALES, ORIENTATIONS, max_order)
    first = scattering_channels(SCALES, ORIENTATIONS, 1)
    return [scale if channel % block < first else 1.0 for channel in range(channels)]


def scattering_features(
    inputs: "keras.KerasTensor",
    normalization: str,
    groups: int,
    name: str,
    max_order: int = 2,
    first_order_scale: float = 1.0,
) -> "keras.KerasTensor":
    """The scattering transform of ``inputs`` (to ``max_order``), then "group" (GroupNorm, no affine),
    "group_centered" (the same, then FeatureCentering, its mean set before training, with orders 0
    and 1 scaled by ``first_order_scale``), "data" (ChannelNormalization, statistics set before
    training) or "none"."""
    if normalization not in NORMALIZATIONS:
        raise ValueError(
            f"Expected normalization={normalization!r} to be one of {', '.join(map(repr, NORMALIZATIONS))}."
        )
    if first_order_scale != 1.0 and normalization != "group_centered":
        raise ValueError(
            f"first_order_scale={first_order_scale} scales centred features: it needs normalization='group_centered'."
        )
    x = Scattering2D(J=SCALES, L=ORIENTATIONS, max_order=max_order, name=f"{name}_scattering")(inputs)
    if normalization in ("group", "group_centered"):
        if x.shape[-1] % groups:
            raise ValueError(f"Expected groups={groups} to divide the {x.shape[-1]} scattering channels.")
        x = keras.layers.GroupNormalization(groups=groups, center=False, scale=False, name=f"{name}_norm")(x)
    if normalization == "group_centered":
        scale = None
        if first_order_scale != 1.0:
            scale = _first_order_channel_scale(x.shape[-1], max_order, first_order_scale)
        x = FeatureCentering(channel_scale=scale, name=f"{name}_centering")(x)
    elif normalization == "data":
        x = ChannelNormalization(name=f"{name}_norm")(x)
    return x


@register
def scatternet_linear(
    input_shape: tuple[int, ...] = (28, 28, 1),
    num_classes: int = 10,
    normalization: str = "group",
    groups: int = SCATTERING_GROUPS,
    max_order: int = 2,
    first_order_scale: float = 1.0,
    name: str = "scatternet_linear",
) -> keras.Model:
    """ScatterNet + linear: scattering - normalisation - one Dense layer (logits). ``max_order``
    1 keeps the 17 channels of orders 0 and 1 (groups must divide them: 17 or 1).
    ``first_order_scale`` multiplies those 17 channels after the centring ("group_centered"):
    they hold 74% of the centred features' squared norm on Fashion-MNIST, and 0.7 lifts
    DP-SGD's accuracy (results/fashion_mnist_scatternet.md)."""
    inputs = keras.Input(shape=input_shape, name="images")
    x = scattering_features(inputs, normalization, groups, name, max_order, first_order_scale)
    x = keras.layers.Flatten(name=f"{name}_flatten")(x)
    outputs = keras.layers.Dense(num_classes, name=f"{name}_logits")(x)
    return keras.Model(inputs, outputs, name=name)


@register
def scatternet_cnn(
    input_shape: tuple[int, ...] = (28, 28, 1),
    num_classes: int = 10,
    normalization: str = "group",
    groups: int = SCATTERING_GROUPS,
    activation: str = "tanh",
    filters: tuple[int, int] = (16, 32),
    name: str = "scatternet_cnn",
) -> keras.Model:
    """ScatterNet + CNN (the Fashion-MNIST one): scattering - normalisation - conv16 3x3/2 -
    conv32 3x3/1 (padding 1) - dense32 - dense (logits), tanh between. ``filters`` sets the two
    convolutions' channels: Tramer & Boneh's larger variant has (32, 64)."""
    if len(filters) != 2 or min(filters) < 1:
        raise ValueError(f"Expected filters to be two positive channel counts; got {filters!r}.")
    layers = keras.layers
    inputs = keras.Input(shape=input_shape, name="images")
    x = scattering_features(inputs, normalization, groups, name)
    x = layers.Conv2D(filters[0], 3, strides=2, padding="same", activation=activation, name=f"{name}_conv1")(x)
    x = layers.Conv2D(filters[1], 3, strides=1, padding="same", activation=activation, name=f"{name}_conv2")(x)
    x = layers.Flatten(name=f"{name}_flatten")(x)
    x = layers.Dense(32, activation=activation, name=f"{name}_fc1")(x)
    outputs = layers.Dense(num_classes, name=f"{name}_logits")(x)
    return keras.Model(inputs, outputs, name=name)
