"""A new classification layer for the private task (De et al. 2022, section 5: it starts at zero,
so the first private steps see the pretrained features through a head that predicts uniformly)."""

import numpy as np

from dpzoo.common import keras_api
from dpzoo.common.errors import UsageError
from dpzoo.common.stack import keras

HEAD_NAME = "finetune_logits"


def _classifier(model: keras.Model) -> keras.layers.Layer:
    """The layer that computes the model's class scores: the last layer with weights, reached from
    the output back through weightless layers (a softmax Activation, Flatten, Dropout), a Dense or
    a Conv2D (keras.applications' MobileNets end in a 1x1 convolution)."""
    if not keras_api.is_graph_model(model) or len(model.outputs) != 1:
        raise UsageError(
            f"{model.name}: a new head needs a Functional or Sequential model with one output; "
            "build the backbone as one (keras.applications: include_top=True, or add your own Dense on its features)."
        )
    layer = model.layers[-1]
    while not layer.weights and len(inputs := keras_api.input_layers(model, layer)) == 1:
        layer = inputs[0]
    if not isinstance(layer, keras.layers.Dense | keras.layers.Conv2D):
        raise UsageError(
            f"{model.name}'s class scores come from {layer.name}, a {type(layer).__name__}, not a Dense or Conv2D: "
            "end the backbone with the classification layer to be replaced (what follows it, a softmax say, is "
            "dropped with it; the new head outputs logits)."
        )
    return layer


def replace_head(
    model: keras.Model, num_classes: int, *, keep_weights: bool = False
) -> tuple[keras.Model, keras.layers.Dense]:
    """(``model`` with its classification layer, and what follows it, replaced by a
    zero-initialised Dense of ``num_classes`` logits on the same features, flattened if they are
    a map; that new layer). The other layers are the same objects, their weights kept.
    ``keep_weights``: the new layer starts from the old one's weights instead (a start trained on
    this task), under the same name as a new head, so a run folder rebuilds it either way."""
    if num_classes < 2:
        raise UsageError(f"Expected num_classes={num_classes} >= 2.")
    classifier = _classifier(model)
    features = classifier.input
    if len(features.shape) > 2:
        features = keras.layers.Flatten(name=f"{HEAD_NAME}_flatten")(features)
    head = keras.layers.Dense(num_classes, kernel_initializer="zeros", bias_initializer="zeros", name=HEAD_NAME)
    prepared = keras.Model(model.inputs, head(features), name=f"{model.name}_finetune")
    if keep_weights:
        _copy_classifier(classifier, head)
    return prepared, head


def _copy_classifier(classifier: keras.layers.Layer, head: keras.layers.Dense) -> None:
    """The old classification layer's kernel (a 1x1 convolution's reshaped) and bias into ``head``."""
    kernel, *bias = classifier.get_weights()  # numpy on either Keras
    if kernel.size != head.kernel.shape[0] * head.kernel.shape[1]:
        raise UsageError(
            f"{classifier.name} gives {kernel.shape[-1]} scores from {kernel.size // kernel.shape[-1]} features, not "
            f"this data's {head.kernel.shape[1]} from {head.kernel.shape[0]}: a start trained on another task gets a "
            "new head."
        )
    head.set_weights([kernel.reshape(head.kernel.shape), bias[0] if bias else np.zeros(head.bias.shape)])
