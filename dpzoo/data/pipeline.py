"""tf.data pipelines: samplers' batches with masks, scaling, standardisation, augmentation.

Training batches come as (images, labels, mask); Keras passes the mask on as sample weights,
so padding rows of a Poisson batch weigh 0 in the loss and in every metric.
"""

import numpy as np
import tensorflow as tf

from dpzoo.common.errors import UsageError
from dpzoo.data.dataset import Dataset
from dpzoo.data.fixed_views import FixedViews
from dpzoo.data.records import RecordSplit

CHUNK_SEEDS = 1 << 20  # augmentation seeds per step: one per chunk


def scale(images: tf.Tensor) -> tf.Tensor:
    """uint8 pixels -> float32 in [0, 1]."""
    return tf.cast(images, tf.float32) / 255.0


def pad_crop_flip(images: tf.Tensor, pad: int = 4, seed: tf.Tensor | None = None) -> tf.Tensor:
    """Per image: reflect-pad by ``pad``, random crop back to size, random horizontal flip
    (``pad`` 0: flips only).

    Vectorised over the batch (one gather per axis), so K views of a large batch stay cheap.
    ``seed`` (int64 [2]) makes the draw a function of the seed alone (stateless ops), so a
    resumed run augments each step as the uninterrupted run did; None draws one.
    """
    if seed is None:
        seed = tf.random.uniform([2], maxval=2**31 - 1, dtype=tf.int64)
    top_seed, left_seed, flip_seed = tf.unstack(tf.random.experimental.stateless_split(seed, 3))
    shape = tf.shape(images)
    batch, height, width = shape[0], shape[1], shape[2]
    padded = tf.pad(images, [[0, 0], [pad, pad], [pad, pad], [0, 0]], mode="REFLECT")
    top = tf.random.stateless_uniform([batch], top_seed, 0, 2 * pad + 1, dtype=tf.int32)
    left = tf.random.stateless_uniform([batch], left_seed, 0, 2 * pad + 1, dtype=tf.int32)
    rows = top[:, None] + tf.range(height)[None, :]
    cols = left[:, None] + tf.range(width)[None, :]
    flip = tf.random.stateless_uniform([batch], flip_seed) < 0.5
    cols = tf.where(flip[:, None], tf.reverse(cols, axis=[1]), cols)
    crops = tf.gather(padded, rows, axis=1, batch_dims=1)
    return tf.gather(crops, cols, axis=2, batch_dims=1)


def augmented_views(images: tf.Tensor, augmult: int, pad: int = 4, seed: tf.Tensor | None = None) -> tf.Tensor:
    """[b, H, W, C] -> [b, augmult, H, W, C]: ``augmult`` independent pad-crop-flip views of
    each image (augmentation multiplicity, De et al. 2022)."""
    tiled = tf.repeat(images, augmult, axis=0)
    views = pad_crop_flip(tiled, pad, seed)
    return tf.reshape(views, tf.concat([[-1, augmult], tf.shape(images)[1:]], axis=0))


class Preprocessor:
    """Turns uint8 images into model inputs: scale to [0, 1], then optionally standardise."""

    dtype = tf.float32  # of the serving signature's input: pixels in [0, 1]

    def __init__(self, mean: tuple[float, ...], std: tuple[float, ...], *, standardize_channels: bool = True) -> None:
        self.mean, self.std = tuple(mean), tuple(std)
        self.standardize_channels = standardize_channels

    @classmethod
    def for_dataset(cls, dataset: Dataset, *, standardize_channels: bool = True) -> "Preprocessor | TokenInputs":
        """With the dataset's published channel statistics; token ids pass through."""
        if dataset.is_text:
            return TokenInputs()
        return cls(*dataset.channel_stats, standardize_channels=standardize_channels)

    def from_unit_range(self, images: tf.Tensor) -> tf.Tensor:
        """[0, 1] float pixels -> model input (used by the serving signature too)."""
        images = tf.cast(images, tf.float32)
        if not self.standardize_channels:
            return images
        return (images - tf.constant(self.mean, tf.float32)) / tf.constant(self.std, tf.float32)

    def __call__(self, images: tf.Tensor) -> tf.Tensor:
        return self.from_unit_range(scale(images))


class TokenInputs:
    """Text: token ids are the model's inputs as they are (int32), in training and in serving."""

    dtype = tf.int32

    def from_unit_range(self, tokens: tf.Tensor) -> tf.Tensor:
        return tf.cast(tokens, tf.int32)

    __call__ = from_unit_range


def chunks_in_step(real_rows: int, rows: int) -> int:
    """How many chunks of ``rows`` a step of ``real_rows`` examples streams as (at least one)."""
    return max(1, -(-real_rows // rows))


def train_dataset(
    x,
    y: np.ndarray,
    sampler,
    preprocess: Preprocessor,
    *,
    steps: int,
    start_step: int = 0,
    augment: bool = False,
    augmult: int = 1,
    crop_padding: int = 4,
    views: FixedViews | None = None,
    physical_batch_size: int | None = None,
    seed: int = 0,
) -> tf.data.Dataset:
    """Steps ``start_step`` to ``start_step + steps - 1`` as drawn by ``sampler``, each
    (inputs, labels, mask).

    ``x`` is an array, or a ``RecordSplit`` (dpzoo.data.records) whose records each step reads
    by index and decodes in parallel tf.data ops, ahead of training (``y`` is then unused). Step t's batch and augmentation depend on (``seed``, t) alone, so a
    run resumed at ``start_step`` sees what the uninterrupted run saw.

    With ``augmult`` K > 1 (needs ``augment``) the inputs are [b, K, H, W, C]: K augmented views
    per example, which the private engine averages inside each example's loss. With ``views``
    (dpzoo.data.fixed_views) they are [b, K, H, W, C]: each image, then its fixed views.

    With ``physical_batch_size`` P, each step comes as a chunk stream
    (dpzoo.privacy.virtual_batches): its sampled examples in chunks of P rows, the last padded
    with mask-0 rows, each element (inputs, labels, mask, chunks), ``chunks`` the number of
    elements of the step on every row. Chunks are gathered, preprocessed and augmented one at a
    time, so a step's K views never all exist at once.
    """
    if augmult > 1 and not augment:
        raise UsageError(f"augmult={augmult} needs augment=True: un-augmented views are identical copies.")
    end = start_step + steps
    streamed = isinstance(x, RecordSplit)  # yields serialized records, decoded in parallel below

    def fetch(indices: np.ndarray) -> tuple:
        return x.serialized(indices) if streamed else (x[indices], y[indices])

    def augmentation_seed(step: int, chunk: int = 0) -> np.ndarray:
        return np.array([seed, step * CHUNK_SEEDS + chunk], np.int64)

    def batches():
        for step in range(start_step, end):
            indices, mask = sampler.batch(step)
            yield *fetch(indices), mask, augmentation_seed(step)

    def chunk_stream():
        rows = physical_batch_size
        for step in range(start_step, end):
            indices, mask = sampler.batch(step)
            chosen = indices[mask > 0]
            count = chunks_in_step(len(chosen), rows)
            for chunk, begin in enumerate(range(0, count * rows, rows)):
                part = chosen[begin : begin + rows]
                padded = np.zeros(rows, np.int64)
                padded[: len(part)] = part
                chunk_mask = (np.arange(rows) < len(part)).astype(np.float32)
                counts = np.full(rows, count, np.int32)
                yield *fetch(padded), chunk_mask, counts, augmentation_seed(step, chunk)

    if streamed:  # records, each row's position among them
        spec = (tf.TensorSpec((None,), tf.string), tf.TensorSpec((None,), tf.int64))
    else:  # images, labels
        spec = (tf.TensorSpec((None, *x.shape[1:]), tf.as_dtype(x.dtype)), tf.TensorSpec((None,), tf.int64))
    spec = (*spec, tf.TensorSpec((None,), tf.float32))
    seed_spec = tf.TensorSpec((2,), tf.int64)

    def prepare(first, second, mask, *rest):
        *chunks, element_seed = rest
        images, labels = x.decode(first, second) if streamed else (first, second)
        images = preprocess(images)
        if augmult > 1:
            images = augmented_views(images, augmult, crop_padding, element_seed)
        elif augment:
            images = pad_crop_flip(images, crop_padding, element_seed)
        elif views is not None and views.count > 1:
            images = views.stacked(images)
        return (images, labels, mask, *chunks)

    if physical_batch_size:
        spec = (*spec, tf.TensorSpec((None,), tf.int32), seed_spec)
        ds = tf.data.Dataset.from_generator(chunk_stream, output_signature=spec)
    else:
        ds = tf.data.Dataset.from_generator(batches, output_signature=(*spec, seed_spec))
        ds = ds.apply(tf.data.experimental.assert_cardinality(steps))
    options = tf.data.Options()
    # under tf.distribute every worker draws the same global batches; each keeps its replicas' rows
    options.experimental_distribute.auto_shard_policy = tf.data.experimental.AutoShardPolicy.DATA
    ds = ds.with_options(options)
    return ds.map(prepare, num_parallel_calls=tf.data.AUTOTUNE, deterministic=True).prefetch(2)


def eval_dataset(x, y, preprocess: Preprocessor, batch_size: int = 1000) -> tf.data.Dataset:
    """The whole set in order, in batches, as (inputs, labels); a ``RecordSplit`` is read batch by
    batch, in parallel."""
    if isinstance(x, RecordSplit):
        batches = lambda: (
            x.serialized(np.arange(i, min(i + batch_size, len(x)))) for i in range(0, len(x), batch_size)
        )
        spec = (tf.TensorSpec((None,), tf.string), tf.TensorSpec((None,), tf.int64))
        ds = tf.data.Dataset.from_generator(batches, output_signature=spec)
        ds = ds.map(x.decode, num_parallel_calls=tf.data.AUTOTUNE, deterministic=True)
    else:
        ds = tf.data.Dataset.from_tensor_slices((x, y)).batch(batch_size)
    return ds.map(lambda a, b: (preprocess(a), b)).prefetch(2)
