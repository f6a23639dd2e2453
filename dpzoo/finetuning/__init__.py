"""dpzoo.finetuning: a publicly pretrained model made ready for private fine-tuning.

``prepare(model, mode, num_classes=...)`` replaces the classification layer with a zero-initialised
one for the private task (or keeps it, for a start trained on the same task) and freezes what
``mode`` (``MODES``: full, head, norms, lora) leaves out; ``make_private`` then clips and noises the trainable weights only. ``adapt_inputs`` puts a
fixed resize and channel repeat in front of a model pretrained on images of another shape. Public pretraining costs
no privacy only because its data is public (METHODS.md section 6).
"""

from dpzoo.common.stack import keras
from dpzoo.finetuning.head import HEAD_NAME, replace_head
from dpzoo.finetuning.inputs import adapt_inputs, parse_shape
from dpzoo.finetuning.trainable import MODES, set_trainable

DEFAULT_LORA_RANK = 8


def prepare(
    model: keras.Model,
    mode: str,
    *,
    num_classes: int,
    lora_rank: int = DEFAULT_LORA_RANK,
    new_head: bool = True,
    freeze: bool = True,
) -> keras.Model:
    """``model`` with a new zero-initialised head of ``num_classes`` logits (``new_head``; else one
    that starts from its own classification layer, which must give them), trainable as ``mode``
    says (``freeze=False``: nothing frozen, see ``set_trainable``)."""
    prepared, head = replace_head(model, num_classes, keep_weights=not new_head)
    set_trainable(prepared, head, mode, lora_rank=lora_rank, freeze=freeze)
    return prepared


__all__ = ["DEFAULT_LORA_RANK", "HEAD_NAME", "MODES", "adapt_inputs", "parse_shape", "prepare"]
