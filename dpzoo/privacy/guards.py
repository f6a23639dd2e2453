"""Checks that refuse layers and settings which break a formal DP guarantee."""

from dpzoo.common import keras_api
from dpzoo.common.errors import UsageError
from dpzoo.common.stack import keras

BATCH_STATISTICS_LAYERS = (keras.layers.BatchNormalization,)


def refuse_batch_statistics(model: keras.Model) -> None:
    """Raises UsageError if a layer normalises with statistics of the training batch.

    BatchNormalization in training mode normalises each example with the batch's mean and
    variance, so one example's gradient depends on every other example in the batch and the
    per-example sensitivity bound of DP-SGD no longer holds. A frozen BatchNormalization
    (trainable=False, which Keras runs in inference mode on its moving statistics) is allowed.
    """
    offending = [
        layer.name
        for layer in keras_api.sublayers(model)
        if isinstance(layer, BATCH_STATISTICS_LAYERS) and layer.trainable
    ]
    if offending:
        raise UsageError(
            f"Layers {', '.join(offending)} are BatchNormalization in training mode: they mix "
            "examples through batch statistics, which breaks DP-SGD's per-example sensitivity "
            "and so its formal guarantee. Use GroupNormalization or LayerNormalization "
            "(normalization='group' or 'layer' for the zoo's models); dpzoo.privacy.fix_batch_normalization(model) "
            "rebuilds the model with GroupNormalization in their place, or with mode='freeze' sets them "
            "trainable=False so they use fixed statistics (fine-tuning)."
        )


def refuse_activity_regularizers(model: keras.Model) -> None:
    """Raises UsageError for activity regularisers: they add a data-dependent loss term whose
    gradient would escape per-example clipping. Weight regularisers are fine (data-independent)."""
    offending = [layer.name for layer in keras_api.sublayers(model) if getattr(layer, "activity_regularizer", None)]
    if offending:
        raise UsageError(
            f"Layers {', '.join(offending)} have activity regularisers, whose data-dependent "
            "loss would bypass per-example clipping. Remove them or use weight regularisers."
        )
