"""The CNN of TF Privacy's MNIST DP-SGD tutorial.

Also the end-to-end CNN of Tramer & Boneh 2021 ("Differentially private learning needs
better features"), who use it with tanh activations.
"""

from dpzoo.common.stack import keras
from dpzoo.models.normalization import norm_act
from dpzoo.models.registry import register
from dpzoo.models.weight_layers import conv_and_dense


@register
def tutorial_cnn(
    input_shape: tuple[int, ...] = (28, 28, 1),
    num_classes: int = 10,
    normalization: str = "none",
    activation: str = "relu",
    weight_standardization: bool = False,
    gaussian_weights: bool = False,
    noise_seed: int = 0,
    norm_after_activation: bool = False,
    width: int = 1,
    name: str = "tutorial_cnn",
) -> keras.Model:
    """conv16 8x8/2 - pool 2/1 - conv32 4x4/2 - pool 2/1 - dense32 - dense (logits).

    ``weight_standardization`` makes both convolutions WSConv2D (De et al. 2022);
    ``gaussian_weights`` makes every conv and dense layer a Gaussian weight layer (Davody et al.
    2020, seeded from ``noise_seed``); ``norm_after_activation`` puts the normalisation after the
    activation; ``width`` multiplies the channels and hidden units (16w, 32w, 32w).
    """
    if width < 1:
        raise ValueError(f"Expected width={width} >= 1.")
    layers = keras.layers
    conv, dense = conv_and_dense(
        weight_standardization=weight_standardization, gaussian_weights=gaussian_weights, noise_seed=noise_seed
    )
    after = {"norm_after_activation": norm_after_activation}
    inputs = keras.Input(shape=input_shape, name="images")
    x = conv(16 * width, 8, strides=2, padding="same", name=f"{name}_conv1")(inputs)
    x = norm_act(x, normalization, activation, f"{name}_conv1", **after)
    x = layers.MaxPool2D(2, 1, name=f"{name}_pool1")(x)
    x = conv(32 * width, 4, strides=2, padding="valid", name=f"{name}_conv2")(x)
    x = norm_act(x, normalization, activation, f"{name}_conv2", **after)
    x = layers.MaxPool2D(2, 1, name=f"{name}_pool2")(x)
    x = layers.Flatten(name=f"{name}_flatten")(x)
    x = dense(32 * width, name=f"{name}_fc1")(x)
    x = norm_act(x, normalization, activation, f"{name}_fc1", **after)
    logits = dense(num_classes, name=f"{name}_logits")(x)
    return keras.Model(inputs, logits, name=name)


@register
def tutorial_cnn_sidp(**kwargs) -> keras.Model:
    """The tutorial CNN of Davody et al. 2020: Gaussian weight layers, normalisation after the
    activations (LayerNorm by default; normalization="aux_batch" or "public_batch" for the
    auxiliary-batch BatchNorm)."""
    kwargs = {"normalization": "layer", "name": "tutorial_cnn_sidp", **kwargs}
    return tutorial_cnn(gaussian_weights=True, norm_after_activation=True, **kwargs)


@register
def tutorial_cnn_gnws(**kwargs) -> keras.Model:
    """The tutorial CNN with GroupNorm and weight-standardised convolutions (De et al. 2022's
    recipe at a size a CPU trains in minutes); tanh by default, as Tramer & Boneh found best."""
    kwargs = {"normalization": "group", "activation": "tanh", "name": "tutorial_cnn_gnws", **kwargs}
    return tutorial_cnn(weight_standardization=True, **kwargs)


@register
def tutorial_cnn_ws(**kwargs) -> keras.Model:
    """The tutorial CNN (tanh) with weight-standardised convolutions and no normalisation layer:
    on Fashion-MNIST at this size it trains better under DP-SGD than the GroupNorm variant."""
    kwargs = {"activation": "tanh", "name": "tutorial_cnn_ws", **kwargs}
    return tutorial_cnn(weight_standardization=True, **kwargs)
