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
