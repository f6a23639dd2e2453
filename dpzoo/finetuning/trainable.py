"""Which weights a fine-tuning run trains (METHODS.md section 6). DP-SGD clips and noises the
trainable weights only, so fewer trained coordinates mean less noise in the update's norm, the
reason parameter-efficient modes can win at small epsilon.

- ``full``: every weight the model trains already (a BatchNormalization frozen for
  fine-tuning by ``fix_batch_normalization(mode="freeze")`` stays frozen);
- ``head``: the new classification layer only (De et al. 2022's linear probe; DP-RandP phase II);
- ``norms``: the normalisation layers' scales and offsets, and the head;
- ``lora``: low-rank adapters W + (alpha / r) A B on every Dense, Conv1D, Conv2D and Embedding (Hu et al. 2021,
  Keras 3's ``enable_lora``, B starting at zero, so the model starts as pretrained), and the
  head; the base kernels and biases are frozen.
"""

from dpzoo.common import keras_api
from dpzoo.common.errors import UsageError
from dpzoo.common.stack import keras

MODES = ("full", "head", "norms", "lora")
NORMALIZATION_LAYERS = (keras.layers.LayerNormalization, keras.layers.GroupNormalization)
LORA_LAYERS = (keras.layers.Dense, keras.layers.Conv2D, keras.layers.Conv1D, keras.layers.Embedding)


def _lora_layers(model: keras.Model, head: keras.layers.Layer) -> list[keras.layers.Layer]:
    layers = [
        layer
        for layer in keras_api.sublayers(model)
        if isinstance(layer, LORA_LAYERS) and layer is not head and layer.weights
    ]
    if not layers:
        raise UsageError(f"--finetune=lora: {model.name} has no Dense, Conv1D, Conv2D or Embedding layer to adapt.")
    return layers


def _check_normalization(model: keras.Model) -> None:
    if not any(isinstance(layer, NORMALIZATION_LAYERS) for layer in keras_api.sublayers(model)):
        raise UsageError(
            f"--finetune=norms: {model.name} has no LayerNormalization or GroupNormalization layer to train (a "
            "BatchNormalization must stay frozen under DP-SGD). Rebuild it with dpzoo.privacy.fix_batch_normalization"
            "(model), GroupNormalization in their place, or choose --finetune=head, lora or full."
        )


def _enable_lora(layer: keras.layers.Layer, rank: int, freeze: bool) -> None:
    """LoRA on ``layer`` with its bias frozen too: only the adapters train (all of it unless ``freeze``)."""
    if not getattr(layer, "lora_enabled", False):
        layer.enable_lora(rank)
    layer.trainable = True
    for variable in layer.weights:  # lora_kernel_a/b (Dense, Conv), lora_embeddings_a/b (Embedding)
        variable.trainable = not freeze or variable.path.split("/")[-1].startswith("lora_")


def set_trainable(
    model: keras.Model, head: keras.layers.Layer, mode: str, *, lora_rank: int = 8, freeze: bool = True
) -> None:
    """Freezes ``model``'s layers as ``mode`` says (see the module doc); ``head`` always trains.
    ``freeze=False`` builds the mode's layers (LoRA's adapters) and freezes nothing: a run folder
    rebuilt as the start of another run, which chooses what it trains (DP-RandP's probe, then
    every layer)."""
    if mode not in MODES:
        raise UsageError(f"Unknown fine-tuning mode {mode!r}: expected one of {', '.join(MODES)}.")
    if lora_rank < 1:
        raise UsageError(f"Expected lora_rank={lora_rank} >= 1.")
    if mode == "lora" and not keras_api.KERAS_3:
        raise UsageError("--finetune=lora needs Keras 3 (layer.enable_lora); unset DPZOO_KERAS=2.")
    if mode == "norms":
        _check_normalization(model)
    lora = _lora_layers(model, head) if mode == "lora" else []
    for layer in keras_api.sublayers(model):
        if freeze and mode != "full" and layer is not head and layer.weights and not isinstance(layer, keras.Model):
            layer.trainable = mode == "norms" and isinstance(layer, NORMALIZATION_LAYERS)
    for layer in lora:
        _enable_lora(layer, lora_rank, freeze)
    head.trainable = True
