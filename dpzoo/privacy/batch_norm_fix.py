"""The fix for BatchNormalization that the guard refuses: a model whose normalisation no longer
mixes the examples of a batch, so DP-SGD's per-example sensitivity holds (as Opacus's
ModuleValidator.fix does for PyTorch).

- ``mode="group_norm"`` rebuilds a Functional or Sequential model (keras.applications models are
  Functional) with GroupNormalization in place of each BatchNormalization: every other layer
  keeps its weights, and each GroupNormalization starts from the BatchNormalization's scale and
  offset. For training from scratch, or fine-tuning that trains the normalisation too.
- ``mode="freeze"`` sets each BatchNormalization to ``trainable = False``, which Keras runs in
  inference mode on its moving statistics: for fine-tuning a pretrained model whose statistics
  came from public data. Their scale and offset are frozen with them.
"""

from dpzoo.common import keras_api
from dpzoo.common.errors import UsageError
from dpzoo.common.stack import keras

MODES = ("group_norm", "freeze")


def _batch_norms(model: keras.Model) -> list[keras.layers.BatchNormalization]:
    return [layer for layer in keras_api.sublayers(model) if isinstance(layer, keras.layers.BatchNormalization)]


def group_count(channels: int, most: int) -> int:
    """The largest number of groups, at most ``most``, that divides ``channels``."""
    return next(g for g in range(min(most, channels), 0, -1) if channels % g == 0)


def _group_norm_for(layer: keras.layers.BatchNormalization, most_groups: int) -> keras.layers.Layer:
    axis = layer.axis[0] if isinstance(layer.axis, list | tuple) else layer.axis
    if axis not in (-1, len(layer.input.shape) - 1):
        raise UsageError(f"{layer.name} normalises axis {axis}; group_norm handles channels-last models only.")
    channels = int(layer.input.shape[-1])
    return keras.layers.GroupNormalization(
        groups=group_count(channels, most_groups),
        epsilon=layer.epsilon,
        center=layer.center,
        scale=layer.scale,
        name=f"{layer.name}_gn",
    )


def fix_batch_normalization(model: keras.Model, *, mode: str = "group_norm", groups: int = 32) -> keras.Model:
    """``model`` without BatchNormalization in training mode (see the module doc); ``groups`` is
    the most groups a GroupNormalization gets (the largest divisor of its channels up to it)."""
    if mode not in MODES:
        raise UsageError(f"mode={mode!r}: expected one of {', '.join(MODES)}.")
    batch_norms = _batch_norms(model)
    if mode == "freeze":
        for layer in batch_norms:
            layer.trainable = False
        return model
    if not batch_norms:
        return model
    if not keras_api.is_graph_model(model):
        raise UsageError(
            f"{model.name} is a subclassed model: group_norm rebuilds Functional and Sequential models only. Replace "
            "its BatchNormalization layers in its code, or use mode='freeze'."
        )
    nested = [layer.name for layer in batch_norms if layer not in model.layers]
    if nested:
        raise UsageError(
            f"BatchNormalization layers {', '.join(nested)} sit in a model nested inside {model.name}: fix that "
            "model first, or use mode='freeze'."
        )
    replacements = {}

    def clone(layer: keras.layers.Layer) -> keras.layers.Layer:
        if isinstance(layer, keras.layers.BatchNormalization):
            replacements[layer.name] = _group_norm_for(layer, groups)
            return replacements[layer.name]
        return layer.__class__.from_config(layer.get_config())

    def call(layer: keras.layers.Layer, *args, **kwargs):
        if isinstance(layer, keras.layers.GroupNormalization):
            kwargs.pop("mask", None)  # BatchNormalization's call takes a mask, GroupNormalization's not
        return layer(*args, **kwargs)

    fixed = keras_api.clone_model(model, clone, call)
    for layer in model.layers:
        if layer.name in replacements:
            gn = replacements[layer.name]
            gn.set_weights([w.numpy() for w, keep in ((layer.gamma, layer.scale), (layer.beta, layer.center)) if keep])
        elif layer.weights:
            fixed.get_layer(layer.name).set_weights(layer.get_weights())
    return fixed
