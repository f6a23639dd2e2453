"""The tf.data pipeline: scaling, standardisation and pad-crop-flip augmentation on real images."""

import numpy as np
import tensorflow as tf

from dpzoo.data import pipeline, sampling


def test_augmented_image_is_a_crop_of_the_reflect_padded_image(fashion):
    images = tf.constant(fashion.x_train[:4].astype(np.float32) / 255.0)
    tf.random.set_seed(0)
    out = pipeline.pad_crop_flip(images).numpy()
    assert out.shape == images.shape
    padded = np.pad(images.numpy(), [(0, 0), (4, 4), (4, 4), (0, 0)], mode="reflect")
    for i in range(4):
        candidates = [padded[i], padded[i, :, ::-1]]
        found = any(
            np.allclose(c[dy : dy + 28, dx : dx + 28], out[i]) for c in candidates for dy in range(9) for dx in range(9)
        )
        assert found, i


def test_train_batches_are_standardised_and_masked(fashion):
    pre = pipeline.Preprocessor.for_dataset(fashion)
    sampler = sampling.PoissonSampler(len(fashion.x_train), 256, seed=0)
    images, labels, mask = next(iter(pipeline.train_dataset(fashion.x_train, fashion.y_train, sampler, pre, steps=1)))
    assert images.shape[0] == labels.shape[0] == mask.shape[0] == sampler.pad_to
    real = images.numpy()[mask.numpy() == 1]
    assert abs(real.mean()) < 0.1 and abs(real.std() - 1) < 0.1  # published constants standardise the data


def test_a_pipeline_started_at_step_t_yields_the_full_pipeline_s_steps_from_t(fashion):
    """Augmentation is stateless, seeded by (seed, step, chunk): a resumed run sees the same views."""
    pre = pipeline.Preprocessor.for_dataset(fashion)
    sampler = sampling.PoissonSampler(len(fashion.x_train), 64, seed=0)
    kwargs = dict(augment=True, augmult=2, physical_batch_size=40, seed=7)
    full = list(pipeline.train_dataset(fashion.x_train, fashion.y_train, sampler, pre, steps=4, **kwargs))
    later = list(
        pipeline.train_dataset(fashion.x_train, fashion.y_train, sampler, pre, steps=2, start_step=2, **kwargs)
    )
    assert 0 < len(later) < len(full)  # steps 2 and 3: the full pipeline's last elements
    for got, want in zip(later, full[len(full) - len(later) :], strict=True):
        for a, b in zip(got, want, strict=True):
            np.testing.assert_array_equal(a.numpy(), b.numpy())
    views = later[0][0].numpy()
    assert views.shape[1] == 2 and not np.array_equal(views[:, 0], views[:, 1])  # two different views
