"""Parameter averaging (De et al. 2022, METHODS.md section 1): EMA with warm-up and Polyak.

Averaging the iterates of noisy SGD cancels part of the noise that DP-SGD adds. It reads only
the released parameters, so it is post-processing: it costs no privacy.

* EMA: after the update with index t (t = 0 for the first update of the run),
  ema <- d_t * ema + (1 - d_t) * w with d_t = min(mu, (1 + t) / (10 + t)); ema starts at the
  initial parameters. The warm-up keeps early averages from being dominated by the random
  initialisation.
* Polyak: the uniform running mean of the parameters after each update.
"""

import contextlib

import tensorflow as tf

from dpzoo.common import keras_api, validation
from dpzoo.common.stack import keras

EVAL_WEIGHTS = ("raw", "ema", "polyak")


def ema_decay(t: int | tf.Tensor, mu: float) -> tf.Tensor:
    """The EMA decay after update t: min(mu, (1 + t) / (10 + t))."""
    t = tf.cast(t, tf.float32)
    return tf.minimum(tf.constant(mu, tf.float32), (1.0 + t) / (10.0 + t))


class ParameterAveraging(keras.callbacks.Callback):
    """Keeps an EMA and a Polyak average of the model's trainable variables.

    With ``eval_weights`` "ema" or "polyak", validation during ``fit`` runs on that average
    (swapped in, then swapped back). ``use(eval_weights)`` copies the chosen average into the
    model for good, for the final evaluation, checkpoint and export.
    """

    def __init__(self, mu: float = 0.999, eval_weights: str = "raw") -> None:
        super().__init__()
        validation.in_open_unit_interval("ema_decay", mu)
        validation.one_of("eval_weights", eval_weights, EVAL_WEIGHTS)
        self.mu = mu
        self.eval_weights = eval_weights
        self._variables = None

    def set_model(self, model: keras.Model) -> None:
        super().set_model(model)
        if self._variables is None:
            self._variables = list(model.trainable_variables)
            copy = lambda kind: [
                tf.Variable(v, trainable=False, name=f"{kind}/{keras_api.variable_name(v)}") for v in self._variables
            ]
            self.ema, self.polyak, self._raw = copy("ema"), copy("polyak"), copy("raw")
            self.updates = tf.Variable(0, dtype=tf.int64, trainable=False, name="averaging_updates")

    @tf.function
    def update(self) -> None:
        """Folds the current parameters into both averages (call after each update)."""
        decay = ema_decay(self.updates, self.mu)
        count = tf.cast(self.updates + 1, tf.float32)
        for v, ema, polyak in zip(self._variables, self.ema, self.polyak, strict=True):
            ema.assign(decay * ema + (1.0 - decay) * v)
            polyak.assign(polyak + (v - polyak) / count)
        self.updates.assign_add(1)

    def on_train_batch_end(self, batch: int, logs: dict | None = None) -> None:
        self.update()

    def state(self) -> tf.train.Checkpoint:
        """The averages and their update count, for a resume checkpoint (after ``set_model``)."""
        return tf.train.Checkpoint(ema=self.ema, polyak=self.polyak, updates=self.updates)

    def averages(self, which: str) -> list[tf.Variable]:
        validation.one_of("eval_weights", which, EVAL_WEIGHTS)
        return {"raw": self._variables, "ema": self.ema, "polyak": self.polyak}[which]

    @contextlib.contextmanager
    def swapped_in(self, which: str):
        """Runs the body with the model's variables replaced by the ``which`` average."""
        for raw, v in zip(self._raw, self._variables, strict=True):
            raw.assign(v)
        self.use(which)
        try:
            yield
        finally:
            for raw, v in zip(self._raw, self._variables, strict=True):
                v.assign(raw)

    def use(self, which: str) -> None:
        """Copies the ``which`` average into the model's variables."""
        if which != "raw":
            for average, v in zip(self.averages(which), self._variables, strict=True):
                v.assign(average)

    def on_test_begin(self, logs: dict | None = None) -> None:
        if self.eval_weights != "raw":
            self._swap = self.swapped_in(self.eval_weights)
            self._swap.__enter__()

    def on_test_end(self, logs: dict | None = None) -> None:
        if self.eval_weights != "raw":
            self._swap.__exit__(None, None, None)
