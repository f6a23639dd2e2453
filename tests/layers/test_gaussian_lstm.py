"""GaussianLSTM and the BiLSTM text models on real text (Debian package descriptions): the plain
cell is Keras' LSTM, weights are sampled once per call with std s, and ghost clipping's
per-example norms and clipped sum match a loop over single examples at the sampled weights."""

import os

import numpy as np
import pytest
import tensorflow as tf

from dpzoo import models, training
from dpzoo.common.errors import UsageError
from dpzoo.data.text_corpora import SECTIONS, TOOL_SECTIONS, load_debian_descriptions, token_ids
from dpzoo.layers import GaussianLSTM, set_weight_noise_stddev
from dpzoo.privacy.clipping import ghost
from dpzoo.privacy.clipping.norms.gaussian_lstm import gaussian_lstm_sqnorms
from dpzoo.training import TrainConfig
from tests.conftest import op_types


@pytest.fixture(scope="module")
def descriptions():
    return load_debian_descriptions()


def test_the_corpus_is_real_labelled_text(descriptions):
    assert len(descriptions.x_train) > 3000 and len(descriptions.x_test) > 500
    assert set(np.unique(descriptions.y_train)) == set(range(len(SECTIONS)))
    assert descriptions.x_train.shape[1:] == (16,) and (descriptions.x_train[:, 0] > 0).all()  # no empty text
    assert (token_ids("Real-time strategy game") == token_ids("real time STRATEGY game!")).all()
    assert token_ids("a b", length=4)[2:].tolist() == [0, 0]


def test_the_second_debian_task_is_other_sections_of_other_packages(descriptions):
    """debian_tools, the stand-in private task of fine-tuning: six other sections, so other packages."""
    tools = load_debian_descriptions(sections=TOOL_SECTIONS, name="debian_tools")
    assert not set(TOOL_SECTIONS) & set(SECTIONS)
    assert len(tools.x_train) > 1000 and set(np.unique(tools.y_train)) == set(range(len(TOOL_SECTIONS)))
    seen = {row.tobytes() for row in descriptions.x_train}
    shared = sum(row.tobytes() in seen for row in tools.x_train)  # the same 16 tokens: a shared stock phrase
    assert shared < 0.02 * len(tools.x_train)


def _vectors(descriptions, n=6, dim=5):
    """Word vectors of real descriptions: a fixed random table looked up at their token ids."""
    table = np.random.default_rng(0).normal(size=(8192, dim)).astype(np.float32)
    return table[descriptions.x_train[:n, :7]]


@pytest.mark.parametrize("backwards", [False, True])
def test_the_plain_cell_is_keras_lstm(descriptions, backwards):
    x = _vectors(descriptions)
    ours = GaussianLSTM(4, go_backwards=backwards, return_sequences=True)
    out = ours(x, training=True).numpy()  # s = 0: the clean weights
    keras = tf.keras.layers.LSTM(4, go_backwards=backwards, return_sequences=True)
    keras(x)
    keras.set_weights([ours.kernel.numpy(), ours.recurrent_kernel.numpy(), ours.bias.numpy()])
    np.testing.assert_allclose(out, keras(x).numpy(), rtol=1e-5, atol=1e-6)


def test_weights_are_sampled_once_per_call_with_std_s(descriptions):
    x = _vectors(descriptions, dim=50)
    layer = GaussianLSTM(64, layer_norm=True, seed=3)
    layer(x)
    set_weight_noise_stddev(layer, 0.05)
    first = layer(x, training=True).numpy()
    drawn = layer.last_weights[0].numpy() - layer.kernel.numpy()  # 50 x 256 = 12,800 draws
    assert abs(drawn.mean()) < 5 * 0.05 / np.sqrt(drawn.size)
    assert drawn.std() == pytest.approx(0.05, rel=5 / np.sqrt(2 * drawn.size))
    assert not np.allclose(first, layer(x, training=True).numpy())  # fresh at each call
    np.testing.assert_array_equal(layer(x).numpy(), layer(x).numpy())  # inference: clean weights
    np.testing.assert_array_equal(layer(x).numpy(), layer.run(tf.constant(x), layer.cell_weights).numpy())


@pytest.mark.parametrize("layer_norm", [False, True])
def test_per_example_norms_at_the_sampled_weights_equal_a_loop(descriptions, layer_norm):
    x = tf.constant(_vectors(descriptions))
    layer = GaussianLSTM(4, layer_norm=layer_norm, seed=1)
    layer(x)
    set_weight_noise_stddev(layer, 0.3)
    out = layer(x, training=True)
    g = tf.constant(np.random.default_rng(1).normal(size=out.shape), tf.float32)
    result = gaussian_lstm_sqnorms(layer, x, g)
    for i in range(len(x)):
        weights = [tf.identity(w) for w in layer.last_weights]
        with tf.GradientTape() as tape:
            tape.watch(weights)
            objective = tf.reduce_sum(layer.run(x[i : i + 1], weights) * g[i : i + 1])
        grads = tape.gradient(objective, weights)
        assert float(result.sqnorms[i]) == pytest.approx(sum(float(tf.reduce_sum(w**2)) for w in grads), rel=1e-4)
        for (_, per_example), want in zip(result.per_example, grads, strict=True):
            # float32 through layer norm: rounding of ~1e-5 of the largest entry (6e-6 seen on 0.78)
            scale = float(tf.reduce_max(tf.abs(want)))
            np.testing.assert_allclose(per_example[i].numpy(), want.numpy(), rtol=1e-4, atol=1e-4 * scale)


@pytest.mark.parametrize("name", ["bilstm", "ln_bilstm"])
def test_ghost_clipped_sum_of_the_bilstm_equals_a_loop_over_single_examples(descriptions, name, float64_keras):
    """At s = 0 (plain weights); real descriptions, one padded row (mask 0). In float64: in
    float32 on TF 2.21, the LN-BiLSTM's per-example gradients through a batch of 6 and through a
    batch of 1 differ by 3e-4 relative (norm 2168.22 against 2168.92; float64: 2168.86 both
    ways), and ghost clipping's norm equals the batched one to 7 digits: kernel rounding of
    the batched pass, not the ghost maths, which float64 checks to 1e-9."""
    tf.keras.utils.set_random_seed(0)
    model = models.get(name, trainable_embedding=True, embedding_dim=8, hidden=4)
    x, y = tf.constant(descriptions.x_train[:6]), tf.constant(descriptions.y_train[:6])
    mask = tf.constant([1, 1, 1, 1, 1, 0], tf.float64)
    variables = model.trainable_variables
    assert all(tf.as_dtype(v.dtype) == tf.float64 for v in variables)
    loss_fn = tf.keras.losses.SparseCategoricalCrossentropy(from_logits=True)  # a float64 loss
    got, norms, _ = ghost.GhostClipper(model).clipped_sum(loss_fn.call, x, y, mask, 0.1, variables)
    want = [np.zeros(v.shape, np.float64) for v in variables]
    for i in range(6):
        with tf.GradientTape() as tape:
            loss = loss_fn(y[i : i + 1], model(x[i : i + 1], training=True))
        grads = [tf.convert_to_tensor(g).numpy() for g in tape.gradient(loss, variables)]
        norm = np.sqrt(sum(np.sum(g**2) for g in grads))
        assert float(norms[i]) == pytest.approx(norm, rel=1e-9)
        for total, g in zip(want, grads, strict=True):
            total += g * min(1.0, 0.1 / norm) * float(mask[i])
    for a, b in zip(got, want, strict=True):
        np.testing.assert_allclose(tf.convert_to_tensor(a).numpy(), b, rtol=1e-9, atol=1e-12 * np.abs(b).max())


@pytest.fixture(scope="module")
def text_run(tmp_path_factory):
    """The LN-BiLSTM on real package descriptions, end to end, with sidp (3 epochs: 49% here)."""
    config = TrainConfig(
        model="ln_bilstm",
        dataset="debian_descriptions",
        method="sidp",
        epochs=3,
        batch_size=256,
        learning_rate=1.0,
        optimizer="momentum",
        l2_norm_clip=1.0,
        noise_multiplier=1.0,
        output_dir=str(tmp_path_factory.mktemp("text") / "run"),
    )
    return training.run(config, command="pytest", verbose=0)


def test_the_text_path_trains_labels_and_serves_token_ids(text_run, descriptions):
    """Six sections, chance about 21% (the largest class); a few noisy epochs must beat it clearly."""
    card = text_run.card
    assert card["privacy"]["guarantee"] == "nominal" and card["training"]["method"] == "sidp"
    assert card["dataset"]["name"] == "debian_descriptions" and card["dataset"]["channel_mean"] is None
    assert card["results"]["test_accuracy"] > 0.35
    served = tf.saved_model.load(os.path.join(text_run.output_dir, "saved_model"))
    ops = op_types(served.signatures["serving_default"].graph.as_graph_def())
    assert "MatMul" in ops and not {op for op in ops if "Random" in op or "Rng" in op}  # no weight noise served
    outputs = served.signatures["serving_default"](tokens=tf.constant(descriptions.x_test[:200]))
    assert np.mean(outputs["classes"].numpy() == descriptions.y_test[:200]) > 0.35


@pytest.mark.parametrize("views", [dict(augment=True), dict(mirror_views=True), dict(shift_views=1)])
def test_augmenting_text_is_refused(tmp_path, views):
    config = TrainConfig(
        model="bilstm",
        dataset="debian_descriptions",
        noise_multiplier=1.0,
        output_dir=str(tmp_path / "run"),
        **views,
    )
    with pytest.raises(UsageError, match="augment, mirror_views and shift_views are for images"):
        training.run(config, verbose=0)


def test_gaussian_lstm_round_trips_through_its_config(descriptions):
    layer = GaussianLSTM(4, layer_norm=True, go_backwards=True, return_sequences=True, seed=7, inference_noise=True)
    x = _vectors(descriptions)
    layer(x)
    copy = GaussianLSTM.from_config(layer.get_config())
    copy(x)
    copy.set_weights(layer.get_weights())
    assert copy.get_config() == layer.get_config()
    np.testing.assert_allclose(
        copy.run(tf.constant(x), copy.cell_weights), layer.run(tf.constant(x), layer.cell_weights)
    )
