"""tf.data pipelines: samplers' batches with masks, scaling, standardisation, augmentation.

Training batches come as (images, labels, mask); Keras passes the mask on as sample weights,
so padding rows of a Poisson batch weigh 0 in the loss and in every metric.
"""

import numpy as np
import tensorflow as tf

from dpzoo.data import Dataset


def scale(images: tf.Tensor) -> tf.Tensor:
    """uint8 pixels -> float32 in [0, 1]."""
    return tf.cast(images, tf.float32) / 255.0


def pad_crop_flip(images: tf.Tensor, pad: int = 4) -> tf.Tensor:
    """Per image: reflect-pad by ``pad``, random crop back to size, random horizontal flip."""
    shape = tf.shape(images)
    padded = tf.pad(images, [[0, 0], [pad, pad], [pad, pad], [0, 0]], mode="REFLECT")
    crops = tf.map_fn(lambda image: tf.image.random_crop(image, shape[1:]), padded, fn_output_signature=images.dtype)
    return tf.image.random_flip_left_right(crops)


class Preprocessor:
    """Turns uint8 images into model inputs: scale to [0, 1], then optionally standardise."""

    def __init__(self, mean: tuple[float, ...], std: tuple[float, ...], *, standardize_channels: bool = True) -> None:
        self.mean, self.std = tuple(mean), tuple(std)
        self.standardize_channels = standardize_channels

    @classmethod
    def for_dataset(cls, dataset: Dataset, *, standardize_channels: bool = True) -> "Preprocessor":
        """With the dataset's published channel statistics."""
        return cls(*dataset.channel_stats, standardize_channels=standardize_channels)

    def from_unit_range(self, images: tf.Tensor) -> tf.Tensor:
        """[0, 1] float pixels -> model input (used by the serving signature too)."""
        images = tf.cast(images, tf.float32)
        if not self.standardize_channels:
            return images
        return (images - tf.constant(self.mean, tf.float32)) / tf.constant(self.std, tf.float32)

    def __call__(self, images: tf.Tensor) -> tf.Tensor:
        return self.from_unit_range(scale(images))


def train_dataset(
    x: np.ndarray,
    y: np.ndarray,
    sampler,
    preprocess: Preprocessor,
    *,
    steps: int,
    augment: bool = False,
) -> tf.data.Dataset:
    """``steps`` batches drawn by ``sampler``, each (inputs, labels, mask)."""

    def batches():
        for _ in range(steps):
            indices, mask = sampler.sample()
            yield x[indices], y[indices], mask

    spec = (
        tf.TensorSpec((None, *x.shape[1:]), tf.uint8),
        tf.TensorSpec((None,), tf.int64),
        tf.TensorSpec((None,), tf.float32),
    )

    def prepare(images, labels, mask):
        images = preprocess(images)
        if augment:
            images = pad_crop_flip(images)
        return images, labels, mask

    ds = tf.data.Dataset.from_generator(batches, output_signature=spec)
    ds = ds.map(prepare, num_parallel_calls=tf.data.AUTOTUNE)
    return ds.apply(tf.data.experimental.assert_cardinality(steps)).prefetch(2)


def eval_dataset(x: np.ndarray, y: np.ndarray, preprocess: Preprocessor, batch_size: int = 1000) -> tf.data.Dataset:
    """The whole set in order, in batches, as (inputs, labels)."""
    ds = tf.data.Dataset.from_tensor_slices((x, y)).batch(batch_size)
    return ds.map(lambda a, b: (preprocess(a), b)).prefetch(2)
