"""CIFAR ResNets of basic blocks (He et al. 2016): ResNet-18, its Gaussian-weight variant of
Davody et al. 2020 (SIDP) with BatchNorm without affine parameters, and ResNet-20 with GroupNorm
(the model of ModelMix, Xiao et al.).

ResNet-18: a 3x3 stem without max-pooling, four stages of two basic blocks (64, 128, 256, 512
channels; stride 2 from the second stage), global average pooling and a dense head; a 1x1
projection (with its normalisation) where a block changes shape.
ResNet-20: a 3x3 stem of 16 channels, three stages of three basic blocks (16, 32, 64 channels),
and He et al.'s parameter-free shortcut (option A: subsample, then zero-pad the new channels).
"""

import tensorflow as tf

from dpzoo.common.stack import keras
from dpzoo.models.normalization import normalization as norm_layer
from dpzoo.models.registry import register
from dpzoo.models.weight_layers import conv_and_dense

STAGES = ((64, 1), (128, 2), (256, 2), (512, 2))
RESNET20_STAGES = ((16, 1), (32, 2), (64, 2))


def _norm(x: "keras.KerasTensor", kind: str, name: str) -> "keras.KerasTensor":
    layer = norm_layer(kind, x.shape[-1], name=name)
    return layer(x) if layer is not None else x


def _projection(conv, filters: int, stride: int, kind: str, name: str):
    """Option B: a strided 1x1 convolution and its normalisation."""

    def shortcut(x):
        x = conv(filters, 1, strides=stride, use_bias=False, name=f"{name}_proj")(x)
        return _norm(x, kind, f"{name}_proj_norm")

    return shortcut


def _zero_pad(filters: int, stride: int, name: str):
    """Option A (He et al. 2016, CIFAR): subsample by the stride, zero-pad the new channels."""

    def shortcut(x):
        extra = filters - x.shape[-1]
        pad = [[0, 0], [0, 0], [0, 0], [extra // 2, extra - extra // 2]]
        layer = keras.layers.Lambda(lambda t: tf.pad(t[:, ::stride, ::stride, :], pad), name=f"{name}_pad")
        return layer(x)

    return shortcut


def _basic_block(x, conv, filters: int, stride: int, kind: str, activation: str, name: str, shortcut_kind: str):
    """conv3x3 - norm - act - conv3x3 - norm, plus the (projected or padded) input, then act."""
    shortcut = x
    if stride != 1 or x.shape[-1] != filters:
        if shortcut_kind == "projection":
            shortcut = _projection(conv, filters, stride, kind, name)(x)
        else:
            shortcut = _zero_pad(filters, stride, name)(x)
    y = conv(filters, 3, strides=stride, padding="same", use_bias=False, name=f"{name}_conv1")(x)
    y = keras.layers.Activation(activation, name=f"{name}_act1")(_norm(y, kind, f"{name}_norm1"))
    y = conv(filters, 3, padding="same", use_bias=False, name=f"{name}_conv2")(y)
    y = _norm(y, kind, f"{name}_norm2")
    y = keras.layers.Add(name=f"{name}_add")([shortcut, y])
    return keras.layers.Activation(activation, name=f"{name}_act2")(y)


def cifar_resnet(
    *,
    stages: tuple[tuple[int, int], ...],
    blocks: int,
    input_shape: tuple[int, ...],
    num_classes: int,
    normalization: str,
    activation: str,
    gaussian_weights: bool,
    noise_seed: int,
    shortcut: str,
    name: str,
) -> keras.Model:
    """The family's one builder: a 3x3 stem, ``blocks`` basic blocks per (channels, stride) stage,
    global average pooling, a dense head."""
    conv, dense = conv_and_dense(gaussian_weights=gaussian_weights, noise_seed=noise_seed)
    inputs = keras.Input(shape=input_shape, name="images")
    x = conv(stages[0][0], 3, padding="same", use_bias=False, name=f"{name}_stem")(inputs)
    x = keras.layers.Activation(activation, name=f"{name}_stem_act")(_norm(x, normalization, f"{name}_stem_norm"))
    for stage, (filters, stride) in enumerate(stages, start=1):
        for block in range(1, blocks + 1):
            block_stride = stride if block == 1 else 1
            block_name = f"{name}_s{stage}b{block}"
            x = _basic_block(x, conv, filters, block_stride, normalization, activation, block_name, shortcut)
    x = keras.layers.GlobalAveragePooling2D(name=f"{name}_pool")(x)
    logits = dense(num_classes, name=f"{name}_logits")(x)
    return keras.Model(inputs, logits, name=name)


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
) -> keras.Model:
    """ResNet-18, CIFAR form; ``width`` is the first stage's channels (64 in the paper).

    ``normalization``: group (default: per-example, for DP-SGD), layer, none, or the auxiliary-batch
    BatchNorm ("aux_batch", "public_batch"); ``gaussian_weights`` makes every conv and the head
    Gaussian weight layers seeded from ``noise_seed``.
    """
    return cifar_resnet(
        stages=tuple((channels * width // 64, stride) for channels, stride in STAGES),
        blocks=2,
        input_shape=input_shape,
        num_classes=num_classes,
        normalization=normalization,
        activation=activation,
        gaussian_weights=gaussian_weights,
        noise_seed=noise_seed,
        shortcut="projection",
        name=name,
    )


@register
def resnet18_sidp(**kwargs) -> keras.Model:
    """ResNet-18 of Davody et al. 2020: Gaussian weight layers and BatchNorm without affine
    parameters over the private batch plus a public auxiliary batch (nominal runs only;
    normalization="public_batch" for statistics of the public batch alone)."""
    kwargs = {"normalization": "aux_batch", "name": "resnet18_sidp", **kwargs}
    return resnet18(gaussian_weights=True, **kwargs)


@register
def resnet20(
    input_shape: tuple[int, ...] = (32, 32, 3),
    num_classes: int = 10,
    normalization: str = "group",
    activation: str = "relu",
    name: str = "resnet20",
) -> keras.Model:
    """ResNet-20 (He et al. 2016, CIFAR) with GroupNorm: the model of ModelMix (Xiao et al.)."""
    return cifar_resnet(
        stages=RESNET20_STAGES,
        blocks=3,
        input_shape=input_shape,
        num_classes=num_classes,
        normalization=normalization,
        activation=activation,
        gaussian_weights=False,
        noise_seed=0,
        shortcut="zero_pad",
        name=name,
    )
