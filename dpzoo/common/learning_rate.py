"""The learning rate the optimizer's next update will use."""

import tensorflow as tf

from dpzoo.common.stack import keras


def upcoming_learning_rate(optimizer: keras.optimizers.Optimizer) -> tf.Tensor:
    """eta of the update with index ``optimizer.iterations``: a schedule's value at that step.

    Keras's ``optimizer.learning_rate`` evaluates a schedule at the step already taken, one
    behind what the next ``apply_gradients`` will use.
    """
    schedule = getattr(optimizer, "_learning_rate", None)
    if isinstance(schedule, keras.optimizers.schedules.LearningRateSchedule):
        return tf.cast(schedule(optimizer.iterations), tf.float32)
    return tf.cast(optimizer.learning_rate, tf.float32)
