"""AuxBatchNorm (Davody et al. 2020): statistics over the marked private and public rows, padding
left out; the engine appends the public batch, refuses private statistics on formal runs, and its
clipped sum equals a loop over single examples at the batch's statistics."""

import dataclasses
import os

import numpy as np
import pytest
import tensorflow as tf

import dpzoo
from dpzoo import data, training
from dpzoo.common.errors import UsageError
from dpzoo.layers.aux_batchnorm import AuxBatchNorm, append_public, marked_rows
from dpzoo.privacy import DPConfig
from dpzoo.training import TrainConfig
from tests.conftest import SPARSE_CE

N_PRIVATE, N_PUBLIC, N_PAD = 12, 5, 3


@pytest.fixture(scope="module")
def rows(fashion):
    """Real Fashion-MNIST images as a [rows, 28, 28, 1] batch: 12 private, 3 padding, 5 public
    (digits) and the row weights marking them."""
    private = fashion.x_train[: N_PRIVATE + N_PAD].astype(np.float32) / 255.0
    public, _ = data.public_auxiliary_batch((28, 28, 1), training_dataset="fashion_mnist", size=N_PUBLIC)
    mask = np.r_[np.ones(N_PRIVATE), np.zeros(N_PAD)].astype(np.float32)
    x, _, private_rows, public_rows = append_public(
        tf.constant(private), tf.zeros([N_PRIVATE + N_PAD], tf.int64), tf.constant(mask), public / 255.0
    )
    return x.numpy(), private_rows, public_rows


def _normalised(x, statistics, private_rows, public_rows):
    layer = AuxBatchNorm(statistics=statistics, epsilon=1e-3)
    with marked_rows(layer, private_rows, public_rows):
        return layer(tf.constant(x), training=True).numpy(), layer


@pytest.mark.parametrize("statistics", ["batch", "public"])
def test_statistics_are_those_of_the_marked_rows(rows, statistics):
    x, private_rows, public_rows = rows
    used = np.r_[np.arange(N_PRIVATE), N_PRIVATE + N_PAD + np.arange(N_PUBLIC)]
    if statistics == "public":
        used = used[N_PRIVATE:]
    mean, var = x[used].mean(), x[used].var()  # one channel
    out, layer = _normalised(x, statistics, private_rows, public_rows)
    np.testing.assert_allclose(out, (x - mean) / np.sqrt(var + 1e-3), rtol=1e-4, atol=1e-4)
    np.testing.assert_allclose(layer.moving_mean.numpy(), [0.01 * mean], rtol=1e-4)  # momentum 0.99 from 0
    assert not layer.trainable_weights  # no affine parameters


def _changed_rows(x, statistics, private_rows, public_rows, row):
    """Which rows' outputs change when one input row changes."""
    before, _ = _normalised(x, statistics, private_rows, public_rows)
    changed = x.copy()
    changed[row] = 1.0 - changed[row]
    after, _ = _normalised(changed, statistics, private_rows, public_rows)
    return {i for i in range(len(x)) if i != row and not np.allclose(before[i], after[i], atol=1e-6)}


def test_the_public_batch_enters_both_statistics_and_private_rows_only_batch_statistics(rows):
    x, private_rows, public_rows = rows
    first_public, first_pad = N_PRIVATE + N_PAD, N_PRIVATE
    for statistics in ("batch", "public"):  # a public image moves every private output
        assert set(range(N_PRIVATE)) <= _changed_rows(x, statistics, private_rows, public_rows, first_public)
        assert not _changed_rows(x, statistics, private_rows, public_rows, first_pad)  # padding never does
    assert _changed_rows(x, "batch", private_rows, public_rows, 0)  # the paper's layer couples examples
    assert not _changed_rows(x, "public", private_rows, public_rows, 0)  # the formal one does not


def test_outside_the_engine_inference_uses_moving_statistics(rows):
    x = rows[0]
    for statistics, in_training in (("batch", False), ("public", False), ("public", True)):
        layer = AuxBatchNorm(statistics=statistics)
        np.testing.assert_allclose(layer(x, training=in_training).numpy(), x / np.sqrt(1 + 1e-3), rtol=1e-5)
    out = AuxBatchNorm(statistics="batch")(x, training=True).numpy()  # plain batch statistics
    np.testing.assert_allclose(out, (x - x.mean()) / np.sqrt(x.var() + 1e-3), rtol=1e-4, atol=1e-4)
    with pytest.raises(ValueError, match="statistics='moving'"):
        AuxBatchNorm(statistics="moving")


def _bn_model(statistics: str) -> tf.keras.Model:
    """Conv - tanh - AuxBatchNorm - Dense: small enough for a loop over single examples."""
    tf.keras.utils.set_random_seed(0)
    inputs = tf.keras.Input((28, 28, 1))
    x = tf.keras.layers.Conv2D(4, 5, strides=4)(inputs)
    x = tf.keras.layers.Activation("tanh")(x)
    x = AuxBatchNorm(statistics=statistics)(x)
    x = tf.keras.layers.Flatten()(x)
    return tf.keras.Model(inputs, tf.keras.layers.Dense(10)(x))


@pytest.mark.parametrize("statistics", ["batch", "public"])
def test_clipped_sum_equals_a_loop_over_single_examples_at_the_batch_statistics(fashion, rows, statistics):
    x, private_rows, public_rows = rows
    labels = np.r_[fashion.y_train[: N_PRIVATE + N_PAD], np.zeros(N_PUBLIC, np.int64)]
    model = _bn_model(statistics)
    config = DPConfig(l2_norm_clip=0.5, noise_multiplier=0.0, expected_batch_size=N_PRIVATE, clipping="ghost")
    public = x[N_PRIVATE + N_PAD :]
    private = dpzoo.make_private(model, dataclasses.replace(config, private_batch_statistics=True), public_batch=public)
    private.compile(optimizer="sgd", loss=SPARSE_CE)
    with marked_rows(model, private_rows, public_rows):
        got, _ = private.private_gradients(tf.constant(x), tf.constant(labels), private_rows)
    want = [np.zeros(v.shape, np.float32) for v in model.trainable_variables]
    for i in range(N_PRIVATE):  # each example's own loss, the whole batch forwarded for the statistics
        with tf.GradientTape() as tape, marked_rows(model, private_rows, public_rows):
            loss = SPARSE_CE(labels[i : i + 1], model(x, training=True)[i : i + 1])
        grads = tape.gradient(loss, model.trainable_variables)
        norm = np.sqrt(sum(np.sum(g.numpy() ** 2) for g in grads))
        for total, g in zip(want, grads, strict=True):
            total += g.numpy() * min(1.0, 0.5 / norm) / N_PRIVATE
    for g, w in zip(got, want, strict=True):
        np.testing.assert_allclose(g.numpy(), w, rtol=1e-4, atol=1e-6)


def test_engine_refuses_private_statistics_on_formal_runs_and_needs_a_public_batch(rows):
    public = rows[0][-N_PUBLIC:]
    config = DPConfig(l2_norm_clip=1.0, noise_multiplier=1.0, expected_batch_size=8)
    with pytest.raises(UsageError, match="statistics='batch'.*formal guarantee.*public_batch.*method=sidp"):
        dpzoo.make_private(_bn_model("batch"), config, public_batch=public)
    dpzoo.make_private(_bn_model("public"), config, public_batch=public)  # the formal variant is fine
    with pytest.raises(UsageError, match="pass make_private\\(..., public_batch=images\\)"):
        dpzoo.make_private(_bn_model("public"), config)
    with pytest.raises(UsageError, match="no AuxBatchNorm"):
        dpzoo.make_private(
            tf.keras.Sequential([tf.keras.Input((3,)), tf.keras.layers.Dense(2)]), config, public_batch=public
        )
    with pytest.raises(UsageError, match="vectorised clipping would run them once per example"):
        dpzoo.make_private(_bn_model("public"), dataclasses.replace(config, clipping="vectorized"), public_batch=public)


@pytest.fixture(scope="module")
def bn_runs(tmp_path_factory):
    """A few steps of BN-LeNet-5 on real Fashion-MNIST: sidp with the paper's statistics, sidp_dp
    with public ones."""
    runs = {}
    for method, normalization in (("sidp", "aux_batch"), ("sidp_dp", "public_batch")):
        config = TrainConfig(
            model="lenet5_bn_sidp",
            model_kwargs={"normalization": normalization},
            method=method,
            max_train_examples=2048,
            epochs=1,
            batch_size=256,
            learning_rate=1.0,
            l2_norm_clip=1.0,
            noise_multiplier=1.0,
            output_dir=str(tmp_path_factory.mktemp(method) / "run"),
        )
        runs[method] = training.run(config, command="pytest", verbose=0)
    return runs


def test_bn_lenet5_trains_with_the_public_batch_and_exports_without_it(bn_runs, fashion):
    for method, guarantee in (("sidp", "nominal"), ("sidp_dp", "formal")):
        card = bn_runs[method].card
        assert card["privacy"]["guarantee"] == guarantee
        assert "30 scikit-learn digits" in card["dataset"]["public_auxiliary_batch"]
        assert card["results"]["test_accuracy"] > 0.3, method  # 8 steps from 10% chance
    served = tf.saved_model.load(os.path.join(bn_runs["sidp_dp"].output_dir, "saved_model"))
    outputs = served.signatures["serving_default"](tf.constant(fashion.x_test[:64] / 255.0, tf.float32))
    assert np.mean(outputs["classes"].numpy() == fashion.y_test[:64]) > 0.3  # moving statistics serve one image alone


def test_sidp_dp_refuses_the_papers_batchnorm(tmp_path):
    config = TrainConfig(
        model="lenet5_bn_sidp",
        method="sidp_dp",
        max_train_examples=512,
        epochs=1,
        batch_size=128,
        noise_multiplier=1.0,
        output_dir=str(tmp_path / "run"),
    )
    with pytest.raises(UsageError, match="statistics='batch'"):
        training.run(config, verbose=0)
    assert os.listdir(tmp_path) == []
