"""What a run computes once, before its first step, from a model's fixed front (Tramer & Boneh
2021's ScatterNets): the front's features of the training and test images (``fixed_front``), and
the privately released channel statistics that normalise them (``data_normalization``).

The trainer sees one object, ``RunFeatures``: the model the engine trains (the head, or the whole
model when there is no front), the inputs its pipelines read, and the card's lines. A model
without a fixed front passes through it unchanged.
"""

import dataclasses

import numpy as np

from dpzoo.common.stack import keras
from dpzoo.training.precomputed import data_normalization, fixed_front
from dpzoo.training.train_config import TrainConfig


@dataclasses.dataclass(frozen=True)
class RunFeatures:
    """A run's fixed front, if it trains on its features: ``split`` is None when it does not."""

    config: TrainConfig
    model: keras.Model
    split: fixed_front.FrontSplit | None

    @classmethod
    def for_run(cls, config: TrainConfig, model: keras.Model, dataset) -> "RunFeatures":
        """Splits the model at its fixed front when the run can precompute it (in memory, not
        augmented), and refuses a data normalisation the run cannot release."""
        in_memory = isinstance(dataset.x_train, np.ndarray)
        split = fixed_front.split_for_run(model, augment=config.augment, in_memory=in_memory)
        data_normalization.check(config, model, split)
        return cls(config, model, split)

    @property
    def trainable(self) -> keras.Model:
        """The model the engine compiles and trains: the front's head, else the model."""
        return self.split.head if self.split else self.model

    @property
    def views_in_features(self) -> bool:
        """Whether the fixed views (mirror, shift) are computed with the features, once; else the
        input pipeline makes them at every step."""
        return self.config.fixed_views.count > 1 and self.split is not None

    def inputs(self, dataset, preprocess) -> tuple:
        """(training inputs, test inputs, their preprocessing) for the pipelines, after releasing the
        normalisation statistics (the same again on a resume: the release is seeded)."""
        views = self.config.fixed_views if self.views_in_features else None
        x_train, x_test, inputs = fixed_front.model_inputs(self.split, dataset, preprocess, views=views)
        images = x_train[:, 0] if self.views_in_features else x_train  # of the images, not their views
        data_normalization.release(self.config, self.model, images)
        return x_train, x_test, inputs

    def eval_inputs(self, images, preprocess) -> tuple:
        """(inputs, their preprocessing) of more images to evaluate, as the test images are: the
        images themselves, or their features through the fixed front."""
        return fixed_front.eval_inputs(self.split, images, preprocess)

    def dataset_card_fields(self) -> dict:
        """The card's data section: what the front is and why it is free."""
        return {"fixed_features": self.split.describe()} if self.split else {}

    def training_card_fields(self) -> dict:
        """The card's training section: the normalisation release, if any."""
        return data_normalization.card_fields(self.config, self.model)
