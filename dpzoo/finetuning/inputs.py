"""Changing a pretrained model's input size or channels: an explicit step, never a silent one.

A backbone pretrained on 32x32 RGB images takes Fashion-MNIST's 28x28 grey ones only through an
adapter in front of it: bilinear resizing to the backbone's height and width, and a grey channel
repeated to the backbone's channel count. Both are fixed functions with no weights: they look at
no data and cost no privacy. The adapter becomes part of the model, so the model card, the
checkpoint and the served model all take the dataset's own images.
"""

from dpzoo.common import keras_api
from dpzoo.common.errors import UsageError
from dpzoo.common.stack import keras

RESIZE_NAME, CHANNELS_NAME = "adapt_inputs_resize", "adapt_inputs_channels"


def parse_shape(text: str) -> tuple[int, int, int]:
    """``"32x32x3"`` as (32, 32, 3); UsageError naming the expected form otherwise."""
    parts = text.lower().split("x")
    if len(parts) != 3 or not all(p.isdigit() and int(p) > 0 for p in parts):
        raise UsageError(
            f"adapt_inputs={text!r}: expected HEIGHTxWIDTHxCHANNELS of the pretrained model, e.g. 32x32x3."
        )
    return tuple(int(p) for p in parts)


def adapt_inputs(model: keras.Model, input_shape: tuple[int, ...]) -> keras.Model:
    """``model`` (a Functional or Sequential model of image inputs) taking images of ``input_shape``
    instead: resized and channel-repeated in front of its own layers, which are the same objects
    with the same weights. The same model if the shapes already agree."""
    source, target = tuple(input_shape), tuple(model.inputs[0].shape[1:]) if keras_api.is_graph_model(model) else ()
    if source == target:
        return model
    if not keras_api.is_graph_model(model) or len(model.inputs) != 1 or len(target) != 3:
        raise UsageError(f"{model.name}: only a Functional or Sequential model with one image input can be adapted.")
    if len(source) != 3 or source[-1] not in (1, target[-1]):
        raise UsageError(
            f"Cannot adapt {model.name}'s {target} inputs to images of shape {source}: sizes are resized, and a "
            "single grey channel is repeated, but other channel counts must match."
        )
    if not keras_api.KERAS_3:
        raise UsageError("Adapting a model's inputs needs Keras 3; unset DPZOO_KERAS=2.")
    images = keras.Input(source, name="images")
    adapted = images
    if source[:2] != target[:2]:
        adapted = keras.layers.Resizing(*target[:2], interpolation="bilinear", name=RESIZE_NAME)(adapted)
    if source[-1] != target[-1]:
        adapted = keras.layers.Concatenate(name=CHANNELS_NAME)([adapted] * target[-1])

    def call(layer, *args, **kwargs):  # the layers that read the images read the adapted ones
        args = [adapted if arg is images else arg for arg in args]
        return layer(*args, **kwargs)

    # fresh layers (each called once: ghost clipping needs that), given the pretrained weights
    clone = keras_api.clone_model(model, clone_function=_fresh, call_function=call, input_tensors=images)
    clone.set_weights(model.get_weights())
    return clone


def _fresh(layer: keras.layers.Layer) -> keras.layers.Layer:
    return layer.__class__.from_config(layer.get_config())
