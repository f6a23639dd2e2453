"""The CNN of TF Privacy's MNIST DP-SGD tutorial.

Also the end-to-end CNN of Tramer & Boneh 2021 ("Differentially private learning needs
better features"), who use it with tanh activations.
"""

import tensorflow as tf

from dpzoo.models.normalization import norm_act
from dpzoo.models.registry import register


@register
def tutorial_cnn(
    input_shape: tuple[int, ...] = (28, 28, 1),
    num_classes: int = 10,
    normalization: str = "none",
    activation: str = "relu",
    name: str = "tutorial_cnn",
) -> tf.keras.Model:
    """conv16 8x8/2 - pool 2/1 - conv32 4x4/2 - pool 2/1 - dense32 - dense (logits)."""
    layers = tf.keras.layers
    inputs = tf.keras.Input(shape=input_shape, name="images")
    x = layers.Conv2D(16, 8, strides=2, padding="same", name=f"{name}_conv1")(inputs)
    x = norm_act(x, normalization, activation, f"{name}_conv1")
    x = layers.MaxPool2D(2, 1, name=f"{name}_pool1")(x)
    x = layers.Conv2D(32, 4, strides=2, padding="valid", name=f"{name}_conv2")(x)
    x = norm_act(x, normalization, activation, f"{name}_conv2")
    x = layers.MaxPool2D(2, 1, name=f"{name}_pool2")(x)
    x = layers.Flatten(name=f"{name}_flatten")(x)
    x = layers.Dense(32, name=f"{name}_fc1")(x)
    x = norm_act(x, normalization, activation, f"{name}_fc1")
    logits = layers.Dense(num_classes, name=f"{name}_logits")(x)
    return tf.keras.Model(inputs, logits, name=name)
