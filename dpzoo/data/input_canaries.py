"""Black-box input canaries (METHODS.md section 7): mislabelled training examples, each in the
training set with probability 1/2, for a one-run audit scored by the final model's loss.

``plant`` draws M of the training examples from the run's seed, gives each a wrong label (uniform
over the other classes) and removes all M from the training set; the included half goes back with
its wrong label. An excluded canary is then an example the model never saw, with a label it has no
reason to predict, and an included one an example it can only fit by memorising it. A model whose
training leaks little predicts the two alike: the score (the final model's log-probability of the
wrong label) separates them no better than the claimed epsilon allows.

The canaries come from the training set, so the test split, and the test accuracy on the card,
stay untouched; the run trains on N - M/2 examples on average, and its accountant on that N.
"""

import dataclasses

import numpy as np

from dpzoo.common.errors import UsageError
from dpzoo.data.dataset import Dataset

_SEED_STREAM = 0x1C4A  # keeps the canaries' draws apart from the run's other seeded streams


@dataclasses.dataclass(frozen=True)
class InputCanaries:
    """M mislabelled images, their wrong labels and which of them are in the training set."""

    images: np.ndarray
    labels: np.ndarray
    included: np.ndarray

    @property
    def count(self) -> int:
        return len(self.labels)


def plant(dataset: Dataset, count: int, seed: int) -> tuple[Dataset, InputCanaries]:
    """The training set with ``count`` of its examples turned into canaries (module docstring),
    and the canaries; the same ``seed`` plants the same ones (a resumed run trains on the same N)."""
    if not isinstance(dataset.x_train, np.ndarray):
        raise UsageError(
            f"Black-box canaries need the training set in memory; {dataset.name} is streamed from records. "
            "Audit it with --mode=white_box."
        )
    n = len(dataset.x_train)
    if not 2 <= count <= n // 2:
        raise UsageError(
            f"black-box canaries: {count} asked for, but {dataset.name}'s {n} training examples hold between 2 and "
            f"{n // 2} (at most half the training set)."
        )
    rng = np.random.default_rng([seed, _SEED_STREAM])
    chosen = rng.choice(n, size=count, replace=False)
    shift = rng.integers(1, dataset.num_classes, size=count)
    labels = ((dataset.y_train[chosen] + shift) % dataset.num_classes).astype(dataset.y_train.dtype)
    included = rng.random(count) < 0.5
    kept = np.ones(n, dtype=bool)
    kept[chosen] = False
    images = dataset.x_train[chosen]
    planted = dataclasses.replace(
        dataset,
        x_train=np.concatenate([dataset.x_train[kept], images[included]]),
        y_train=np.concatenate([dataset.y_train[kept], labels[included]]),
    )
    return planted, InputCanaries(images=images, labels=labels, included=included)
