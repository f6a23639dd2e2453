"""Evaluates every zoo checkpoint on the 10,000 Fashion-MNIST test images under the Keras this
process runs (DPZOO_KERAS) and prints a Markdown table: the card's accuracy, the one measured
now, their difference in points, and the card's epsilon.

  DPZOO_KERAS=3 .venv/bin/python scripts/zoo_accuracy.py > results/zoo_keras3.md
"""

import numpy as np
import tensorflow as tf

from dpzoo import data, zoo
from dpzoo.common import stack


def main() -> None:
    fashion = data.load("fashion_mnist")
    images, labels = fashion.x_test.astype(np.float32) / 255.0, fashion.y_test
    print(
        f"Zoo checkpoints on {stack.KERAS_MODULE.split('.')[0]} (Keras {stack.KERAS_MAJOR}), TensorFlow {tf.__version__}\n"
    )
    print("| checkpoint | card accuracy | measured | difference (points) | epsilon |")
    print("|---|---|---|---|---|")
    for entry in zoo.list():
        model, _ = zoo.load(entry.name)
        _, accuracy = model.evaluate(images, labels, batch_size=1000, verbose=0)
        difference = 100 * (accuracy - entry.test_accuracy)
        print(
            f"| {entry.name} | {100 * entry.test_accuracy:.2f}% | {100 * accuracy:.2f}% | {difference:+.3f} "
            f"| {entry.epsilon:.2f} |"
        )


if __name__ == "__main__":
    main()
