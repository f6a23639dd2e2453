"""Black-box input canaries on scikit-learn's digits: M training examples relabelled wrongly,
all M taken out of the training set and the included half put back; seeded; bad counts refused."""

import dataclasses

import numpy as np
import pytest

from dpzoo import data
from dpzoo.common.errors import UsageError
from dpzoo.data import input_canaries


@pytest.fixture(scope="module")
def digits():
    return data.load("digits")


def _rows(images: np.ndarray) -> set[bytes]:
    return {image.tobytes() for image in images}


def _label_of(images: np.ndarray, labels: np.ndarray) -> dict[bytes, int]:
    return {image.tobytes(): int(label) for image, label in zip(images, labels, strict=True)}


def test_planted_canaries_are_wrongly_labelled_training_examples_half_put_back(digits):
    planted, canaries = input_canaries.plant(digits, 400, seed=3)
    n = len(digits.x_train)
    assert canaries.count == 400 and canaries.images.shape == (400, *digits.input_shape)
    assert 150 < canaries.included.sum() < 250  # Binomial(400, 1/2): sd 10
    assert len(planted.x_train) == len(planted.y_train) == n - 400 + canaries.included.sum()
    # every canary is one of the training images, with a label other than its own
    original = _label_of(digits.x_train, digits.y_train)
    wrong = _label_of(canaries.images, canaries.labels)
    assert all(original[image] != label for image, label in wrong.items())
    assert np.all((canaries.labels >= 0) & (canaries.labels < digits.num_classes))
    # the included ones are in the planted set with their wrong label, the excluded ones not at all
    in_planted = _label_of(planted.x_train, planted.y_train)
    for image, label, included in zip(canaries.images, canaries.labels, canaries.included, strict=True):
        if included:
            assert in_planted[image.tobytes()] == label
        elif image.tobytes() in in_planted:  # only a duplicate image elsewhere in digits may remain
            assert sum(image.tobytes() == other.tobytes() for other in digits.x_train) > 1
    assert np.array_equal(planted.x_test, digits.x_test) and np.array_equal(planted.y_test, digits.y_test)


def test_the_same_seed_plants_the_same_canaries_and_another_seed_others(digits):
    first, again, other = (input_canaries.plant(digits, 100, seed=s)[1] for s in (7, 7, 8))
    assert np.array_equal(first.images, again.images) and np.array_equal(first.labels, again.labels)
    assert np.array_equal(first.included, again.included)
    assert _rows(first.images) != _rows(other.images)


def test_the_wrong_labels_cover_every_other_class(digits):
    canaries = input_canaries.plant(digits, 600, seed=0)[1]
    original = _label_of(digits.x_train, digits.y_train)
    shifts = {(label - original[image]) % 10 for image, label in _label_of(canaries.images, canaries.labels).items()}
    assert shifts == set(range(1, 10))


@pytest.mark.parametrize("count", [1, 674, 10_000])
def test_counts_outside_two_to_half_the_training_set_are_refused(digits, count):
    with pytest.raises(UsageError, match=r"between 2 and 673 \(at most half the training set\)"):
        input_canaries.plant(digits, count, seed=0)


def test_a_streamed_training_set_is_refused_with_white_box_named(digits):
    streamed = dataclasses.replace(digits, x_train=list(digits.x_train))
    with pytest.raises(UsageError, match="--mode=white_box"):
        input_canaries.plant(streamed, 10, seed=0)
