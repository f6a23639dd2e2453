"""A Keras train function traced once per physical batch size.

Keras traces ``train_step`` with the dataset's element spec, whose batch axis is unknown for
Poisson batches (their size varies), and relaxes it to unknown after the second size it meets.
On this project's 2-core CPU, such a size-generic graph of a ghost-clipped WRN-16-4 step (B=64)
ran 1.4x slower than the same step traced for its size (1.91 s against 1.37 s), and held more
memory: 494 MiB at 74 rows against 446 MiB for a graph traced for 80 rows. A non-private step
alike: 435 MiB against 312 MiB at 70 rows. A bucketed Poisson sampler pads every step to one of
a few sizes, so ``SizedTrainFunction`` gives a size a graph of its own, up to
``MAX_SIZED_TRACES`` sizes, once it has paid for one: steps of that size first run in the
size-generic graph, until the time spent on them reaches what a trace costs (estimated as the
longest size-generic call that traced). This is ski rental: it never
spends more than twice what the better choice in hindsight would have, so long runs of a large
model trace their common sizes early, and short runs of small models (tests, quickstarts) do
not trace for each size they meet.
"""

import collections
import time

import tensorflow as tf

MAX_SIZED_TRACES = 12  # sizes traced on their own; a bucketed sampler's common sizes fit


def runs_one_step_per_call(model: tf.keras.Model) -> bool:
    """Whether Keras would build the plain one-step, one-replica train function for ``model``
    (the case ``SizedTrainFunction`` replaces; others keep Keras' own)."""
    steps = model._steps_per_execution
    return (
        not model.run_eagerly
        and (steps is None or int(steps.numpy()) == 1)
        and not model.autotune_steps_per_execution
        and model._cluster_coordinator is None
        and model.distribute_strategy.num_replicas_in_sync == 1
    )


class SizedTrainFunction:
    """Keras' one-step train function (``train_step``, then the train counter), run through a
    graph traced for each batch size once that pays: see the module doc. ``sizes``: those with
    a graph of their own. ``patience``: seconds of size-generic steps of a size before it gets
    its own graph; None (default) for the estimated cost of a trace, 0 to trace every new size at
    once (benchmarks of steady-state speed)."""

    def __init__(self, model: tf.keras.Model, patience: float | None = None) -> None:
        self.model = model
        self.patience = patience
        self.sizes: set[int | None] = set()
        self._generic_seconds: collections.Counter = collections.Counter()  # per size
        self._trace_seconds = 0.0  # the longest size-generic call that traced
        self._sized = tf.function(self._run_step, jit_compile=model.jit_compile, reduce_retracing=False)
        self._generic = tf.function(self._run_step, jit_compile=model.jit_compile, reduce_retracing=True)

    def _run_step(self, data):
        outputs = self.model.train_step(data)
        first = [t for t in tf.nest.flatten(outputs) if isinstance(t, tf.Tensor)][:1]
        with tf.control_dependencies(first):  # as Keras does: counted once the step succeeded
            self.model._train_counter.assign_add(1)
        return outputs

    def _earned_own_graph(self, size: int | None) -> bool:
        if len(self.sizes) >= MAX_SIZED_TRACES:
            return False
        if self.patience is not None:
            return self._generic_seconds[size] >= self.patience
        return self._trace_seconds > 0 and self._generic_seconds[size] >= self._trace_seconds

    def __call__(self, iterator):
        data = next(iterator)
        size = tf.nest.flatten(data)[0].shape[0]
        if size in self.sizes or self._earned_own_graph(size):
            self.sizes.add(size)
            return self.model.distribute_strategy.run(self._sized, args=(data,))
        traces, start = self._generic.experimental_get_tracing_count(), time.perf_counter()
        outputs = self.model.distribute_strategy.run(self._generic, args=(data,))
        elapsed = time.perf_counter() - start
        if self._generic.experimental_get_tracing_count() > traces:  # a trace: its cost, not rent
            self._trace_seconds = max(self._trace_seconds, elapsed)
        else:
            self._generic_seconds[size] += elapsed
        return outputs
