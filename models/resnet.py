"""ResNet-18 (He et al. 2016) in its CIFAR form, and the Gaussian-weight variant of Davody et al.
2020 (SIDP) with BatchNorm without affine parameters.

CIFAR form: a 3x3 stem without max-pooling, four stages of two basic blocks (64, 128, 256, 512
channels; stride 2 from the second stage), global average pooling and a dense head; a 1x1
projection (with its normalisation) where a block changes shape.
"""

import tensorflow as tf

from dpzoo.models.normalization import normalization as norm_layer
from dpzoo.models.registry import register
from dpzoo.models.weight_layers import conv_and_dense

STAGES = ((64, 1), (128, 2), (256, 2), (512, 2))


def _norm(x: tf.Tensor, kind: str, name: str) -> tf.Tensor:
    layer = norm_layer(kind, x.shape[-1], name=name)
    return layer(x) if layer is not None else x


def _basic_block(x, conv, filters: int, stride: int, kind: str, activation: str, name: str):
    """conv3x3 - norm - act - conv3x3 - norm, plus the (projected) input, then act."""
    shortcut = x
    if stride != 1 or x.shape[-1] != filters:
        shortcut = conv(filters, 1, strides=stride, use_bias=False, name=f"{name}_proj")(x)
        shortcut = _norm(shortcut, kind, f"{name}_proj_norm")
    y = conv(filters, 3, strides=stride, padding="same", use_bias=False, name=f"{name}_conv1")(x)
    y = tf.keras.layers.Activation(activation, name=f"{name}_act1")(_norm(y, kind, f"{name}_norm1"))
    y = conv(filters, 3, padding="same", use_bias=False, name=f"{name}_conv2")(y)
    y = _norm(y, kind, f"{name}_norm2")
    y = tf.keras.layers.Add(name=f"{name}_add")([shortcut, y])
    return tf.keras.layers.Activation(activation, name=f"{name}_act2")(y)


@register
def resnet18(
    input_shape: tuple[int, ...] = (32, 32, 3),
    num_classes: int = 10,
    normalization: str = "group",
    activation: str = "relu",
    gaussian_weights: bool = False,
    noise_seed: int = 0,
    width: int = 64,
    name: str = "resnet18",
) -> tf.keras.Model:
    """ResNet-18, CIFAR form; ``width`` is the first stage's channels (64 in the paper).

    ``normalization``: group (default: per-example, for DP-SGD), layer, none, or the auxiliary-batch
    BatchNorm ("aux_batch", "public_batch"); ``gaussian_weights`` makes every conv and the head
    Gaussian weight layers seeded from ``noise_seed``.
    """
    conv, dense = conv_and_dense(gaussian_weights=gaussian_weights, noise_seed=noise_seed)
    inputs = tf.keras.Input(shape=input_shape, name="images")
    x = conv(width, 3, padding="same", use_bias=False, name=f"{name}_stem")(inputs)
    x = tf.keras.layers.Activation(activation, name=f"{name}_stem_act")(_norm(x, normalization, f"{name}_stem_norm"))
    for stage, (channels, stride) in enumerate(STAGES, start=1):
        for block in (1, 2):
            filters = channels * width // 64
            x = _basic_block(
                x, conv, filters, stride if block == 1 else 1, normalization, activation, f"{name}_s{stage}b{block}"
            )
    x = tf.keras.layers.GlobalAveragePooling2D(name=f"{name}_pool")(x)
    logits = dense(num_classes, name=f"{name}_logits")(x)
    return tf.keras.Model(inputs, logits, name=name)


@register
def resnet18_sidp(**kwargs) -> tf.keras.Model:
    """ResNet-18 of Davody et al. 2020: Gaussian weight layers and BatchNorm without affine
    parameters over the private batch plus a public auxiliary batch (nominal runs only;
    normalization="public_batch" for statistics of the public batch alone)."""
    kwargs = {"normalization": "aux_batch", "name": "resnet18_sidp", **kwargs}
    return resnet18(gaussian_weights=True, **kwargs)
