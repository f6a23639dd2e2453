"""LeNet-5 (LeCun et al. 1998) in its common modern form, with a normalisation option."""

import tensorflow as tf

from dpzoo.models.normalization import norm_act
from dpzoo.models.registry import register


@register
def lenet5(
    input_shape: tuple[int, ...] = (28, 28, 1),
    num_classes: int = 10,
    normalization: str = "none",
    activation: str = "tanh",
    name: str = "lenet5",
) -> tf.keras.Model:
    """conv6 5x5 (same) - avgpool - conv16 5x5 - avgpool - dense120 - dense84 - dense (logits)."""
    layers = tf.keras.layers
    inputs = tf.keras.Input(shape=input_shape, name="images")
    x = layers.Conv2D(6, 5, padding="same", name=f"{name}_conv1")(inputs)
    x = norm_act(x, normalization, activation, f"{name}_conv1")
    x = layers.AveragePooling2D(2, name=f"{name}_pool1")(x)
    x = layers.Conv2D(16, 5, padding="valid", name=f"{name}_conv2")(x)
    x = norm_act(x, normalization, activation, f"{name}_conv2")
    x = layers.AveragePooling2D(2, name=f"{name}_pool2")(x)
    x = layers.Flatten(name=f"{name}_flatten")(x)
    for i, units in enumerate((120, 84), start=1):
        x = layers.Dense(units, name=f"{name}_fc{i}")(x)
        x = norm_act(x, normalization, activation, f"{name}_fc{i}")
    logits = layers.Dense(num_classes, name=f"{name}_logits")(x)
    return tf.keras.Model(inputs, logits, name=name)
