"""Wide-ResNets (De et al. 2022) and NF-ResNet-50: published sizes and the block structure."""

import pytest
import tensorflow as tf

from dpzoo import models
from dpzoo.common import keras_api
from dpzoo.layers import SkipGain, WSConv2D


def _wrn_size(depth: int, width: int, num_classes: int = 10, in_channels: int = 3) -> int:
    """Hand count. WSConv: k*k*cin*cout + 2*cout (bias and gain); GroupNorm: 2*channels."""
    conv = lambda k, cin, cout: k * k * cin * cout + 2 * cout
    total = conv(3, in_channels, 16)
    channels = 16
    for stage_width in (16 * width, 32 * width, 64 * width):
        for block in range((depth - 4) // 6):
            total += 2 * channels + conv(3, channels, stage_width) + 2 * stage_width + conv(3, stage_width, stage_width)
            if block == 0:
                total += conv(1, channels, stage_width)
            channels = stage_width
    return total + 2 * channels + channels * num_classes + num_classes


@pytest.mark.parametrize("name,depth,width,published", [("wrn16_4", 16, 4, 2.75e6), ("wrn40_4", 40, 4, 8.9e6)])
def test_wrn_sizes_match_hand_count_and_publication(name, depth, width, published):
    """WRN-16-4 for 10 classes at 32x32x3: 2,753,402 = the 2.75M of De et al. The gains of the
    weight-standardised convs (one per output channel) and the GroupNorm scales add 0.4%
    over a plain WRN of the same shape; the 1x1 skip of stage 1 is counted as they define it."""
    count = models.get(name).count_params()
    assert count == _wrn_size(depth, width)
    assert count == pytest.approx(published, rel=0.01)


def test_wrn28_10_size():
    assert models.get("wrn28_10").count_params() == pytest.approx(36.5e6, rel=0.01)  # Zagoruyko & Komodakis


def test_wrn_block_is_relu_groupnorm_wsconv_with_skip_on_the_normalised_input():
    model = models.get("wrn", depth=10, width=1)
    layer = model.get_layer("wrn10_1_stage2_block1_conv1")
    assert isinstance(layer, WSConv2D) and layer.strides == (2, 2)
    (norm,) = keras_api.input_layers(model, layer)
    assert isinstance(norm, tf.keras.layers.GroupNormalization) and norm.groups == 16
    assert isinstance(keras_api.input_layers(model, norm)[0], tf.keras.layers.ReLU)
    skip = model.get_layer("wrn10_1_stage2_block1_skip")
    assert skip.kernel_size == (1, 1) and keras_api.input_layers(model, skip) == [norm]
    assert not any(isinstance(x, tf.keras.layers.BatchNormalization | tf.keras.layers.Dropout) for x in model.layers)


def test_wrn_refuses_depths_not_of_the_form_6n_plus_4():
    with pytest.raises(ValueError, match="6n"):
        models.get("wrn", depth=15)


def test_nf_resnet50_size_and_no_normalisation():
    """ResNet-50 has 25,557,032 trainable parameters (torchvision's count: convs, BatchNorm scale
    and offset, fc). NF-ResNet-50 replaces each BatchNorm's scale and offset by its conv's WS gain
    and bias (the same count) and adds 16 SkipInit gains; no normalisation layer at all."""
    model = models.get("nf_resnet50")
    assert model.count_params() == 25_557_032 + 16
    assert sum(isinstance(x, SkipGain) for x in model.layers) == 16
    assert not any("Normalization" in type(x).__name__ for x in model.layers)
