"""A Keras train function traced once per physical batch size.

Keras traces ``train_step`` with the dataset's element spec, whose batch axis is unknown for
Poisson batches (their size varies), and relaxes it to unknown after the second size it meets.
On this project's 2-core CPU, such a size-generic graph of a ghost-clipped WRN-16-4 step (B=64)
ran 1.4x slower than the same step traced for its size (1.91 s against 1.37 s), and held more
memory: 494 MiB at 74 rows against 446 MiB for a graph traced for 80 rows. A non-private step
alike: 435 MiB against 312 MiB at 70 rows. A bucketed Poisson sampler pads every step to one of
a few sizes, so ``SizedTrainFunction`` gives a size a graph of its own, up to
``MAX_SIZED_TRACES`` sizes, once it has paid for one: steps of a size first run in the one
size-generic graph, and the size gets its own after ``PATIENCE_STEPS`` of them (ski rental, so
short runs of small models, tests and quickstarts, do not trace for each size they meet).

The rule counts steps, not seconds, and the size-generic graph is traced for an unknown batch
axis from its first call: which graph runs a step is then a function of the run's batch sizes
alone. That matters because the two graphs round differently (by an ulp: measured 7e-9 on a
tutorial CNN's weights after one step), so a run resumed from a checkpoint (which restores
``state()``) computes bitwise what the uninterrupted run computed.
"""

import collections

import tensorflow as tf

from dpzoo.common import keras_api
from dpzoo.common.stack import keras

MAX_SIZED_TRACES = 12  # sizes traced on their own; a bucketed sampler's common sizes fit
PATIENCE_STEPS = 25  # size-generic steps of a size before it gets its own graph


def runs_one_step_per_call(model: keras.Model) -> bool:
    """Whether Keras would build the plain one-step, one-replica train function for ``model``
    (the case ``SizedTrainFunction`` replaces; others keep Keras' own)."""
    return (
        not model.run_eagerly
        and keras_api.steps_per_execution(model) == 1
        and not keras_api.autotunes_steps(model)
        and not keras_api.has_parameter_server(model)
        and model.distribute_strategy.num_replicas_in_sync == 1
    )


class SizedTrainFunction:
    """Keras' one-step train function (``train_step``, then the train counter), run through a
    graph traced for each batch size once that pays: see the module doc. ``sizes``: those with
    a graph of their own. ``patience``: size-generic steps of a size before it gets its own
    graph; None (default) for ``PATIENCE_STEPS``, 0 to trace every new size at once (benchmarks
    of steady-state speed)."""

    def __init__(self, model: keras.Model, patience: int | None = None) -> None:
        self.model = model
        self.patience = patience
        self.sizes: set[int | None] = set()
        self._generic_steps: collections.Counter = collections.Counter()  # per size
        self._sized = tf.function(self._run_step, jit_compile=model.jit_compile, reduce_retracing=False)
        self._generic = None  # traced for an unknown batch axis at its first call

    def _run_step(self, data):
        outputs = self.model.train_step(data)
        first = [t for t in tf.nest.flatten(outputs) if isinstance(t, tf.Tensor)][:1]
        with tf.control_dependencies(first):  # as Keras does: counted once the step succeeded
            keras_api.count_train_step(self.model)
        return outputs

    def _earned_own_graph(self, size: int | None) -> bool:
        if len(self.sizes) >= MAX_SIZED_TRACES:
            return False
        patience = PATIENCE_STEPS if self.patience is None else self.patience
        return self._generic_steps[size] >= patience

    def _generic_graph(self, data):
        if self._generic is None:
            relaxed = tf.nest.map_structure(lambda t: tf.TensorSpec([None, *t.shape[1:]], t.dtype), data)
            self._generic = tf.function(self._run_step, jit_compile=self.model.jit_compile, input_signature=[relaxed])
        return self._generic

    def __call__(self, iterator):
        data = _without_missing(next(iterator))
        size = tf.nest.flatten(data)[0].shape[0]
        if size in self.sizes or self._earned_own_graph(size):
            self.sizes.add(size)
            return self.model.distribute_strategy.run(self._sized, args=(data,))
        self._generic_steps[size] += 1
        return self.model.distribute_strategy.run(self._generic_graph(data), args=(data,))

    def state(self) -> dict:
        """The graph choices so far (JSON-able), for a resume checkpoint."""
        return {"sizes": sorted(self.sizes), "generic_steps": {str(k): v for k, v in self._generic_steps.items()}}

    def restore(self, state: dict) -> None:
        """Continues from ``state()`` of an interrupted run, so its steps run in the same graphs."""
        self.sizes = set(state.get("sizes", []))
        self._generic_steps = collections.Counter({int(k): v for k, v in state.get("generic_steps", {}).items()})


def _without_missing(data):
    """A batch as tensors, without the trailing missing entries (a None or an empty
    ``tf.experimental.Optional`` where no sample weight was given: Keras 3 passes them), which a
    graph's input signature cannot hold."""
    if not isinstance(data, tuple | list):
        return tf.convert_to_tensor(data)
    items = [None if isinstance(item, tf.experimental.Optional) else item for item in data]
    while items and items[-1] is None:
        items.pop()
    return tuple(tf.nest.map_structure(tf.convert_to_tensor, items))
