"""Every registered model: forward, backward, no NaN, every parameter gets a gradient."""

import numpy as np
import pytest
import tensorflow as tf

from dpzoo import models
from dpzoo.errors import UsageError
from dpzoo.guards import BATCH_STATISTICS_LAYERS
from dpzoo.models.registry import ModelRegistry

NORMALIZATIONS = ("none", "group", "layer")


@pytest.mark.parametrize("name", models.names())
@pytest.mark.parametrize("normalization", NORMALIZATIONS)
def test_forward_backward_every_parameter_gets_a_gradient(fashion, name, normalization):
    model = models.get(name, normalization=normalization)
    x = fashion.x_train[:8].astype(np.float32) / 255.0
    with tf.GradientTape() as tape:
        logits = model(x, training=True)
        loss = tf.reduce_mean(tf.keras.losses.sparse_categorical_crossentropy(fashion.y_train[:8], logits, True))
    assert logits.shape == (8, 10) and np.all(np.isfinite(logits.numpy()))
    grads = tape.gradient(loss, model.trainable_variables)
    for variable, grad in zip(model.trainable_variables, grads, strict=True):
        assert grad is not None, variable.name
        assert np.all(np.isfinite(grad.numpy())) and np.any(grad.numpy() != 0), variable.name
    assert not any(isinstance(layer, BATCH_STATISTICS_LAYERS) for layer in model.submodules)


def test_tutorial_cnn_matches_the_tf_privacy_tutorial_size():
    # conv1 8*8*1*16+16 = 1,040; conv2 4*4*16*32+32 = 8,224; fc1 (4*4*32)*32+32 = 16,416; logits 330.
    assert models.get("tutorial_cnn").count_params() == 1040 + 8224 + 16416 + 330


def test_lenet5_size():
    # conv1 5*5*6+6 = 156; conv2 5*5*6*16+16 = 2,416; fc 400*120+120, 120*84+84, 84*10+10.
    assert models.get("lenet5").count_params() == 156 + 2416 + 48120 + 10164 + 850


def test_layer_names_are_deterministic():
    first = [v.name for v in models.get("lenet5", normalization="group").weights]
    second = [v.name for v in models.get("lenet5", normalization="group").weights]
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
