"""The few facts about a Keras model that dpzoo needs and Keras 2 and Keras 3 expose differently.

dpzoo moves from tf-keras (Keras 2) to Keras 3 in steps (``dpzoo.common.stack`` picks which one
runs). Everything else in dpzoo asks these functions, so the private attributes each Keras
version still needs are read here and nowhere else, each with the reason it is needed:

- Keras 2's ``_is_graph_network``, ``inbound_nodes``: whether a model is a graph of layers and
  how often each layer is called in it (ghost clipping needs one call per layer). Keras 3:
  ``Operation._inbound_nodes``, as Keras 3 has no public record of a layer's calls. Which of
  those calls are a given model's own (a layer shared with another model, as a fixed front's
  split head shares the whole model's): Keras 2's ``_network_nodes``, Keras 3's ``_nodes`` (of a
  Sequential, of its ``_functional``), the node keys each Functional graph records.
- Keras 2's ``_steps_per_execution``, ``_cluster_coordinator`` and ``_train_counter``: Keras 3
  has the public ``steps_per_execution``, no parameter-server path, and no train counter.
- Keras 2's ``compiled_loss`` / ``compiled_metrics`` (built ahead of the first step); Keras 3
  builds them itself before ``fit`` traces a step, and updates the loss metric only in its own
  ``train_step``: a step of dpzoo's own updates ``_loss_tracker`` as that one does.
- Keras 3's ``_maybe_symbolic_build``: under a distribution strategy ``fit`` builds the model from
  the first batch reduced over the replicas, which fails under MultiWorkerMirroredStrategy
  (keras-team/keras#20585); ``FitsUnderMultiWorker`` skips it for a model built before ``fit``.
"""

import tensorflow as tf

from dpzoo.common.stack import KERAS_MAJOR, keras

KERAS_3 = KERAS_MAJOR == 3


def is_graph_model(model: keras.Model) -> bool:
    """Whether ``model`` is a Functional or Sequential model built on an Input (a graph of layers
    dpzoo can walk), as opposed to a subclassed model or an unbuilt Sequential."""
    if not KERAS_3:
        return bool(getattr(model, "_is_graph_network", False))
    if isinstance(model, keras.Sequential):
        try:
            model.inputs  # noqa: B018  (raises for a Sequential without an Input)
        except (AttributeError, ValueError):
            return False
        return True
    return isinstance(model, keras.Function)  # Keras 3's Functional models are Functions


def call_count(layer: keras.layers.Layer) -> int:
    """How many times ``layer`` is called in all the graphs it belongs to."""
    return len(layer.inbound_nodes if not KERAS_3 else layer._inbound_nodes)


def _own_calls(model: keras.Model, layer: keras.layers.Layer) -> list:
    """``layer``'s call nodes that belong to ``model``'s own graph (``is_graph_model``), not to
    other models built on the same layers."""
    if not KERAS_3:
        return [n for i, n in enumerate(layer.inbound_nodes) if f"{layer.name}_ib-{i}" in model._network_nodes]
    graph = model._functional if isinstance(model, keras.Sequential) else model
    return [n for i, n in enumerate(layer._inbound_nodes) if f"{id(layer)}_ib-{i}" in graph._nodes]


def calls_in(model: keras.Model, layer: keras.layers.Layer) -> int:
    """How many times ``layer`` is called in ``model``'s own graph (``is_graph_model``), not
    counting its calls in other models built on the same layers."""
    return len(_own_calls(model, layer))


def input_layers(model: keras.Model, layer: keras.layers.Layer) -> list[keras.layers.Layer]:
    """The layers whose outputs ``layer``'s first call in ``model``'s own graph takes (none if
    ``model`` does not call it)."""
    calls = _own_calls(model, layer)
    if not calls:
        return []
    if not KERAS_3:
        inbound = calls[0].inbound_layers
        return list(inbound) if isinstance(inbound, list | tuple) else [inbound]
    return [parent.operation for parent in calls[0].parent_nodes]


def steps_per_execution(model: keras.Model) -> int:
    """Train steps per call of the compiled train function (1 unless compiled otherwise)."""
    if KERAS_3:
        return int(model.steps_per_execution)
    steps = model._steps_per_execution
    return 1 if steps is None else int(steps.numpy())


def has_parameter_server(model: keras.Model) -> bool:
    """Whether the model trains under ParameterServerStrategy (Keras 2's cluster coordinator)."""
    return not KERAS_3 and model._cluster_coordinator is not None


def autotunes_steps(model: keras.Model) -> bool:
    """Whether Keras tunes steps_per_execution itself (Keras 2's ``steps_per_execution="auto"``)."""
    return not KERAS_3 and bool(model.autotune_steps_per_execution)


def count_train_step(model: keras.Model) -> None:
    """Counts one finished train step where Keras keeps a counter of them (Keras 2)."""
    if not KERAS_3:
        model._train_counter.assign_add(1)


def train_steps_done(model: keras.Model) -> int:
    """Train steps this model has finished in its current fit (Keras 2's counter; Keras 3 counts
    the optimizer's updates)."""
    counter = model.optimizer.iterations if KERAS_3 else model._train_counter
    return int(counter.numpy())


def build_loss_and_metrics(model: keras.Model, logits: tf.Tensor, labels: tf.Tensor) -> None:
    """Creates the compiled loss's and metrics' variables now, outside any traced step (Keras 2;
    Keras 3 builds them before ``fit`` traces its first step)."""
    if not KERAS_3:
        model.compiled_loss.build(logits)
        model.compiled_metrics.build(logits, labels)


def track_loss(model: keras.Model, x, y, y_pred, sample_weight) -> None:
    """Updates the model's loss metric with this batch's compiled loss (plus regularisation), as
    Keras' own ``train_step`` and ``test_step`` do."""
    if not KERAS_3:
        model.compute_loss(x, y, y_pred, sample_weight)
        return
    loss = model.compute_loss(x=x, y=y, y_pred=y_pred, sample_weight=sample_weight)
    rows = tf.shape(tf.nest.flatten(y_pred)[0])[0]
    model._loss_tracker.update_state(loss, sample_weight=rows)


def sublayers(layer: keras.layers.Layer) -> list[keras.layers.Layer]:
    """Every layer inside ``layer`` (a model, or a layer built of layers), recursively, each once.
    Keras 2 has the public ``submodules``; Keras 3 walks its own ``_flatten_layers``, as it has
    no public recursive list of a model's layers."""
    if not KERAS_3:
        return [m for m in layer.submodules if isinstance(m, keras.layers.Layer)]
    return list(layer._flatten_layers(include_self=False, recursive=True))


class SavesEveryVariable:
    """Mix into a Dense or Conv subclass that adds variables of its own. Keras 3's Dense and Conv
    save only their kernel and bias in a ``.keras`` file (the layout of their LoRA and quantised
    forms), so a gain or a noise scale added beside them would be lost; Layer's own methods save
    and load every variable the layer holds, in the order it made them."""

    def save_own_variables(self, store) -> None:
        keras.layers.Layer.save_own_variables(self, store)

    def load_own_variables(self, store) -> None:
        keras.layers.Layer.load_own_variables(self, store)


def variable_name(variable) -> str:
    """A model variable's unique name, its layer's name included ("lenet5_conv1/kernel"): Keras
    2's ``name`` without the ":0", Keras 3's ``path`` (its ``name`` is only "kernel")."""
    return variable.path if KERAS_3 else variable.name.split(":")[0]


def build_for_batches(model: keras.Model, element_spec, output_shape) -> None:
    """Keras 3 builds a model's compiled loss and metrics from the first batch before ``fit``
    when the model lives in a distribution strategy, reading that batch as (x, y, sample_weight).
    dpzoo's chunk streams add a fourth field (the chunks in the step), so a private model builds
    them here first, from the labels' spec and the output's shape (Keras 2: nothing to do)."""
    if not KERAS_3 or not isinstance(element_spec, tuple) or len(element_spec) < 2:
        return
    labels = element_spec[1]
    y = tf.zeros([1, *labels.shape[1:]], labels.dtype)
    y_pred = tf.zeros([1, *output_shape[1:]])
    model.built = True  # its one layer, the wrapped model, is built
    with model.distribute_strategy.scope():
        model.compute_loss(y=y, y_pred=y_pred)
        model.compute_metrics(None, y, y_pred, sample_weight=None)
        model.reset_metrics()


class FitsUnderMultiWorker:
    """Mixin for a Keras model whose layers, compiled loss and metrics are all built before ``fit``
    (``build_for_batches``), working round two faults of Keras 3's ``fit`` under
    MultiWorkerMirroredStrategy (keras-team/keras#20585; Keras 2 has neither):

    - ``fit`` first builds the model from its first batch averaged over the replicas, by an
      all-reduce outside any step, which fails there ("Attempt to convert a value (PerReplica...)")
      and is wasted work anyway: here only the optimizer is built;
    - the test step's scalar metrics are averaged over the workers along an axis 0 they do not
      have ("Invalid reduction dimension 0"): here each step reports its first local replica's
      values, as Keras 2 did; ``evaluate``'s final values come from the metrics' variables, which
      the strategy sums over all replicas.
    """

    def _maybe_symbolic_build(self, iterator=None, data_batch=None):
        built = (
            all(layer.built for layer in self._flatten_layers())
            and (self._compile_loss is None or self._compile_loss.built)
            and (self._compile_metrics is None or self._compile_metrics.built)
        )
        if not built:
            return super()._maybe_symbolic_build(iterator=iterator, data_batch=data_batch)
        if self.optimizer is not None and not self.optimizer.built:
            with self.distribute_strategy.scope():
                self.optimizer.build(self.trainable_variables)
        return None

    def make_test_function(self, force: bool = False):
        strategy = self.distribute_strategy
        multi_worker = isinstance(strategy, tf.distribute.MultiWorkerMirroredStrategy)
        if not KERAS_3 or not multi_worker or (self.test_function is not None and not force):
            return super().make_test_function(force=force)
        step = tf.function(lambda data: strategy.run(self.test_step, args=(data,)), jit_compile=self.jit_compile)

        def test_function(iterator):
            outputs = step(next(iterator))
            return tf.nest.map_structure(lambda value: strategy.experimental_local_results(value)[0], outputs)

        self.test_function = test_function
        return test_function


def clone_model(model: keras.Model, clone_function, call_function, input_tensors=None) -> keras.Model:
    """``keras.models.clone_model`` with a layer-call hook. Keras 3 replays each layer call with
    the arguments recorded for the original layer (a BatchNormalization's ``mask``, say), which
    ``call_function(layer, *args, **kwargs)`` may change for a replacement; Keras 2 has no such
    hook and passes a layer only the arguments its own ``call`` takes."""
    if not KERAS_3:
        return keras.models.clone_model(model, clone_function=clone_function, input_tensors=input_tensors)
    return keras.models.clone_model(
        model, clone_function=clone_function, call_function=call_function, input_tensors=input_tensors
    )


def tensorflow_variables(layer: keras.layers.Layer) -> list[tf.Variable]:
    """The TensorFlow variables behind a layer's or model's variables. Keras 3 wraps each in a
    variable of its own; a SavedModel that tracks the wrappers is not restored when TF Serving
    (or ``saved_model_cli run``) loads it into a session (keras-team/keras#20096), one that
    tracks the TensorFlow variables is, as Keras' own ExportArchive does."""
    return [v.value for v in layer.variables] if KERAS_3 else list(layer.variables)
