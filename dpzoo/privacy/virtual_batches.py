"""Virtual batches: one DP-SGD step over a logical batch, computed in chunks (METHODS.md section 4).

A logical Poisson batch (expected size B, any realised size) runs as chunks of at most P rows,
each padded and masked to P so one compiled shape serves them all. Per chunk, on every replica:
clipped per-example gradients summed over the chunk's real rows, added to ``Accumulation``'s
per-replica sums. Once per logical step: the noise, the division by B, one optimizer update,
one ``dp_steps`` increment (``PrivateModel.apply_accumulated``), and Keras' callbacks, which see
one train-function call per logical step.

``ChunkedTrainFunction`` is the Keras train function that does this. It takes chunks from the
input iterator in one of two forms:

* a chunk stream (``dpzoo.data.pipeline.train_dataset(physical_batch_size=P)``): elements
  (x, y, mask, chunks) of P rows each, ``chunks`` telling on every row how many elements make
  up the logical step. Chunks are gathered, preprocessed and augmented one at a time, so a
  logical batch's K views never all exist at once (nor, for large data, its raw examples). Each
  chunk is one call of the compiled chunk function, one after another, so the chunks' sums are
  added in stream order and a rerun (or a resumed run) adds them bitwise as before; a step that
  has run for a minute logs how many of its chunks are done (one paper-scale step on a CPU takes
  half an hour);
* whole logical batches (x, y[, mask]), the Keras way, split here into chunks of P rows (on one
  replica; under tf.distribute feed a chunk stream).

Gaussian weight layers (dpzoo.layers.gaussian_weights) draw their noisy weights in every
forward pass; so that a logical step has one draw, as without chunks, each chunk restarts their
generators from the state the step's first chunk began with (``Accumulation.same_weight_draw``).
"""

import time

import tensorflow as tf
from absl import logging

from dpzoo.common import keras_api
from dpzoo.common.errors import UsageError
from dpzoo.common.stack import keras

CHUNK_STREAM_ARITY = 4  # (x, y, mask, chunks)
PROGRESS_EVERY_S = 60.0


def _sum_on_read(initial: tf.Tensor, name: str) -> tf.Variable:
    """A variable each replica keeps its own copy of (its partial sum); plain on one device."""
    return tf.Variable(
        initial,
        trainable=False,
        name=name,
        synchronization=tf.VariableSynchronization.ON_READ,
        aggregation=tf.VariableAggregation.SUM,
    )


class Accumulation(tf.Module):
    """Per-replica state of the logical step in progress: the clipped gradient sums, the number
    of chunks added, and the Gaussian layers' generator states at the step's first chunk."""

    def __init__(self, variables: list[tf.Variable], gaussian_generators: list[tf.random.Generator]) -> None:
        super().__init__(name="virtual_batch")
        self.sums = [_sum_on_read(tf.zeros_like(v), f"clipped_sum_{i}") for i, v in enumerate(variables)]
        self.chunks = _sum_on_read(tf.constant(0, tf.int64), "chunks")
        self.generators = gaussian_generators
        self.draw_states = [tf.Variable(g.state, trainable=False, name="draw_state") for g in gaussian_generators]

    def same_weight_draw(self) -> None:
        """Rewinds every Gaussian layer's generator to where the step's first chunk began, so all
        chunks of a logical step use the same noisy weights."""
        first = tf.equal(self.chunks, 0)
        for generator, saved in zip(self.generators, self.draw_states, strict=True):
            saved.assign(tf.where(first, generator.state, saved))
            generator.state.assign(saved)

    def add(self, summed: list[tf.Tensor]) -> None:
        for total, part in zip(self.sums, summed, strict=True):
            total.assign_add(part)
        self.chunks.assign_add(1)

    def reset(self) -> None:
        """Empties the accumulators (after a step that failed part-way)."""
        for total in self.sums:
            total.assign(tf.zeros_like(total))
        self.chunks.assign(0)

    def take(self) -> list[tf.Tensor]:
        """This replica's sums of the logical step, and the accumulators reset for the next."""
        values = [tf.identity(total.read_value()) for total in self.sums]
        with tf.control_dependencies(values):
            for total in self.sums:
                total.assign(tf.zeros_like(total))
            self.chunks.assign(0)
        return values


def _pad_rows(tensor: tf.Tensor, rows: int) -> tf.Tensor:
    missing = rows - tf.shape(tensor)[0]
    return tf.pad(tensor, tf.concat([[[0, missing]], tf.zeros([tf.rank(tensor) - 1, 2], tf.int32)], 0))


def split_into_chunks(x: tf.Tensor, y: tf.Tensor, mask: tf.Tensor, rows: int) -> list[tuple]:
    """A logical batch as chunks of ``rows`` rows, the last padded with mask-0 rows."""
    size = int(x.shape[0])
    return [
        tuple(_pad_rows(t[start : start + rows], rows) for t in (x, y, mask)) for start in range(0, max(size, 1), rows)
    ]


class ChunkedTrainFunction:
    """Keras' train function for virtual batches and tf.distribute: one call is one logical step
    (see the module doc)."""

    def __init__(self, model: keras.Model, physical_batch_size: int | None) -> None:
        self.model = model
        self.physical_batch_size = physical_batch_size
        self.strategy = model.distribute_strategy
        replicas = self.strategy.num_replicas_in_sync
        if physical_batch_size and physical_batch_size % replicas:
            raise UsageError(
                f"physical_batch_size={physical_batch_size} must be a multiple of the {replicas} replicas, "
                "which share each chunk's rows equally."
            )
        if model.run_eagerly:
            accumulate, apply = model.accumulate_chunk, model.apply_accumulated
        else:
            accumulate = tf.function(model.accumulate_chunk, jit_compile=model.jit_compile)
            apply = tf.function(model.apply_accumulated, jit_compile=model.jit_compile)
        self._accumulate = tf.function(lambda data: self.strategy.run(accumulate, args=(data,)))
        self._apply = tf.function(lambda: self.strategy.run(apply))
        self._reset = tf.function(lambda: self.strategy.run(model._accumulation.reset))

    def _first_local(self, value) -> tf.Tensor:
        return self.strategy.experimental_local_results(value)[0]

    def _split(self, first):
        """The chunks of a whole logical batch (x, y[, mask]): P-row pieces on one replica, the
        batch as it is under tf.distribute or without P."""
        x, y, mask = keras.utils.unpack_x_y_sample_weight(first)
        if mask is None:
            mask = tf.ones(tf.shape(self._first_local(y))[:1], tf.float32)
        rows = self.physical_batch_size
        if self.strategy.num_replicas_in_sync > 1:
            local_rows = int(self._first_local(x).shape[0])
            if rows and local_rows * self.strategy.num_replicas_in_sync > rows:
                raise UsageError(
                    f"Under tf.distribute, batches larger than physical_batch_size={rows} must come as a chunk "
                    "stream: dpzoo.data.pipeline.train_dataset(..., physical_batch_size=P)."
                )
            return [(x, y, mask)]
        if not rows:
            return [(x, y, mask)]
        return split_into_chunks(x, y, tf.cast(mask, tf.float32), rows)

    def _accumulate_step(self, first, iterator) -> None:
        if not (isinstance(first, tuple) and len(first) == CHUNK_STREAM_ARITY):
            for chunk in self._split(first):
                self._accumulate(chunk)
            return
        count = int(self._first_local(first[3])[0])  # a chunk stream: this step's elements
        self._accumulate(first[:3])
        last_report = time.monotonic()
        # one call per chunk, not a graph loop: a loop's iterations overlap and add the chunks'
        # sums in an order set by thread timing (measured: identical runs of 2 to 4 chunks a
        # step, three at once, ended up to 6e-8 apart in half the pairs; one call per chunk, none)
        for done in range(2, count + 1):
            try:
                self._accumulate(next(iterator)[:3])
            except (StopIteration, tf.errors.OutOfRangeError) as e:
                raise UsageError(f"The input ended inside a logical step of {count} chunks.") from e
            if done < count and time.monotonic() - last_report > PROGRESS_EVERY_S:
                logging.info(
                    "logical step %d: %d of %d chunks", keras_api.train_steps_done(self.model) + 1, done, count
                )
                last_report = time.monotonic()

    def __call__(self, iterator):
        first = next(iterator)  # the end of the input ends the epoch, as in Keras
        try:
            self._accumulate_step(first, iterator)
        except BaseException:
            self._reset()  # a failed step leaves no partial sums behind
            raise
        outputs = self._apply()
        keras_api.count_train_step(self.model)
        return tf.nest.map_structure(self._first_local, outputs)
