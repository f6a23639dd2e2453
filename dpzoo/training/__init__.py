"""dpzoo.training: the generic trainer, which runs any registered method (dpzoo.methods).

``run(TrainConfig(...))`` trains one run and writes its checkpoint, SavedModel and model card
(``trainer``); ``privacy_plan`` sets its noise and steps, ``engines`` compiles the model for
dpzoo's engine, TF Privacy's or none, ``averaging`` and ``callbacks`` are the trainer's callbacks,
``run_card`` builds the card, and ``distribution`` makes the tf.distribute strategy
(dpzoo-bench's measurements live in dpzoo.benchmarks).
"""

from dpzoo.training.train_config import TrainConfig
from dpzoo.training.trainer import RunResult, run

__all__ = ["RunResult", "TrainConfig", "run"]
