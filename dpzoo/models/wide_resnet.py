"""Wide-ResNets with GroupNorm and weight standardisation (De et al. 2022, METHODS.md section 1).

WRN-d-k: a 3x3 stem conv of 16 channels, then three stages of (d - 4) / 6 pre-activation
blocks with widths 16k, 32k, 64k and strides 1, 2, 2, then ReLU -> GroupNorm -> global average
pool -> Dense. A block is ReLU -> GroupNorm(16) -> WSConv 3x3 (stride) -> ReLU -> GroupNorm ->
WSConv 3x3; the first block of a stage adds a 1x1 WSConv skip taken from its normalised input,
the others the identity. No BatchNorm and no dropout: every layer is per-example.
"""

from dpzoo.common.stack import keras
from dpzoo.layers import WSConv2D
from dpzoo.models.registry import register

GROUPS = 16
GN_EPSILON = 1e-5


def _relu_norm(x: "keras.KerasTensor", name: str) -> "keras.KerasTensor":
    x = keras.layers.ReLU(name=f"{name}_relu")(x)
    return keras.layers.GroupNormalization(GROUPS, epsilon=GN_EPSILON, name=f"{name}_gn")(x)


def _block(x: "keras.KerasTensor", width: int, stride: int, projection: bool, name: str) -> "keras.KerasTensor":
    normed = _relu_norm(x, f"{name}_pre1")
    out = WSConv2D(width, 3, strides=stride, padding="same", name=f"{name}_conv1")(normed)
    out = _relu_norm(out, f"{name}_pre2")
    out = WSConv2D(width, 3, padding="same", name=f"{name}_conv2")(out)
    skip = WSConv2D(width, 1, strides=stride, name=f"{name}_skip")(normed) if projection else x
    return keras.layers.Add(name=f"{name}_add")([out, skip])


@register
def wrn(
    input_shape: tuple[int, ...] = (32, 32, 3),
    num_classes: int = 10,
    depth: int = 16,
    width: int = 4,
    name: str | None = None,
) -> keras.Model:
    """WRN-depth-width; depth must be 6n + 4."""
    if depth < 10 or (depth - 4) % 6:
        raise ValueError(f"Expected depth={depth} of the form 6n + 4 with n >= 1 (10, 16, 22, 28, 40, ...).")
    if width < 1:
        raise ValueError(f"Expected width={width} >= 1.")
    name = name or f"wrn{depth}_{width}"
    blocks = (depth - 4) // 6
    inputs = keras.Input(shape=input_shape, name="images")
    x = WSConv2D(16, 3, padding="same", name=f"{name}_stem")(inputs)
    for stage, (channels, stride) in enumerate(zip((16, 32, 64), (1, 2, 2), strict=True), start=1):
        for block in range(1, blocks + 1):
            first = block == 1
            x = _block(x, channels * width, stride if first else 1, first, f"{name}_stage{stage}_block{block}")
    x = _relu_norm(x, f"{name}_head")
    x = keras.layers.GlobalAveragePooling2D(name=f"{name}_pool")(x)
    logits = keras.layers.Dense(num_classes, name=f"{name}_logits")(x)
    return keras.Model(inputs, logits, name=name)


@register
def wrn16_4(**kwargs) -> keras.Model:
    """WRN-16-4 (about 2.75M parameters for CIFAR-10): De et al.'s CIFAR-10 model."""
    return wrn(depth=16, width=4, **kwargs)


@register
def wrn40_4(**kwargs) -> keras.Model:
    """WRN-40-4: De et al.'s best CIFAR-10 model trained from scratch (81.4% at epsilon 8)."""
    return wrn(depth=40, width=4, **kwargs)


@register
def wrn28_10(**kwargs) -> keras.Model:
    """WRN-28-10: De et al.'s model for ImageNet-32 pre-training and CIFAR-10 fine-tuning."""
    return wrn(depth=28, width=10, **kwargs)
