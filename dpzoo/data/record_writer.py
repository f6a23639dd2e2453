"""Writes image classification data as a tfds data set in ArrayRecord format, with
tensorflow-datasets' own writer, so that dpzoo.data.records (or any tfds user) can stream it:
arrays you hold (``write_arrays``) or examples made one at a time (``write_examples``)."""

from collections.abc import Callable, Iterable, Mapping

import numpy as np

Example = tuple[np.ndarray, int]  # (uint8 image [H, W, C], label)


def write_examples(
    data_dir: str,
    name: str,
    splits: Mapping[str, Callable[[], Iterable[Example]]],
    *,
    image_shape: tuple,
    num_classes: int,
    encoding: str = "png",
    version: str = "1.0.0",
) -> str:
    """Writes ``splits`` (split name -> a function returning its examples, in order) as tfds data
    set ``name`` under ``data_dir``; returns its folder (``data_dir/name/version``).

    Records keep their order (record i is the i-th example), so an index means the same example
    here and in memory. ``image_shape`` may hold None for images that vary in size; ``encoding``
    is "png" (lossless) or "jpeg".
    """
    import tensorflow_datasets as tfds  # heavy; only when writing

    features = tfds.features.FeaturesDict(
        {
            "image": tfds.features.Image(shape=tuple(image_shape), encoding_format=encoding),
            "label": tfds.features.ClassLabel(num_classes=num_classes),
        }
    )

    def keyed(make: Callable[[], Iterable[Example]]):
        for key, (image, label) in enumerate(make()):
            yield key, {"image": image, "label": int(label)}

    builder = tfds.dataset_builders.store_as_tfds_dataset(
        name=name,
        version=version,
        features=features,
        split_datasets={split: keyed(make) for split, make in splits.items()},
        data_dir=data_dir,
        file_format="array_record",
        disable_shuffling=True,
    )
    return str(builder.data_dir)


def write_arrays(data_dir: str, name: str, arrays: Mapping[str, tuple[np.ndarray, np.ndarray]], **kwargs) -> str:
    """``write_examples`` for in-memory splits: split name -> (uint8 images [N, H, W, C], labels [N])."""
    first_images = next(iter(arrays.values()))[0]
    num_classes = int(max(int(np.max(labels)) for _, labels in arrays.values())) + 1

    def examples(images: np.ndarray, labels: np.ndarray):
        return lambda: zip(images, labels, strict=True)

    splits = {split: examples(*pair) for split, pair in arrays.items()}
    kwargs.setdefault("num_classes", num_classes)
    return write_examples(data_dir, name, splits, image_shape=first_images.shape[1:], **kwargs)


def write_synthetic(
    data_dir: str, name: str, n_train: int, n_test: int, *, image_shape: tuple, num_classes: int, seed: int = 0
) -> str:
    """Random smooth images (upsampled 8x8 noise, so JPEG-encoded records have a realistic size)
    with random labels, written by ``write_examples``: for checking that a streamed config reads,
    decodes and trains where the real data is not at hand. Never a result.

    Images of an ImageNet-like ``image_shape`` ((H, W, C) with H >= 64) are JPEGs whose sides vary
    from 0.8 to 1.5 times the given ones, as ImageNet's do; smaller ones are PNGs of that size."""
    import tensorflow as tf

    height, width, channels = image_shape
    varying = height >= 64

    def examples(split_seed: int, count: int):
        def make():
            rng = np.random.default_rng([seed, split_seed])
            for _ in range(count):
                size = (rng.uniform(0.8, 1.5, 2) * (height, width)).astype(int) if varying else (height, width)
                coarse = rng.uniform(0, 255, (1, 8, 8, channels)).astype(np.float32)
                image = tf.image.resize(coarse, size, method="bilinear")[0].numpy()
                image += rng.normal(0, 8, image.shape)
                yield np.clip(image, 0, 255).astype(np.uint8), int(rng.integers(num_classes))

        return make

    shape = (None, None, channels) if varying else tuple(image_shape)
    splits = {"train": examples(0, n_train), "test": examples(1, n_test)}
    encoding = "jpeg" if varying else "png"
    return write_examples(data_dir, name, splits, image_shape=shape, num_classes=num_classes, encoding=encoding)
