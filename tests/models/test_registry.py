"""Every registered model: forward, backward, no NaN, every parameter gets a gradient."""

import numpy as np
import pytest
import tensorflow as tf

from dpzoo import models
from dpzoo.common import keras_api
from dpzoo.common.errors import UsageError
from dpzoo.layers import GAUSSIAN_LAYERS
from dpzoo.models.registry import ModelRegistry
from dpzoo.privacy.guards import BATCH_STATISTICS_LAYERS

NORMALIZATIONS = ("none", "group", "layer", "aux_batch")  # public_batch needs the engine's public rows


NORMALIZABLE = (  # take normalization=...
    *(
        "lenet5",
        "lenet5_bn_sidp",
        "lenet5_sidp",
        "resnet18",
        "resnet18_sidp",
        "resnet20",
        "tutorial_cnn",
        "tutorial_cnn_gnws",
        "tutorial_cnn_sidp",
        "tutorial_cnn_ws",
    ),
)
FIXED_NORMALIZATION = ("nf_resnet", "nf_resnet50", "wrn", "wrn16_4", "wrn28_10", "wrn40_4")
TEXT = ("bilstm", "ln_bilstm")  # take token ids
SCATTERNET = ("scatternet_cnn", "scatternet_linear")  # normalization "group", "data" or "none"
CASES = (
    [(name, {"normalization": n}) for name in NORMALIZABLE for n in NORMALIZATIONS]
    + [(name, {}) for name in FIXED_NORMALIZATION]
    + [(name, {"normalization": n}) for name in SCATTERNET for n in ("group", "data", "none")]
)


def test_every_registered_model_is_covered():
    assert sorted(NORMALIZABLE + FIXED_NORMALIZATION + TEXT + SCATTERNET) == models.names()


@pytest.mark.parametrize("name,kwargs", CASES, ids=lambda c: str(c))
def test_forward_backward_every_parameter_gets_a_gradient(fashion, name, kwargs):
    tf.keras.utils.set_random_seed(0)
    model = models.get(name, input_shape=(28, 28, 1), num_classes=10, **kwargs)
    for variable in model.trainable_variables:  # zero-initialised gains and heads block gradients
        if not np.any(variable.numpy()):  # at init (SkipInit, NF-ResNet's zero head); wake them up
            variable.assign(tf.random.normal(variable.shape, stddev=0.1))
    x = fashion.x_train[:4].astype(np.float32) / 255.0
    with tf.GradientTape() as tape:
        logits = model(x, training=True)
        loss = tf.reduce_mean(tf.keras.losses.sparse_categorical_crossentropy(fashion.y_train[:4], logits, True))
    assert logits.shape == (4, 10) and np.all(np.isfinite(logits.numpy()))
    grads = tape.gradient(loss, model.trainable_variables)
    for variable, grad in zip(model.trainable_variables, grads, strict=True):
        assert grad is not None, variable.name
        assert np.all(np.isfinite(grad.numpy())) and np.any(grad.numpy() != 0), variable.name
    assert not any(isinstance(layer, BATCH_STATISTICS_LAYERS) for layer in keras_api.sublayers(model))


@pytest.mark.parametrize("name", SCATTERNET)
@pytest.mark.parametrize("normalization", ["group", "data"])
def test_scatternets_take_cifar10_images_as_243_channels_of_8x8(name, normalization):
    """The CIFAR-10 variants (METHODS.md section 5): 32x32x3 images scatter to 8x8x243 (27 groups
    of 9 channels for the GroupNorm), and the head is built on that."""
    model = models.get(name, input_shape=(32, 32, 3), num_classes=10, normalization=normalization)
    assert model.get_layer(f"{name}_scattering").output.shape[1:] == (8, 8, 243)
    x = np.random.default_rng(0).uniform(size=(2, 32, 32, 3)).astype(np.float32)
    assert model(x).shape == (2, 10)


def test_the_scatternet_cnn_takes_its_convolutions_widths():
    """Tramer & Boneh's larger variant, (32, 64); a bad ``filters`` is a clear error."""
    model = models.get("scatternet_cnn", filters=[32, 64])
    assert (
        model.get_layer("scatternet_cnn_conv1").filters == 32 and model.get_layer("scatternet_cnn_conv2").filters == 64
    )
    assert model.get_layer("scatternet_cnn_fc1").kernel.shape == (4 * 4 * 64, 32)
    with pytest.raises(ValueError, match="two positive channel counts"):
        models.get("scatternet_cnn", filters=[32])


@pytest.mark.parametrize("name", TEXT)
def test_text_models_forward_backward_on_token_ids(name):
    """Every trainable weight (the frozen word vectors are not) gets a gradient; LSTMs and head
    are Gaussian weight layers; 8 x 4 x 32 + 32 x 4 x 32 + 4 x 32 (+ 4 x 4 x 32 + 2 x 32 for LN)
    per direction plus the head (64 x 6 + 6, + 2 x 6 for LN)."""
    model = models.get(name, input_shape=(16,), num_classes=6, embedding_dim=8)
    ids = np.random.default_rng(0).integers(0, 8192, size=(4, 16))
    with tf.GradientTape() as tape:
        logits = model(ids, training=True)
        loss = tf.reduce_mean(tf.keras.losses.sparse_categorical_crossentropy(tf.constant([0, 1, 2, 3]), logits, True))
    assert logits.shape == (4, 6)
    grads = tape.gradient(loss, model.trainable_variables)
    assert all(g is not None and np.any(g.numpy() != 0) for g in grads)
    lstm = 8 * 128 + 32 * 128 + 128 + (2 * 128 + 2 * 32 if name == "ln_bilstm" else 0)
    head = 64 * 6 + 6 + (12 if name == "ln_bilstm" else 0)
    assert sum(int(tf.size(v)) for v in model.trainable_variables) == 2 * lstm + head
    assert all(
        isinstance(layer, GAUSSIAN_LAYERS)
        for layer in model.layers
        if layer.trainable_weights and "norm" not in layer.name
    )
    with pytest.raises(ValueError, match="input_shape=\\(length,\\)"):
        models.get(name, input_shape=(28, 28, 1))


def test_tutorial_cnn_matches_the_tf_privacy_tutorial_size():
    # conv1 8*8*1*16+16 = 1,040; conv2 4*4*16*32+32 = 8,224; fc1 (4*4*32)*32+32 = 16,416; logits 330.
    assert models.get("tutorial_cnn").count_params() == 1040 + 8224 + 16416 + 330


def test_tutorial_cnn_width_multiplies_channels():
    # conv1 8*8*1*32+32 = 2,080; conv2 4*4*32*64+64 = 32,832; fc1 (4*4*64)*64+64 = 65,600; logits 650.
    assert models.get("tutorial_cnn", width=2).count_params() == 2080 + 32832 + 65600 + 650
    # WSConv adds one gain per output channel: 32 + 64.
    assert models.get("tutorial_cnn_ws", width=2).count_params() == 2080 + 32832 + 65600 + 650 + 96


def test_lenet5_size():
    # conv1 5*5*6+6 = 156; conv2 5*5*6*16+16 = 2,416; fc 400*120+120, 120*84+84, 84*10+10.
    assert models.get("lenet5").count_params() == 156 + 2416 + 48120 + 10164 + 850


def test_resnet18_size():
    """11,173,962 parameters with GroupNorm: the CIFAR ResNet-18's count with BatchNorm's scale and
    offset; the SIDP variant's BatchNorm has neither (2 x 4,800 fewer trainable weights)."""
    assert models.get("resnet18").count_params() == 11_173_962
    sidp = models.get("resnet18_sidp")
    assert sum(int(tf.size(v)) for v in sidp.trainable_variables) == 11_173_962 - 9_600
    assert all(isinstance(layer, GAUSSIAN_LAYERS) for layer in sidp.layers if layer.trainable_weights)


def test_resnet20_size():
    """He et al.'s CIFAR ResNet-20, parameter-free shortcuts: convs 432 (stem) + 13,824 + 50,688 +
    202,752 (stages of 16, 32, 64 channels), normalisation scale and offset 2 x 688, head 650."""
    model = models.get("resnet20")
    assert model.count_params() == 432 + 13_824 + 50_688 + 202_752 + 1_376 + 650 == 269_722
    assert sum(isinstance(layer, tf.keras.layers.GroupNormalization) for layer in model.layers) == 19


def test_layer_names_are_deterministic():
    first = [keras_api.variable_name(v) for v in models.get("lenet5", normalization="group").weights]
    second = [keras_api.variable_name(v) for v in models.get("lenet5", normalization="group").weights]
    assert first == second and all(name.startswith("lenet5_") for name in first)


def test_unknown_model_lists_known_ones():
    with pytest.raises(UsageError, match="tutorial_cnn"):
        models.get("resnet9000")


def test_bad_model_arguments_are_usage_errors():
    with pytest.raises(UsageError, match="lenet5"):
        models.get("lenet5", no_such_argument=1)


def test_registering_a_name_twice_is_an_error():
    registry = ModelRegistry()

    def net():
        return None

    registry.register(net)
    with pytest.raises(ValueError, match="twice"):
        registry.register(net)


@pytest.mark.parametrize("name", ["lenet5_sidp", "lenet5_bn_sidp", "tutorial_cnn_sidp"])
def test_sidp_models_use_gaussian_weight_layers_and_normalise_after_the_activation(name):
    model = models.get(name)
    weight_layers = [
        layer for layer in model.layers if isinstance(layer, tf.keras.layers.Conv2D | tf.keras.layers.Dense)
    ]
    assert weight_layers and all(isinstance(layer, GAUSSIAN_LAYERS) for layer in weight_layers)
    assert len({layer.seed for layer in weight_layers}) == len(weight_layers)  # distinct noise streams
    order = [layer.name for layer in model.layers]
    assert order.index(f"{name}_conv1_act") < order.index(f"{name}_conv1_norm")
    with pytest.raises(ValueError, match="at most one of weight_standardization and gaussian_weights"):
        models.get("tutorial_cnn_sidp", weight_standardization=True)
