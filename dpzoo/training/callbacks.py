"""The trainer's Keras callbacks: the privacy ledger after each epoch, and stopping at a step
budget."""

import math

from absl import logging

from dpzoo.accounting import PrivacyLedger
from dpzoo.common.stack import keras

__all__ = ["PrivacyLedgerCallback", "StopAtStep"]


class PrivacyLedgerCallback(keras.callbacks.Callback):
    """After each epoch, puts the run's epsilon so far into the logs (so History and
    TensorBoard record it) and logs the full statement (accountant, sampling, delta).

    A run without noise has no finite epsilon: its logs get no epsilon at all rather than a
    number (Keras's progress line would print ``epsilon: nan``), and the logged statement says
    it is not differentially private."""

    def __init__(self, ledger: PrivacyLedger) -> None:
        super().__init__()
        self.ledger = ledger

    def on_epoch_end(self, epoch: int, logs: dict | None = None) -> None:
        statement = self.ledger.statement()
        if logs is not None and math.isfinite(statement.epsilon):
            logs["epsilon"] = statement.epsilon
        logging.info("epoch %d: %s", epoch + 1, statement.text())


class StopAtStep(keras.callbacks.Callback):
    """Stops ``fit`` right after the step that brings ``step_counter()`` to ``max_steps``.

    With ``max_steps`` from ``accounting.max_steps`` this is "train until the budget": the last
    step taken keeps epsilon within the target and the next one would exceed it.
    """

    def __init__(self, max_steps: int, step_counter) -> None:
        super().__init__()
        self.max_steps = max_steps
        self.step_counter = step_counter

    def on_train_batch_end(self, batch: int, logs: dict | None = None) -> None:
        if self.step_counter() >= self.max_steps:
            self.model.stop_training = True
