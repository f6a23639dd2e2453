"""dpzoo.privacy: the private step and what it refuses.

``make_private(model, DPConfig(...))`` wraps a Keras model into a ``PrivateModel`` whose
``train_step`` is one DP-SGD step (METHODS.md section 0): per-example gradients clipped to C
(``clipping``: vectorised, or ghost norms from the ``clipping.norms`` layer registry), summed,
noised once, divided by B; ``guards`` refuse layers that mix examples, and
``fix_batch_normalization`` rebuilds or freezes the BatchNormalization they refuse; ``sized_steps`` traces a
graph per padded batch size; ``virtual_batches`` runs a logical step in chunks of P rows (and under
tf.distribute); ``dp_queries`` makes TF Privacy's DP queries the step's mechanism (engine
'tf_privacy'); ``tf_privacy_optimizers`` adapts TF Privacy's tf-keras optimizers, the peers
dpzoo-bench measures.
"""

from dpzoo.privacy.batch_norm_fix import fix_batch_normalization
from dpzoo.privacy.dp_config import DPConfig
from dpzoo.privacy.private_model import PrivateModel, make_private

__all__ = ["DPConfig", "PrivateModel", "fix_batch_normalization", "make_private"]
