"""Ghost clipping: DP-SGD's clipped gradient sum without materialising per-example gradients.

Same result as ``vectorized.clipped_sum`` over ``vectorized.per_example_gradients`` (METHODS.md
section 0, steps 2-4), from one forward and one backward pass (Goodfellow 2015; Li et al. 2022;
book-keeping and mixed ghost clipping of Bu et al. 2023):

1. one batched forward pass and one backward pass of the summed per-example losses. Each
   registered layer's output Z_l passes through a hook (``_NormHooks``) whose gradient function
   receives G_l = dL/dZ_l, each example's own output gradient (examples are independent in the
   forward pass);
2. there, each example's squared gradient norm for layer l comes from its input A_l and G_l
   (``dpzoo.privacy.clipping.norms``: per layer the cheaper of the ghost form and the instantiated
   per-example gradient); their sum over layers is ||g_i||^2, and the clip factors
   c_i = min(1, C / ||g_i||) * mask_i follow;
3. sum_i c_i g_i layer by layer, without differentiating the network again: a per-example
   gradient step 2 formed (and kept, being small) is contracted with c; otherwise the rows of
   G_l scaled by c_i are pulled back through layer l alone.

Each layer's norm runs inside the backward pass, which waits for it, so the norm work in memory
is one layer's, and G_l is freed at once for layers whose per-example gradients were kept. The
other layers' G_l are held until the clip factors are known: the memory price of book-keeping
over a second backward pass.

Layers are looked up in the registry given (``NORM_FUNCTIONS`` by default) through their class
hierarchy. A model qualifies when every layer with trainable weights has a norm function and is
called once (shared layers would need their calls' contributions summed first);
``unsupported_layers`` names the ones that do not, and the engine then falls back to the
vectorised strategy for the whole model. A layer with Keras 3's LoRA on qualifies only as a Dense,
an Embedding or an ungrouped Conv2D (its adapters' norms, not the frozen kernel's): a norm function written
for the plain layer would miss the adapters' gradients, and so their clipping. With K views per
example, the views' positions are one example's positions: a kernel gradient is summed over them.
"""

import contextlib
import functools
from collections.abc import Mapping, Sequence

import tensorflow as tf

from dpzoo.common import keras_api
from dpzoo.common.stack import keras
from dpzoo.privacy.clipping import vectorized
from dpzoo.privacy.clipping.norms import NORM_FUNCTIONS, LayerNorms, NormFunction, norm_function
from dpzoo.privacy.clipping.norms.conv import conv2d_sqnorms
from dpzoo.privacy.clipping.norms.dense import dense_sqnorms
from dpzoo.privacy.clipping.norms.embedding import embedding_sqnorms
from dpzoo.privacy.clipping.norms.forms import lora_enabled


def _trainable_layers(model: keras.Model) -> list[keras.layers.Layer]:
    return [layer for layer in model.layers if layer.trainable_weights]


def lora_norm_known(layer: keras.layers.Layer, function: NormFunction | None) -> bool:
    """Whether ``function`` computes the norms of ``layer``'s LoRA adapters: dpzoo's Dense,
    Embedding and ungrouped Conv2D functions do; a function written for the plain layer would miss them."""
    if function is conv2d_sqnorms:
        return getattr(layer, "groups", 1) == 1
    return function is dense_sqnorms or function is embedding_sqnorms


def unsupported_layers(model: keras.Model, norm_functions: Mapping[type, NormFunction] = NORM_FUNCTIONS) -> list[str]:
    """Why ghost clipping cannot run this model with ``norm_functions``: one line per offending
    layer (empty: it can)."""
    if not keras_api.is_graph_model(model):
        return [f"{model.name}: not a Functional or Sequential model built on an Input"]
    reasons = []
    for layer in _trainable_layers(model):
        if norm_function(layer, norm_functions) is None:
            reasons.append(f"{layer.name} ({type(layer).__name__}): no norm function")
        elif lora_enabled(layer) and not lora_norm_known(layer, norm_function(layer, norm_functions)):
            reasons.append(
                f"{layer.name} ({type(layer).__name__}): LoRA has norm functions on Dense, Embedding and ungrouped Conv2D only"
            )
        elif (calls := keras_api.calls_in(model, layer)) != 1:
            reasons.append(f"{layer.name}: called {calls} times")
    return reasons


class GhostClipper:
    """The clipped sum of one model's per-example gradients by ghost norms (see module doc)."""

    def __init__(self, model: keras.Model, norm_functions: Mapping[type, NormFunction] = NORM_FUNCTIONS) -> None:
        reasons = unsupported_layers(model, norm_functions)
        if reasons:
            raise ValueError("Ghost clipping cannot run this model: " + "; ".join(reasons))
        self.model = model
        self.layers = _trainable_layers(model)
        self.norm_functions = {layer: norm_function(layer, norm_functions) for layer in self.layers}

    def clipped_sum(
        self,
        loss_fn: vectorized.PerExampleLoss,
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
        hooks = _NormHooks(tf.zeros([batch]), x.shape[1] if views else 1, self.norm_functions)
        with tf.GradientTape(persistent=True) as tape:
            tape.watch(hooks.sink)
            with hooks.installed(self.layers):
                outputs = self.model(inputs, training=True)
            labels = tf.repeat(y, tf.shape(outputs)[0] // batch, axis=0)
            per_view = loss_fn(labels, outputs)
            total = tf.reduce_sum(tf.reduce_mean(tf.reshape(per_view, [batch, -1]), axis=1))  # sum of example losses
        squares = tape.gradient(total, hooks.sink)  # the backward pass, running every layer's norm
        hooks.active = False  # an eager pull-back walks the recorded forward pass below it again
        norms = tf.sqrt(tf.maximum(squares, 0.0))
        factors = tf.stop_gradient(vectorized.clip_factors(norms, l2_norm_clip) * mask)
        grads = self._weighted_weight_gradients(tape, hooks, factors)
        grads = [grads[id(v)] if id(v) in grads else tf.zeros_like(v) for v in variables]
        del tape
        outputs = tf.reduce_mean(tf.reshape(outputs, tf.concat([[batch, -1], tf.shape(outputs)[1:]], 0)), axis=1)
        return grads, norms, outputs

    def _weighted_weight_gradients(self, tape, hooks: "_NormHooks", factors: tf.Tensor) -> dict:
        """{id(variable): sum_i c_i g_i}, layer by layer from the recorded forward pass (book-keeping,
        Bu et al. 2023), so the network is not differentiated a second time: a per-example
        gradient the norm step formed is contracted with c directly; otherwise the output gradient
        rows G_l[i], scaled by c_i, are pulled back through layer l alone."""
        row_factors = tf.repeat(factors, hooks.views) if hooks.views > 1 else factors
        summed = {key: tf.tensordot(factors, grads, axes=1) for key, grads in hooks.formed.items()}
        for layer, (z, g) in hooks.kept.items():
            weights = [w for w in layer.trainable_weights if id(w) not in hooks.formed]
            scale = tf.reshape(row_factors, [-1] + [1] * (len(g.shape) - 1))  # c_i on example i's rows
            pulled = _pull_back(tape, z, weights, g * scale)
            # Embedding's IndexedSlices become dense: noise goes on every row
            summed.update({id(w): tf.convert_to_tensor(grad) for w, grad in zip(weights, pulled, strict=True)})
        return summed


class _NormHooks:
    """Runs each layer's norm function inside the backward pass.

    While installed, every registered layer's output z passes through an identity whose gradient
    function receives G = dL/dz, computes the layer's per-example squared norms from its input
    and G, and returns them as the gradient of ``sink`` (so d total / d sink = sum over layers =
    ||g_i||^2); G itself goes on down only after the norms are computed, so the backward pass
    never runs ahead of them and each layer's norm work is freed before the next begins. Per-
    example gradients a norm function formed are kept in ``formed``; for the other layers, z and
    G are kept for the clipped sum's pull-back."""

    def __init__(self, sink: tf.Tensor, views: int, norm_functions: dict) -> None:
        self.sink, self.views = sink, views
        self.norm_functions = norm_functions  # layer -> its norm function
        self.active = True
        self.formed: dict[int, tf.Tensor] = {}  # id(variable) -> [batch, *variable.shape]
        self.kept: dict[keras.layers.Layer, tuple[tf.Tensor, tf.Tensor]] = {}  # layer -> (z, G)

    @contextlib.contextmanager
    def installed(self, layers: Sequence[keras.layers.Layer]):
        """Wraps the layers' ``call`` for one forward pass (restored on exit)."""
        try:
            for layer in layers:
                layer.call = functools.partial(self._hooked_call, layer, layer.call)
            yield
        finally:
            for layer in layers:
                layer.__dict__.pop("call", None)  # the class's call shows through again

    def _hooked_call(self, layer, call, inputs, *args, **kwargs):
        z = call(inputs, *args, **kwargs)
        a = tf.stop_gradient(inputs)

        @tf.custom_gradient
        def norm_hook(z_in, sink):
            def grad(g):
                if not self.active:
                    return g, tf.zeros_like(self.sink)
                with tf.control_dependencies([g]):  # the norm's work waits for the backward pass ...
                    result = self.norm_functions[layer](layer, a, _pre_activation_grads(layer, a, g), self.views)
                if isinstance(result, LayerNorms):
                    self.formed.update({id(v): grads for v, grads in result.per_example})
                    result = result.sqnorms
                if any(id(w) not in self.formed for w in layer.trainable_weights):
                    self.kept[layer] = (z, g)
                with tf.control_dependencies([result]):  # ... and the backward pass waits for the norm
                    return tf.identity(g), result

            return tf.identity(z_in), grad

        return norm_hook(z, self.sink)


def _pull_back(tape: tf.GradientTape, z: tf.Tensor, weights: list[tf.Variable], output_grads: tf.Tensor) -> list:
    """d<output_grads, z>/d weights through layer l alone. In a graph (the train step),
    ``tf.gradients`` walks only the ops between the weights and z; a persistent tape would walk
    the whole recorded forward pass at every call, quadratic in depth at trace time."""
    if tf.executing_eagerly():
        return tape.gradient(z, weights, output_gradients=output_grads, unconnected_gradients="zero")
    return tf.gradients(z, weights, grad_ys=output_grads, unconnected_gradients="zero")


def _pre_activation_grads(layer: keras.layers.Layer, inputs: tf.Tensor, output_grads: tf.Tensor) -> tf.Tensor:
    """dL/dZ before a fused activation (Dense / Conv2D with activation=...): the layer is re-run
    with a linear activation (restored in ``finally``) and the activation's VJP applied."""
    activation = getattr(layer, "activation", None)
    if activation is None or activation is keras.activations.linear:
        return output_grads
    try:
        layer.activation = keras.activations.linear
        with tf.GradientTape() as tape:
            pre = layer(inputs, training=True)
            tape.watch(pre)
            post = activation(pre)
    finally:
        layer.activation = activation
    return tape.gradient(post, pre, output_gradients=output_grads)
