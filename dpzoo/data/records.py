"""Data sets larger than memory: tensorflow-datasets' ArrayRecord files, read by index.

Poisson sampling needs random access (METHODS.md section 4): each step draws its included
indices (dpzoo.data.sampling), then reads exactly those records. Reading a shuffled stream in
order and calling its batches Poisson would break the accountant's assumption. A
``RecordSplit`` is one split of a prepared tfds data set in ArrayRecord format: the tf.data
pipeline (dpzoo.data.pipeline) reads a step's serialized records where it draws the step, then
parses, decodes and resizes them in parallel TensorFlow ops, so host memory holds a few steps'
records, whatever the number of records N. (Reading stays out of ``tf.numpy_function`` inside
parallel maps: when such a read fails, TensorFlow 2.15 deadlocks tearing the iterator down.)

Where the data comes from:
* ``--dataset=imagenet2012``: tfds's ``imagenet2012``, prepared by the user in ArrayRecord format
  (``tfds build imagenet2012 --file_format=array_record --manual_dir=<the ILSVRC2012 tars>``),
  under ``--data_dir`` or tfds's own data folder;
* ``--dataset=tfds:NAME``: any tfds image classification data set prepared in that format
  (``dpzoo.data.record_writer`` writes in-memory arrays so).
"""

import contextlib
import copy
import glob
import json
import os

import numpy as np
import tensorflow as tf

from dpzoo.common.errors import DataNotFoundError, UsageError
from dpzoo.data.dataset import SPECS, Dataset

TFDS_PREFIX = "tfds:"
UNREADABLE = "[dpzoo records]"  # marks a read failure inside tf.data, to be told apart from others
STREAMED = ("imagenet2012",)  # too large for memory: always read from ArrayRecord files
TEST_SPLITS = ("test", "validation")  # the first a data set has is its test split
DECODE_PARALLELISM = 16  # records of a batch decoded at once
PREPARE_HINT = (
    "prepare it in ArrayRecord format (tfds build {name} --file_format=array_record, or "
    "dpzoo.data.record_writer.write_arrays for arrays you have) and pass its folder as --data_dir"
)


def is_streamed(name: str) -> bool:
    """Whether dataset ``name`` is read from ArrayRecord files rather than held in memory."""
    return name.startswith(TFDS_PREFIX) or name in STREAMED


def tfds_name(name: str) -> str:
    """``tfds:NAME`` -> ``NAME``; other names are tfds's own."""
    return name[len(TFDS_PREFIX) :] if name.startswith(TFDS_PREFIX) else name


def find_prepared(name: str, data_dir: str | None) -> str:
    """The folder of the newest prepared version of tfds data set ``name`` (the one holding its
    dataset_info.json) under ``data_dir`` (or tfds's data folder); ``data_dir`` may be that folder."""
    root = data_dir or os.environ.get("TFDS_DATA_DIR", os.path.expanduser("~/tensorflow_datasets"))
    if os.path.isfile(os.path.join(root, "dataset_info.json")):
        return root
    found = glob.glob(os.path.join(root, name, "*", "dataset_info.json"))
    found += glob.glob(os.path.join(root, name, "*", "*", "dataset_info.json"))
    if not found:
        raise DataNotFoundError(
            f"No prepared tfds data set {name!r} under {root} (looked for {name}/<version>/dataset_info.json); "
            + PREPARE_HINT.format(name=name)
            + "."
        )
    return os.path.dirname(max(found, key=_version_key))


def _version_key(path: str) -> tuple:
    version = os.path.basename(os.path.dirname(path))
    return tuple(int(p) if p.isdigit() else -1 for p in version.split(".")), path


def load(name: str, data_dir: str | None = None) -> Dataset:
    """A ``Dataset`` whose splits are ``RecordSplit``s of the prepared tfds data set ``name``
    (``imagenet2012`` or ``tfds:NAME``). UsageError when it is missing, damaged, not in ArrayRecord
    format or not an image classification set."""
    import tensorflow_datasets as tfds  # heavy; only when streaming

    folder = find_prepared(tfds_name(name), data_dir)
    from google.protobuf.json_format import ParseError

    try:
        builder = tfds.builder_from_directory(folder)
        info = builder.info
    except (OSError, ValueError, KeyError, TypeError, json.JSONDecodeError, ParseError) as e:
        raise UsageError(f"{folder}: not a readable tfds data set ({type(e).__name__}: {e}); prepare it again.") from e
    if info.file_format is None or info.file_format.value != "array_record":
        raise UsageError(
            f"{folder} holds {info.file_format.value if info.file_format else 'unknown'} files; dpzoo streams only "
            f"ArrayRecord (random access, for Poisson sampling): {PREPARE_HINT.format(name=tfds_name(name))}."
        )
    image_key, label_key = _supervised_keys(info, folder)
    known = tfds_name(name) if tfds_name(name) in SPECS else None
    image_shape = _image_shape(info.features[image_key], known, folder)
    test_split = next((s for s in TEST_SPLITS if s in info.splits), None)
    if "train" not in info.splits or test_split is None:
        raise UsageError(
            f"{folder}: needs a 'train' split and a 'test' or 'validation' split; has {list(info.splits)}."
        )
    splits = {
        split: RecordSplit(RecordFiles.of_split(info, split), info.features, image_key, label_key, image_shape, folder)
        for split in ("train", test_split)
    }
    for split in splits.values():
        split.check_readable()
    train, test = splits["train"], splits[test_split]
    source = f"tfds ArrayRecord {folder} (train, {test_split}), streamed"
    num_classes = info.features[label_key].num_classes
    return Dataset(known or name, train, train.labels, test, test.labels, num_classes, source)


def _supervised_keys(info, folder: str) -> tuple[str, str]:
    import tensorflow_datasets as tfds

    keys = info.supervised_keys or ("image", "label")
    image_key, label_key = keys[0], keys[1]
    features = info.features
    kinds = (tfds.features.Image, tfds.features.ClassLabel)
    if not all(key in features and isinstance(features[key], kind) for key, kind in zip(keys[:2], kinds, strict=True)):
        raise UsageError(
            f"{folder}: dpzoo streams image classification data (an Image and a ClassLabel feature as its "
            f"supervised keys); its features are {dict((k, type(v).__name__) for k, v in features.items())}."
        )
    return image_key, label_key


def _image_shape(feature, known: str | None, folder: str) -> tuple[int, int, int]:
    shape = tuple(feature.shape)
    if len(shape) != 3:
        raise UsageError(f"{folder}: images of shape {shape}; dpzoo streams images [height, width, channels].")
    if None not in shape:
        return shape
    if known is None:
        raise UsageError(
            f"{folder}: its images vary in size {shape}, and dpzoo knows no input size for this data set; "
            "write it with fixed-size images (dpzoo.data.record_writer)."
        )
    return SPECS[known].input_shape  # resized and centre-cropped to the data set's standard size


class RecordFiles:
    """The records of one split's ArrayRecord files by index, read in the calling thread.

    array_record's own data source starts a thread pool for every read; on TF 2.15 and Python
    3.11 their allocator arenas made resident memory grow with N (measured: 131 MiB against 73 MiB
    of reads at 100,000 and 20,000 records, flat at 64 and 59 MiB when read here); on TF 2.21 and
    Python 3.12 it grew 6 MiB, as here. Reading here also starts no threads per step. The reader
    still reads a file's records in parallel itself."""

    def __init__(self, parts: list[tuple[str, int, int]]) -> None:
        self._parts = parts  # (filename, first record, records) per file
        self._starts = np.cumsum([0] + [count for _, _, count in parts])
        self._readers: list = [None] * len(parts)

    @classmethod
    def of_split(cls, info, split: str) -> "RecordFiles":
        import tensorflow_datasets as tfds

        instructions = tfds.core.splits.SplitDict(split_infos=info.splits.values())[split].file_instructions
        return cls([(os.fspath(f.filename), f.skip, f.take) for f in instructions])

    def __len__(self) -> int:
        return int(self._starts[-1])

    def read(self, indices: np.ndarray) -> list[bytes]:
        """The serialized records ``indices`` (each in [0, len)), in their order."""
        indices = np.asarray(indices, np.int64)
        if len(indices) and (indices.min() < 0 or indices.max() >= len(self)):
            raise ValueError(f"record indices must lie in [0, {len(self)})")
        part_of = np.searchsorted(self._starts, indices, side="right") - 1
        records: list = [b""] * len(indices)
        for part in np.unique(part_of):
            rows = np.flatnonzero(part_of == part)
            first = self._parts[part][1]
            positions = indices[rows] - self._starts[part] + first
            for row, record in zip(rows, self._reader(part).read(positions.tolist()), strict=True):
                records[row] = record
        return records

    def _reader(self, part: int):
        if self._readers[part] is None:
            from array_record.python import array_record_module

            self._readers[part] = array_record_module.ArrayRecordReader(
                self._parts[part][0], options="readahead_buffer_size:0", file_reader_buffer_size=32768
            )
        return self._readers[part]


class RecordSplit:
    """One split of an ArrayRecord data set as a random-access array of uint8 images
    [N, H, W, C] (``len``, ``shape``, ``dtype``, ``split[indices]``) with ``labels`` beside it;
    for tf.data, ``serialized`` reads records (Python) and ``decode`` decodes them (TensorFlow)."""

    def __init__(self, source: RecordFiles, features, image_key: str, label_key: str, image_shape, folder: str) -> None:
        self._source, self._features = source, features
        self._keys = (image_key, label_key)
        self.image_shape = tuple(int(d) for d in image_shape)
        self.folder = folder
        self._length = len(source)
        # tfds stores an Image as its encoded bytes and a ClassLabel as an int64
        self._feature_spec = {
            image_key: tf.io.FixedLenFeature((), tf.string),
            label_key: tf.io.FixedLenFeature((), tf.int64),
        }

    def __len__(self) -> int:
        return self._length

    @property
    def shape(self) -> tuple[int, ...]:
        return (self._length, *self.image_shape)

    dtype = np.dtype(np.uint8)
    ndim = 4

    @property
    def labels(self) -> "RecordLabels":
        return RecordLabels(self)

    def head(self, count: int) -> "RecordSplit":
        """The first ``count`` records (``split[:count]``)."""
        head = copy.copy(self)  # shares the readers and the compiled decode
        head._length = min(count, self._length)
        return head

    def __getitem__(self, key):
        if isinstance(key, slice):
            return self.head(_head_count(key, self._length))
        images = self.read_now(key)[0]
        return images[0] if np.ndim(key) == 0 else images

    def read_now(self, indices) -> tuple[np.ndarray, np.ndarray]:
        """(uint8 images [n, H, W, C], int64 labels [n]) of records ``indices``, as numpy arrays."""
        if "_compiled_decode" not in self.__dict__:
            spec = [tf.TensorSpec([None], tf.string), tf.TensorSpec([None], tf.int64)]
            self._compiled_decode = tf.function(self.decode, input_signature=spec)
        images, labels = self._compiled_decode(*self.serialized(np.asarray(indices, np.int64).reshape(-1)))
        return images.numpy(), labels.numpy()

    def serialized(self, indices: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
        """(the serialized records of the distinct ``indices``, each index's position among them):
        each record is read once however often it appears (padding rows repeat index 0). Python
        (array_record's reader, in its own threads); ``decode`` does the rest in TensorFlow.

        Raises ValueError marked ``UNREADABLE`` when a file is damaged or gone."""
        distinct, positions = np.unique(np.asarray(indices, np.int64), return_inverse=True)
        try:
            records = self._source.read(distinct)
        except (RuntimeError, ValueError, OSError) as e:
            first_line = str(e).strip().splitlines()[0] if str(e).strip() else type(e).__name__
            raise ValueError(f"{UNREADABLE} {self.folder}: its records cannot be read ({first_line})") from e
        return np.array(records, dtype=object), positions.astype(np.int64)

    def decode(self, serialized: tf.Tensor, positions: tf.Tensor) -> tuple[tf.Tensor, tf.Tensor]:
        """``serialized``'s records parsed (at once), their images decoded and resized (in
        parallel), then gathered by ``positions``: (uint8 images [n, H, W, C], int64 labels [n])."""
        image_key, label_key = self._keys
        parsed = tf.io.parse_example(serialized, self._feature_spec)
        images = tf.map_fn(
            self._decode_image,
            parsed[image_key],
            fn_output_signature=tf.TensorSpec(self.image_shape, tf.uint8),
            parallel_iterations=DECODE_PARALLELISM,
        )
        labels = tf.cast(parsed[label_key], tf.int64)
        return tf.gather(images, positions), tf.gather(labels, positions)

    def _decode_image(self, encoded: tf.Tensor) -> tf.Tensor:
        image = self._features[self._keys[0]].decode_example(encoded)
        return _fit_size(tf.cast(image, tf.uint8), self.image_shape)

    def check_readable(self) -> None:
        """Reads and decodes the first and last records: UsageError naming the folder if it cannot."""
        try:
            serialized = self.serialized(np.array([0, self._length - 1]))
        except ValueError as e:
            raise UsageError(f"{str(e).replace(UNREADABLE, '').strip()}; prepare it again.") from e
        try:
            self.decode(*serialized)
        except tf.errors.OpError as e:
            first_line = e.message.strip().splitlines()[0] if e.message.strip() else type(e).__name__
            raise UsageError(f"{self.folder}: its records cannot be decoded ({first_line}); prepare it again.") from e


@contextlib.contextmanager
def read_failures_as_usage_errors():
    """Inside: a record that cannot be read while tf.data streams it (a file damaged or removed
    mid-run) raises UsageError naming the folder, not TensorFlow's traceback."""
    try:
        yield
    except tf.errors.OpError as e:
        message = e.message or ""
        if UNREADABLE not in message:
            raise
        line = message[message.index(UNREADABLE) + len(UNREADABLE) :].strip().splitlines()[0]
        raise UsageError(f"{line}; prepare it again, then rerun the command.") from e


class RecordLabels:
    """The labels of a ``RecordSplit``, as a random-access array (read from the same records)."""

    def __init__(self, split: RecordSplit) -> None:
        self.split = split

    def __len__(self) -> int:
        return len(self.split)

    def __getitem__(self, key):
        if isinstance(key, slice):
            return RecordLabels(self.split[key])
        labels = self.split.read_now(key)[1]
        return labels[0] if np.ndim(key) == 0 else labels


def _head_count(key: slice, length: int) -> int:
    if key.start not in (None, 0) or key.step not in (None, 1):
        raise ValueError("A RecordSplit slices only as split[:count].")
    return length if key.stop is None else key.stop


def _fit_size(image: tf.Tensor, shape: tuple[int, int, int]) -> tf.Tensor:
    """An image of any size -> ``shape``: the shorter side resized to the target's, then the
    centre cropped (ImageNet's usual evaluation view; augmentation comes after, in the pipeline)."""
    height, width, channels = shape
    if image.shape.as_list() == list(shape):
        return image
    size = tf.shape(image)[:2]
    scale = tf.maximum(height / tf.cast(size[0], tf.float64), width / tf.cast(size[1], tf.float64))
    resized_size = tf.cast(tf.math.ceil(tf.cast(size, tf.float64) * scale), tf.int32)
    resized = tf.image.resize(image, resized_size, antialias=True)
    top, left = (resized_size[0] - height) // 2, (resized_size[1] - width) // 2
    cropped = resized[top : top + height, left : left + width, :channels]
    return tf.ensure_shape(tf.cast(tf.clip_by_value(tf.round(cropped), 0, 255), tf.uint8), shape)
