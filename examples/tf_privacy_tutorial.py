"""A Keras DP-SGD tutorial written for TF Privacy, in the style of its own Keras-model tutorial.

As written it runs TF Privacy's DPSequential, which needs tf-keras (Keras 2):
  DPZOO_KERAS=2 TF_USE_LEGACY_KERAS=1 python examples/tf_privacy_tutorial.py
On Keras 3 it runs once its two TF Privacy imports name dpzoo instead (README, "From TF Privacy to
Keras 3"); nothing else changes. Train on the first EXAMPLES Fashion-MNIST images (default 60000).
"""

import os
import sys

sys.skip_tf_privacy_import = True  # TF Privacy 0.9's package __init__ imports tensorflow_estimator, gone since TF 2.16

import numpy as np  # noqa: E402  (the switch above comes first)
import tensorflow as tf  # noqa: E402
from tensorflow_privacy.privacy.analysis.compute_dp_sgd_privacy_lib import compute_dp_sgd_privacy_statement  # noqa: E402
from tensorflow_privacy.privacy.keras_models.dp_keras_model import DPSequential  # noqa: E402

from dpzoo import data  # noqa: E402

EXAMPLES = int(os.environ.get("EXAMPLES", "60000"))
EPOCHS = int(os.environ.get("EPOCHS", "1"))
BATCH_SIZE = 250
L2_NORM_CLIP = 1.0
NOISE_MULTIPLIER = 1.1
LEARNING_RATE = 0.25

fashion = data.load("fashion_mnist")
train_images = fashion.x_train[:EXAMPLES].astype(np.float32) / 255.0
train_labels = fashion.y_train[:EXAMPLES]
test_images = fashion.x_test.astype(np.float32) / 255.0
test_labels = fashion.y_test

tf.keras.utils.set_random_seed(0)
model = DPSequential(
    l2_norm_clip=L2_NORM_CLIP,
    noise_multiplier=NOISE_MULTIPLIER,
    num_microbatches=BATCH_SIZE,
    use_xla=False,
    layers=[
        tf.keras.Input((28, 28, 1)),
        tf.keras.layers.Conv2D(16, 8, strides=2, padding="same", activation="relu"),
        tf.keras.layers.MaxPool2D(2, 1),
        tf.keras.layers.Conv2D(32, 4, strides=2, padding="valid", activation="relu"),
        tf.keras.layers.MaxPool2D(2, 1),
        tf.keras.layers.Flatten(),
        tf.keras.layers.Dense(32, activation="relu"),
        tf.keras.layers.Dense(10),
    ],
)
model.compile(
    optimizer=tf.keras.optimizers.SGD(learning_rate=LEARNING_RATE, momentum=0.9),
    loss=tf.keras.losses.SparseCategoricalCrossentropy(from_logits=True),
    metrics=["accuracy"],
)
model.fit(train_images, train_labels, epochs=EPOCHS, batch_size=BATCH_SIZE, verbose=2)
_, accuracy = model.evaluate(test_images, test_labels, verbose=0)
print(f"Test accuracy: {accuracy:.4f}")
print(
    compute_dp_sgd_privacy_statement(
        number_of_examples=len(train_images),
        batch_size=BATCH_SIZE,
        num_epochs=EPOCHS,
        noise_multiplier=NOISE_MULTIPLIER,
        delta=1e-5,
    )
)
