"""Training on a model's fixed front's features, computed once (Tramer & Boneh 2021's ScatterNets).

A model that begins with a scattering transform (dpzoo.layers.Scattering2D), optionally followed
by a GroupNorm without affine parameters, begins with layers that have no weights and look at
no data: the same function before and after training, of each example alone. Computing them at
every step of a private run costs most of its time (1.3 s for 1,024 Fashion-MNIST images on
2 busy cores, measured; repeated 40 epochs over). So the trainer splits such a model: the front's features
of the training and test images are computed once (and cached on disk, keyed by the images and
the front), and the private engine trains the head on them. The head shares the model's
layers, so the checkpoint and the SavedModel hold the whole model, which serves raw images.

The transform costs no privacy: it is a fixed function, and each example's features depend on
that example only, so per-example clipping and the accounting are those of the head's run.
Random augmentation happens before the transform, so a run with ``augment`` trains the whole
model; the fixed views of ``mirror_views`` and ``shift_views`` (dpzoo.data.fixed_views) have
their features computed once like the rest.
"""

import dataclasses
import hashlib
import json
import os
import time

import numpy as np
import tensorflow as tf
from absl import logging

from dpzoo.common import keras_api
from dpzoo.common.stack import keras
from dpzoo.data.fixed_views import FixedViews
from dpzoo.layers.scattering import Scattering2D

BATCH = 500  # images per forward pass of the front
PROGRESS_EVERY_S = 10.0


def cache_dir() -> str:
    """Where computed features are kept: $DPZOO_CACHE_DIR, else ~/.cache/dpzoo."""
    return os.environ.get("DPZOO_CACHE_DIR") or os.path.join(os.path.expanduser("~"), ".cache", "dpzoo")


def _is_fixed(layer: keras.layers.Layer) -> bool:
    """A layer without weights whose output for an example depends on that example alone."""
    if layer.weights:
        return False
    return isinstance(layer, Scattering2D | keras.layers.GroupNormalization)


@dataclasses.dataclass(frozen=True)
class FrontSplit:
    """``front``: images -> features (fixed layers); ``head``: features -> logits, built from
    the model's own remaining layers (shared weights)."""

    front: keras.Model
    head: keras.Model
    layers: tuple[str, ...]  # the front's layers, for the card

    def describe(self) -> str:
        """The card's line: what the front is and why it is free."""
        parts = ", ".join(self.layers)
        return (
            f"{parts}: fixed and data-independent (no weights, each example alone), no privacy cost; "
            "computed once for the training and test images, inside the SavedModel"
        )


def _chain(model: keras.Model) -> list[keras.layers.Layer] | None:
    """The model's layers after its input if each takes the one before it, else None. Calls in
    other models built on the same layers (a split's head, say) do not count."""
    layers = model.layers[1:]
    previous = model.layers[0]
    for layer in layers:
        if keras_api.calls_in(model, layer) != 1 or keras_api.input_layers(model, layer) != [previous]:
            return None
        previous = layer
    return layers


def split(model: keras.Model) -> FrontSplit | None:
    """The model's leading fixed layers and its trainable rest, or None when it has no
    Scattering2D front or is not a chain of layers."""
    layers = _chain(model)
    if not layers:
        return None
    count = 0
    while count < len(layers) and _is_fixed(layers[count]):
        count += 1
    fixed = layers[:count]
    if not any(isinstance(layer, Scattering2D) for layer in fixed) or count == len(layers):
        return None
    front = keras.Model(model.inputs, fixed[-1].output, name=f"{model.name}_front")
    features = keras.Input(shape=fixed[-1].output.shape[1:], name="features")
    x = features
    for layer in layers[count:]:
        x = layer(x)
    head = keras.Model(features, x, name=f"{model.name}_head")
    return FrontSplit(front=front, head=head, layers=tuple(type(layer).__name__ for layer in fixed))


def split_for_run(model: keras.Model, *, augment: bool, in_memory: bool) -> FrontSplit | None:
    """The split a training run uses: none when it augments (augmentation comes before the
    front) or streams its records (too many to precompute)."""
    return split(model) if in_memory and not augment else None


class FeatureInputs:
    """The pipeline's preprocessing of features: none (they are model inputs already)."""

    dtype = tf.float32

    def __call__(self, features: tf.Tensor) -> tf.Tensor:
        return tf.cast(features, tf.float32)


def _cache_key(front: keras.Model, images: np.ndarray, preprocess) -> str:
    digest = hashlib.sha256()
    configs = [layer.get_config() for layer in front.layers[1:]]
    for layer_config in configs:
        layer_config.pop("name", None)
    stats = (getattr(preprocess, "mean", None), getattr(preprocess, "std", None))
    digest.update(json.dumps([configs, stats, images.shape, str(images.dtype)], default=str).encode())
    digest.update(np.ascontiguousarray(images).data)
    return digest.hexdigest()[:24]


def features(front: keras.Model, images: np.ndarray, preprocess, *, what: str, cache: str | None) -> np.ndarray:
    """``front(preprocess(images))`` as float32, in batches, from the folder ``cache`` when it
    holds them (None: no cache). ``what`` names the images in the log lines."""
    path = None
    if cache:
        path = os.path.join(cache, "features", f"{_cache_key(front, images, preprocess)}.npy")
        if os.path.isfile(path):
            try:
                cached = np.load(path)
                if cached.shape[0] == len(images):
                    logging.info("Fixed front: %s features from the cache %s", what, path)
                    return cached
            except (OSError, ValueError):
                pass  # a damaged cache file is recomputed and replaced
    compute = tf.function(lambda x: front(preprocess(x), training=False), reduce_retracing=True)
    parts, started, last = [], time.monotonic(), time.monotonic()
    for begin in range(0, len(images), BATCH):
        parts.append(compute(images[begin : begin + BATCH]).numpy())
        if time.monotonic() - last > PROGRESS_EVERY_S:
            logging.info("Fixed front: %s features, %d of %d", what, min(begin + BATCH, len(images)), len(images))
            last = time.monotonic()
    out = np.concatenate(parts).astype(np.float32)
    logging.info("Fixed front: %s features %s in %.0f s", what, out.shape, time.monotonic() - started)
    if path:
        _write_atomically(path, out)
    return out


def _write_atomically(path: str, array: np.ndarray) -> None:
    """Writes ``array`` to ``path`` via a temporary file and a rename; a cache that cannot be
    written is skipped with a warning (the run goes on without it)."""
    partial = f"{path}.partial-{os.getpid()}.npy"
    try:
        os.makedirs(os.path.dirname(path), exist_ok=True)
        np.save(partial, array)
        os.replace(partial, path)
    except OSError as e:
        logging.warning("Fixed front: could not cache features at %s (%s); going on without.", path, e)
        if os.path.exists(partial):
            os.remove(partial)


def model_inputs(front: FrontSplit | None, dataset, preprocess, *, views: FixedViews | None = None) -> tuple:
    """(training inputs, test inputs, their preprocessing) for the trainer's pipelines: the
    dataset's images and ``preprocess``, or with a front its features and none. With ``views``
    (K > 1) the training features are [N, K, ...]: each image's, then each of its fixed views'
    (dpzoo.data.fixed_views), computed once like the rest, filled in place one view at a time."""
    if front is None:
        return dataset.x_train, dataset.x_test, preprocess
    cache = cache_dir()
    train = features(front.front, dataset.x_train, preprocess, what="training", cache=cache)
    transforms = views.transforms() if views is not None else []
    if transforms:
        stacked = np.empty((train.shape[0], 1 + len(transforms), *train.shape[1:]), np.float32)
        stacked[:, 0] = train
        del train
        for index, (name, view) in enumerate(transforms, start=1):
            images = view(tf.constant(dataset.x_train)).numpy()
            stacked[:, index] = features(front.front, images, preprocess, what=f"{name} training", cache=cache)
        train = stacked
    test, inputs = eval_inputs(front, dataset.x_test, preprocess, what="test")
    return train, test, inputs


def eval_inputs(front: FrontSplit | None, images, preprocess, *, what: str = "audit") -> tuple:
    """(inputs, their preprocessing) of images to evaluate: the images and ``preprocess``, or with
    a front their features and none."""
    if front is None:
        return images, preprocess
    return features(front.front, images, preprocess, what=what, cache=cache_dir()), FeatureInputs()
