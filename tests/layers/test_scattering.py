"""Scattering2D against kymatio's NumPy frontend (an independent backend) on real images; each
example's transform is its own; ScatterNet models' per-example gradients against a loop."""

import numpy as np
import pytest
import tensorflow as tf
from kymatio.scattering2d.frontend.numpy_frontend import ScatteringNumPy2D

from dpzoo import models
from dpzoo.layers import Scattering2D
from dpzoo.layers.scattering import scattering_channels
from dpzoo.privacy.clipping import vectorized
from tests.conftest import SPARSE_CE
from tests.privacy.clipping.test_vectorized import brute_force_gradients


def numpy_scattering(images: np.ndarray) -> np.ndarray:
    """[b, H, W, C] -> [b, H/4, W/4, 81C] with kymatio's NumPy backend, channel by channel."""
    b, h, w, c = images.shape
    out = ScatteringNumPy2D(J=2, shape=(h, w), L=8, max_order=2)(images.transpose(0, 3, 1, 2))  # [b, C, 81, h', w']
    return out.reshape(b, c * 81, h // 4, w // 4).transpose(0, 2, 3, 1)


def test_fashion_mnist_images_give_81_channels_of_7x7_as_kymatio_computes_them(fashion):
    images = fashion.x_train[:8].astype(np.float32) / 255.0
    got = Scattering2D()(images).numpy()
    assert got.shape == (8, 7, 7, 81) and scattering_channels(2, 8) == 81
    want = numpy_scattering(images)
    np.testing.assert_allclose(got, want, rtol=1e-4, atol=1e-5 * np.abs(want).max())
    assert np.abs(got[0] - got[1]).max() > 1e-3  # different images, different features


def test_colour_images_give_243_channels_grouped_by_input_channel(fashion):
    grey = fashion.x_train[:3, :28, :28].astype(np.float32) / 255.0
    images = np.pad(np.concatenate([grey, grey[:, ::-1], 1 - grey], axis=-1), [(0, 0), (2, 2), (2, 2), (0, 0)])
    got = Scattering2D()(images).numpy()
    assert got.shape == (3, 8, 8, 243)
    for channel in range(3):  # channel c's 81 coefficients are the transform of channel c alone
        alone = Scattering2D()(images[..., channel : channel + 1]).numpy()
        np.testing.assert_allclose(got[..., 81 * channel : 81 * (channel + 1)], alone, rtol=1e-5, atol=1e-6)


def test_the_transform_has_no_weights_and_treats_each_example_on_its_own(fashion):
    layer = Scattering2D()
    images = fashion.x_train[:6].astype(np.float32) / 255.0
    batch = layer(images).numpy()
    assert layer.weights == [] and not layer.trainable
    for i in range(len(images)):
        np.testing.assert_allclose(layer(images[i : i + 1]).numpy()[0], batch[i], rtol=1e-5, atol=1e-6)
    rebuilt = Scattering2D.from_config(layer.get_config())
    np.testing.assert_array_equal(rebuilt(images).numpy(), batch)


def test_scatternet_per_example_gradients_equal_a_loop_over_single_examples(fashion):
    tf.keras.utils.set_random_seed(0)
    x, y = fashion.x_train[:5].astype(np.float32) / 255.0, fashion.y_train[:5]
    for name in ("scatternet_linear", "scatternet_cnn"):
        model = models.get(name)
        grads, _, _ = vectorized.per_example_gradients(model, SPARSE_CE.call, x, y, model.trainable_variables)
        for got, want in zip(grads, brute_force_gradients(model, x, y), strict=True):
            np.testing.assert_allclose(got.numpy(), want, rtol=1e-4, atol=1e-6)


def test_first_order_scatternet_keeps_the_17_channels_of_orders_0_and_1(fashion):
    images = fashion.x_train[:4].astype(np.float32) / 255.0
    full = Scattering2D()(images).numpy()
    got = Scattering2D(max_order=1)(images).numpy()  # kymatio's order: S0, the 16 of S1, the 64 of S2
    np.testing.assert_allclose(got, full[..., :17], rtol=1e-5, atol=1e-6)
    assert np.abs(full[..., 17:]).max() > 1e-3  # what max_order 1 drops is not nothing
    model = models.get("scatternet_linear", max_order=1, groups=17)
    assert model.get_layer("scatternet_linear_logits").kernel.shape == (7 * 7 * 17, 10)
    with pytest.raises(ValueError, match="groups=27 to divide the 17 scattering channels"):
        models.get("scatternet_linear", max_order=1)
