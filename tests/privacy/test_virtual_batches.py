"""Virtual batches (METHODS.md section 4): a logical step in chunks of P rows is the same DP-SGD step.

Without noise the update must equal the one-pass update for every P; with noise, the update
noise must be sigma*C/B once per logical step (a variant that adds noise per chunk is shown to
fail the same check); steps, the optimizer and callbacks count logical steps.
"""

import dataclasses

import numpy as np
import pytest
import tensorflow as tf

import dpzoo
from dpzoo.common.errors import UsageError
from dpzoo.data import pipeline, sampling
from dpzoo.layers import set_weight_noise_stddev
from dpzoo.privacy import PrivateModel, virtual_batches
from dpzoo.training import distribution
from tests.conftest import SPARSE_CE, digits_batch, tiny_cnn
from tests.privacy.test_private_model import gaussian_model

REALISED, EXPECTED_B = 13, 16  # a Poisson draw of 13 rows for B = 16; two of them masked out


def _batch(digits, augmult: int):
    x, y = digits_batch(digits, REALISED)
    if augmult == 2:
        x = np.stack([x, x[:, :, ::-1]], axis=1)
    mask = np.ones(REALISED, np.float32)
    mask[[3, 7]] = 0.0
    return x, y, mask


def step_update(model_fn, data, config: dpzoo.DPConfig, *, jit: bool = False, model_class=None):
    """(weights after minus before one fit step on ``data``, the private model)."""
    model = model_fn()
    before = [v.numpy().copy() for v in model.trainable_variables]
    private = model_class(model, config) if model_class else dpzoo.make_private(model, config)
    private.compile(optimizer=tf.keras.optimizers.SGD(1.0), loss=SPARSE_CE, jit_compile=jit)
    private.fit(tf.data.Dataset.from_tensors(data), epochs=1, verbose=0)
    return [v.numpy() - b for v, b in zip(model.trainable_variables, before, strict=True)], private


@pytest.mark.parametrize("clipping", ["vectorized", "ghost"])
@pytest.mark.parametrize("augmult", [1, 2])
def test_chunked_update_equals_the_one_pass_update(digits, clipping, augmult):
    """P = B, B/2, B/4 and 5 (which divides neither 13 nor 16), K views, masked rows, sigma = 0."""
    data = _batch(digits, augmult)
    config = dpzoo.DPConfig(
        l2_norm_clip=0.5, noise_multiplier=0.0, expected_batch_size=EXPECTED_B, augmult=augmult, clipping=clipping
    )
    one_pass, _ = step_update(tiny_cnn, data, config)
    assert all(np.abs(u).max() > 0 for u in one_pass)
    for rows in (EXPECTED_B, EXPECTED_B // 2, EXPECTED_B // 4, 5):
        chunked, private = step_update(tiny_cnn, data, dataclasses.replace(config, physical_batch_size=rows))
        assert type(private.train_function).__name__ == "ChunkedTrainFunction"
        assert int(private.dp_steps.numpy()) == 1
        for a, b in zip(one_pass, chunked, strict=True):
            np.testing.assert_allclose(b, a, rtol=1e-5, atol=1e-5 * np.abs(a).max())


def test_chunked_refined_clipping_equals_the_one_pass_update(digits):
    """ModelMix's refined clipping (L2, then every coordinate clamped) clamps each example before
    the sum, so chunks (which split the sum, never an example) give the same update."""
    data = _batch(digits, 1)
    config = dpzoo.DPConfig(
        l2_norm_clip=0.5, noise_multiplier=0.0, expected_batch_size=EXPECTED_B, clipping_norm="l2+linf", linf_p=100.0
    )
    one_pass, _ = step_update(tiny_cnn, data, config)
    chunked, _ = step_update(tiny_cnn, data, dataclasses.replace(config, physical_batch_size=5))
    for a, b in zip(one_pass, chunked, strict=True):
        np.testing.assert_allclose(b, a, rtol=1e-5, atol=1e-5 * np.abs(a).max())


def test_chunked_xla_step_equals_the_one_pass_step(digits):
    data = _batch(digits, 1)
    config = dpzoo.DPConfig(l2_norm_clip=0.5, noise_multiplier=0.0, expected_batch_size=EXPECTED_B, clipping="ghost")
    one_pass, _ = step_update(tiny_cnn, data, config)
    chunked, _ = step_update(tiny_cnn, data, dataclasses.replace(config, physical_batch_size=4), jit=True)
    for a, b in zip(one_pass, chunked, strict=True):
        np.testing.assert_allclose(b, a, rtol=1e-5, atol=1e-5 * np.abs(a).max())


class NoisePerChunk(PrivateModel):
    """The known bug: each chunk's sum gets the full noise, as if it were a step of its own."""

    def accumulate_chunk(self, data):
        x, y, mask = tf.keras.utils.unpack_x_y_sample_weight(data)
        summed, _ = self.clipped_sum(x, y, tf.cast(mask, tf.float32))
        noise = [self.noise_generator.normal(tf.shape(g), stddev=self.dp_config.noise_stddev) for g in summed]
        self._accumulation.add([g + n for g, n in zip(summed, noise, strict=True)])

    def apply_accumulated(self):
        self._apply([g / self.dp_config.expected_batch_size for g in self._accumulation.take()])
        return self.get_metrics_result()


def zero_gradient_noise_ratio(config: dpzoo.DPConfig, *, model_class=None, strategy=None) -> float:
    """The std of one SGD(lr=1) update with every gradient 0 (the loss ignores the model), over
    sigma*C/B: 1 for a correct step. 65,000 coordinates: the ratio's sd is 1/sqrt(2 * 65000) = 0.28%."""
    strategy = strategy or tf.distribute.get_strategy()
    with strategy.scope():
        tf.keras.utils.set_random_seed(0)
        model = tf.keras.Sequential([tf.keras.Input((64,)), tf.keras.layers.Dense(1000)])
        private = (model_class or PrivateModel)(model, config)
        private.compile(optimizer=tf.keras.optimizers.SGD(1.0), loss=lambda y, p: 0.0 * tf.reduce_sum(p, axis=-1))
    before = np.concatenate([v.numpy().ravel() for v in model.trainable_variables])
    rows = config.expected_batch_size
    x = np.random.default_rng(0).standard_normal((rows, 64)).astype(np.float32)
    private.fit(chunk_stream(x, np.zeros(rows), np.ones(rows, np.float32), config.physical_batch_size), verbose=0)
    update = np.concatenate([v.numpy().ravel() for v in model.trainable_variables]) - before
    return float(update.std() / (config.noise_stddev / config.expected_batch_size))


def chunk_stream(x, y, mask, rows: int | None) -> tf.data.Dataset:
    """One logical step as dpzoo.data.pipeline's chunk stream: (x, y, mask, chunks) of ``rows``
    rows each (the whole batch as one element without ``rows``)."""
    if not rows:
        return tf.data.Dataset.from_tensors((x, y, mask))
    count = -(-len(x) // rows)
    chunks = [
        (x[i : i + rows], y[i : i + rows], mask[i : i + rows], np.full(rows, count, np.int32))
        for i in range(0, len(x), rows)
    ]
    return tf.data.Dataset.from_tensor_slices(tuple(np.stack(parts) for parts in zip(*chunks, strict=True)))


NOISE_TOLERANCE = 0.02  # 7 sd of the ratio: a flake rate below 1e-11 (the seeds are fixed anyway)


def test_noise_is_added_once_per_logical_step_not_per_chunk():
    config = dpzoo.DPConfig(
        l2_norm_clip=3.0, noise_multiplier=2.0, expected_batch_size=32, seed=7, physical_batch_size=8
    )
    assert abs(zero_gradient_noise_ratio(config) - 1) < NOISE_TOLERANCE
    per_chunk = zero_gradient_noise_ratio(config, model_class=NoisePerChunk)  # 4 chunks: std x 2
    assert abs(per_chunk - 2.0) < 2 * NOISE_TOLERANCE
    assert abs(per_chunk - 1) > NOISE_TOLERANCE  # the check above catches it


class CountBatches(tf.keras.callbacks.Callback):
    def __init__(self) -> None:
        super().__init__()
        self.batches = 0

    def on_train_batch_end(self, batch, logs=None) -> None:
        self.batches += 1


def test_steps_optimizer_and_callbacks_count_logical_steps(digits):
    x, y = digits_batch(digits, 60)
    config = dpzoo.DPConfig(l2_norm_clip=1.0, noise_multiplier=1.0, expected_batch_size=20, physical_batch_size=8)
    private = dpzoo.make_private(tiny_cnn(), config)
    private.compile(optimizer=tf.keras.optimizers.SGD(0.1), loss=SPARSE_CE)
    counter = CountBatches()
    history = private.fit(x, y, batch_size=20, epochs=2, verbose=0, callbacks=[counter])  # 3 chunks per step
    assert counter.batches == 6
    assert int(private.dp_steps.numpy()) == 6
    assert int(private.optimizer.iterations.numpy()) == 6
    assert len(history.history["loss"]) == 2


def test_chunk_stream_gives_the_steps_of_the_whole_batch_pipeline(digits):
    """The trainer's input: a chunk stream of the same Poisson draws trains to the same weights."""
    n, batch = 400, 40
    x, y = digits.x_train[:n], digits.y_train[:n]
    preprocess = pipeline.Preprocessor((0.0,), (1.0,), standardize_channels=False)
    config = dpzoo.DPConfig(l2_norm_clip=0.5, noise_multiplier=0.0, expected_batch_size=batch)
    weights = {}
    for rows in (None, 16):
        sampler = sampling.PoissonSampler(n, batch, seed=3, pad_multiple=4)
        ds = pipeline.train_dataset(x, y, sampler, preprocess, steps=3, physical_batch_size=rows)
        model = tiny_cnn()
        private = dpzoo.make_private(model, dataclasses.replace(config, physical_batch_size=rows))
        private.compile(optimizer=tf.keras.optimizers.SGD(1.0), loss=SPARSE_CE)
        private.fit(ds, epochs=1, steps_per_epoch=3, verbose=0)
        assert int(private.dp_steps.numpy()) == 3
        weights[rows] = model.get_weights()
    for a, b in zip(weights[None], weights[16], strict=True):
        np.testing.assert_allclose(b, a, rtol=1e-5, atol=1e-6)


def test_a_long_step_runs_chunk_by_chunk_and_reports_its_progress(digits, monkeypatch):
    """7 chunks: the one-pass update, and a progress line after each chunk but the last (the
    report interval set to 0)."""
    monkeypatch.setattr(virtual_batches, "PROGRESS_EVERY_S", 0.0)
    lines = []  # absl's verbosity is whatever earlier tests left it at: record the calls instead
    monkeypatch.setattr(virtual_batches.logging, "info", lambda message, *args: lines.append(message % args))
    x, y = digits_batch(digits, 14)
    mask = np.ones(14, np.float32)
    config = dpzoo.DPConfig(l2_norm_clip=0.5, noise_multiplier=0.0, expected_batch_size=14)
    one_pass, _ = step_update(tiny_cnn, (x, y, mask), config)
    model = tiny_cnn()
    before = [v.numpy().copy() for v in model.trainable_variables]
    private = dpzoo.make_private(model, dataclasses.replace(config, physical_batch_size=2))
    private.compile(optimizer=tf.keras.optimizers.SGD(1.0), loss=SPARSE_CE)
    private.fit(chunk_stream(x, y, mask, 2), verbose=0)
    for a, v, b in zip(one_pass, model.trainable_variables, before, strict=True):
        np.testing.assert_allclose(v.numpy() - b, a, rtol=1e-5, atol=1e-5 * np.abs(a).max())
    assert lines == [f"logical step 1: {done} of 7 chunks" for done in range(2, 7)]


def test_chunk_stream_elements(digits):
    n, batch, rows = 300, 50, 16
    sampler = sampling.PoissonSampler(n, batch, seed=1, pad_multiple=4)
    draws = sampling.PoissonSampler(n, batch, seed=1, pad_multiple=4)
    preprocess = pipeline.Preprocessor((0.0,), (1.0,), standardize_channels=False)
    ds = pipeline.train_dataset(
        digits.x_train[:n], digits.y_train[:n], sampler, preprocess, steps=4, physical_batch_size=rows
    )
    elements = list(ds.as_numpy_iterator())
    start = 0
    for _ in range(4):
        indices, mask = draws.sample()
        chosen = indices[mask > 0]
        count = elements[start][3][0]
        assert count == max(1, -(-len(chosen) // rows))
        step = elements[start : start + count]
        assert all(e[0].shape[0] == rows and (e[3] == count).all() for e in step)
        labels = np.concatenate([e[1][e[2] > 0] for e in step])
        np.testing.assert_array_equal(labels, digits.y_train[:n][chosen])
        start += count
    assert start == len(elements)


def test_gaussian_layers_draw_their_weights_once_per_logical_step(digits, monkeypatch):
    """Chunks re-use the step's one draw of noisy weights: the update equals the one-pass update,
    and the generators end where one pass leaves them. Without the rewind (a draw per chunk) the
    update differs."""
    x, y = digits_batch(digits, 12)
    mask = np.ones(12, np.float32)
    config = dpzoo.DPConfig(l2_norm_clip=0.05, noise_multiplier=0.0, expected_batch_size=12, clipping="ghost")

    def noisy_model():
        tf.keras.utils.set_random_seed(0)
        model = gaussian_model()
        set_weight_noise_stddev(model, 0.05)
        return model

    one_pass, reference = step_update(noisy_model, (x, y, mask), config)
    chunked, private = step_update(noisy_model, (x, y, mask), dataclasses.replace(config, physical_batch_size=4))
    for a, b in zip(one_pass, chunked, strict=True):
        np.testing.assert_allclose(b, a, rtol=1e-5, atol=1e-6)
    states = [
        layer.noise_generator.state.numpy() for layer in reference.inner.layers if hasattr(layer, "noise_generator")
    ]
    chunked_states = [
        layer.noise_generator.state.numpy() for layer in private.inner.layers if hasattr(layer, "noise_generator")
    ]
    for a, b in zip(states, chunked_states, strict=True):
        np.testing.assert_array_equal(a, b)
    monkeypatch.setattr(virtual_batches.Accumulation, "same_weight_draw", lambda self: None)
    draw_per_chunk, _ = step_update(noisy_model, (x, y, mask), dataclasses.replace(config, physical_batch_size=4))
    assert max(np.abs(a - b).max() / np.abs(a).max() for a, b in zip(one_pass, draw_per_chunk, strict=True)) > 0.01


def test_several_steps_per_execution_are_refused():
    config = dpzoo.DPConfig(l2_norm_clip=1.0, noise_multiplier=1.0, expected_batch_size=8, physical_batch_size=4)
    private = dpzoo.make_private(tiny_cnn(), config)
    private.compile(optimizer="sgd", loss=SPARSE_CE, steps_per_execution=2)
    x = np.zeros((8, 8, 8, 1), np.float32)
    with pytest.raises(UsageError, match="steps_per_execution=1"):
        private.fit(x, np.zeros(8), batch_size=8, verbose=0)


def test_physical_batch_size_is_validated():
    with pytest.raises(UsageError, match="physical_batch_size=0"):
        dpzoo.DPConfig(l2_norm_clip=1.0, noise_multiplier=1.0, expected_batch_size=8, physical_batch_size=0)


@pytest.mark.parametrize("replicated", [False, True], ids=["one-device", "mirrored"])
def test_a_chunk_stream_that_ends_inside_a_step_is_refused_and_leaves_no_partial_sums(digits, replicated):
    x, y = digits_batch(digits, 16)
    strategy = distribution.make_strategy("mirrored")  # the process's one (see make_strategy)
    strategy = strategy if replicated else tf.distribute.get_strategy()
    with strategy.scope():
        config = dpzoo.DPConfig(l2_norm_clip=1.0, noise_multiplier=0.0, expected_batch_size=16, physical_batch_size=8)
        private = dpzoo.make_private(tiny_cnn(), config)
        private.compile(optimizer="sgd", loss=SPARSE_CE)
    chunk = lambda i: (x[i : i + 8], y[i : i + 8], np.ones(8, np.float32), np.full(8, 3, np.int32))  # says 3 chunks
    ds = tf.data.Dataset.from_tensor_slices(tuple(np.stack(p) for p in zip(chunk(0), chunk(8), strict=True)))
    with pytest.raises(UsageError, match="ended inside a logical step of 3 chunks"):
        private.fit(ds, verbose=0)
    for total in private._accumulation.sums:
        assert not np.any(total.numpy())
    assert int(private.dp_steps.numpy()) == 0
