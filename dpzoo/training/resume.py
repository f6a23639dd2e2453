"""Resumable runs: checkpoints of everything a step depends on, in the run's staging folder.

A run stages its output in ``.<name>.partial`` beside ``output_dir`` (``staging_dir``) and moves
it into place when it ends. While it trains, it checkpoints into ``<staging>/resume/step-<t>``:

* the trainable model (weights, ``dp_steps``, the noise generator, the Gaussian layers'
  generators), the optimizer, the parameter averages and the method's state (ModelMix's);
* ``progress.json``: the step, the per-epoch history so far, the wall time spent, the steps it
  resumed from, the train function's graph choices (so steps run in the graphs, and round as,
  they would have), and the config it trains, to refuse resuming a different one.

The sampler and the augmentation are functions of (seed, step) (dpzoo.data.sampling), so these
are all a step depends on: a step repeated after a resume redraws the same batch and the same
noise, the same mechanism output rather than a second release (METHODS.md section 4), and the
ledger, which reads ``dp_steps``, counts it once.

A checkpoint is written into ``tmp-<t>`` and renamed to ``step-<t>`` when complete, so a process
killed mid-write leaves the previous one intact; only complete ``step-*`` folders are read.
"""

import dataclasses
import json
import os
import shutil
import time
from collections.abc import Callable, Mapping

import tensorflow as tf
from absl import logging

from dpzoo.artifacts.run_folder import writing
from dpzoo.common.errors import UsageError
from dpzoo.common.stack import keras

RESUME = "resume"
PROGRESS = "progress.json"
STATE = "state"
AUTO_SECONDS = 60.0  # the default cadence: a checkpoint after each minute of training ...
AUTO_OVERHEAD = 20.0  # ... and after at least 20 times the last write's time (<= 5% overhead)
AUTO_STEPS_MULTI_WORKER = 100  # workers must agree without talking: a step cadence
KEPT = 2  # complete checkpoints kept
# fields that change where a run writes or how often it checkpoints, not what it computes
NOT_COMPARED = ("output_dir", "overwrite", "checkpoint_every_steps", "data_dir")


def staging_dir(output_dir: str) -> str:
    """``.<name>.partial`` beside ``output_dir``: a run's output until it ends, and its resume point."""
    output_dir = os.path.abspath(output_dir)
    return os.path.join(os.path.dirname(output_dir), f".{os.path.basename(output_dir)}.partial")


@dataclasses.dataclass
class Progress:
    """What ``progress.json`` holds beside the TensorFlow state."""

    step: int
    config: dict
    n_train: int
    history: dict[str, list[float]] = dataclasses.field(default_factory=dict)
    elapsed_s: float = 0.0
    resumed_from: list[int] = dataclasses.field(default_factory=list)
    train_graphs: dict = dataclasses.field(default_factory=dict)  # dpzoo.privacy.sized_steps' choices


def config_record(config) -> dict:
    """The config as JSON-able values, without the fields that do not change the computation."""
    fields = {f.name: getattr(config, f.name) for f in dataclasses.fields(config)}
    record = json.loads(json.dumps(fields, default=dict))  # model_kwargs: a mapping proxy
    return {k: v for k, v in record.items() if k not in NOT_COMPARED}


def config_differences(saved: dict, current: dict) -> list[str]:
    """'field: saved -> current' for every field that differs."""
    names = sorted(set(saved) | set(current))
    return [f"{k}: {saved.get(k)!r} -> {current.get(k)!r}" for k in names if saved.get(k) != current.get(k)]


def _complete(folder: str) -> list[tuple[int, str]]:
    """(step, path) of the complete checkpoints in ``folder``, oldest first."""
    found = []
    for name in os.listdir(folder) if os.path.isdir(folder) else []:
        if name.startswith("step-") and name[5:].isdigit():
            found.append((int(name[5:]), os.path.join(folder, name)))
    return sorted(found)


def has_checkpoint(staging: str) -> bool:
    """Whether ``staging`` holds a complete resume checkpoint."""
    return bool(_complete(os.path.join(staging, RESUME)))


def latest_progress(staging: str) -> Progress | None:
    """The progress of the latest complete checkpoint under ``staging``, or None."""
    complete = _complete(os.path.join(staging, RESUME))
    if not complete:
        return None
    path = os.path.join(complete[-1][1], PROGRESS)
    try:
        with open(path) as f:
            return Progress(**json.load(f))
    except (OSError, ValueError, TypeError) as e:
        raise UsageError(
            f"The resume checkpoint {path} is unreadable ({e}). Delete {staging} or pass --overwrite to start afresh."
        ) from e


def check_resumable(progress: Progress, config, n_train: int, staging: str) -> None:
    """UsageError unless the interrupted run trained this config on data of this size."""
    changed = config_differences(progress.config, config_record(config))
    if n_train != progress.n_train:
        changed.append(f"training examples: {progress.n_train} -> {n_train}")
    if changed:
        raise UsageError(
            f"{staging} holds an interrupted run (step {progress.step}) of a different config ({'; '.join(changed)}). "
            "Rerun with its settings to resume it, or pass --overwrite to start afresh."
        )


class RunCheckpoints:
    """Writes and reads a run's resume checkpoints.

    ``trackables`` are the TensorFlow objects saved (see the module docstring). ``write_to`` is
    where this process writes (under multi-worker training every worker must write; the others
    write into a folder of their own, deleted after each write), ``read_from`` the chief's.
    """

    def __init__(self, trackables: Mapping[str, object], *, read_from: str, write_to: str) -> None:
        self._checkpoint = tf.train.Checkpoint(**trackables)
        self.read_from = os.path.join(read_from, RESUME)
        self.write_to = os.path.join(write_to, RESUME)
        self._is_reader = os.path.abspath(self.read_from) == os.path.abspath(self.write_to)

    def restore(self, progress: Progress, train_function=None) -> None:
        """Restores the state of checkpoint ``progress.step`` (and ``train_function``'s graph
        choices, where it has them); UsageError if it is damaged."""
        if hasattr(train_function, "restore"):
            train_function.restore(progress.train_graphs)
        path = os.path.join(self.read_from, f"step-{progress.step}")
        try:
            status = self._checkpoint.read(os.path.join(path, STATE))
            status.assert_existing_objects_matched()
        except (AssertionError, ValueError, tf.errors.OpError) as e:
            first = str(e).strip().splitlines()[0][:200] if str(e).strip() else type(e).__name__
            raise UsageError(
                f"The resume checkpoint {path} is damaged or does not match this run ({first}). "
                f"Delete {path} to resume from an earlier one, or pass --overwrite to start afresh."
            ) from e

    def save(self, progress: Progress) -> float:
        """Writes checkpoint ``progress.step`` (write, then rename) and drops old ones; seconds taken."""
        started = time.time()
        final = os.path.join(self.write_to, f"step-{progress.step}")
        partial = os.path.join(self.write_to, f"tmp-{progress.step}")
        shutil.rmtree(partial, ignore_errors=True)
        try:
            with writing(partial, "a resume checkpoint", then=" (the previous checkpoint is intact)"):
                os.makedirs(partial)
                self._checkpoint.write(os.path.join(partial, STATE))
                with open(os.path.join(partial, PROGRESS), "w") as f:
                    json.dump(dataclasses.asdict(progress), f)
        except UsageError:
            shutil.rmtree(partial, ignore_errors=True)
            raise
        if not self._is_reader:  # a non-chief worker: its copy only took part in the write
            shutil.rmtree(partial, ignore_errors=True)
            return time.time() - started
        shutil.rmtree(final, ignore_errors=True)
        os.replace(partial, final)
        for _, old in _complete(self.write_to)[:-KEPT]:
            shutil.rmtree(old, ignore_errors=True)
        return time.time() - started

    def clear(self) -> None:
        """Removes every resume checkpoint this process wrote (the run has ended)."""
        shutil.rmtree(self.write_to, ignore_errors=True)


class CheckpointEvery(keras.callbacks.Callback):
    """Checkpoints after every ``every_steps``-th logical step (None: after each minute of
    training, and after 20 times the last write's time at least), and records the per-epoch
    history (it runs last, so the logs hold the ledger's epsilon)."""

    def __init__(
        self,
        checkpoints: RunCheckpoints | None,
        progress: Progress,
        step_counter: Callable[[], int],
        every_steps: int | None,
        *,
        steps_per_epoch: int,
        started: float,
    ) -> None:
        super().__init__()
        self.checkpoints = checkpoints
        self.progress = progress
        self.step_counter = step_counter
        self.every_steps = every_steps
        self.steps_per_epoch = steps_per_epoch
        self._epoch_end_save = False
        self._started = started
        self._elapsed_before = progress.elapsed_s
        self._last = time.time()
        self._write_s = 0.0

    def _due(self, step: int) -> bool:
        if self.every_steps is not None:
            return self.every_steps > 0 and step % self.every_steps == 0
        return time.time() - self._last >= max(AUTO_SECONDS, AUTO_OVERHEAD * self._write_s)

    def on_train_batch_end(self, batch: int, logs: dict | None = None) -> None:
        step = self.step_counter()
        if self.checkpoints is not None and self._due(step):
            if step % self.steps_per_epoch:
                self.save_now()
            else:  # an epoch's last step: after its validation is in the history
                self._epoch_end_save = True

    def on_epoch_end(self, epoch: int, logs: dict | None = None) -> None:
        for key, value in (logs or {}).items():
            self.progress.history.setdefault(key, []).append(float(value))
        if self._epoch_end_save:
            self._epoch_end_save = False
            self.save_now()

    def save_now(self) -> None:
        """Checkpoints the current step."""
        step = self.step_counter()
        self.progress.step = step
        state = getattr(self.model.train_function, "state", None)
        self.progress.train_graphs = state() if state else {}
        self.progress.elapsed_s = self._elapsed_before + time.time() - self._started
        self._write_s = self.checkpoints.save(self.progress)
        self._last = time.time()
        logging.info("checkpoint at step %d (%.1f s to write)", step, self._write_s)

    def elapsed(self) -> float:
        """Wall seconds of the whole run, across its resumes."""
        return self._elapsed_before + time.time() - self._started


def epoch_segments(start_step: int, steps_per_epoch: int, epochs: int) -> list[tuple[int, int, int, int]]:
    """(first step, initial epoch, end epoch, steps per epoch) of the ``fit`` calls that train
    from ``start_step`` to the end of ``epochs``: first the rest of an interrupted epoch, so every
    epoch (and its validation) ends where the uninterrupted run's did, then whole epochs."""
    done_epochs, into = divmod(start_step, steps_per_epoch)
    segments = []
    if into:
        segments.append((start_step, done_epochs, done_epochs + 1, steps_per_epoch - into))
        done_epochs += 1
    if done_epochs < epochs:
        segments.append((done_epochs * steps_per_epoch, done_epochs, epochs, steps_per_epoch))
    return segments


def auto_every_steps(every_steps: int | None, distribution: str) -> int | None:
    """The cadence to use: the config's, or under multi-worker training a step cadence (time
    differs between workers, and every worker must write the same checkpoints)."""
    if every_steps is None and distribution == "multi_worker":
        return AUTO_STEPS_MULTI_WORKER
    return every_steps


__all__ = [
    "Progress",
    "RunCheckpoints",
    "CheckpointEvery",
    "staging_dir",
    "latest_progress",
    "has_checkpoint",
    "check_resumable",
    "config_record",
    "epoch_segments",
]
