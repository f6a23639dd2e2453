"""dpzoo.data: datasets, samplers and the tf.data pipelines that feed a private step.

* ``load(name)``: a ``Dataset`` of in-memory arrays, from local files (``file_formats``), Debian's
  Fashion-MNIST or tensorflow-datasets (``loader``); text corpora in ``text_corpora``;
* ``sampling``: which examples each step sees (Poisson, or shuffled batches);
* ``pipeline``: those batches with masks, preprocessing and augmentation (K views);
* ``public_auxiliary_batch``: AuxBatchNorm's public images;
* ``random_processes``: public images drawn from a seed (dead leaves, 1/f^alpha spectra).
"""

from dpzoo.data.dataset import (
    CHANNEL_STATS,
    DATASETS,
    RANDOM_PROCESS_DATASETS,
    SPECS,
    TEXT_DATASETS,
    Dataset,
    DatasetSpec,
    synthetic,
)
from dpzoo.data.file_formats import IDX_FILES, SVHN_FILES, read_idx
from dpzoo.data.loader import load
from dpzoo.data.public_batch import PUBLIC_BATCH_SIZE, public_auxiliary_batch

__all__ = [
    "CHANNEL_STATS",
    "DATASETS",
    "IDX_FILES",
    "PUBLIC_BATCH_SIZE",
    "RANDOM_PROCESS_DATASETS",
    "SPECS",
    "SVHN_FILES",
    "TEXT_DATASETS",
    "Dataset",
    "DatasetSpec",
    "load",
    "public_auxiliary_batch",
    "read_idx",
    "synthetic",
]
