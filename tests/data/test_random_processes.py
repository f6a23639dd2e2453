"""Images from random processes (dpzoo.data.random_processes): reproducible from (seed, family,
index) alone, the dead leaves' sizes scale invariant, the spectral images' power falling as
f^(-2 alpha), and the stream in order and resumable."""

import numpy as np
import pytest
from scipy import stats

from dpzoo.common.errors import UsageError
from dpzoo.data import load, random_processes
from dpzoo.data.random_processes import dead_leaves, proxy, spectral


@pytest.mark.parametrize("family", sorted(random_processes.FAMILIES))
@pytest.mark.parametrize("shape", [(28, 28, 1), (32, 48, 3), (16, 16, 5)])
def test_an_image_is_a_function_of_seed_family_and_index_alone(family, shape):
    height, width, channels = shape
    kwargs = dict(seed=7, height=height, width=width, channels=channels)
    batch = random_processes.images(family, 3, 4, **kwargs)
    assert batch.shape == (4, *shape) and batch.dtype == np.float32
    assert batch.min() >= 0.0 and batch.max() <= 1.0 and batch.std() > 0.05
    np.testing.assert_array_equal(batch[2], random_processes.image(family, 5, **kwargs))  # random access
    assert not np.array_equal(batch[0], batch[1])
    assert not np.array_equal(batch[0], random_processes.image(family, 3, **{**kwargs, "seed": 8}))


def _ks_pvalue(samples, r_min=dead_leaves.R_MIN, r_max=dead_leaves.R_MAX) -> float:
    cdf = lambda r: (r_min**-2 - np.asarray(r) ** -2.0) / (r_min**-2 - r_max**-2)
    return stats.kstest(samples, cdf).pvalue


def test_dead_leaves_sizes_have_the_scale_invariant_density():
    """p(r) ~ r^-3 (Lee, Mumford & Huang 2001): a Kolmogorov-Smirnov test accepts the radii drawn,
    and rejects radii drawn uniformly or from r^-2 on the same range."""
    rng = np.random.default_rng(0)
    drawn = dead_leaves.radii(rng, 20000)
    assert drawn.min() >= dead_leaves.R_MIN and drawn.max() <= dead_leaves.R_MAX
    assert _ks_pvalue(drawn) > 0.01
    assert _ks_pvalue(rng.uniform(dead_leaves.R_MIN, dead_leaves.R_MAX, 20000)) < 1e-6
    r_min, r_max, u = dead_leaves.R_MIN, dead_leaves.R_MAX, rng.random(20000)
    inverse_square = 1 / (1 / r_min - u * (1 / r_min - 1 / r_max))  # p(r) ~ r^-2
    assert _ks_pvalue(inverse_square) < 1e-6


def _same_as_a_neighbour(image: np.ndarray) -> float:
    """The share of horizontally adjacent pixel pairs of exactly the same colour."""
    return float(np.mean(np.all(image[:, 1:] == image[:, :-1], axis=-1)))


def test_dead_leaves_are_flat_opaque_shapes_and_spectral_images_are_not():
    kwargs = dict(seed=0, height=32, width=32, channels=3)
    leaves = random_processes.images("dead_leaves", 0, 8, **kwargs)
    noise = random_processes.images("spectral", 0, 8, **kwargs)
    assert min(_same_as_a_neighbour(image) for image in leaves) > 0.5
    assert max(_same_as_a_neighbour(image) for image in noise) < 0.05
    colours = [len(np.unique(image.reshape(-1, 3), axis=0)) for image in leaves]
    assert max(colours) < 32 * 32 / 4  # a few dozen shapes show, not a colour per pixel


def _spectrum_slope(alpha: float, size: int = 64, count: int = 24) -> float:
    """The fitted slope of log radial power against log frequency, over single-channel images."""
    rng = np.random.default_rng(1)
    power = np.zeros((size, size))
    for _ in range(count):
        image = spectral.draw(rng, size, size, 1, alpha=alpha)[..., 0]
        power += np.abs(np.fft.fft2(image - image.mean())) ** 2
    f = np.hypot(np.fft.fftfreq(size)[:, None], np.fft.fftfreq(size)[None, :])
    band = (f > 4 / size) & (f < 0.4)
    slope, _ = np.polyfit(np.log(f[band]), np.log(power[band]), 1)
    return float(slope)


@pytest.mark.parametrize("alpha", [1.0, 2.0])
def test_spectral_power_falls_as_f_to_the_minus_two_alpha(alpha):
    assert _spectrum_slope(alpha) == pytest.approx(-2 * alpha, abs=0.3)


def test_the_stream_interleaves_the_families_in_order_and_resumes_at_an_index():
    families = ("dead_leaves", "spectral")
    kwargs = dict(seed=3, height=12, width=12, channels=3)
    drawn = list(random_processes.stream(families, **kwargs).take(6).as_numpy_iterator())
    assert [int(label) for _, label in drawn] == [0, 1, 0, 1, 0, 1]
    for position, (pixels, _) in enumerate(drawn):
        expected = random_processes.image(families[position % 2], position // 2, **kwargs)
        np.testing.assert_array_equal(pixels, expected)
    resumed = list(random_processes.stream(families, start=4, **kwargs).take(2).as_numpy_iterator())
    for (pixels, label), (expected, expected_label) in zip(resumed, drawn[4:], strict=True):
        np.testing.assert_array_equal(pixels, expected)
        assert label == expected_label


@pytest.mark.parametrize(
    "call, message",
    [
        (lambda: random_processes.image("plasma", 0, seed=0, height=8, width=8, channels=1), "Unknown random-process"),
        (lambda: random_processes.image("spectral", 0, seed=0, height=1, width=8, channels=1), "at least 2x2"),
        (lambda: random_processes.stream((), seed=0, height=8, width=8, channels=1), "at least one"),
    ],
)
def test_a_bad_family_or_shape_is_a_usage_error(call, message):
    with pytest.raises(UsageError, match=message):
        call()


def _texture_features(x: np.ndarray) -> np.ndarray:
    """Per image: the radially averaged log power spectrum (8 rings) and the share of neighbouring
    pixels that are equal (a dead-leaves image is flat inside its shapes)."""
    images = x[..., 0].astype(np.float64) / 255.0
    power = np.abs(np.fft.fft2(images - images.mean(axis=(1, 2), keepdims=True))) ** 2
    f = np.hypot(*np.meshgrid(np.fft.fftfreq(x.shape[1]), np.fft.fftfreq(x.shape[2]), indexing="ij"))
    rings = np.digitize(f, np.linspace(0.0, 0.71, 9)[1:-1])
    profile = np.stack([np.log(power[:, rings == k].mean(axis=1) + 1e-12) for k in range(8)], axis=1)
    flat = (np.diff(x[..., 0].astype(np.int16), axis=2) == 0).mean(axis=(1, 2))[:, None]
    return np.concatenate([profile - profile[:, :1], flat], axis=1)


def test_the_proxy_classes_are_balanced_reproducible_and_learnable():
    """The pretraining task's ten classes: image i is of class i % 10, the same for a seed, other
    for another seed, and told apart on held-out images far above chance (10%) by a linear model
    on two texture statistics (0.795 measured), so the labels carry what pretraining is meant to
    learn; with the labels shuffled the same model is near chance."""
    from sklearn.linear_model import LogisticRegression

    shape = dict(height=28, width=28, channels=1)
    x_train, y_train = proxy.arrays(400, seed=0, **shape)
    x_test, y_test = proxy.arrays(200, seed=1, **shape)
    assert x_train.dtype == np.uint8 and x_train.shape == (400, 28, 28, 1)
    np.testing.assert_array_equal(np.bincount(y_train), [40] * 10)
    np.testing.assert_array_equal(proxy.arrays(20, seed=0, **shape)[0], x_train[:20])
    assert not np.array_equal(x_test[:20], x_train[:20])
    features, held_out = _texture_features(x_train), _texture_features(x_test)
    assert LogisticRegression(max_iter=2000).fit(features, y_train).score(held_out, y_test) > 0.5
    shuffled = np.random.default_rng(0).permutation(y_train)  # labels that say nothing: near chance
    assert LogisticRegression(max_iter=2000).fit(features, shuffled).score(held_out, y_test) < 0.25


def test_the_random_process_datasets_load_as_public_labelled_images():
    dataset = load("random_processes_gray28")
    assert dataset.x_train.shape == (60_000, 28, 28, 1) and dataset.x_test.shape == (10_000, 28, 28, 1)
    assert dataset.num_classes == 10 and "public" in dataset.source
    np.testing.assert_array_equal(dataset.x_train[:10], proxy.arrays(10, seed=0, height=28, width=28, channels=1)[0])
