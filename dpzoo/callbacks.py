"""Keras callbacks of private training."""

import math

import tensorflow as tf
from absl import logging

from dpzoo.accounting import PrivacyLedger


class PrivacyLedgerCallback(tf.keras.callbacks.Callback):
    """After each epoch, puts the run's epsilon so far into the logs (so History and
    TensorBoard record it) and logs the full statement (accountant, sampling, delta)."""

    def __init__(self, ledger: PrivacyLedger) -> None:
        super().__init__()
        self.ledger = ledger

    def on_epoch_end(self, epoch: int, logs: dict | None = None) -> None:
        statement = self.ledger.statement()
        if logs is not None:
            logs["epsilon"] = statement.epsilon if math.isfinite(statement.epsilon) else float("nan")
        logging.info("epoch %d: %s", epoch + 1, statement.text())
