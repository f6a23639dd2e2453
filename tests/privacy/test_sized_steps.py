"""The private train function traces one graph per padded batch size (dpzoo.privacy.sized_steps)."""

import numpy as np
import tensorflow as tf

from dpzoo.common import keras_api
from dpzoo.privacy import DPConfig, make_private, sized_steps
from tests.conftest import SPARSE_CE, digits_batch, tiny_cnn


def _private(seed: int = 0, patience: int | None = 0, **compile_kwargs):
    """A private tiny CNN whose train function gives sizes their own graph after ``patience``."""
    config = DPConfig(l2_norm_clip=1.0, noise_multiplier=0.5, expected_batch_size=32, seed=seed)
    model = make_private(tiny_cnn(seed=seed), config)
    model.compile(tf.keras.optimizers.SGD(0.5), loss=SPARSE_CE, **compile_kwargs)
    function = model.make_train_function()
    if isinstance(function, sized_steps.SizedTrainFunction):
        function.patience = patience
    return model


def _padded_batches(digits, sizes):
    """Real digits in padded batches of the given sizes (the last quarter of each is padding),
    with an unknown batch axis, as dpzoo's Poisson pipeline yields them."""
    batches, offset = [], 0
    for size in sizes:
        x, y = digits_batch(digits, size, offset)
        mask = (np.arange(size) < size - size // 4).astype(np.float32)
        batches.append((x, y, mask))
        offset += size
    spec = (
        tf.TensorSpec([None, 8, 8, 1], tf.float32),
        tf.TensorSpec([None], tf.int64),
        tf.TensorSpec([None], tf.float32),
    )
    return tf.data.Dataset.from_generator(lambda: iter(batches), output_signature=spec)


def test_each_batch_size_gets_its_own_graph_and_the_updates_of_keras_generic_one(digits):
    sizes = [24, 32, 24, 40, 32]
    sized = _private()
    generic = _private()
    tf.keras.Model.make_train_function(generic, force=True)  # Keras' own: one size-generic graph
    assert not isinstance(generic.train_function, sized_steps.SizedTrainFunction)
    for model in (sized, generic):
        model.fit(_padded_batches(digits, sizes), epochs=1, verbose=0)
    assert isinstance(sized.train_function, sized_steps.SizedTrainFunction)
    assert sized.train_function.sizes == {24, 32, 40}
    assert keras_api.train_steps_done(sized) == len(sizes) == int(sized.dp_steps.numpy())
    for a, b in zip(sized.inner.weights, generic.inner.weights, strict=True):
        np.testing.assert_allclose(a.numpy(), b.numpy(), rtol=1e-5, atol=1e-6)
    traces = sized.train_function._sized.experimental_get_tracing_count()
    assert traces <= 4  # one per size; the first call traces twice while the optimizer makes its variables
    sized.fit(_padded_batches(digits, sizes), epochs=1, verbose=0)
    assert sized.train_function._sized.experimental_get_tracing_count() == traces  # known sizes: no new trace


def test_sizes_beyond_the_cap_share_one_generic_graph(digits, monkeypatch):
    monkeypatch.setattr(sized_steps, "MAX_SIZED_TRACES", 2)
    model = _private()
    model.fit(_padded_batches(digits, [8, 16, 24, 32, 8, 40]), epochs=1, verbose=0)
    assert model.train_function.sizes == {8, 16}
    assert model.train_function._sized.experimental_get_tracing_count() <= 3
    assert model.train_function._generic.experimental_get_tracing_count() == 1  # relaxed from the start
    assert int(model.dp_steps.numpy()) == 6


def test_a_size_gets_its_own_graph_after_patience_generic_steps(digits):
    model = _private(patience=1)  # one size-generic step of a size is enough
    model.fit(_padded_batches(digits, [24, 32, 24, 40, 24]), epochs=1, verbose=0)
    assert model.train_function.sizes == {24}  # its second and third steps
    assert int(model.dp_steps.numpy()) == 5


def test_by_default_short_runs_of_small_models_do_not_trace_each_size(digits):
    model = _private(patience=None)  # PATIENCE_STEPS of a size before its own graph
    model.fit(_padded_batches(digits, [24, 32, 24, 40, 24, 32]), epochs=1, verbose=0)
    assert model.train_function.sizes == set()
    assert model.train_function._sized.experimental_get_tracing_count() == 0


def test_several_steps_per_execution_keep_keras_train_function(digits):
    model = _private(steps_per_execution=2)
    model.fit(_padded_batches(digits, [16, 24, 16, 24]), epochs=1, steps_per_epoch=4, verbose=0)
    assert not isinstance(model.train_function, sized_steps.SizedTrainFunction)
    assert int(model.dp_steps.numpy()) == 4
