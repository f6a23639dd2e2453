"""Ghost clipping: DP-SGD's clipped gradient sum without materialising per-example gradients.

Same result as ``clipping.clipped_sum`` over ``clipping.per_example_gradients`` (METHODS.md
section 0, steps 2-4), from one forward and one backward pass (Goodfellow 2015; Li et al. 2022;
book-keeping and mixed ghost clipping of Bu et al. 2023):

1. one batched forward pass that also returns each registered layer's input A_l and output Z_l;
   one backward pass of the summed per-example losses to every Z_l gives G_l, each example's own
   output gradient (examples are independent in the forward pass);
2. each example's squared gradient norm is sum_l norm_fn_l(A_l, G_l) (``dpzoo.ghost_norms``:
   per layer the cheaper of the ghost form and the instantiated per-example gradient); the clip
   factors c_i = min(1, C / ||g_i||) * mask_i follow;
3. sum_i c_i g_i layer by layer, without differentiating the network again: a per-example
   gradient step 2 formed (and kept, being small) is contracted with c; otherwise the rows of
   G_l scaled by c_i are pulled back through layer l alone.

The per-layer norms run one layer at a time, last layer first, so their working memory is one
layer's and they overlap with the backward pass. All G_l are held until the clip factors are
known, which is the memory price of book-keeping over two backward passes.

Layers are looked up in ``NORM_FUNCTIONS`` through their class hierarchy. A model qualifies when
every layer with trainable weights has a norm function and is called once (shared layers would
need their calls' contributions summed first); ``unsupported_layers`` names the ones that do not,
and the engine then falls back to the vectorised strategy for the whole model. With K views per
example, the views' positions are one example's positions: a kernel gradient is summed over them.
"""

from collections.abc import Callable, Sequence

import tensorflow as tf

from dpzoo import clipping, ghost_norms
from dpzoo.layers import SkipGain, WSConv2D

NormFunction = Callable[[tf.keras.layers.Layer, tf.Tensor, tf.Tensor, int], tf.Tensor]

NORM_FUNCTIONS: dict[type, NormFunction] = {
    WSConv2D: ghost_norms.ws_conv2d_sqnorms,
    tf.keras.layers.Conv2D: ghost_norms.conv2d_sqnorms,
    tf.keras.layers.Dense: ghost_norms.dense_sqnorms,
    tf.keras.layers.LayerNormalization: ghost_norms.normalization_sqnorms,
    tf.keras.layers.GroupNormalization: ghost_norms.normalization_sqnorms,
    SkipGain: ghost_norms.skip_gain_sqnorms,
    tf.keras.layers.Embedding: ghost_norms.embedding_sqnorms,
}


def norm_function(layer: tf.keras.layers.Layer) -> NormFunction | None:
    """The norm function of the nearest registered class in the layer's hierarchy, or None."""
    for cls in type(layer).__mro__:
        if cls in NORM_FUNCTIONS:
            return NORM_FUNCTIONS[cls]
    return None


def _trainable_layers(model: tf.keras.Model) -> list[tf.keras.layers.Layer]:
    return [layer for layer in model.layers if layer.trainable_weights]


def unsupported_layers(model: tf.keras.Model) -> list[str]:
    """Why ghost clipping cannot run this model: one line per offending layer (empty: it can)."""
    if not getattr(model, "_is_graph_network", False):
        return [f"{model.name}: not a Functional or Sequential model built on an Input"]
    reasons = []
    for layer in _trainable_layers(model):
        if norm_function(layer) is None:
            reasons.append(f"{layer.name} ({type(layer).__name__}): no norm function")
        elif len(layer._inbound_nodes) != 1:
            reasons.append(f"{layer.name}: called {len(layer._inbound_nodes)} times")
    return reasons


class GhostClipper:
    """The clipped sum of one model's per-example gradients by ghost norms (see module doc)."""

    def __init__(self, model: tf.keras.Model) -> None:
        reasons = unsupported_layers(model)
        if reasons:
            raise ValueError("Ghost clipping cannot run this model: " + "; ".join(reasons))
        self.model = model
        self.layers = _trainable_layers(model)
        taps = [layer.input for layer in self.layers] + [layer.output for layer in self.layers]
        self.tapped = tf.keras.Model(model.inputs, [*taps, model.output], name=f"{model.name}_taps")

    def clipped_sum(
        self,
        loss_fn: clipping.PerExampleLoss,
        x: tf.Tensor,
        y: tf.Tensor,
        mask: tf.Tensor,
        l2_norm_clip: float,
        variables: Sequence[tf.Variable],
        *,
        views: bool = False,
    ) -> tuple[list[tf.Tensor], tf.Tensor, tf.Tensor]:
        """(sum_i c_i g_i over ``variables``, per-example norms ||g_i||, per-example outputs)."""
        batch = tf.shape(y)[0]
        inputs = tf.reshape(x, tf.concat([[-1], tf.shape(x)[2:]], axis=0)) if views else x
        n_layers = len(self.layers)
        with tf.GradientTape(persistent=True) as tape:
            results = self.tapped(inputs, training=True)
            layer_inputs, layer_outputs, outputs = results[:n_layers], results[n_layers:-1], results[-1]
            labels = tf.repeat(y, tf.shape(outputs)[0] // batch, axis=0)
            per_view = loss_fn(labels, outputs)
            losses = tf.reduce_mean(tf.reshape(per_view, [batch, -1]), axis=1)
            total = tf.reduce_sum(losses)
        output_grads = tape.gradient(total, layer_outputs)
        per_example = x.shape[1] if views else 1
        squares, formed = [], {}  # formed: per-example gradients a norm function built anyway
        for layer, a, g in reversed(list(zip(self.layers, layer_inputs, output_grads, strict=True))):
            # one layer at a time, so peak memory holds one layer's per-example work (patches,
            # kernel gradients), not all layers'; last layer first, the order the backward pass
            # produces the G's in, so the norms overlap with the rest of the backward pass
            with tf.control_dependencies(squares[-1:]):
                result = norm_function(layer)(layer, a, _pre_activation_grads(layer, a, g), per_example)
            if isinstance(result, ghost_norms.LayerNorms):
                formed.update({id(v): grads for v, grads in result.per_example})
                result = result.sqnorms
            squares.append(result)
        norms = tf.sqrt(tf.maximum(tf.add_n(squares), 0.0))
        factors = tf.stop_gradient(clipping.clip_factors(norms, l2_norm_clip) * mask)
        grads = self._weighted_weight_gradients(tape, layer_outputs, output_grads, factors, per_example, formed)
        grads = [grads[id(v)] if id(v) in grads else tf.zeros_like(v) for v in variables]
        del tape
        outputs = tf.reduce_mean(tf.reshape(outputs, tf.concat([[batch, -1], tf.shape(outputs)[1:]], 0)), axis=1)
        return grads, norms, outputs

    def _weighted_weight_gradients(self, tape, layer_outputs, output_grads, factors, views, formed):
        """{id(variable): sum_i c_i g_i}, layer by layer from the recorded forward pass (book-keeping,
        Bu et al. 2023), so the network is not differentiated a second time: a per-example
        gradient the norm step formed is contracted with c directly; otherwise the output gradient
        rows G_l[i], scaled by c_i, are pulled back through layer l alone."""
        row_factors = tf.repeat(factors, views) if views > 1 else factors
        summed = {key: tf.tensordot(factors, grads, axes=1) for key, grads in formed.items()}
        for layer, z, g in zip(self.layers, layer_outputs, output_grads, strict=True):
            weights = [w for w in layer.trainable_weights if id(w) not in formed]
            if not weights:
                continue
            scale = tf.reshape(row_factors, [-1] + [1] * (len(g.shape) - 1))  # c_i on example i's rows
            pulled = _pull_back(tape, z, weights, g * scale)
            # Embedding's IndexedSlices become dense: noise goes on every row
            summed.update({id(w): tf.convert_to_tensor(grad) for w, grad in zip(weights, pulled, strict=True)})
        return summed


def _pull_back(tape: tf.GradientTape, z: tf.Tensor, weights: list[tf.Variable], output_grads: tf.Tensor) -> list:
    """d<output_grads, z>/d weights through layer l alone. In a graph (the train step),
    ``tf.gradients`` walks only the ops between the weights and z; a persistent tape would walk
    the whole recorded forward pass at every call, quadratic in depth at trace time."""
    if tf.executing_eagerly():
        return tape.gradient(z, weights, output_gradients=output_grads, unconnected_gradients="zero")
    return tf.gradients(z, weights, grad_ys=output_grads, unconnected_gradients="zero")


def _pre_activation_grads(layer: tf.keras.layers.Layer, inputs: tf.Tensor, output_grads: tf.Tensor) -> tf.Tensor:
    """dL/dZ before a fused activation (Dense / Conv2D with activation=...): the layer is re-run
    with a linear activation (restored in ``finally``) and the activation's VJP applied."""
    activation = getattr(layer, "activation", None)
    if activation is None or activation is tf.keras.activations.linear:
        return output_grads
    try:
        layer.activation = tf.keras.activations.linear
        with tf.GradientTape() as tape:
            pre = layer(inputs, training=True)
            tape.watch(pre)
            post = activation(pre)
    finally:
        layer.activation = activation
    return tape.gradient(post, pre, output_gradients=output_grads)
