"""Normaliser-free ResNets (Brock, De, Smith 2021), as De et al. 2022 train them on ImageNet.

No normalisation layers at all: weight-standardised convolutions (WSConv2D), ReLU scaled by
gamma = sqrt(2 / (1 - 1/pi)) so it preserves the signal's variance, and residual blocks
x_{l+1} = x_l + alpha * g * f(x_l / beta_l), where beta_l is the expected standard deviation
of x_l (it grows by alpha^2 in variance per block and resets at each stage's first block) and
g is a SkipInit gain initialised to 0. Bottleneck blocks with ratio 0.25; the stem is a
7x7/2 WSConv of 64 channels and a 3x3/2 max pool; the head is ReLU -> global average pool ->
Dense (zero-initialised). Every layer is per-example, so DP-SGD's per-example sensitivity holds.
"""

import math

from dpzoo.common.stack import keras
from dpzoo.layers import SkipGain, WSConv2D
from dpzoo.models.registry import register

RELU_GAMMA = math.sqrt(2.0 / (1.0 - 1.0 / math.pi))
STAGE_WIDTHS = (256, 512, 1024, 2048)
STAGE_STRIDES = (1, 2, 2, 2)


def _scaled_relu(x: "keras.KerasTensor", scale: float, name: str) -> "keras.KerasTensor":
    """gamma * relu(x) * scale, as two stock Keras layers (serialisable, no Lambda)."""
    x = keras.layers.ReLU(name=f"{name}_relu")(x)
    return keras.layers.Rescaling(RELU_GAMMA * scale, name=f"{name}_scale")(x)


def _block(
    x: "keras.KerasTensor", width: int, stride: int, beta: float, alpha: float, skip_gain_init: float, name: str
) -> "keras.KerasTensor":
    out = _scaled_relu(x, 1.0 / beta, f"{name}_pre")
    projection = stride > 1 or x.shape[-1] != width
    shortcut = WSConv2D(width, 1, strides=stride, name=f"{name}_skip")(out) if projection else x
    bottleneck = width // 4
    out = WSConv2D(bottleneck, 1, name=f"{name}_conv0")(out)
    out = _scaled_relu(out, 1.0, f"{name}_act0")
    out = WSConv2D(bottleneck, 3, strides=stride, padding="same", name=f"{name}_conv1")(out)
    out = _scaled_relu(out, 1.0, f"{name}_act1")
    out = WSConv2D(width, 1, name=f"{name}_conv2")(out)
    out = SkipGain(alpha, initial_gain=skip_gain_init, name=f"{name}_skipgain")(out)
    return keras.layers.Add(name=f"{name}_add")([out, shortcut])


@register
def nf_resnet(
    input_shape: tuple[int, ...] = (224, 224, 3),
    num_classes: int = 1000,
    depths: tuple[int, ...] = (3, 4, 6, 3),
    alpha: float = 0.2,
    skip_gain_init: float = 0.0,
    head_stddev: float = 0.0,
    name: str = "nf_resnet",
) -> keras.Model:
    """An NF-ResNet with bottleneck stages of the given depths (ResNet-50: 3, 4, 6, 3).

    ``skip_gain_init`` starts the SkipInit gains (0: each block starts as the identity, as in
    Brock et al.; De et al. use 1 on ImageNet). ``head_stddev`` initialises the classifier from
    N(0, head_stddev^2); 0 means zeros.
    """
    if len(depths) != len(STAGE_WIDTHS) or min(depths) < 1:
        raise ValueError(f"Expected depths={depths} to be four positive block counts.")
    inputs = keras.Input(shape=input_shape, name="images")
    x = WSConv2D(64, 7, strides=2, padding="same", name=f"{name}_stem")(inputs)
    x = keras.layers.MaxPool2D(3, 2, padding="same", name=f"{name}_stem_pool")(x)
    expected_std = 1.0  # of the stem's output; a stage's projection shortcut resets it to 1
    for stage, (depth, width, stride) in enumerate(zip(depths, STAGE_WIDTHS, STAGE_STRIDES, strict=True), start=1):
        for block in range(1, depth + 1):
            first = block == 1
            block_name = f"{name}_stage{stage}_block{block}"
            x = _block(x, width, stride if first else 1, expected_std, alpha, skip_gain_init, block_name)
            expected_std = math.sqrt((1.0 if first else expected_std**2) + alpha**2)
    x = _scaled_relu(x, 1.0, f"{name}_head")
    x = keras.layers.GlobalAveragePooling2D(name=f"{name}_pool")(x)
    head_init = keras.initializers.RandomNormal(stddev=head_stddev) if head_stddev > 0 else "zeros"
    logits = keras.layers.Dense(num_classes, kernel_initializer=head_init, name=f"{name}_logits")(x)
    return keras.Model(inputs, logits, name=name)


@register
def nf_resnet50(**kwargs) -> keras.Model:
    """NF-ResNet-50 (about 25.5M parameters at 1000 classes): De et al.'s ImageNet model."""
    return nf_resnet(depths=(3, 4, 6, 3), **{"name": "nf_resnet50", **kwargs})
