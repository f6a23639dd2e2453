"""What a dataset is: train and test arrays (``Dataset``), and what the known datasets look like
without loading them (``SPECS``: configs are checked against them; ``synthetic`` arrays of that
shape let a config step where the real data is not at hand)."""

import dataclasses

import numpy as np

# Published per-channel statistics of [0, 1]-scaled pixels, treated as public constants
# (computing them from the private training set would itself leak, unaccounted).
CHANNEL_STATS = {
    "mnist": ((0.1307,), (0.3081,)),
    "fashion_mnist": ((0.2860,), (0.3530,)),
    "cifar10": ((0.4914, 0.4822, 0.4465), (0.2470, 0.2435, 0.2616)),
    "svhn": ((0.4377, 0.4438, 0.4728), (0.1980, 0.2010, 0.1970)),
    "digits": ((0.3050,), (0.3760,)),
    "imagenet2012": ((0.485, 0.456, 0.406), (0.229, 0.224, 0.225)),
}
TEXT_DATASETS = ("debian_descriptions", "debian_tools", "ag_news")  # token ids [N, length] (dpzoo.data.text_corpora)
# public images drawn from random processes, for pretraining (dpzoo.data.random_processes.proxy)
RANDOM_PROCESS_DATASETS = {"random_processes_gray28": (28, 28, 1), "random_processes_rgb32": (32, 32, 3)}
DATASETS = (
    "fashion_mnist",
    "mnist",
    "cifar10",
    "svhn",
    "digits",
    "imagenet2012",
    *TEXT_DATASETS,
    *RANDOM_PROCESS_DATASETS,
)


@dataclasses.dataclass(frozen=True)
class DatasetSpec:
    """What a dataset looks like, known without loading it (configs are checked against it)."""

    input_shape: tuple[int, ...]
    num_classes: int
    n_train: int


SPECS = {
    "fashion_mnist": DatasetSpec((28, 28, 1), 10, 60_000),
    "mnist": DatasetSpec((28, 28, 1), 10, 60_000),
    "cifar10": DatasetSpec((32, 32, 3), 10, 50_000),
    "svhn": DatasetSpec((32, 32, 3), 10, 73_257),  # the cropped digits' train split (no "extra")
    "digits": DatasetSpec((8, 8, 1), 10, 1_347),
    "imagenet2012": DatasetSpec((224, 224, 3), 1000, 1_281_167),
    "debian_descriptions": DatasetSpec((16,), 6, 6_259),  # bookworm's lists; the count follows the mirror
    "debian_tools": DatasetSpec((16,), 6, 2_200),  # about; the count follows the mirror
    "ag_news": DatasetSpec((32,), 4, 120_000),
    "random_processes_gray28": DatasetSpec((28, 28, 1), 10, 60_000),
    "random_processes_rgb32": DatasetSpec((32, 32, 3), 10, 50_000),
}


@dataclasses.dataclass(frozen=True)
class Dataset:
    """Train and test arrays: images uint8 (N, H, W, C) or token ids int32 (N, length), labels
    int64 (N,)."""

    name: str
    x_train: np.ndarray
    y_train: np.ndarray
    x_test: np.ndarray
    y_test: np.ndarray
    num_classes: int
    source: str

    @property
    def input_shape(self) -> tuple[int, ...]:
        return tuple(self.x_train.shape[1:])

    @property
    def is_text(self) -> bool:
        return self.name in TEXT_DATASETS

    @property
    def channel_stats(self) -> tuple[tuple[float, ...], tuple[float, ...]] | None:
        """Published per-channel (mean, std) of the images (for a data set without published ones,
        0.5 and 0.5: [0, 1] to [-1, 1], a constant that looks at no data); None for text."""
        if self.is_text:
            return None
        channels = self.input_shape[-1]
        return CHANNEL_STATS.get(self.name, ((0.5,) * channels, (0.5,) * channels))


def synthetic(name: str, n_train: int, n_test: int, seed: int = 0) -> Dataset:
    """Random uint8 images (or token ids below 256) and labels shaped like dataset ``name``: for
    checking that a config builds and steps where the real data is not at hand. Never a result."""
    spec = SPECS[name]
    rng = np.random.default_rng(seed)
    images = lambda n: rng.integers(0, 256, size=(n, *spec.input_shape), dtype=np.uint8)
    labels = lambda n: rng.integers(0, spec.num_classes, size=n).astype(np.int64)
    return Dataset(
        name, images(n_train), labels(n_train), images(n_test), labels(n_test), spec.num_classes, "synthetic"
    )
