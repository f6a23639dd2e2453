"""keras-hub presets as starting points of fine-tuning: ``keras_hub:PRESET``.

PRESET is what ``keras_hub.models.Backbone.from_preset`` takes: a preset name such as
``resnet_18_imagenet`` or a handle such as ``hf://ORG/NAME`` (keras-hub downloads it once: that
needs internet), or a local folder holding a saved preset (``backbone.save_to_preset(FOLDER)``).
dpzoo takes the preset's image backbone (one image input, one feature map out) at a fixed input
size and puts a pooled classification head on its feature map, all in one flat Functional graph,
so ghost clipping sees every layer. keras-hub is imported here only, and only when a preset is
asked for: dpzoo runs without it.
"""

import contextlib

from dpzoo.common.errors import UsageError
from dpzoo.common.stack import keras

PREFIX = "keras_hub:"
REQUIREMENT = "keras-hub==0.32.0"  # the version dpzoo is tested with (scripts/setup.sh installs it)
POOL_NAME, HEAD_NAME = "hub_pool", "hub_logits"


def is_hub_preset(name: str | None) -> bool:
    """Whether ``name`` names a keras-hub preset (``PREFIX`` + the preset)."""
    return bool(name) and name.startswith(PREFIX)


def import_keras_hub():
    """The keras_hub module; UsageError saying how to install it if it is missing."""
    try:
        import keras_hub
    except ImportError as e:
        raise UsageError(f"A keras-hub preset needs keras-hub: pip install {REQUIREMENT}.") from e
    return keras_hub


def register_classes() -> None:
    """Imports keras-hub if it is installed, so a kept copy of a preset's model that uses its own
    layers loads; one of standard Keras layers needs nothing."""
    with contextlib.suppress(UsageError):
        import_keras_hub()


def _backbone(preset: str):
    keras_hub = import_keras_hub()
    try:
        return keras_hub.models.Backbone.from_preset(preset)
    except Exception as e:  # noqa: BLE001  (keras-hub raises many kinds for a missing or foreign preset)
        first = str(e).strip().splitlines()[0][:200] if str(e).strip() else type(e).__name__
        raise UsageError(
            f"{PREFIX}{preset}: keras-hub cannot load this preset ({first}). A preset name or an hf:// or kaggle:// "
            "handle is downloaded once (internet needed); a local folder must hold a saved preset "
            "(config.json and model.weights.h5, from backbone.save_to_preset)."
        ) from e


def _at_size(backbone, input_shape: tuple[int, ...]):
    """The backbone built for inputs of ``input_shape``, with its weights (the same object if it
    already is); UsageError if its configuration cannot take that shape."""
    if tuple(backbone.inputs[0].shape[1:]) == tuple(input_shape):
        return backbone
    config = backbone.get_config()
    if "image_shape" not in config:
        raise UsageError(
            f"{type(backbone).__name__} takes inputs of shape {tuple(backbone.inputs[0].shape[1:])} and has no "
            f"image_shape to build it for {tuple(input_shape)}; pass --adapt_inputs with its own shape."
        )
    try:
        resized = type(backbone).from_config({**config, "image_shape": tuple(input_shape)})
        resized.set_weights(backbone.get_weights())
    except ValueError as e:
        raise UsageError(
            f"{type(backbone).__name__} cannot take images of shape {tuple(input_shape)} ({str(e).splitlines()[0]}); "
            "pass --adapt_inputs=HEIGHTxWIDTHxCHANNELS with the channels it was pretrained on (e.g. 32x32x3)."
        ) from e
    return resized


def classifier(name: str, *, input_shape: tuple[int, ...], num_classes: int) -> keras.Model:
    """Preset ``name``'s image backbone for inputs of ``input_shape``, global average pooling and a
    Dense head of ``num_classes`` logits, as one flat Functional model named after the preset."""
    preset = name[len(PREFIX) :]
    backbone = _backbone(preset)
    outputs = backbone.outputs
    if len(backbone.inputs) != 1 or len(outputs) != 1 or len(outputs[0].shape) != 4:
        raise UsageError(
            f"{name}: {type(backbone).__name__} is not an image backbone (one image input, one feature map out); "
            "dpzoo fine-tunes keras-hub image backbones."
        )
    backbone = _at_size(backbone, input_shape)
    pooled = keras.layers.GlobalAveragePooling2D(name=POOL_NAME)(backbone.outputs[0])
    # zeros: fine-tuning replaces this head, and the start's weights digest stays the preset's
    logits = keras.layers.Dense(num_classes, kernel_initializer="zeros", name=HEAD_NAME)(pooled)
    return keras.Model(backbone.inputs[0], logits, name=type(backbone).__name__.lower())
