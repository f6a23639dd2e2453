"""Two levers towards 90% at epsilon 3 (and 89% at epsilon 1) that dpzoo does not ship, measured on
dpzoo-train runs (results/fashion_mnist_scatternet.md, "Two more levers, measured and not shipped"):

- ``checkpoints``: output averaging over the last k epochs' weights (Shejwalkar et al. 2022,
  "Recycling scraps"). Every iterate of DP-SGD is covered by the run's epsilon, so averaging
  their predictions is post-processing. The run is the configured one; at each epoch's end its
  EMA and raw weights are kept, and before the final evaluation the test accuracy of each
  average of the last k is printed (ENSEMBLE {...} JSON) and written beside the run folder.
- ``disk``: DiSK (Zhang et al. 2024), a simplified Kalman filter on the privatised gradients:
  each step's gradient is taken at y_t = x_t + c (x_t - x_{t-1}), c = (1 - kappa) / (kappa
  gamma), filtered m_t = (1 - kappa) m_{t-1} + kappa g(y_t), and m_t goes to the run's momentum
  SGD. The lookahead point is a function of earlier releases only, so the run's accounting is
  unchanged. The run's card does not name DiSK (its optimizer is replaced here, not
  configured): this script's log is its record.

  .venv/bin/python scripts/scatternet_levers.py --lever=checkpoints|disk [--kappa=0.7 --gamma=0.5] \\
      -- <dpzoo-train flags>
"""

import argparse
import json
import sys

import numpy as np
import tensorflow as tf

from dpzoo.cli import train as train_cli
from dpzoo.common.stack import keras
from dpzoo.training import averaging, trainer
from dpzoo.training.engines import keras_setup

LAST_EPOCHS = (1, 2, 3, 5, 8, 10, 15, 20)


def keep_epoch_snapshots() -> list:
    """Makes parameter averaging keep (epoch, EMA weights, raw weights) at every epoch's end."""
    snapshots = []

    def on_epoch_end(self, epoch, logs=None):
        snapshots.append((epoch, [v.numpy() for v in self.ema], [v.numpy() for v in self._variables]))

    averaging.ParameterAveraging.on_epoch_end = on_epoch_end
    return snapshots


def report_checkpoint_averages(snapshots: list, output_dir: str) -> None:
    """Before the run's own evaluation: the test accuracy of each average of the last k epochs'
    predictions, of the EMA and of the raw weights."""
    evaluate = trainer._evaluate_and_write

    def with_averages(plan, built, test_ds, write_to):
        variables = built.averaging._variables
        labels = np.concatenate([y.numpy() for _, y in test_ds])
        current = [v.numpy() for v in variables]
        probabilities = {}
        for epoch, ema, raw in snapshots:
            for kind, weights in (("ema", ema), ("raw", raw)):
                for variable, value in zip(variables, weights, strict=True):
                    variable.assign(value)
                probabilities[epoch, kind] = tf.nn.softmax(built.trainable.predict(test_ds, verbose=0)).numpy()
        for variable, value in zip(variables, current, strict=True):
            variable.assign(value)
        last = max(epoch for epoch, _ in probabilities)
        accuracies = {}
        for kind in ("ema", "raw"):
            for k in LAST_EPOCHS:
                mean = sum(probabilities[last - i, kind] for i in range(min(k, last + 1)))
                accuracies[f"{kind} last {k}"] = round(100 * float(np.mean(np.argmax(mean, 1) == labels)), 2)
        print("ENSEMBLE", json.dumps(accuracies), flush=True)
        with open(output_dir.rstrip("/") + ".checkpoints.json", "w") as f:
            json.dump(accuracies, f, indent=1)
        return evaluate(plan, built, test_ds, write_to)

    trainer._evaluate_and_write = with_averages


class DiSKSGD(keras.optimizers.SGD):
    """The run's SGD (with its momentum) on DiSK's filtered gradients; the model's variables hold
    the lookahead point y_t, the optimizer the iterate x_t (see the module doc)."""

    def __init__(self, learning_rate, momentum: float, kappa: float, gamma: float) -> None:
        super().__init__(learning_rate, momentum=momentum)
        self.kappa, self.lookahead = kappa, (1 - kappa) / (kappa * gamma)

    def build(self, variables):
        if self.built:
            return
        super().build(variables)
        self.iterates = self.add_optimizer_variables(variables, "iterate")
        self.filtered = self.add_optimizer_variables(variables, "filtered")
        for iterate, variable in zip(self.iterates, variables, strict=True):
            iterate.assign(variable)

    def update_step(self, gradient, variable, learning_rate):
        index = self._get_variable_index(variable)
        x, m = self.iterates[index], self.filtered[index]
        rate = tf.cast(learning_rate, variable.dtype)
        m_new = tf.where(self.iterations == 0, gradient, (1 - self.kappa) * m + self.kappa * gradient)
        self.assign(m, m_new)
        if self.momentum:
            velocity = self.momentums[index]
            self.assign(velocity, velocity * self.momentum - rate * m_new)
            x_new = x + velocity
        else:
            x_new = x - rate * m_new
        self.assign(variable, x_new + self.lookahead * (x_new - x))
        self.assign(x, x_new)


def use_disk(kappa: float, gamma: float) -> None:
    """Replaces the run's optimizer by DiSK's on the same learning rate and momentum."""
    make = keras_setup.make_optimizer

    def make_disk(config, steps):
        if config.optimizer not in ("sgd", "momentum"):
            sys.exit(f"DiSK here runs on SGD (with or without momentum), not --optimizer={config.optimizer}.")
        momentum = make(config, steps).momentum
        return DiSKSGD(keras_setup.learning_rate(config, steps), momentum, kappa, gamma)

    keras_setup.make_optimizer = make_disk


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--lever", choices=["checkpoints", "disk"], required=True, help="Which lever to measure.")
    parser.add_argument("--kappa", type=float, default=0.7, help="DiSK's filter gain: the new gradient's weight.")
    parser.add_argument(
        "--gamma", type=float, default=0.5, help="DiSK's step: lookahead c = (1 - kappa) / (kappa gamma)."
    )
    parser.add_argument("train_flags", nargs="+", help="dpzoo-train's flags, after --, with --output_dir.")
    args = parser.parse_args()
    output_dir = next((a.split("=", 1)[1] for a in args.train_flags if a.startswith("--output_dir=")), None)
    if output_dir is None:
        parser.error("give dpzoo-train's --output_dir=... after --")
    if args.lever == "checkpoints":
        report_checkpoint_averages(keep_epoch_snapshots(), output_dir)
    else:
        use_disk(args.kappa, args.gamma)
    sys.argv = ["dpzoo-train", *args.train_flags]
    train_cli.run()


if __name__ == "__main__":
    main()
