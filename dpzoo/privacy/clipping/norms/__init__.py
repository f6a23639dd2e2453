"""dpzoo.privacy.clipping.norms: per-example squared gradient norms of single layers, from layer
inputs and output gradients, one module per layer type and a registry of them.

The building block of ghost clipping (Goodfellow 2015; Li et al. 2022; Bu et al. 2023 for the
mixed choice): for a layer computing Z = A W (+ b), example i's kernel gradient is
A_i^T G_i with G_i = dL_i/dZ_i, so its squared Frobenius norm is known without forming it:

* A_i, G_i vectors (one position): ||A_i||^2 * ||G_i||^2.
* A_i [T, d_in], G_i [T, d_out] (T positions: a sequence, or the image patches of a conv):
  either the "ghost" form sum((A_i A_i^T) * (G_i G_i^T)), costing O(T^2 (d_in + d_out)), or
  the instantiated form ||A_i^T G_i||^2, costing O(T d_in d_out); the cheaper is used per layer.
* the bias gradient is sum_t G_i[t], its norm is computed directly.

Each function returns a [batch] tensor of squared norms over the layer's weights, or a
``LayerNorms`` with the per-example gradients it formed anyway. With ``views`` K > 1 the rows are K
augmented views per example (example-major) and an example's gradient is the sum over its views'
positions. Under DP-SGD the sum of these over layers is ||g_i||^2, the quantity clipping needs. The inputs must be
the layer's actual inputs and G the gradient of the sum of per-example losses with respect to the
layer's pre-activation output (examples are independent, so that is each example's own gradient).
"""

from dpzoo.privacy.clipping.norms.forms import LayerNorms
from dpzoo.privacy.clipping.norms.registry import NORM_FUNCTIONS, NormFunction, norm_function

__all__ = ["NORM_FUNCTIONS", "LayerNorms", "NormFunction", "norm_function"]
