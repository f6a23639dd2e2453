"""The layer registry of ghost clipping: one norm function per layer class, looked up through the
class hierarchy (as TF Privacy's fast_gradient_clipping layer registry is).

``NORM_FUNCTIONS`` is built here, in one place, from the functions of this package; nothing
registers itself on import. Pass your own mapping to ``make_private(..., norm_functions=...)``
(for example ``{**NORM_FUNCTIONS, MyLayer: my_norms}``) to cover a layer of your own.
"""

import types
from collections.abc import Callable, Mapping

import tensorflow as tf

from dpzoo.common.stack import keras
from dpzoo.layers import GaussianLSTM, SkipGain, WSConv2D
from dpzoo.privacy.clipping.norms.conv import conv2d_sqnorms, ws_conv2d_sqnorms
from dpzoo.privacy.clipping.norms.dense import dense_sqnorms
from dpzoo.privacy.clipping.norms.embedding import embedding_sqnorms
from dpzoo.privacy.clipping.norms.gaussian_lstm import gaussian_lstm_sqnorms
from dpzoo.privacy.clipping.norms.normalization import normalization_sqnorms
from dpzoo.privacy.clipping.norms.skip_gain import skip_gain_sqnorms

# (layer, its inputs, the gradient of the summed losses w.r.t. its pre-activation output, views K)
# -> [batch] squared norms, or LayerNorms with the per-example gradients it formed
NormFunction = Callable[[keras.layers.Layer, tf.Tensor, tf.Tensor, int], tf.Tensor]

NORM_FUNCTIONS: Mapping[type, NormFunction] = types.MappingProxyType(
    {
        WSConv2D: ws_conv2d_sqnorms,
        keras.layers.Conv2D: conv2d_sqnorms,
        keras.layers.Dense: dense_sqnorms,
        keras.layers.LayerNormalization: normalization_sqnorms,
        keras.layers.GroupNormalization: normalization_sqnorms,
        SkipGain: skip_gain_sqnorms,
        keras.layers.Embedding: embedding_sqnorms,
        GaussianLSTM: gaussian_lstm_sqnorms,
    }
)


def norm_function(
    layer: keras.layers.Layer, norm_functions: Mapping[type, NormFunction] = NORM_FUNCTIONS
) -> NormFunction | None:
    """The norm function of the nearest registered class in the layer's hierarchy, or None."""
    for cls in type(layer).__mro__:
        if cls in norm_functions:
            return norm_functions[cls]
    return None
