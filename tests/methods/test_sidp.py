"""The SIDP methods (Davody et al. 2020): sidp adds no update noise and is labelled nominal;
sidp_dp adds DP-SGD's update noise and is formal; both sample the weights."""

import os

import numpy as np
import pytest
import tensorflow as tf

import dpzoo
from dpzoo import accounting, training
from dpzoo.common.errors import UsageError
from dpzoo.layers import GaussianDense, gaussian_layers
from dpzoo.training import TrainConfig, engines

SIGMA, CLIP, BATCH = 2.0, 3.0, 32


def _config(method: str, **kwargs) -> TrainConfig:
    return TrainConfig(
        method=method, l2_norm_clip=CLIP, batch_size=BATCH, noise_multiplier=SIGMA, output_dir="unused", **kwargs
    )


def test_each_method_maps_to_its_noise():
    for method, update_noise, weight_noise in [("dpsgd", SIGMA, 0.0), ("sidp", 0.0, SIGMA), ("sidp_dp", SIGMA, SIGMA)]:
        config = engines.dp_config(_config(method), SIGMA)
        assert (config.noise_multiplier, config.weight_noise_multiplier) == (update_noise, weight_noise), method


def _update_of_a_zero_gradient_step(method: str) -> tuple[np.ndarray, float]:
    """One SGD(lr=1) step whose loss ignores the model (all gradients 0): the update is minus
    the update noise over B. Also returns the weight-noise std the layer was given."""
    inputs = tf.keras.Input((64,))
    model = tf.keras.Model(inputs, GaussianDense(1000, seed=1)(inputs))
    private = dpzoo.make_private(model, engines.dp_config(_config(method, seed=3), SIGMA))
    private.compile(optimizer=tf.keras.optimizers.SGD(1.0), loss=lambda y, p: tf.reduce_sum(0.0 * p, axis=-1))
    before = model.trainable_variables[0].numpy()
    private.train_on_batch(np.ones((BATCH, 64), np.float32), np.zeros(BATCH))
    return model.trainable_variables[0].numpy() - before, float(gaussian_layers(model)[0].weight_noise_stddev)


def test_sidp_adds_no_update_noise_and_sidp_dp_adds_dp_sgds():
    """sidp: the update is exactly 0. sidp_dp: its std is sigma * C / B like DP-SGD's; 64,000
    coordinates give the sample std a relative sd of 0.28%, so 2% is a 7-sigma bound (seeded)."""
    update, weight_std = _update_of_a_zero_gradient_step("sidp")
    assert not update.any()
    assert weight_std == pytest.approx(1.0 * CLIP * SIGMA / BATCH)  # but the weights were sampled
    update, weight_std = _update_of_a_zero_gradient_step("sidp_dp")
    assert update.std() == pytest.approx(SIGMA * CLIP / BATCH, rel=0.02)
    assert weight_std == pytest.approx(1.0 * CLIP * SIGMA / BATCH)


@pytest.fixture(scope="module")
def sidp_runs(tmp_path_factory):
    """A few steps of each SIDP method on real Fashion-MNIST."""
    runs = {}
    for method in ("sidp", "sidp_dp"):
        config = TrainConfig(
            model="tutorial_cnn_sidp",
            method=method,
            max_train_examples=1024,
            epochs=1,
            batch_size=256,
            learning_rate=0.5,
            l2_norm_clip=1.0,
            noise_multiplier=1.0,
            output_dir=str(tmp_path_factory.mktemp(method) / "run"),
        )
        runs[method] = training.run(config, command="pytest", verbose=0).card
    return runs


def test_sidp_is_labelled_nominal_with_dp_sgds_epsilon(sidp_runs):
    card = sidp_runs["sidp"]
    privacy = card["privacy"]
    assert card["training"]["method"] == "sidp"
    assert privacy["guarantee"] == "nominal"
    assert "no formal guarantee" in privacy["statement"] and "nominal guarantee" in privacy["statement"]
    want = accounting.epsilon(
        steps=privacy["steps"], n=1024, batch_size=256, noise_multiplier=1.0, delta=1e-5, sampling="poisson"
    )
    assert privacy["epsilon"] == pytest.approx(want)
    assert np.isfinite(card["results"]["test_accuracy"])


def test_sidp_dp_is_formal(sidp_runs):
    privacy = sidp_runs["sidp_dp"]["privacy"]
    assert privacy["guarantee"] == "formal" and "nominal" not in privacy["statement"]
    assert privacy["epsilon"] == pytest.approx(sidp_runs["sidp"]["privacy"]["epsilon"])


def test_sidp_needs_gaussian_weight_layers(tmp_path):
    config = TrainConfig(
        model="tutorial_cnn",
        method="sidp",
        max_train_examples=512,
        epochs=1,
        batch_size=128,
        noise_multiplier=1.0,
        output_dir=str(tmp_path / "run"),
    )
    with pytest.raises(
        UsageError, match="lenet5_sidp, lenet5_bn_sidp, tutorial_cnn_sidp, resnet18_sidp\\), bilstm or ln_bilstm"
    ):
        training.run(config, verbose=0)
    assert os.listdir(tmp_path) == []


def test_sidp_methods_need_the_dpzoo_engine():
    with pytest.raises(UsageError, match="needs engine='dpzoo'"):
        _config("sidp", engine="tf_privacy")
    with pytest.raises(UsageError, match="method='sgld'"):
        _config("sgld")
