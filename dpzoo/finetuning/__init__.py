"""dpzoo.finetuning: a publicly pretrained model made ready for private fine-tuning.

``prepare(model, mode, num_classes=...)`` replaces the classification layer with a zero-initialised
one for the private task and freezes what ``mode`` (``MODES``: full, head, norms, lora) leaves
out; ``make_private`` then clips and noises the trainable weights only. ``adapt_inputs`` puts a
fixed resize and channel repeat in front of a model pretrained on images of another shape. Public pretraining costs
no privacy only because its data is public (METHODS.md section 6).
"""

from dpzoo.common.stack import keras
from dpzoo.finetuning.head import HEAD_NAME, replace_head
from dpzoo.finetuning.inputs import adapt_inputs, parse_shape
from dpzoo.finetuning.trainable import MODES, set_trainable

DEFAULT_LORA_RANK = 8


def prepare(model: keras.Model, mode: str, *, num_classes: int, lora_rank: int = DEFAULT_LORA_RANK) -> keras.Model:
    """``model`` with a new zero-initialised head of ``num_classes`` logits, trainable as ``mode`` says."""
    prepared, head = replace_head(model, num_classes)
    set_trainable(prepared, head, mode, lora_rank=lora_rank)
    return prepared


__all__ = ["DEFAULT_LORA_RANK", "HEAD_NAME", "MODES", "adapt_inputs", "parse_shape", "prepare"]
