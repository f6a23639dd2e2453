"""LeNet-5 (LeCun et al. 1998) in its common modern form, with a normalisation option, and the
Gaussian-weight variant of Davody et al. 2020 (SIDP)."""

from dpzoo.common.stack import keras
from dpzoo.models.normalization import norm_act
from dpzoo.models.registry import register
from dpzoo.models.weight_layers import conv_and_dense


@register
def lenet5(
    input_shape: tuple[int, ...] = (28, 28, 1),
    num_classes: int = 10,
    normalization: str = "none",
    activation: str = "tanh",
    gaussian_weights: bool = False,
    noise_seed: int = 0,
    norm_after_activation: bool = False,
    name: str = "lenet5",
) -> keras.Model:
    """conv6 5x5 (same) - avgpool - conv16 5x5 - avgpool - dense120 - dense84 - dense (logits).

    ``gaussian_weights`` builds every conv and dense layer as a Gaussian weight layer (seeded from
    ``noise_seed``); ``norm_after_activation`` puts the normalisation after the activation.
    """
    layers = keras.layers
    conv, dense = conv_and_dense(gaussian_weights=gaussian_weights, noise_seed=noise_seed)
    inputs = keras.Input(shape=input_shape, name="images")
    x = conv(6, 5, padding="same", name=f"{name}_conv1")(inputs)
    x = norm_act(x, normalization, activation, f"{name}_conv1", norm_after_activation=norm_after_activation)
    x = layers.AveragePooling2D(2, name=f"{name}_pool1")(x)
    x = conv(16, 5, padding="valid", name=f"{name}_conv2")(x)
    x = norm_act(x, normalization, activation, f"{name}_conv2", norm_after_activation=norm_after_activation)
    x = layers.AveragePooling2D(2, name=f"{name}_pool2")(x)
    x = layers.Flatten(name=f"{name}_flatten")(x)
    for i, units in enumerate((120, 84), start=1):
        x = dense(units, name=f"{name}_fc{i}")(x)
        x = norm_act(x, normalization, activation, f"{name}_fc{i}", norm_after_activation=norm_after_activation)
    logits = dense(num_classes, name=f"{name}_logits")(x)
    return keras.Model(inputs, logits, name=name)


@register
def lenet5_sidp(**kwargs) -> keras.Model:
    """LN-LeNet-5 of Davody et al. 2020: Gaussian weight layers, LayerNorm after the activations."""
    kwargs = {"normalization": "layer", "name": "lenet5_sidp", **kwargs}
    return lenet5(gaussian_weights=True, norm_after_activation=True, **kwargs)


@register
def lenet5_bn_sidp(**kwargs) -> keras.Model:
    """BN-LeNet-5 of Davody et al. 2020: Gaussian weight layers and, after the activations,
    BatchNorm without affine parameters over the private batch plus a public auxiliary batch
    (nominal runs only; normalization="public_batch" takes statistics of the public batch alone)."""
    kwargs = {"normalization": "aux_batch", "name": "lenet5_bn_sidp", **kwargs}
    return lenet5(gaussian_weights=True, norm_after_activation=True, **kwargs)
