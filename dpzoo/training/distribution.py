"""tf.distribute strategies for ``--distribution`` (METHODS.md section 4, data parallelism).

* none: the default strategy, one device;
* mirrored: MirroredStrategy over this host's GPUs, or its logical CPU devices when it has no GPU
  (``tf.config.set_logical_device_configuration`` splits a CPU into several, for tests);
* multi_worker: MultiWorkerMirroredStrategy over the processes ``TF_CONFIG`` names. A worker that
  dies stops sending TensorFlow's coordination-service heartbeats, and the others' collectives
  then fail (in about 10 s on this project's machines), so the run ends with an error, not a hang.
  No collective timeout is set: TensorFlow 2.15 starts a thread per collective for it and never
  ends them (thousands a minute, until thread creation fails);
* tpu: TPUStrategy from a TPU cluster resolver, which finds the TPU from ``TPU_NAME`` (a name,
  a grpc:// address, or "local" on a TPU VM). It cannot be tested on this project's machines.

The engine's part is in dpzoo.privacy (one Poisson draw per logical step split over replicas,
noise added once); this module only builds the strategy and says which process writes.
"""

import json
import os

import tensorflow as tf

from dpzoo.common.errors import UsageError

DISTRIBUTIONS = ("none", "mirrored", "multi_worker", "tpu")


def split_cpu(devices: int) -> None:
    """Splits the host's CPU into ``devices`` logical devices (before TensorFlow initialises them)."""
    try:
        tf.config.set_logical_device_configuration(
            tf.config.list_physical_devices("CPU")[0], [tf.config.LogicalDeviceConfiguration()] * devices
        )
    except RuntimeError as e:
        raise UsageError(f"Cannot split the CPU into {devices} devices: {e}. Do it before any TensorFlow op.") from e


_STRATEGIES: dict[str, tf.distribute.Strategy] = {}  # one of each per process (see make_strategy)


def make_strategy(distribution: str) -> tf.distribute.Strategy:
    """The strategy ``distribution`` names; for multi_worker, call it before any other op runs.

    Each is made once per process and then reused: two MirroredStrategy objects over the same
    devices number their collectives alike, and the second's then clash with the first's
    ("Shape mismatch in the collective instance 100"), poisoning every collective after."""
    if distribution == "none":
        return tf.distribute.get_strategy()
    if distribution not in _STRATEGIES:
        _STRATEGIES[distribution] = _new_strategy(distribution)
    return _STRATEGIES[distribution]


def _new_strategy(distribution: str) -> tf.distribute.Strategy:
    if distribution == "mirrored":
        devices = tf.config.list_logical_devices("GPU") or tf.config.list_logical_devices("CPU")
        return tf.distribute.MirroredStrategy([d.name for d in devices])
    if distribution == "multi_worker":
        _check_tf_config()
        return tf.distribute.MultiWorkerMirroredStrategy()
    if distribution == "tpu":
        try:
            resolver = tf.distribute.cluster_resolver.TPUClusterResolver(tpu=os.environ.get("TPU_NAME"))
            tf.config.experimental_connect_to_cluster(resolver)
            tf.tpu.experimental.initialize_tpu_system(resolver)
        except (ValueError, tf.errors.OpError) as e:
            raise UsageError(
                f"--distribution=tpu: no TPU found ({str(e).splitlines()[0]}); set TPU_NAME to the TPU's name or "
                "grpc:// address ('local' on a TPU VM)."
            ) from e
        return tf.distribute.TPUStrategy(resolver)
    raise UsageError(f"Expected distribution={distribution!r} to be one of {', '.join(map(repr, DISTRIBUTIONS))}.")


def _check_tf_config() -> None:
    raw = os.environ.get("TF_CONFIG")
    if not raw:
        raise UsageError(
            "--distribution=multi_worker needs TF_CONFIG, e.g. "
            '\'{"cluster": {"worker": ["host1:port", "host2:port"]}, "task": {"type": "worker", "index": 0}}\'.'
        )
    try:
        cluster = json.loads(raw)["cluster"]
    except (json.JSONDecodeError, KeyError, TypeError) as e:
        raise UsageError(f"TF_CONFIG is not a JSON object with a 'cluster': {raw[:200]!r}") from e
    if not isinstance(cluster, dict) or not cluster:
        raise UsageError(f"TF_CONFIG's cluster names no workers: {raw[:200]!r}")


def is_chief(strategy: tf.distribute.Strategy) -> bool:
    """Whether this process writes the run's outputs: always on one host; under multi-worker
    training the chief task, or worker 0 when there is none."""
    resolver = getattr(strategy, "cluster_resolver", None)
    if resolver is None or not resolver.task_type:
        return True
    if resolver.task_type == "chief":
        return True
    has_chief = "chief" in resolver.cluster_spec().as_dict()
    return resolver.task_type == "worker" and resolver.task_id == 0 and not has_chief
